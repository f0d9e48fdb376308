"""Raster statistics over plots and townships: the coverage-weighted zonal statistics.

Zonal statistics weight every pixel by the fraction of it that a zone covers, so a
1-mu plot on 10 m pixels (6–7 pixels, most of them only partly covered) gets the exact
area-weighted answer — the quantity exactextract computes.  The work is vectorised over
all zones (no Python loop per zone, see :mod:`ecomap.raster._coverage`): count, sum, mean
and standard deviation come from the zones' outlines and row prefix sums of the pixels;
min, max, majority, median and class shares from explicit coverage fractions.

The vector zones are reprojected to the raster's CRS (:mod:`ecomap.crs`), never the
raster to the zones'.  Pixels are read through a :class:`~ecomap.raster.source.RasterSource`
one window at a time: zones are sorted by the raster chunk they start in and processed in
batches of bounded size, so a raster larger than memory is read once, window by window,
and only where there are zones (a Cloud-Optimised GeoTIFF is fetched tile by tile).

Nothing here opens files: :mod:`ecomap.io.raster` opens GeoTIFFs as sources.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from ecomap.errors import InputError
from ecomap.i18n import Text, tr
from ecomap.raster import _coverage as _cov
from ecomap.raster._coverage import affine_coeffs
from ecomap.raster.source import RasterSource

__all__ = [
    "CATEGORICAL_STATS",
    "MAX_CELLS",
    "STATS",
    "category_shares",
    "coverage_fractions",
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


def _no_overlap_message(geoms, zones_crs, source: RasterSource) -> Text:
    from ecomap.crs import parse_crs, transform_bounds

    a, _, c, _, e, f = affine_coeffs(source.transform)
    x0, x1 = sorted((c, c + a * source.width))
    y0, y1 = sorted((f, f + e * source.height))
    try:
        zb = transform_bounds(shapely.total_bounds(geoms), zones_crs, source.crs)
        zones_txt = tr("区域范围为 {bounds}", "the zones span {bounds}", bounds=_fmt_bounds(zb))
    except Exception:  # noqa: BLE001 - only for the message
        zones_txt = tr("区域在别处", "the zones lie elsewhere")
    crs = parse_crs(source.crs)
    name = f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.name
    return tr("{raster} 覆盖 {bounds} ({crs}), 但 {n} 个区域没有一个落在栅格上 ({zones}); "
              "请使用本区域的栅格, 或检查栅格的坐标系 (.prj 错误或缺失会让栅格落到别处)",
              "{raster} covers {bounds} ({crs}) but none of the {n} zones lies on it "
              "({zones}); use a raster of this area, or check the raster's CRS (a wrong or "
              "missing .prj puts it elsewhere)", raster=source.name,
              bounds=_fmt_bounds((x0, y0, x1, y1)), crs=name, n=len(geoms), zones=zones_txt)


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
        raise InputError(tr("未知统计量 {unknown}; 可选: {choices}",
                            "unknown statistic(s) {unknown}; choose from {choices}",
                            unknown=", ".join(unknown) or tr("(无)", "(none)"),
                            choices=", ".join(STATS)))
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
