"""Raster statistics over plots and townships, NDVI change, and map overlays.

Zonal statistics weight every pixel by the fraction of it that a zone covers, so a
1-mu plot on 10 m pixels (6–7 pixels, most of them only partly covered) gets the exact
area-weighted answer — the quantity exactextract computes.  The work is vectorised over
all zones (no Python loop per zone, see :mod:`ecomap._coverage`): count, sum, mean and
standard deviation come from the zones' outlines and row prefix sums of the pixels;
min, max, majority, median and class shares from explicit coverage fractions.

The vector zones are reprojected to the raster's CRS (:mod:`ecomap.crs`), never the
raster to the zones'.  Pixels are read through a :class:`RasterSource` one window at a
time: zones are sorted by the raster chunk they start in and processed in batches of
bounded size, so a raster larger than memory is read once, window by window, and only
where there are zones (a Cloud-Optimised GeoTIFF is fetched tile by tile).

Overlays turn a raster into a small Web Mercator PNG with a colour ramp, for folium.
Nothing here opens files: :mod:`ecomap.io.raster` opens GeoTIFFs as sources.
"""

from __future__ import annotations

import logging
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
import shapely

from ecomap import _coverage as _cov
from ecomap._coverage import affine_coeffs
from ecomap.errors import InputError

__all__ = [
    "CATEGORICAL_STATS",
    "COLORMAPS",
    "STATS",
    "ArraySource",
    "Overlay",
    "RasterSource",
    "affine_coeffs",
    "category_shares",
    "change_overlay",
    "change_table",
    "colorize",
    "coverage_fractions",
    "overlay_from_array",
    "png_from_rgba",
    "zonal_stats",
]

log = logging.getLogger(__name__)

#: Statistics :func:`zonal_stats` computes (exactextract's names; ``std`` = ``stdev``).
#: ``count`` is the covered number of valid pixels (a sum of fractions), ``sum`` the
#: coverage-weighted sum; ``std``/``variance`` are population values.
STATS = ("count", "sum", "mean", "min", "max", "std", "stdev", "variance", "majority",
         "minority", "variety", "median")
#: Statistics that need each zone's value histogram (kept per distinct value).
CATEGORICAL_STATS = ("majority", "minority", "variety", "median")

#: Default cap on the pixels of zone boxes handled in one batch, and half the cap on the
#: window read for it: about 60 bytes a pixel at the peak, so some 250 MB a batch.
MAX_CELLS = 2_000_000


# --------------------------------------------------------------------------- sources


class RasterSource(Protocol):
    """One band of a raster, read by windows.

    ``read(row, col, nrows, ncols)`` returns the values of that window and a boolean
    array that is True where a pixel is valid (None when every pixel not equal to
    ``nodata`` and not NaN is valid).  :class:`ecomap.io.raster.RasterFile` implements
    it for files; :class:`ArraySource` for arrays in memory.
    """

    name: str
    crs: object | None  # anything ecomap.crs.parse_crs accepts
    transform: tuple[float, float, float, float, float, float]  # affine a, b, c, d, e, f
    width: int
    height: int
    nodata: float | None
    block_shape: tuple[int, int]

    def read(self, row: int, col: int, nrows: int, ncols: int
             ) -> tuple[np.ndarray, np.ndarray | None]: ...


@dataclass
class ArraySource:
    """A 2-D array with its georeferencing, as a :class:`RasterSource`.

    ``transform`` is an ``affine.Affine`` or its first six coefficients
    ``(a, b, c, d, e, f)``: x = a·col + b·row + c, y = d·col + e·row + f.
    """

    array: np.ndarray
    transform: tuple
    crs: object | None
    nodata: float | None = None
    name: str = "array"
    mask: np.ndarray | None = None  # True where valid
    block_shape: tuple[int, int] = (256, 256)
    height: int = field(init=False)
    width: int = field(init=False)

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array)
        if self.array.ndim != 2:
            raise InputError(f"{self.name}: a raster band must be 2-D, not {self.array.shape}")
        self.height, self.width = self.array.shape
        self.transform = affine_coeffs(self.transform)

    def read(self, row, col, nrows, ncols):
        sl = (slice(row, row + nrows), slice(col, col + ncols))
        return self.array[sl], None if self.mask is None else self.mask[sl]


