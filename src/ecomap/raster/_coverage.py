"""The engine of :mod:`ecomap.raster.zonal`: exact pixel coverage of polygons, vectorised.

Every ring edge of every zone, in the raster's pixel space (pixels are unit squares,
whatever the geotransform), is cut where it crosses a pixel row.  By Green's theorem
the part of pixel (r, c) inside a polygon is the signed area between the row pieces
and the pixel's right edge, accumulated along the row:

    coverage(r, c) = Σ pieces p in row r left of column c      of  dy_p
                   + Σ pieces p in row r in column c           of  dy_p · (c + 1 − x̄_p)

Two consequences are used:

* **Moments without pixels.**  Σ_c coverage(r, c)·v(r, c) is linear in the pieces, and
  each piece's share can be written with row prefix sums P(c) = Σ_{c'≤c} v and
  PP(c) = Σ_{c'≤c} P of the window (:func:`_piece_sums`).  So count, sum and mean of
  a zone cost O(its perimeter in pixels) plus two prefix-sum passes over the window,
  not O(its area): no pixel list is built, no sort is needed.
* **Coverage fractions** (for min, max, std, majority, median, class shares) come
  from the same pieces, cut again at pixel columns and accumulated densely over each
  zone's box of pixels (:func:`batch_coverage`).

Holes are handled by orienting each ring's contribution (exterior +, hole −) from its
signed area, so no geometry is rewritten.  Zones are assumed valid (parts of one zone
that overlap each other are counted twice).

Work is done in *units* (a zone, or a band of rows of a zone too large for one batch)
grouped into *batches* by the raster chunk they start in; each batch reads one window.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely

from ecomap.errors import CRSError, InputError
from ecomap.i18n import tr

#: Zones are grouped by the chunk of the raster they start in (about this many pixels a
#: side, rounded to whole blocks): a batch reads about one chunk plus the zones' overhang.
CHUNK_PIXELS = 1024
_EPS = 1e-12
#: Pixels covered less than this (1e-9 of a pixel) are rounding slivers of coordinates
#: that went through a CRS and back; they count for nothing, not as a min or max.
_EPS_CELL = 1e-9


def affine_coeffs(transform) -> tuple[float, float, float, float, float, float]:
    """``(a, b, c, d, e, f)`` of an ``affine.Affine`` or a 6-/9-sequence."""
    if hasattr(transform, "a"):
        t = transform
        return (float(t.a), float(t.b), float(t.c), float(t.d), float(t.e), float(t.f))
    vals = [float(v) for v in transform]
    if len(vals) not in (6, 9):
        raise InputError(f"a raster transform has 6 coefficients, not {len(vals)}")
    return (vals[0], vals[1], vals[2], vals[3], vals[4], vals[5])


def _inverse(t) -> tuple[float, float, float, float, float, float]:
    a, b, c, d, e, f = t
    det = a * e - b * d
    if det == 0:
        raise InputError(tr("栅格的地理变换参数无效 (像元大小为 0); 请重新导出带坐标的 GeoTIFF",
                            "the raster's geotransform is degenerate (zero pixel size); "
                            "export it again as a GeoTIFF with its coordinates"))
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    return ia, ib, -(ia * c + ib * f), id_, ie, -(id_ * c + ie * f)


# --------------------------------------------------------------------------- edges


@dataclass
class Edges:
    """Directed, non-horizontal ring edges in pixel space, grouped by zone.

    Edge k runs from vertex ``i[k]`` to vertex ``i[k] + 1`` of ``px``/``py``.
    """

    px: np.ndarray
    py: np.ndarray
    i: np.ndarray
    zone: np.ndarray  # non-decreasing
    sign: np.ndarray  # +1 for exterior rings, −1 for holes (orientation folded in)
    start: np.ndarray  # per zone: first edge
    count: np.ndarray  # per zone: number of edges
    bounds: np.ndarray  # per zone: minx, miny, maxx, maxy in pixels (NaN when empty)

    def ends(self, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """x0, y0, x1, y1 of edges ``e``."""
        i = self.i[e]
        return self.px[i], self.py[i], self.px[i + 1], self.py[i + 1]


def zone_edges(geoms: np.ndarray, zones_crs, source) -> Edges:
    """The edges of every zone in the pixel space of ``source`` (zones reprojected)."""
    from ecomap.crs import transform_xy

    name = getattr(source, "name", None) or tr("栅格", "the raster")
    if source.crs is None:
        raise CRSError(tr(
            "{name} 没有坐标系, 无法把区域叠加到栅格上; 请为它指定坐标系 "
            "(gdal_edit.py -a_srs EPSG:4547 文件, 或在命令行加 --raster-crs EPSG:…)",
            "{name} has no coordinate reference system, so ecomap cannot place the zones "
            "on it; give it one (gdal_edit.py -a_srs EPSG:4547 FILE, or --raster-crs "
            "EPSG:… on the command line)", name=name))
    if zones_crs is None:
        raise CRSError(tr("区域没有坐标系; 计算栅格统计前请先设置 (GeoDataFrame.set_crs)",
                          "the zones have no coordinate reference system; set one "
                          "(GeoDataFrame.set_crs) before computing raster statistics"))
    n = len(geoms)
    kinds = shapely.get_type_id(geoms)
    bad = ~np.isin(kinds, (-1, 3, 6))  # missing, Polygon, MultiPolygon
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(tr("分区统计需要面要素; 第 {i} 个区域是 {kind}: 请先把点或线缓冲成面",
                            "zonal statistics need polygons; zone {i} is a {kind}: buffer "
                            "points or lines into polygons first", i=i,
                            kind=geoms[i].geom_type))
    parts, part_zone = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    del parts
    exterior = np.r_[True, ring_part[1:] != ring_part[:-1]] if len(rings) else np.zeros(0, bool)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    del rings
    x, y = transform_xy(xy[:, 0], xy[:, 1], zones_crs, source.crs)
    del xy
    ia, ib, ic, id_, ie, if_ = _inverse(affine_coeffs(source.transform))
    px = ia * x + ib * y + ic
    py = id_ * x + ie * y + if_
    del x, y
    bounds = np.full((n, 4), np.nan)
    if len(px):
        coord_zone = part_zone[ring_part[ring_of]]
        starts = np.flatnonzero(np.r_[True, coord_zone[1:] != coord_zone[:-1]])
        zs = coord_zone[starts]
        del coord_zone
        bounds[zs, 0] = np.minimum.reduceat(px, starts)
        bounds[zs, 1] = np.minimum.reduceat(py, starts)
        bounds[zs, 2] = np.maximum.reduceat(px, starts)
        bounds[zs, 3] = np.maximum.reduceat(py, starts)
    # Edges: consecutive vertices of one ring.
    i = np.flatnonzero(ring_of[1:] == ring_of[:-1])
    ring = ring_of[i]
    del ring_of
    # Shoelace area of each ring: coverage from the pieces is −(signed area), so an
    # exterior takes the sign −sign(area) and a hole +sign(area).
    area = np.bincount(ring, weights=px[i] * py[i + 1] - px[i + 1] * py[i],
                       minlength=len(exterior))
    ring_sign = (-np.sign(area) * np.where(exterior, 1.0, -1.0)).astype(np.int8)
    keep = py[i] != py[i + 1]  # horizontal edges add nothing
    i, ring = i[keep], ring[keep]
    zone = part_zone[ring_part[ring]]
    count = np.bincount(zone, minlength=n)
    return Edges(px, py, i, zone, ring_sign[ring], np.cumsum(count) - count, count, bounds)


# --------------------------------------------------------------------------- planning


@dataclass
class Units:
    """Work units: one zone, or a band of rows of it, with its box of pixels."""

    zone: np.ndarray
    r0: np.ndarray
    r1: np.ndarray  # exclusive
    c0: np.ndarray
    c1: np.ndarray  # exclusive

    def __len__(self) -> int:
        return len(self.zone)

    def take(self, sel) -> Units:
        return Units(self.zone[sel], self.r0[sel], self.r1[sel], self.c0[sel], self.c1[sel])

    def window(self, width: int) -> tuple[int, int, int, int]:
        """``(row, col, nrows, ncols)`` covering every unit."""
        r0, c0 = int(self.r0.min()), int(self.c0.min())
        return r0, c0, int(self.r1.max()) - r0, int(min(self.c1.max(), width)) - c0


def chunk_shape(source) -> tuple[int, int]:
    bh, bw = source.block_shape
    bh, bw = max(1, int(bh)), max(1, int(bw))
    return (max(1, round(CHUNK_PIXELS / bh)) * bh, max(1, round(CHUNK_PIXELS / bw)) * bw)


def plan_units(edges: Edges, height: int, width: int, *, max_cells: int,
               chunk: tuple[int, int]) -> Units:
    """Clip each zone's box to the raster, split tall boxes into row bands and order
    the units by the chunk they start in."""
    b = edges.bounds
    ok = np.isfinite(b).all(axis=1)
    b = np.where(ok[:, None], b, 0.0)
    c0 = np.clip(np.floor(b[:, 0]), 0, width).astype(np.int64)
    c1 = np.clip(np.floor(b[:, 2]) + 1, 0, width).astype(np.int64)
    r0 = np.clip(np.floor(b[:, 1]), 0, height).astype(np.int64)
    r1 = np.clip(np.floor(b[:, 3]) + 1, 0, height).astype(np.int64)
    keep = ok & (c1 > c0) & (r1 > r0) & (edges.count > 0)
    zone = np.flatnonzero(keep)
    r0, r1, c0, c1 = r0[keep], r1[keep], c0[keep], c1[keep]
    rows_per = np.maximum(1, max_cells // (c1 - c0 + 1))
    nband = -(-(r1 - r0) // rows_per)
    if (nband > 1).any():
        rep = np.repeat(np.arange(len(zone)), nband)
        k = np.arange(len(rep)) - np.repeat(np.cumsum(nband) - nband, nband)
        start = r0[rep] + k * rows_per[rep]
        zone, c0, c1 = zone[rep], c0[rep], c1[rep]
        r1 = np.minimum(start + rows_per[rep], r1[rep])
        r0 = start
    ch, cw = chunk
    order = np.lexsort((zone, c0 // cw, r0 // ch))
    return Units(zone[order], r0[order], r1[order], c0[order], c1[order])


def batches(units: Units, *, max_cells: int, chunk: tuple[int, int]) -> Iterator[Units]:
    """Runs of units that start in the same chunk, of at most ``max_cells`` cells whose
    common window holds at most ``2 · max_cells`` pixels (memory is bounded by both).

    Within a batch units are in zone order, so a zone's pixels come out together.
    """
    if not len(units):
        return
    ch, cw = chunk
    cells = ((units.r1 - units.r0) * (units.c1 - units.c0 + 1)).tolist()
    home = ((units.r0 // ch) * (2**31) + units.c0 // cw).tolist()
    r0s, r1s, c0s, c1s = (a.tolist() for a in (units.r0, units.r1, units.c0, units.c1))
    max_window = 2 * max_cells
    start = 0
    acc = cells[0]
    wr0, wr1, wc0, wc1 = r0s[0], r1s[0], c0s[0], c1s[0]
    for i in range(1, len(cells)):  # one cheap step per unit
        nr0, nr1 = min(wr0, r0s[i]), max(wr1, r1s[i])
        nc0, nc1 = min(wc0, c0s[i]), max(wc1, c1s[i])
        if (home[i] != home[start] or acc + cells[i] > max_cells
                or (nr1 - nr0) * (nc1 - nc0) > max_window):
            yield units.take(slice(start, i))
            start, acc = i, 0
            nr0, nr1, nc0, nc1 = r0s[i], r1s[i], c0s[i], c1s[i]
        acc += cells[i]
        wr0, wr1, wc0, wc1 = nr0, nr1, nc0, nc1
    yield units.take(slice(start, len(cells)))


def _pairs(edges: Edges, units: Units) -> tuple[np.ndarray, np.ndarray]:
    """Every (edge, unit) pair whose edge reaches the unit's rows."""
    cnt = edges.count[units.zone]
    eu = np.repeat(np.arange(len(units)), cnt)
    e = np.repeat(edges.start[units.zone] - (np.cumsum(cnt) - cnt), cnt) + np.arange(len(eu))
    i = edges.i[e]
    y0, y1 = edges.py[i], edges.py[i + 1]
    keep = (np.maximum(y0, y1) >= units.r0[eu]) & (np.minimum(y0, y1) < units.r1[eu])
    return e[keep], eu[keep]


