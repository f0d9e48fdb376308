"""Township splits: how much of each plot's area lies in each township.

Computed once, when plots are stored (and again, when the township layer is replaced,
for the plots where it changed: :func:`changed_region`, :func:`resplit_plan`), so that
summaries are plain sums.  Plots wholly inside one township — nearly all of them — take their stored area
as it is; only plots that cross a border are intersected, and only their pieces are
projected to measure area.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from shapely.errors import GEOSException

from ecomap import crs as _crs

__all__ = ["changed_region", "plot_areas_m2", "region_boxes", "resplit_plan",
           "split_by_township", "townships_containing_boxes"]

# Area left over after splitting that counts as lying outside every township.
_OUTSIDE_TOLERANCE_M2 = 0.5


def plot_areas_m2(geoms, *, crs=_crs.STORE_CRS) -> np.ndarray:
    """Area of each plot in m², measured in its Gauss-Kruger zone."""
    return _crs.areas_m2(geoms, crs)


def _own_copy(geoms) -> np.ndarray:
    """Fresh copies of geometries, safe to prepare: preparing shared objects from several
    threads at once (dask workers) crashes GEOS."""
    return shapely.from_wkb(shapely.to_wkb(np.asarray(geoms, dtype=object)))


def townships_containing_boxes(bounds: np.ndarray, town_geoms) -> np.ndarray:
    """Index of the township whose interior holds each bounding box, else -1.

    A plot whose box lies inside a township lies inside it too, so its split is known
    without reading its geometry.  Most boxes are answered by a grid of cells labelled
    with the township holding each (:func:`_box_cells`); the rest are tested with GEOS.
    """
    bounds = np.asarray(bounds, dtype=float)
    out = np.full(len(bounds), -1, dtype=np.int64)
    if not len(bounds) or not len(town_geoms):
        return out
    town_geoms = _own_copy(town_geoms)
    shapely.prepare(town_geoms)
    todo = _box_cells(bounds, town_geoms, out)
    todo = todo[np.isfinite(bounds[todo]).all(axis=1)]
    boxes = shapely.box(*bounds[todo].T)
    b_idx, t_idx = shapely.STRtree(town_geoms).query(boxes)
    inside = shapely.contains_properly(town_geoms[t_idx], boxes[b_idx])
    out[todo[b_idx[inside]]] = t_idx[inside]
    return out


def _box_cells(bounds: np.ndarray, town_geoms: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` for the boxes that lie within at most 3 × 3 cells of a grid, all held
    by one township; return the positions of the other boxes.

    A cell is labelled with a township only when the township's interior holds the
    whole cell, so a box covered by such cells of one township lies inside it.  The
    cells are at least the typical box, so most boxes span 2 × 2 of them or fewer.
    """
    finite = np.isfinite(bounds).all(axis=1)
    if finite.sum() < 1000:  # not worth a grid
        return np.arange(len(bounds))
    x0, y0, x1, y1 = shapely.total_bounds(town_geoms)
    # Labelling costs a GEOS test per cell: about one cell per 16 boxes.
    typical = np.median(np.maximum(bounds[finite, 2] - bounds[finite, 0],
                                   bounds[finite, 3] - bounds[finite, 1]))
    cells_wanted = np.clip(finite.sum() // 16, 64, 65536)
    size = max(typical, np.sqrt((x1 - x0) * (y1 - y0) / cells_wanted))
    if not np.isfinite(size) or size <= 0:
        return np.arange(len(bounds))
    nx, ny = int(np.ceil((x1 - x0) / size)), int(np.ceil((y1 - y0) / size))
    dx, dy = (x1 - x0) / nx, (y1 - y0) / ny
    i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    i, j = i.ravel(), j.ravel()
    cells = shapely.box(x0 + i * dx, y0 + j * dy, x0 + (i + 1) * dx, y0 + (j + 1) * dy)
    label = np.full(len(cells) + 1, -1, dtype=np.int64)  # the last one: off the grid
    c_idx, t_idx = shapely.STRtree(town_geoms).query(cells)
    held = shapely.contains_properly(town_geoms[t_idx], cells[c_idx])
    label[c_idx[held]] = t_idx[held]
    # Cell columns and rows each box reaches, widened by a millionth of a cell so that
    # rounding cannot leave a box's edge outside the cells found for it.
    eps = 1e-6
    b = np.where(finite[:, None], bounds, 0.0)
    ci0 = np.floor((b[:, 0] - x0) / dx - eps).astype(np.int64)
    ci1 = np.floor((b[:, 2] - x0) / dx + eps).astype(np.int64)
    cj0 = np.floor((b[:, 1] - y0) / dy - eps).astype(np.int64)
    cj1 = np.floor((b[:, 3] - y0) / dy + eps).astype(np.int64)
    fits = (finite & (ci0 >= 0) & (cj0 >= 0) & (ci1 < nx) & (cj1 < ny)
            & (ci1 - ci0 <= 2) & (cj1 - cj0 <= 2))
    k = np.where(fits, ci0 * ny + cj0, len(cells))
    town = label[k]
    same = fits & (town >= 0)
    for di in range(3):  # every cell of the (up to) 3 × 3 the box reaches
        for dj in range(3):
            k = np.minimum(ci0 + di, ci1) * ny + np.minimum(cj0 + dj, cj1)
            same &= label[np.where(fits, k, len(cells))] == town
    out[same] = town[same]
    return np.flatnonzero(~same)


def changed_region(old_names, old_geoms, new_names, new_geoms):
    """Where a point may lie in another township under the new layer than under the old
    one: the union, over township names, of each township's old and new polygons'
    symmetric difference (``None`` when GEOS cannot compute it).

    A plot that does not meet this region has the same pieces in every township under
    both layers, so its stored split stays right as it is.
    """
    def by_name(names, geoms) -> dict:
        groups: dict = {}
        for name, geom in zip(np.asarray(names, dtype=object), geoms, strict=True):
            groups.setdefault(name, []).append(geom)
        return {k: shapely.union_all(v) for k, v in groups.items()}

    try:
        old, new = by_name(old_names, old_geoms), by_name(new_names, new_geoms)
        empty = shapely.Polygon()
        parts = [shapely.symmetric_difference(old.get(k, empty), new.get(k, empty))
                 for k in old.keys() | new.keys()]
        return shapely.union_all(parts) if parts else empty
    except GEOSException:  # invalid township polygons: check every plot
        return None


def region_boxes(region, *, cells: int = 24, margin: float = 1e-6) -> np.ndarray:
    """(minx, miny, maxx, maxy) of small pieces that cover ``region``, widened by
    ``margin`` (CRS units) so that rounding in the overlay cannot leave a sliver out.

    Boxes of a grid of pieces follow a long thin region closely, where the region's own
    box would cover most of the county.
    """
    if region is None or region.is_empty:
        return np.empty((0, 4))
    pieces, _ = _dice(np.array([region], dtype=object), cells)
    b = shapely.bounds(pieces)
    return b + np.array([-margin, -margin, margin, margin])


def _dice(town_geoms: np.ndarray, cells: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Township polygons cut into a grid of small pieces (like PostGIS ST_Subdivide).

    Intersecting a small plot with a small piece is far cheaper than with a township
    of thousands of vertices; the pieces tile each township, so areas add up exactly.
    """
    pieces, owner = [], []
    for t, geom in enumerate(town_geoms):
        minx, miny, maxx, maxy = geom.bounds
        xs = np.linspace(minx, maxx, cells + 1)
        ys = np.linspace(miny, maxy, cells + 1)
        gx, gy = np.meshgrid(xs, ys, indexing="ij")
        boxes = shapely.box(gx[:-1, :-1].ravel(), gy[:-1, :-1].ravel(), gx[1:, 1:].ravel(),
                            gy[1:, 1:].ravel())
        parts = shapely.intersection(geom, boxes)
        parts = parts[~shapely.is_empty(parts)]
        pieces.append(parts)
        owner.append(np.full(len(parts), t))
    return np.concatenate(pieces), np.concatenate(owner)


def _intersect_diced(geoms, plots: np.ndarray, town_geoms, crs):
    """(plot, township, area_m2) of every piece of ``plots`` in each township.

    The cutting is done in each plot's Gauss-Kruger zone, where its area is defined
    (straight edges between its projected vertices), so a plot's pieces add up to its
    whole area exactly.  For a plot that lies inside the townships' union, one of its
    townships is left uncut (:func:`_left_uncut`): its area is what the others leave.
    """
    if not len(plots):
        return (np.array([], dtype=np.int64), np.array([], dtype=np.int64),
                np.array([], dtype=float))
    pieces, owner = _dice(town_geoms)
    # Edges densified (a vertex every ~100 m) before they are projected: a long straight
    # border would otherwise become a different chord in each neighbour's pieces (each
    # inserts its own grid vertices), leaving slivers between them.
    step = 0.001 if _crs.parse_crs(crs).is_geographic else 100.0
    pieces = shapely.segmentize(pieces, step)
    p_idx, c_idx = shapely.STRtree(pieces).query(geoms[plots], predicate="intersects")
    projected, zones = _crs.to_area_crs(geoms[plots], crs)
    uncut = _left_uncut(geoms[plots], p_idx, owner[c_idx], town_geoms)
    keep = owner[c_idx] != uncut[p_idx]
    p_idx, c_idx = p_idx[keep], c_idx[keep]
    area = np.zeros(len(p_idx))
    for zone in np.unique(zones[p_idx]):
        sel = zones[p_idx] == zone
        needed, where = np.unique(c_idx[sel], return_inverse=True)
        cut = _crs.transform_geometries(pieces[needed], crs, f"EPSG:{zone}")
        area[sel] = shapely.area(shapely.intersection(projected[p_idx[sel]], cut[where]))
    left = np.flatnonzero(uncut >= 0)
    rest = (shapely.area(projected[left])
            - np.bincount(p_idx, weights=area, minlength=len(plots))[left])
    frame = pd.DataFrame({"plot": plots[np.concatenate([p_idx, left])],
                          "town": np.concatenate([owner[c_idx], uncut[left]]),
                          "area": np.concatenate([area, rest])})
    frame = frame[frame["area"] > 0].groupby(["plot", "town"], sort=True)["area"].sum()
    return (frame.index.get_level_values(0).to_numpy(np.int64),
            frame.index.get_level_values(1).to_numpy(np.int64), frame.to_numpy(float))


def _left_uncut(plot_geoms, p_idx: np.ndarray, p_town: np.ndarray, town_geoms) -> np.ndarray:
    """Per plot, a township whose pieces need not be cut (else -1).

    When the townships do not overlap and a plot lies inside their union, its pieces
    add up to the whole plot, so one township's share is the plot's area less the
    others': the township with the most candidate pieces (pairs ``p_idx``, ``p_town``)
    is left out.  Plots touching one township only, or reaching outside the union (a
    plot on its border is inside), are cut in full.
    """
    n, k = len(plot_geoms), len(town_geoms)
    out = np.full(n, -1, dtype=np.int64)
    union = shapely.union_all(town_geoms)
    if abs(shapely.area(town_geoms).sum() - union.area) > 1e-9 * union.area:
        return out  # overlapping townships: every piece is cut
    pair, count = np.unique(p_idx * k + p_town, return_counts=True)
    plot, town = np.divmod(pair, k)
    order = np.lexsort((-count, plot))  # per plot, its most frequent township first
    first = order[np.r_[True, plot[order][1:] != plot[order][:-1]]] if len(order) else order
    out[plot[first]] = town[first]
    shapely.prepare(union)
    out[(np.bincount(plot, minlength=n) < 2) | ~shapely.covers(union, plot_geoms)] = -1
    return out


def split_by_township(
    geoms,
    townships: pd.Series | np.ndarray,
    township_geoms,
    *,
    areas_m2: np.ndarray | None = None,
    crs=_crs.STORE_CRS,
) -> pd.DataFrame:
    """Split plots among townships by area.

    Parameters
    ----------
    geoms
        Plot geometries (array-like of shapely geometries) in ``crs``.
    townships
        Township names, one per township geometry.
    township_geoms
        Township polygons in ``crs``; they should tile the county without overlaps.
    areas_m2
        Each plot's whole area, when already known (saves projecting every vertex).
    crs
        CRS of both geometry arrays (the store's EPSG:4490 by default).

    Returns
    -------
    DataFrame
        One row per plot and township it touches: ``plot`` (position in ``geoms``),
        ``township``, ``area_m2`` and ``primary`` (True for the township holding the
        largest share, where the plot is counted).  Area outside every township is
        listed with ``township`` None, so that the rows of a plot add up to its area.
    """
    geoms = np.asarray(geoms, dtype=object)
    names = np.asarray(townships, dtype=object)
    town_geoms = _own_copy(township_geoms)
    n = len(geoms)
    if areas_m2 is None:
        areas_m2 = plot_areas_m2(geoms, crs=crs)
    areas_m2 = np.asarray(areas_m2, dtype=float)
    empty = pd.DataFrame({"plot": np.array([], dtype=np.int64),
                          "township": pd.Series([], dtype=object),
                          "area_m2": np.array([], dtype=float),
                          "primary": np.array([], dtype=bool)})
    if n == 0:
        return empty
    if len(town_geoms) == 0:  # no townships yet: all of each plot lies outside them
        return pd.DataFrame({"plot": np.arange(n, dtype=np.int64),
                             "township": pd.Series([None] * n, dtype=object),
                             "area_m2": areas_m2, "primary": np.ones(n, dtype=bool)})

    # A plot whose box lies inside a township lies in it: most plots are placed so.
    boxed_town = townships_containing_boxes(shapely.bounds(geoms), town_geoms)
    unboxed = np.flatnonzero(boxed_town < 0)
    tree = shapely.STRtree(town_geoms)
    plot_idx, town_idx = tree.query(geoms[unboxed])
    plot_idx = unboxed[plot_idx]
    shapely.prepare(town_geoms)
    # Prepared contains_properly is the cheapest exact test; a plot that only touches a
    # border from inside falls through to the intersection below, which is also exact.
    covered = shapely.contains_properly(town_geoms[town_idx], geoms[plot_idx])
    # A plot sharing the township's border (a patrol area along the county line) is
    # covered too: measured whole, not as pieces whose densified edges may stray a hair.
    maybe = np.flatnonzero(~covered)
    covered[maybe] = shapely.covers(town_geoms[town_idx[maybe]], geoms[plot_idx[maybe]])

    # Plots inside one township keep their whole stored area.
    boxed = np.flatnonzero(boxed_town >= 0)
    inside_plot = np.concatenate([boxed, plot_idx[covered]])
    inside_town = np.concatenate([boxed_town[boxed], town_idx[covered]])
    _, first = np.unique(inside_plot, return_index=True)
    inside_plot, inside_town = inside_plot[first], inside_town[first]

    # The rest: intersect with each candidate township, measure the pieces.
    is_inside = np.zeros(n, dtype=bool)
    is_inside[inside_plot] = True
    crossing_plots = np.unique(plot_idx[~is_inside[plot_idx]])
    cross_plot, cross_town, piece_area = _intersect_diced(geoms, crossing_plots, town_geoms,
                                                          crs)

    # What lies outside every township (a plot over the county line) stays visible.
    crossing = np.unique(cross_plot) if len(cross_plot) else np.array([], dtype=np.int64)
    inside_sum = np.bincount(cross_plot, weights=piece_area, minlength=n)
    outside = np.setdiff1d(np.arange(n), np.concatenate([inside_plot, crossing]))
    rest = areas_m2 - inside_sum
    partial = crossing[rest[crossing] > _OUTSIDE_TOLERANCE_M2]
    out_plot = np.concatenate([outside, partial])
    out_area = np.concatenate([areas_m2[outside], rest[partial]])

    out = pd.DataFrame({
        "plot": np.concatenate([inside_plot, cross_plot, out_plot]).astype(np.int64),
        "township": pd.Series(np.concatenate([names[inside_town], names[cross_town],
                                              np.full(len(out_plot), None, dtype=object)]),
                              dtype=object),
        "area_m2": np.concatenate([areas_m2[inside_plot], piece_area, out_area]),
    })
    out = out.sort_values(["plot", "area_m2"], ascending=[True, False], kind="stable")
    out["primary"] = ~out["plot"].duplicated()
    return out.reset_index(drop=True)


# --- the incremental re-split: what changes when the township layer does ----------------
def resplit_plan(fids: np.ndarray, bounds: np.ndarray, stored: dict, names, town_geoms, *,
                 geometries) -> dict:
    """The changes that bring stored split rows up to date with a township layer.

    Backend-free: the stores read what is asked here and write what is returned.  Of
    the plots checked, one whose box lies inside a township keeps its stored area there
    (:func:`townships_containing_boxes`); only the others are read and cut.

    Parameters
    ----------
    fids, bounds
        Sorted ids of the plots (with a geometry) to check, and their boxes (minx,
        miny, maxx, maxy).
    stored
        The stored split rows of (at least) those plots, as arrays: ``fid`` (of the
        row), ``plot_fid``, ``township``, ``area_m2``, ``is_primary``.
    names, town_geoms
        The township layer now.
    geometries
        Called with plot ids, returns their geometries in that order.

    Returns
    -------
    dict
        ``update`` (rows rewritten in place: ``fid, township, area_m2, is_primary``),
        ``delete`` (row ids), ``insert`` (new rows: ``plot_fid, township, area_m2,
        is_primary``), ``moved`` (plots counted in another township now: ``fid,
        township``), and the counts ``checked``, ``cut`` and ``changed``.
    """
    keep = np.isin(stored["plot_fid"], fids)  # plots without a geometry stay as they are
    old = {k: np.asarray(v)[keep] for k, v in stored.items()}
    order = np.lexsort((-old["area_m2"], old["plot_fid"]))
    old = {k: v[order] for k, v in old.items()}
    plot_fids, start, k_old = np.unique(old["plot_fid"], return_index=True,
                                        return_counts=True)
    old_plot = np.repeat(np.arange(len(plot_fids)), k_old)
    areas = np.add.reduceat(old["area_m2"], start) if len(start) else np.zeros(0)
    new = _new_splits(plot_fids, bounds[np.searchsorted(fids, plot_fids)], areas, names,
                      town_geoms, geometries)
    changed = _changed_plots(old_plot, old, new, len(plot_fids))
    plan = _rewrite(plot_fids, changed, old_plot, old, new)
    plan.update(checked=len(plot_fids), cut=new["cut"], changed=int(changed.sum()))
    return plan


def _new_splits(plot_fids, bounds, areas, names, town_geoms, geometries) -> dict:
    """The splits of plots (by position) under the township layer ``town_geoms``, as
    arrays sorted by plot and decreasing area."""
    names = np.asarray(names, dtype=object)
    town_of = townships_containing_boxes(bounds, town_geoms)
    inside = np.flatnonzero(town_of >= 0)
    rest = np.flatnonzero(town_of < 0)
    plot, town, area = [inside], [names[town_of[inside]]], [areas[inside]]
    primary = [np.ones(len(inside), dtype=bool)]
    if len(rest):
        geoms = geometries(plot_fids[rest])
        cut = split_by_township(geoms, names, town_geoms, areas_m2=areas[rest])
        plot.append(rest[cut["plot"].to_numpy()])
        town.append(cut["township"].to_numpy(dtype=object))
        area.append(cut["area_m2"].to_numpy(dtype=float))
        primary.append(cut["primary"].to_numpy(dtype=bool))
    plot, town, area, primary = (np.concatenate(a) for a in (plot, town, area, primary))
    order = np.lexsort((-area, plot))
    return {"plot": plot[order], "township": town[order].astype(object),
            "area_m2": area[order], "is_primary": primary[order], "cut": len(rest)}


def _rank_within(plot: np.ndarray) -> np.ndarray:
    """Position of each row within its run of equal ``plot`` values (rows sorted by plot)."""
    if not len(plot):
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, plot[1:] != plot[:-1]])
    return np.arange(len(plot)) - np.repeat(starts, np.diff(np.r_[starts, len(plot)]))


def _changed_plots(old_plot: np.ndarray, old: dict, new: dict, n: int) -> np.ndarray:
    """Which of ``n`` plots have new split rows other than their stored ones (township,
    area to the mm², primary or not), as a boolean array."""
    k_old = np.bincount(old_plot, minlength=n)
    k_new = np.bincount(new["plot"], minlength=n)
    changed = k_old != k_new
    codes, _ = pd.factorize(np.concatenate([old["township"], new["township"]]))
    old_code, new_code = codes[:len(old_plot)], codes[len(old_plot):]
    # Plots with as many rows as before: compare the rows sorted by township.
    o = np.flatnonzero(~changed[old_plot])
    o = o[np.lexsort((old_code[o], old_plot[o]))]
    w = np.flatnonzero(~changed[new["plot"]])
    w = w[np.lexsort((new_code[w], new["plot"][w]))]
    differ = ((old_code[o] != new_code[w])
              | (np.round(old["area_m2"][o], 3) != np.round(new["area_m2"][w], 3))
              | (old["is_primary"][o] != new["is_primary"][w]))
    changed[old_plot[o[differ]]] = True
    return changed


def _rewrite(plot_fids, changed, old_plot, old, new) -> dict:
    """The new split rows of the ``changed`` plots paired with their old ones.

    Rows are paired by rank within their plot (largest piece first) and updated in
    place, so that a store's indexes on plot and batch are left alone; a plot with more
    pieces than before gets rows inserted, one with fewer gets rows deleted.
    """
    n = len(plot_fids)
    k_old = np.bincount(old_plot, minlength=n)
    k_new = np.bincount(new["plot"], minlength=n)
    o = changed[old_plot]
    w = changed[new["plot"]]
    upd_old = o & (_rank_within(old_plot) < k_new[old_plot])
    upd_new = w & (_rank_within(new["plot"]) < k_old[new["plot"]])
    more = w & ~upd_new

    def rows(sel, **ids) -> pd.DataFrame:
        return pd.DataFrame({**ids, "township": new["township"][sel].astype(object),
                             "area_m2": new["area_m2"][sel],
                             "is_primary": new["is_primary"][sel].astype(np.int64)})

    # Where each plot is counted: its primary piece's township.
    was = pd.Series(old["township"][old["is_primary"]],
                    index=old_plot[old["is_primary"]]).reindex(range(n))
    now = pd.Series(new["township"][new["is_primary"]],
                    index=new["plot"][new["is_primary"]]).reindex(range(n))
    moved = np.flatnonzero(changed & ~((was == now) | (was.isna() & now.isna())).to_numpy())
    now = now.astype(object).where(now.notna(), None).to_numpy(dtype=object)
    return {"update": rows(upd_new, fid=old["fid"][upd_old].astype(np.int64)),
            "delete": old["fid"][o & ~upd_old].astype(np.int64),
            "insert": rows(more, plot_fid=plot_fids[new["plot"][more]].astype(np.int64)),
            "moved": pd.DataFrame({"fid": plot_fids[moved].astype(np.int64),
                                   "township": now[moved]})}