def _zone_geometries(zones, crs) -> tuple[np.ndarray, object]:
    """Geometry array and CRS of a GeoDataFrame, GeoSeries or geometry sequence."""
    if hasattr(zones, "geometry"):
        geoms = np.asarray(zones.geometry.values, dtype=object)
        crs = crs if crs is not None else zones.crs
    else:
        geoms = np.empty(len(zones), dtype=object)
        geoms[:] = list(zones)
    return geoms, crs


def _index_of(zones, n: int) -> pd.Index:
    return zones.index if hasattr(zones, "index") else pd.RangeIndex(n)


@dataclass
class _Plan:
    n: int
    edges: _cov.Edges
    units: _cov.Units
    chunk: tuple[int, int]
    max_cells: int

    def batches(self):
        return _cov.batches(self.units, max_cells=self.max_cells, chunk=self.chunk)


def _plan(zones, source: RasterSource, *, crs, max_cells: int) -> _Plan:
    geoms, zones_crs = _zone_geometries(zones, crs)
    edges = _cov.zone_edges(geoms, zones_crs, source)
    chunk = _cov.chunk_shape(source)
    units = _cov.plan_units(edges, source.height, source.width, max_cells=max_cells,
                            chunk=chunk)
    if len(geoms) and not len(units) and np.isfinite(edges.bounds).any():
        raise InputError(_no_overlap_message(geoms, zones_crs, source))
    outside = len(geoms) - len(np.unique(units.zone))
    if outside:
        log.info("%d of %d zones lie off %s (or are empty)", outside, len(geoms),
                 getattr(source, "name", "the raster"))
    return _Plan(len(geoms), edges, units, chunk, max_cells)


def _no_overlap_message(geoms, zones_crs, source: RasterSource) -> str:
    from ecomap.crs import parse_crs, transform_bounds

    a, _, c, _, e, f = affine_coeffs(source.transform)
    x0, x1 = sorted((c, c + a * source.width))
    y0, y1 = sorted((f, f + e * source.height))
    try:
        zb = transform_bounds(shapely.total_bounds(geoms), zones_crs, source.crs)
        zones_txt = f"the zones span {_fmt_bounds(zb)}"
    except Exception:  # noqa: BLE001 - only for the message
        zones_txt = "the zones lie elsewhere"
    crs = parse_crs(source.crs)
    name = f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.name
    return (f"{source.name} covers {_fmt_bounds((x0, y0, x1, y1))} ({name}) but none of the "
            f"{len(geoms)} zones lies on it ({zones_txt}); use a raster of this area, or "
            "check the raster's CRS (a wrong or missing .prj puts it elsewhere)")


def _fmt_bounds(b) -> str:
    return f"x {b[0]:.6g}…{b[2]:.6g}, y {b[1]:.6g}…{b[3]:.6g}"