def split(a0, b0, a1, b1, lo=None, hi=None):
    """Cut segments (a0, b0)→(a1, b1) where ``a`` crosses an integer.

    Returns each piece's endpoints, the cell ``floor(a)`` it lies in and the segment it
    came from; with ``lo``/``hi`` (per segment), only pieces in cells [lo, hi).
    """
    ka, kb = np.floor(a0), np.floor(a1)
    n = np.abs(kb - ka).astype(np.int64) + 1
    seg = np.repeat(np.arange(len(a0)), n)
    k = np.arange(len(seg)) - np.repeat(np.cumsum(n) - n, n)
    up = (kb >= ka)[seg]
    cell = np.where(up, ka[seg] + k, ka[seg] - k)
    last = k == n[seg] - 1
    if lo is not None:
        keep = (cell >= lo[seg]) & (cell < hi[seg])
        seg, k, up, cell, last = seg[keep], k[keep], up[keep], cell[keep], last[keep]
    sa0, sb0, sa1, sb1 = a0[seg], b0[seg], a1[seg], b1[seg]
    # A piece enters its cell at one grid line and leaves at the other, except at the
    # segment's own ends.
    pa0 = np.where(k == 0, sa0, np.where(up, cell, cell + 1))
    pa1 = np.where(last, sa1, np.where(up, cell + 1, cell))
    da = sa1 - sa0
    slope = (sb1 - sb0) / np.where(da != 0, da, 1.0)
    pb0 = np.where(k == 0, sb0, sb0 + (pa0 - sa0) * slope)
    pb1 = np.where(last, sb1, sb0 + (pa1 - sa0) * slope)
    return pa0, pb0, pa1, pb1, cell.astype(np.int64), seg


