"""Township splits: how much of each plot's area lies in each township.

Computed once, when plots are stored (and again for every plot when the township
layer is replaced), so that summaries are plain sums.  Plots wholly inside one
township — nearly all of them — take their stored area as it is; only plots that
cross a border are intersected, and only their pieces are projected to measure area.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from ecomap import crs as _crs

__all__ = ["plot_areas_m2", "split_by_township"]

# Area left over after splitting that counts as lying outside every township.
_OUTSIDE_TOLERANCE_M2 = 0.5


def plot_areas_m2(geoms, *, crs=_crs.STORE_CRS) -> np.ndarray:
    """Area of each plot in m², measured in its Gauss-Kruger zone."""
    return _crs.areas_m2(geoms, crs)


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
    town_geoms = np.asarray(township_geoms, dtype=object)
    n = len(geoms)
    if areas_m2 is None:
        areas_m2 = plot_areas_m2(geoms, crs=crs)
    areas_m2 = np.asarray(areas_m2, dtype=float)
    empty = pd.DataFrame({"plot": np.array([], dtype=np.int64),
                          "township": pd.Series([], dtype=object),
                          "area_m2": np.array([], dtype=float),
                          "primary": np.array([], dtype=bool)})
    if n == 0 or len(town_geoms) == 0:
        return empty

    tree = shapely.STRtree(town_geoms)
    plot_idx, town_idx = tree.query(geoms)
    shapely.prepare(town_geoms)
    covered = shapely.covers(town_geoms[town_idx], geoms[plot_idx])

    # Plots inside one township keep their whole stored area.
    inside_plot = plot_idx[covered]
    inside_town = town_idx[covered]
    _, first = np.unique(inside_plot, return_index=True)
    inside_plot, inside_town = inside_plot[first], inside_town[first]

    # The rest: intersect with each candidate township, measure the pieces.
    is_inside = np.zeros(n, dtype=bool)
    is_inside[inside_plot] = True
    cross = ~is_inside[plot_idx]
    cross_plot, cross_town = plot_idx[cross], town_idx[cross]
    pieces = shapely.intersection(geoms[cross_plot], town_geoms[cross_town])
    piece_area = _crs.areas_m2(pieces, crs) if len(pieces) else np.array([], dtype=float)
    keep = piece_area > 0
    cross_plot, cross_town, piece_area = cross_plot[keep], cross_town[keep], piece_area[keep]

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