def coverage_fractions(zones, source: RasterSource, *, crs=None,
                       max_cells: int = MAX_CELLS) -> pd.DataFrame:
    """Which pixels each zone covers, and how much of each.

    Returns
    -------
    DataFrame
        ``zone`` (position in ``zones``), ``row``, ``col`` and ``fraction`` (0–1 of the
        pixel's area inside the zone), one row per pixel a zone touches.
    """
    plan = _plan(zones, source, crs=crs, max_cells=max_cells)
    frames = []
    for units in plan.batches():
        u, r, c, frac = _cov.batch_coverage(plan.edges, units, source.width)
        frames.append(pd.DataFrame({"zone": units.zone[u], "row": r, "col": c,
                                    "fraction": frac}))
    if not frames:
        return pd.DataFrame({"zone": [], "row": [], "col": [], "fraction": []})
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["zone", "row", "col"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- statistics


class _Moments:
    """Coverage-weighted count, mean, M2 (and min, max) per zone, merged batch by batch
    (Chan et al.'s pairwise update, so bands of a large zone combine exactly)."""

    def __init__(self, n: int) -> None:
        self.w = np.zeros(n)
        self.mean = np.zeros(n)
        self.m2 = np.zeros(n)
        self.min = np.full(n, np.inf)
        self.max = np.full(n, -np.inf)

    def merge(self, zs: np.ndarray, sw: np.ndarray, mb: np.ndarray, m2b: np.ndarray) -> None:
        wa = self.w[zs]
        n = wa + sw
        frac_b = np.where(n > 0, sw / np.where(n > 0, n, 1.0), 0.0)
        delta = mb - self.mean[zs]
        self.mean[zs] += delta * frac_b
        self.m2[zs] += m2b + delta * delta * wa * frac_b
        self.w[zs] = n

    def add_sums(self, b: _cov.BatchMoments) -> None:
        has = b.w > 0
        mean = np.where(has, b.shift + b.s1 / np.where(has, b.w, 1.0), 0.0)
        self.merge(b.zone, np.where(has, b.w, 0.0), mean, np.zeros(len(b.w)))

    def add_cells(self, zone: np.ndarray, w: np.ndarray, v: np.ndarray) -> None:
        if not len(zone):
            return
        step = np.diff(zone)
        if (step < 0).any():  # cells come grouped by zone; sort when not
            order = np.argsort(zone, kind="stable")
            zone, w, v = zone[order], w[order], v[order]
            step = np.diff(zone)
        new = np.r_[True, step != 0]
        starts = np.flatnonzero(new)
        zs = zone[starts]
        inv = np.cumsum(new) - 1
        sw = np.bincount(inv, weights=w)
        mb = np.bincount(inv, weights=w * v) / np.where(sw > 0, sw, 1.0)
        dev = v - mb[inv]
        self.merge(zs, sw, mb, np.bincount(inv, weights=w * dev * dev))
        self.min[zs] = np.minimum(self.min[zs], np.minimum.reduceat(v, starts))
        self.max[zs] = np.maximum(self.max[zs], np.maximum.reduceat(v, starts))


def _histogram(zone: np.ndarray, w: np.ndarray, v: np.ndarray):
    """Coverage summed per (zone, value): three aligned arrays sorted by zone, value."""
    if not len(zone):
        return zone, v, w
    order = np.lexsort((v, zone))
    z, vv, ww = zone[order], v[order], w[order]
    starts = np.flatnonzero(np.r_[True, (np.diff(z) != 0) | (vv[1:] != vv[:-1])])
    return z[starts], vv[starts], np.add.reduceat(ww, starts)


def _collect(zones, source: RasterSource, *, crs, max_cells: int, cells: bool,
             moments: bool, histogram: bool):
    """Run the batches: moments from the pieces alone unless pixel lists are needed."""
    plan = _plan(zones, source, crs=crs, max_cells=max_cells)
    mom = _Moments(plan.n) if moments else None
    hists = []
    for units in plan.batches():
        if not cells:
            mom.add_sums(_cov.batch_moments(plan.edges, units, source))
            continue
        u, r, c, frac = _cov.batch_coverage(plan.edges, units, source.width)
        v, ok = _cov.read_cells(source, units, r, c)
        zone, w, v = units.zone[u][ok], frac[ok], v[ok]
        if mom is not None:
            mom.add_cells(zone, w, v.astype(np.float64))
        if histogram:
            hists.append(_histogram(zone, w, v))
    hist = None
    if histogram:
        if not hists:
            hist = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        elif len(hists) == 1:
            hist = hists[0]
        else:
            z = np.concatenate([h[0] for h in hists])
            vv = np.concatenate([h[1] for h in hists])
            ww = np.concatenate([h[2] for h in hists])
            hist = _histogram(z, ww, vv)
    return plan.n, mom, hist


def _parse_stats(stats) -> list[str]:
    if isinstance(stats, str):
        stats = [s for s in stats.replace(" ", "").split(",") if s]
    stats = list(stats)
    unknown = [s for s in stats if s not in STATS]
    if unknown or not stats:
        raise InputError(f"unknown statistic(s) {', '.join(unknown) or '(none)'}; choose from "
                         + ", ".join(STATS))
    return stats


def zonal_stats(zones, source: RasterSource, *, stats: Sequence[str] | str = ("mean",),
                crs=None, max_cells: int = MAX_CELLS) -> pd.DataFrame:
    """Coverage-weighted statistics of one raster band per zone.

    Parameters
    ----------
    zones
        Polygons: a GeoDataFrame or GeoSeries (its CRS is used), or a sequence of shapely
        geometries with ``crs``.  Any CRS: zones are reprojected to the raster's.
    source
        The band, e.g. from :func:`ecomap.io.raster.open_raster`.
    stats
        Names from :data:`STATS` (a list or ``"mean,min,max"``).  Every pixel counts with
        the fraction of it inside the zone; nodata, NaN and masked pixels are left out.
    max_cells
        Bound on the pixels handled at once, hence on memory.

    Returns
    -------
    DataFrame
        One row per zone, index as ``zones``, one column per statistic.  Zones off the
        raster or over nodata only get ``count`` 0, ``sum`` 0 and NaN for the rest.
        ``majority``/``minority`` break ties towards the smaller value.
    """
    stats = _parse_stats(stats)
    need_hist = any(s in CATEGORICAL_STATS for s in stats)
    need_mom = any(s not in CATEGORICAL_STATS for s in stats)
    # count, sum and mean come from the outlines alone; the rest needs pixel lists.
    cells = any(s not in ("count", "sum", "mean") for s in stats)
    n, mom, hist = _collect(zones, source, crs=crs, max_cells=max_cells, cells=cells,
                            moments=need_mom, histogram=need_hist)
    out: dict[str, np.ndarray] = {}
    if mom is not None:
        has = mom.w > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            var = np.where(has, np.maximum(mom.m2, 0.0) / np.where(has, mom.w, 1.0), np.nan)
        moments = {
            "count": mom.w, "sum": mom.mean * mom.w,
            "mean": np.where(has, mom.mean, np.nan),
            "min": np.where(has, mom.min, np.nan), "max": np.where(has, mom.max, np.nan),
            "variance": var, "std": np.sqrt(var), "stdev": np.sqrt(var),
        }
        out.update({k: v for k, v in moments.items() if k in stats})
    if hist is not None:
        out.update(_histogram_stats(n, *hist, stats))
    return pd.DataFrame({s: out[s] for s in stats}, index=_index_of(zones, n))


def _histogram_stats(n: int, z, v, w, stats) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    vf = v.astype(np.float64)
    starts = np.flatnonzero(np.r_[True, np.diff(z) != 0]) if len(z) else np.zeros(0, int)
    zs = z[starts]
    if "variety" in stats:
        var = np.zeros(n)
        var[zs] = np.diff(np.r_[starts, len(z)])
        out["variety"] = var
    # Ties (to 1e-9 of a pixel) go to the larger value for the majority, the smaller for
    # the minority, as exactextract does.
    wr = np.round(w, 9)
    for name, wsign, vsign in (("majority", -1.0, -1.0), ("minority", 1.0, 1.0)):
        if name in stats:
            res = np.full(n, np.nan)
            if len(z):
                order = np.lexsort((vsign * vf, wsign * wr, z))
                first = order[np.r_[True, np.diff(z[order]) != 0]]
                res[z[first]] = vf[first]
            out[name] = res
    if "median" in stats:
        out["median"] = _weighted_quantile(n, z, vf, w, starts, 0.5)
    return out


def _weighted_quantile(n: int, z, v, w, starts, q: float) -> np.ndarray:
    """Quantile ``q`` of each zone's distinct values weighted by coverage.

    The weighted form of numpy's default (linear) quantile: with distinct values
    x_1 < … < x_m and weights w_k, S_k = (k−1)·w_k + (m−1)·Σ_{i<k} w_i and the quantile
    interpolates x linearly at S = q·(m−1)·Σw — the definition exactextract uses.
    """
    res = np.full(n, np.nan)
    if not len(z):
        return res
    sizes = np.diff(np.r_[starts, len(z)])
    seg = np.repeat(np.arange(len(starts)), sizes)
    k = np.arange(len(z)) - starts[seg]  # 0-based rank within the zone
    m = sizes[seg]
    cum = np.cumsum(w)
    before = cum - w - np.repeat(np.r_[0.0, cum[starts[1:] - 1]], sizes)
    s = k * w + (m - 1) * before
    total = np.bincount(seg, weights=w)
    target = q * (sizes - 1) * total
    below = np.bincount(seg, weights=(s <= target[seg] * (1 + 1e-12)).astype(float))
    left = starts + np.maximum(below.astype(np.int64), 1) - 1
    right = np.minimum(left + 1, starts + sizes - 1)
    span = s[right] - s[left]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(span > 0, (target - s[left]) / np.where(span > 0, span, 1.0), 0.0)
    res[z[starts]] = v[left] + np.clip(t, 0.0, 1.0) * (v[right] - v[left])
    return res


def category_shares(zones, source: RasterSource, *, classes: Sequence | None = None,
                    crs=None, max_cells: int = MAX_CELLS, prefix: str = "share_"
                    ) -> pd.DataFrame:
    """Share of each class of a categorical raster (land cover) in each zone.

    Shares are fractions (0–1) of the zone's valid covered area, so the shares of a
    zone add up to 1; e.g. forest cover rate (森林覆盖率) = share of the forest classes.

    Parameters
    ----------
    classes
        Class values to report, in this order (others still count in the total); every
        value found when None.

    Returns
    -------
    DataFrame
        Index as ``zones``: ``count`` (valid covered pixels) and one ``share_<class>``
        column per class.
    """
    n, _, (z, v, w) = _collect(zones, source, crs=crs, max_cells=max_cells, cells=True,
                               moments=False, histogram=True)
    total = np.bincount(z, weights=w, minlength=n)
    values = np.unique(v) if classes is None else np.asarray(list(classes))
    out = {"count": total}
    with np.errstate(invalid="ignore", divide="ignore"):
        for value in values:
            sel = v == value
            share = np.bincount(z[sel], weights=w[sel], minlength=n) / total
            out[f"{prefix}{_class_name(value)}"] = share
    return pd.DataFrame(out, index=_index_of(zones, n))


def _class_name(value) -> str:
    f = float(value)
    return str(int(f)) if f.is_integer() else f"{f:g}"


# --------------------------------------------------------------------------- change


def change_table(before: pd.Series, after: pd.Series, *, min_gain: float = 0.0
                 ) -> pd.DataFrame:
    """Per-zone change of a mean (e.g. NDVI after − before), flagging zones with no gain.

    Returns
    -------
    DataFrame
        ``before``, ``after``, ``change`` and ``status``: ``"gain"`` when the change is
        above ``min_gain``, ``"no_gain"`` when it is not, ``"no_data"`` when either mean
        is missing (off the raster or nodata only).
    """
    before = before.astype(float)
    after = after.astype(float).reindex(before.index)
    change = after - before
    status = np.where(change.isna(), "no_data", np.where(change > min_gain, "gain", "no_gain"))
    return pd.DataFrame({"before": before, "after": after, "change": change,
                         "status": status}, index=before.index)


# --------------------------------------------------------------------------- overlays

#: Colour ramps (evenly spaced stops, low → high) for overlays and their legends.
COLORMAPS: dict[str, list[str]] = {
    # NDVI: bare soil brown → yellow → dense-vegetation green (ColorBrewer RdYlGn-like).
    "ndvi": ["#8c510a", "#d8b365", "#f6e8c3", "#c7e9b4", "#7fbc41", "#35978f", "#01665e"],
    # change: loss red-brown → no change white → gain green (BrBG, diverging).
    "change": ["#8c510a", "#d8b365", "#f6e8c3", "#f5f5f5", "#c7eae5", "#5ab4ac", "#01665e"],
    "viridis": ["#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725"],
    "terrain": ["#333399", "#0294fa", "#24d36d", "#b6f08a", "#dbd085", "#92735e", "#ffffff"],
    "greys": ["#ffffff", "#000000"],
}


def _stops(colormap: str) -> np.ndarray:
    try:
        hexes = COLORMAPS[colormap]
    except KeyError:
        raise InputError(f"unknown colour map {colormap!r}; choose from "
                         + ", ".join(COLORMAPS)) from None
    return np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in hexes], dtype=float)