def row_pieces(edges: Edges, units: Units):
    """Edges cut at pixel rows, restricted to each unit's rows.

    Returns ``(unit, row, xa, xb, dy)``: x at both ends and the signed rise of each
    piece, the ring orientation folded into ``dy``.
    """
    e, eu = _pairs(edges, units)
    x0, y0, x1, y1 = edges.ends(e)
    ya, xa, yb, xb, row, s = split(y0, x0, y1, x1,
                                   units.r0[eu], units.r1[eu])
    e, eu = e[s], eu[s]
    return eu, row, xa, xb, (yb - ya) * edges.sign[e]


# --------------------------------------------------------------------------- moments


def _valid(values: np.ndarray, valid: np.ndarray | None, nodata) -> np.ndarray:
    ok = np.ones(values.shape, bool) if valid is None else np.asarray(valid, bool).copy()
    if values.dtype.kind == "f":
        ok &= ~np.isnan(values)
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        ok &= values != nodata
    return ok


def _piece_sums(channels: list[np.ndarray | None], row, xa, xb, dy, *,
                shape: tuple[int, int]) -> list[np.ndarray]:
    """Σ over each piece's pixels of coverage × channel, for window-sized channels.

    A piece in row r from x_a to x_b (rise dy) adds dy·(c + 1 − x̄) to its own pixels
    and dy to every pixel right of it; summed against v that is
        dy/(x_b − x_a) · ∫ [(⌊t⌋ + 1 − t)·v(⌊t⌋) + T − P(⌊t⌋)] dt   over [x_a, x_b]
    with P the inclusive row prefix sum of v and T the row total.  The T terms of a
    closed ring's pieces in one row cancel (their rises add up to zero), and the rest
    is integrated exactly per pixel column: partial columns at both ends, whole
    columns through PP, the prefix sum of P.  Columns left of the window hold nothing;
    right of it every pixel is T away.  A channel of None stands for all ones (the
    coverage itself), whose prefix sums are known without summing.
    """
    h, w = shape
    lo, hi = np.minimum(xa, xb), np.maximum(xa, xb)
    nl, nh = np.floor(lo), np.floor(hi)
    fl, fh = lo - nl, hi - nh
    nl, nh = nl.astype(np.int64), nh.astype(np.int64)
    # Column numbers clamped to the window (−1 … w−1 for prefix sums, 0 … w−1 for v).
    cl = np.clip(nl, -1, w - 1)
    in_l = (nl >= 0) & (nl < w)
    wl = 1.0 - 0.5 * (fl + fh)  # own-column weight of single-column pieces
    m = np.flatnonzero(nl != nh)  # pieces over several columns
    if len(m):
        rm, a, b, fa, fb = row[m], nl[m], nh[m], fl[m], fh[m]
        ca, cb1, cb = cl[m], np.clip(b - 1, -1, w - 1), np.clip(b, -1, w - 1)
        in_b = (b >= 0) & (b < w)
        # PP beyond the window's right edge grows by T per column.
        over = (np.maximum(b - 1 - (w - 1), 0) - np.maximum(a - (w - 1), 0)).astype(float)
        first_w = 0.5 - fa + 0.5 * fa * fa
        first_p = 1.0 - fa
        last_w = fb - 0.5 * fb * fb
        scale = dy[m] / (hi[m] - lo[m])
    results = []
    for channel in channels:
        if channel is None:  # v ≡ 1: P(n) = n + 1, PP(n) = (n + 1)(n + 2) / 2, T = w
            def P(r, c):
                return (c + 1).astype(np.float64)

            def PP(r, c):
                return 0.5 * (c + 1) * (c + 2)

            def V(r, c, inside):
                return inside.astype(np.float64)

            def T(r):
                return float(w)
        else:
            P0 = np.zeros((h, w + 1))
            np.cumsum(channel, axis=1, out=P0[:, 1:])  # P0[:, j + 1] = P(j)
            PP0 = np.zeros((h, w + 1))
            np.cumsum(P0[:, 1:], axis=1, out=PP0[:, 1:])
            P0f, PP0f, vf = P0.reshape(-1), PP0.reshape(-1), channel.reshape(-1)

            def P(r, c, P0f=P0f):
                return P0f[r * (w + 1) + c + 1]

            def PP(r, c, PP0f=PP0f):
                return PP0f[r * (w + 1) + c + 1]

            def V(r, c, inside, vf=vf):
                return np.where(inside, vf[r * w + np.maximum(c, 0)], 0.0)

            def T(r, P0=P0):
                return P0[r, w]
        vl, pl = V(row, cl, in_l), P(row, cl)
        # Within one column: dy·(v(n)·(1 − mean f) − P(n)).
        out = dy * (vl * wl - pl)
        if len(m):
            middle = (0.5 * (P(rm, cb1) - pl[m]) - (PP(rm, cb1) - PP(rm, ca) + T(rm) * over))
            first = vl[m] * first_w - pl[m] * first_p
            last = V(rm, cb, in_b) * last_w - P(rm, cb) * fb
            out[m] = scale * (first + middle + last)
        results.append(out)
    return results


