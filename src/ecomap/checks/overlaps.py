"""Plots counted twice: copies and overlaps within one file, and plots overlapping, or
sharing a 小班号 with, plots already stored for the same category and year."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ecomap import crs as _crs
from ecomap.checks.report import Problem, Report, feature_labels, feature_text, stripped_text
from ecomap.i18n import tr
from ecomap.units import mu_from_m2

__all__ = ["check_duplicates_and_overlaps", "check_stored_ids", "check_stored_overlaps",
           "stored_overlap_problems"]

# Overlaps smaller than this (m²) are drawing noise along shared edges, not double counting.
_OVERLAP_MIN_M2 = 1.0


def _overlap_pairs(a_geoms, b_geoms, *, same: bool = False):
    """Pairs (i, j) whose interiors overlap, with the overlap area in m².

    With ``same`` (a layer against itself) each pair comes once, as i < j.
    """
    tree = shapely.STRtree(b_geoms)
    i, j = tree.query(a_geoms, predicate="intersects")
    if same:
        i, j = i[i < j], j[i < j]
    if not len(i):
        return i, j, np.array([])
    inner = shapely.relate_pattern(a_geoms[i], b_geoms[j], "T********")
    i, j = i[inner], j[inner]
    area = _crs.areas_m2(shapely.intersection(a_geoms[i], b_geoms[j]), _crs.STORE_CRS) \
        if len(i) else np.array([])
    return i, j, area


def check_duplicates_and_overlaps(geoms, keep, areas, labels, add, report, source) -> None:
    """Exact copies within the file (the copy is left out) and overlaps (a warning).

    ``add(i, severity, code, message, field)`` records a problem of feature ``i``
    (see :func:`~ecomap.checks.plots.check_plots`).
    """
    idx = np.flatnonzero(keep)
    if len(idx) < 2:
        return
    sub = geoms[idx]
    i, j, area = _overlap_pairs(sub, sub, same=True)
    i, j = idx[i], idx[j]
    dup = shapely.equals(geoms[i], geoms[j])
    dropped: set[int] = set()
    for a, b in zip(i[dup], j[dup], strict=True):
        if a in dropped or b in dropped:
            continue
        dropped.add(b)
        add(b, "error", "duplicate", tr(
            "与{other}完全相同 ({mu:,.2f} 亩被重复计算; 重复的图斑未入库)",
            "is an exact copy of {other} ({mu:,.2f} mu counted twice; the copy is left out)",
            other=feature_text(labels[a]), mu=mu_from_m2(areas[b])))
    for a, b, m2 in zip(i[~dup], j[~dup], area[~dup], strict=True):
        if m2 < _OVERLAP_MIN_M2 or a in dropped or b in dropped:
            continue
        add(b, "warning", "overlap", tr(
            "与{other}重叠 {mu:,.2f} 亩 (是否重复计算?)",
            "overlaps {other} by {mu:,.2f} mu (double counting?)",
            other=feature_text(labels[a]), mu=mu_from_m2(m2)))


def check_stored_ids(plots, keep, stored_ids: pd.DataFrame, add, field_id: str) -> None:
    """A 小班号 stored already for the same category and year: the feature is left out."""
    ids = stripped_text(plots["plot_id"]).to_numpy(dtype=object)
    years = pd.array(plots["year"], dtype="Int64")
    stored = stored_ids.assign(plot_id=stripped_text(stored_ids["plot_id"]))
    stored = stored[stored["plot_id"] != ""]
    first = stored.drop_duplicates(["plot_id", "year"]).set_index(["plot_id", "year"])
    batch_of = first["batch_id"].to_dict()
    for i in np.flatnonzero(keep):
        if not ids[i] or pd.isna(years[i]):
            continue
        batch = batch_of.get((ids[i], int(years[i])))
        if batch is None:
            continue
        add(i, "error", "duplicate_stored", tr(
            "{field} {id} 已在批次 {batch} 中入库(同类别同年度), 本要素未入库; 若此文件更正了"
            "批次 {batch}, 请加 --replace {batch} 替换该批次, 否则删去此要素或改正{field}",
            "{field} {id} is already stored in batch {batch} (same category and year); "
            "left out. If this file corrects batch {batch}, add --replace {batch} to "
            "replace it; otherwise delete the feature or correct its {field}",
            field=field_id, id=ids[i], batch=int(batch)), field_id)


def check_stored_overlaps(geoms, keep, stored: gpd.GeoDataFrame, add) -> None:
    """Overlaps with plots stored for the same category and year (a warning)."""
    idx = np.flatnonzero(keep)
    stored_geoms = np.asarray(stored.geometry.values, dtype=object)
    i, j, area = _overlap_pairs(geoms[idx], stored_geoms)
    batches = stored["batch_id"].to_numpy()
    ids = stored["plot_id"].to_numpy(dtype=object)
    for a, b, m2 in zip(idx[i], j, area, strict=True):
        if m2 < _OVERLAP_MIN_M2:
            continue
        other = (tr("已入库的小班 {id}", "stored plot {id}", id=ids[b]) if ids[b] else
                 tr("一个已入库的图斑", "a stored plot"))
        add(a, "warning", "overlaps_stored", tr(
            "与批次 {batch} 中{other}重叠 {mu:,.2f} 亩 (同类别同年度: 是否重复计算?)",
            "overlaps {other} of batch {batch} by {mu:,.2f} mu (same category and year: "
            "double counting?)", other=other, batch=batches[b], mu=mu_from_m2(m2)))


def stored_overlap_problems(plots: gpd.GeoDataFrame, stored: gpd.GeoDataFrame,
                            source: str) -> list[Problem]:
    """The ``overlaps_stored`` warnings of checked ``plots`` against ``stored`` ones,
    found again (cheaply) when the store may have changed since the check."""
    report = Report(source)
    if not len(plots) or stored is None or not len(stored):
        return report.problems
    labels = feature_labels(plots)
    geoms = np.asarray(plots.geometry.values, dtype=object)

    def add(i, severity, code, message, fld=None):
        report.add(severity, code, tr("{source}: {feature}: {message}",
                                      "{source}: {feature}: {message}", source=source,
                                      feature=feature_text(labels[i]), message=message),
                   feature=labels[i], field=fld)

    check_stored_overlaps(geoms, np.ones(len(plots), dtype=bool), stored, add)
    return report.problems