def colorize(array: np.ndarray, *, colormap: str = "ndvi", vmin: float, vmax: float,
             valid: np.ndarray | None = None, fade: float | None = None) -> np.ndarray:
    """RGBA (uint8) of a 2-D array through a colour ramp; invalid pixels transparent.

    ``fade`` makes values near 0 see-through (opaque from ±fade on), so that on a change
    map only real change covers the map below.
    """
    a = np.asarray(array, dtype=np.float64)
    ok = np.isfinite(a) if valid is None else (np.asarray(valid, bool) & np.isfinite(a))
    stops = _stops(colormap)
    span = vmax - vmin if vmax > vmin else 1.0
    t = np.clip((np.where(ok, a, vmin) - vmin) / span, 0.0, 1.0) * (len(stops) - 1)
    i = np.minimum(np.floor(t).astype(int), len(stops) - 2)
    f = (t - i)[..., None]
    rgb = stops[i] * (1 - f) + stops[i + 1] * f
    rgba = np.empty((*a.shape, 4), dtype=np.uint8)
    rgba[..., :3] = np.round(rgb).astype(np.uint8)
    alpha = np.where(ok, 255.0, 0.0)
    if fade:
        alpha *= np.clip(np.abs(np.where(ok, a, 0.0)) / fade, 0.0, 1.0)
    rgba[..., 3] = np.round(alpha).astype(np.uint8)
    return rgba