@dataclass
class BatchMoments:
    """Per zone of one batch: valid covered pixels and Σ w·(v − shift).

    (Second moments from sums would lose digits to cancellation; the standard deviation
    is computed from coverage fractions instead.)
    """

    zone: np.ndarray
    w: np.ndarray
    s1: np.ndarray
    shift: float


def batch_moments(edges: Edges, units: Units, source) -> BatchMoments:
    """Coverage-weighted count and sum of each zone of one batch, from its outline."""
    row0, col0, nrows, ncols = units.window(source.width)
    values, valid = source.read(row0, col0, nrows, ncols)
    ok = _valid(values, valid, source.nodata)
    v = np.where(ok, values, 0).astype(np.float64)
    nvalid = int(ok.sum())
    shift = float(v.sum() / nvalid) if nvalid else 0.0
    v -= shift  # sums of v − shift keep more digits of the mean
    v[~ok] = 0.0
    unit, row, xa, xb, dy = row_pieces(edges, units)
    row = row - row0
    xa, xb = xa - col0, xb - col0
    zones, zl = np.unique(units.zone, return_inverse=True)
    pz = zl[unit]
    # Where every pixel is valid the count channel is all ones: no prefix sums needed.
    count = None if nvalid == ok.size else ok.astype(np.float64)
    sums = [np.bincount(pz, weights=part, minlength=len(zones))
            for part in _piece_sums([count, v], row, xa, xb, dy, shape=v.shape)]
    w = sums[0]
    w[np.abs(w) < _EPS] = 0.0
    return BatchMoments(zones, w, sums[1], shift)


# --------------------------------------------------------------------------- fractions


def batch_coverage(edges: Edges, units: Units, width: int):
    """Coverage fractions of the pixels of one batch: ``(unit, row, col, fraction)``.

    Pieces are cut again at pixel columns and accumulated over each unit's box of
    pixels (plus one spill column), then summed along each row.
    """
    pu, row, xa, xb, dy = row_pieces(edges, units)
    # Pass 2: cut at pixel columns, interpolating the rise (0 → dy) along each piece.
    xa, rise0, xb, rise1, col, s = split(xa, np.zeros(len(xa)), xb, dy)
    pu, row, d = pu[s], row[s], rise1 - rise0
    right = d * ((xa + xb) * 0.5 - col)  # the part spilling right of the piece's cell
    here = d - right
    # Pieces left of the raster count in full from column 0 on; right of it, not at all.
    c0, c1 = units.c0[pu], units.c1[pu]
    left = col < c0
    here = np.where(left, 0.0, here)
    right = np.where(left, d, right)
    col = np.where(left, c0 - 1, col)
    inside = col < c1
    pu, row, col, here, right = pu[inside], row[inside], col[inside], here[inside], right[inside]
    w = units.c1 - units.c0 + 1
    nrow = units.r1 - units.r0
    base = np.r_[0, np.cumsum(nrow * w)]
    total = int(base[-1])
    pos = base[pu] + (row - units.r0[pu]) * w[pu] + (col - units.c0[pu])
    acc = np.bincount(pos + 1, weights=right, minlength=total + 1)[:total]
    ok = col >= units.c0[pu]
    acc += np.bincount(pos[ok], weights=here[ok], minlength=total)[:total]
    # Running sums restarted at every box row (each row's pieces add up to zero).
    run = np.cumsum(acc).reshape(-1)
    row_w = np.repeat(w, nrow)
    row_start = np.r_[0, np.cumsum(row_w)[:-1]]
    before = np.where(row_start > 0, run[np.maximum(row_start - 1, 0)], 0.0)
    run -= np.repeat(before, row_w)
    cells = np.flatnonzero(run > _EPS_CELL)
    rowid = np.repeat(np.arange(len(row_w), dtype=np.int32), row_w)[cells]
    u = np.repeat(np.arange(len(units)), nrow)[rowid]
    r = units.r0[u] + (rowid - (np.r_[0, np.cumsum(nrow)[:-1]])[u])
    c = units.c0[u] + (cells - row_start[rowid])
    keep = c < np.minimum(units.c1[u], width)
    cells, u, r, c = cells[keep], u[keep], r[keep], c[keep]
    return u, r, c, np.minimum(run[cells], 1.0)


def read_cells(source, units: Units, r, c):
    """Values and validity of the given cells of one batch (one window read)."""
    row0, col0, nrows, ncols = units.window(source.width)
    values, valid = source.read(row0, col0, nrows, ncols)
    flat = (r - row0) * ncols + (c - col0)
    v = np.asarray(values).reshape(-1)[flat]
    ok = _valid(v, None if valid is None else np.asarray(valid).reshape(-1)[flat],
                source.nodata)
    return v, ok