def png_from_rgba(rgba: np.ndarray) -> bytes:
    """A PNG file (bytes) of an RGBA uint8 image, written with zlib only."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    h, w = rgba.shape[:2]
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgba.reshape(h, w * 4)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 9)) + chunk(b"IEND", b""))


@dataclass(frozen=True)
class Overlay:
    """A colour-mapped raster ready for a Web Mercator map.

    ``png`` is the image in Web Mercator (EPSG:3857), north up; ``bounds`` its
    ``(west, south, east, north)`` in degrees (EPSG:4326), as Leaflet's imageOverlay
    wants them.
    """

    png: bytes
    bounds: tuple[float, float, float, float]
    colormap: str
    vmin: float
    vmax: float
    shape: tuple[int, int]

    def data_uri(self) -> str:
        import base64

        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def overlay_from_array(array: np.ndarray, transform, crs, *, nodata: float | None = None,
                       colormap: str = "ndvi", vmin: float | None = None,
                       vmax: float | None = None, max_size: int = 1024,
                       symmetric: bool = False) -> Overlay:
    """Reproject a raster to Web Mercator, downsample it to at most ``max_size`` pixels
    a side (what a screen shows), colour-map it and encode it as PNG.

    ``vmin``/``vmax`` default to the 2nd and 98th percentiles of the valid pixels
    (``symmetric`` makes them ±the larger, for change maps centred on 0).
    """
    from ecomap.crs import reproject_array

    merc, mt = reproject_array(_with_nan(array, nodata), transform, crs, "EPSG:3857",
                               max_size=max_size)
    return _overlay(merc, mt, colormap=colormap, vmin=vmin, vmax=vmax, symmetric=symmetric)


def change_overlay(before: tuple, after: tuple, *, colormap: str = "change",
                   vmax: float | None = None, max_size: int = 1024,
                   fade: float | None = 0.25) -> Overlay:
    """The difference after − before of two rasters as an overlay centred on 0.

    ``before`` and ``after`` are ``(array, transform, crs)``, on any grids: both are
    warped onto the Web Mercator grid of ``before`` before subtracting (for display).
    Changes smaller than ``fade`` × the scale fade out (see :func:`colorize`).
    """
    from ecomap.crs import reproject_array

    b, mt = reproject_array(_with_nan(before[0], None), before[1], before[2], "EPSG:3857",
                            max_size=max_size)
    a, _ = reproject_array(_with_nan(after[0], None), after[1], after[2], "EPSG:3857",
                           dst_grid=(mt, b.shape))
    return _overlay(a - b, mt, colormap=colormap, vmin=None if vmax is None else -vmax,
                    vmax=vmax, symmetric=True, fade=fade)


def _with_nan(array, nodata) -> np.ndarray:
    a = np.asarray(array, dtype=np.float64)
    if nodata is not None and not math.isnan(nodata):
        a = np.where(a == nodata, np.nan, a)
    return a


def _overlay(merc: np.ndarray, mt, *, colormap: str, vmin, vmax, symmetric: bool,
             fade: float | None = None) -> Overlay:
    from ecomap.crs import transform_bounds

    ok = np.isfinite(merc)
    if vmin is None or vmax is None:
        vals = merc[ok]
        lo, hi = (np.percentile(vals, [2, 98]) if vals.size else (0.0, 1.0))
        if symmetric:
            m = max(abs(lo), abs(hi)) or 1.0
            lo, hi = -m, m
        vmin = float(lo) if vmin is None else vmin
        vmax = float(hi) if vmax is None else vmax
    fade_at = fade * max(abs(vmin), abs(vmax)) if fade else None
    png = png_from_rgba(colorize(merc, colormap=colormap, vmin=vmin, vmax=vmax, valid=ok,
                                 fade=fade_at))
    h, w = merc.shape
    a_, _, c_, _, e_, f_ = affine_coeffs(mt)
    west, south, east, north = transform_bounds(
        (c_, f_ + e_ * h, c_ + a_ * w, f_), "EPSG:3857", "EPSG:4326")
    return Overlay(png, (west, south, east, north), colormap, float(vmin), float(vmax), (h, w))
