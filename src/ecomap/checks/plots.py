"""Checks on prepared plots before they are stored: geometry, area, attributes and
position against the county, its townships and the plots already stored.

:func:`check_plots` repairs what is safe to repair, leaves out what is not, and names
the feature and field of every problem; :mod:`ecomap.checks.report` says when a file is
accepted, accepted with warnings or rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ecomap import crs as _crs
from ecomap._geom import as_multipolygons
from ecomap.checks.overlaps import (
    check_duplicates_and_overlaps,
    check_stored_ids,
    check_stored_overlaps,
)
from ecomap.checks.report import Outcome, Report, feature_labels, feature_text
from ecomap.checks.townships import check_townships
from ecomap.i18n import Text, tr
from ecomap.split import split_by_township, townships_containing_boxes
from ecomap.units import mu_from_m2

__all__ = ["CheckContext", "check_plots"]


@dataclass
class CheckContext:
    """What the checks compare against, taken from the store (all EPSG:4490)."""

    county: object | None = None
    township_names: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    township_geoms: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    #: The county's name (大余县), dropped from the front of 乡镇 values before comparing.
    county_name: str | None = None
    #: Plots already stored for the same category and year: fid, batch_id, plot_id, geometry.
    stored: gpd.GeoDataFrame | None = None
    #: 小班号 already stored for the same category: plot_id, year, batch_id (None: no check).
    stored_ids: pd.DataFrame | None = None
    min_plot_mu: float = 0.1
    area_tolerance: float = 0.05


# Shapely's (GEOS) reasons for invalid geometry, in the words GIS staff use.
_REASONS_ZH = {
    "Ring Self-intersection": "环自相交", "Self-intersection": "自相交",
    "Too few points in geometry component": "点数太少", "Hole lies outside shell": "内环在外环之外",
    "Nested holes": "内环嵌套", "Nested shells": "外环嵌套",
    "Interior is disconnected": "内部不连通", "Duplicate Rings": "环重复",
    "Invalid Coordinate": "坐标无效", "Ring is not closed": "环未闭合",
}


def _reason(reason: str) -> Text:
    """GEOS's reason (``Self-intersection[x y]``) in both languages."""
    for en, zh in _REASONS_ZH.items():
        if reason.startswith(en):
            return tr("{zh}{rest}", "{reason}", zh=zh, rest=reason[len(en):], reason=reason)
    return tr("{reason}", "{reason}", reason=reason)


def check_plots(plots: gpd.GeoDataFrame, report: Report, context: CheckContext, *,
                strict: bool = False, info: dict | None = None) -> Outcome:
    """Check prepared plots; repair or exclude features; split the accepted ones.

    Parameters
    ----------
    plots, report
        From :func:`~ecomap.checks.prepare.prepare_plots`.
    context
        County, townships and stored plots to compare with.
    strict
        Every problem rejects the file.
    info
        File, layer, CRS and encoding facts for the JSON report.
    """
    source = report.source
    n = len(plots)
    labels = feature_labels(plots)
    names = plots.attrs.get("field_names", {})
    geoms = np.asarray(plots.geometry.values, dtype=object).copy()
    keep = np.ones(n, dtype=bool)
    flagged = np.zeros(n, dtype=bool)

    def add(i, severity, code, message, fld=None):
        report.add(severity, code, tr("{source}: {feature}: {message}",
                                      "{source}: {feature}: {message}", source=source,
                                      feature=feature_text(labels[i]), message=message),
                   feature=labels[i], field=fld)
        flagged[i] = True
        if severity == "error":
            keep[i] = False

    # -- geometry -------------------------------------------------------------------
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        add(i, "error", "empty_geometry", tr(
            "没有图形; 请补绘图形或删除该行 (未入库)",
            "has no geometry; draw it or delete the row (left out)"))
    types = shapely.get_type_id(geoms)
    for i in np.flatnonzero(~missing & ~np.isin(types, (3, 6, 7))):
        add(i, "error", "not_polygon", tr(
            "是 {kind} 而不是面 (多边形); 图斑须为面图层 (未入库)",
            "is a {kind}, not a polygon (left out)", kind=geoms[i].geom_type))
    # A coordinate that is not a number (a damaged file) cannot be measured or repaired.
    coords, owner = shapely.get_coordinates(geoms[keep], return_index=True)
    for i in np.flatnonzero(keep)[np.unique(owner[~np.isfinite(coords).all(axis=1)])]:
        add(i, "error", "bad_coordinates", tr(
            "坐标含有无效数值 (非数字或无穷大), 文件可能已损坏; 请从 GIS 软件重新导出 (未入库)",
            "has coordinates that are not numbers (NaN or infinite): the file may be damaged; "
            "export it again from the GIS (left out)"))
    polygonal = keep.copy()
    invalid = np.zeros(n, dtype=bool)
    invalid[polygonal] = ~shapely.is_valid(geoms[polygonal]) | (types[polygonal] == 7)
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        before = geoms[i]
        fixed = _polygonal(shapely.make_valid(before))
        if fixed is None:
            add(i, "error", "invalid_geometry", tr(
                "图形无效 ({reason}), 无法自动修复; 请在 GIS 软件中修改图形 (未入库)",
                "invalid ({reason}) and cannot be repaired (left out)", reason=_reason(reason)))
            continue
        geoms[i] = fixed
        after_mu = float(mu_from_m2(_crs.areas_m2([fixed], _crs.STORE_CRS)[0]))
        add(i, "warning", "repaired_geometry", tr(
            "图形无效 ({reason}); 已自动修复, 修复后面积 {mu:,.2f} 亩 — 请核对图形",
            "invalid ({reason}); repaired, area now {mu:,.2f} mu — check the shape",
            reason=_reason(reason), mu=after_mu))
    geoms[keep] = as_multipolygons(geoms[keep])

    areas = np.asarray(plots.attrs.get("area_m2", np.full(n, np.nan)), dtype=float).copy()
    areas[invalid | ~keep] = np.nan
    todo = keep & ~np.isfinite(areas)
    areas[todo] = _crs.areas_m2(geoms[todo], _crs.STORE_CRS)
    areas[~keep] = 0.0
    for i in np.flatnonzero(keep & (mu_from_m2(areas) < context.min_plot_mu)):
        add(i, "error", "sliver", tr(
            "面积 {mu:.3f} 亩, 小于最小面积 {min} 亩 (碎图斑; 未入库)",
            "area {mu:.3f} mu is below the {min} mu minimum (a sliver; left out)",
            mu=mu_from_m2(areas[i]), min=context.min_plot_mu))

    # -- attributes -----------------------------------------------------------------
    declared = plots["area_mu_reported"].to_numpy(dtype=float, na_value=np.nan)
    computed = mu_from_m2(areas)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(declared - computed) / computed
    field_area = names.get("area_mu_reported", "面积_亩")
    for i in np.flatnonzero(keep & np.isfinite(rel) & (rel > context.area_tolerance)):
        add(i, "warning", "area_mismatch", tr(
            "{field} 填写 {said:,.2f} 亩, 但图形量算面积为 {mu:,.2f} 亩 (相差 {rel:.0%}); "
            "请核对面积或图形",
            "{field} says {said:,.2f} mu but the shape measures {mu:,.2f} mu ({rel:.0%} apart)",
            field=field_area, said=declared[i], mu=computed[i], rel=rel[i]), field_area)

    # -- position -------------------------------------------------------------------
    if context.county is not None:
        county = shapely.from_wkb(shapely.to_wkb(context.county))  # own copy to prepare
        shapely.prepare(county)
        idx = np.flatnonzero(keep)
        # Plots whose box lies inside the county need no test of their own.
        idx = idx[townships_containing_boxes(shapely.bounds(geoms[idx]), [county]) < 0]
        out_idx = idx[~shapely.covers(county, geoms[idx])]
        parts = shapely.intersection(geoms[out_idx], county)
        within_m2 = np.zeros(len(out_idx))  # measured all at once
        met = ~shapely.is_empty(parts)
        within_m2[met] = _crs.areas_m2(parts[met], _crs.STORE_CRS)
        for i, inside_m2 in zip(out_idx, within_m2.tolist(), strict=True):
            outside_mu = mu_from_m2(areas[i] - inside_m2)
            if inside_m2 <= 0:
                swapped = shapely.transform(geoms[i], lambda c: c[:, ::-1])
                hint = (tr("; 坐标疑似经纬度颠倒 (纬度在前) — 请对调经纬度",
                           "; its coordinates look swapped (latitude, longitude) — swap them")
                        if shapely.intersects(county, swapped) else
                        tr("; 请检查坐标和坐标系", "; check its coordinates and CRS"))
                add(i, "error", "outside_county", tr(
                    "完全位于县界之外{hint} (未入库)",
                    "lies wholly outside the county{hint} (left out)", hint=hint))
            elif outside_mu >= 0.01:
                add(i, "warning", "partly_outside", tr(
                    "有 {mu:,.2f} 亩位于县界之外", "{mu:,.2f} mu of it lie outside the county "
                    "boundary", mu=outside_mu))

    check_duplicates_and_overlaps(geoms, keep, areas, labels, add, report, source)
    if context.stored_ids is not None and len(context.stored_ids):
        check_stored_ids(plots, keep, context.stored_ids, add,
                          names.get("plot_id", "小班号"))
    if context.stored is not None and len(context.stored):
        check_stored_overlaps(geoms, keep, context.stored, add)

    # -- township -------------------------------------------------------------------
    accepted_idx = np.flatnonzero(keep)
    splits = split_by_township(geoms[accepted_idx], context.township_names,
                               context.township_geoms, areas_m2=areas[accepted_idx])
    primary = splits[splits["primary"]].set_index("plot")["township"]
    lies_in = primary.reindex(range(len(accepted_idx))).to_numpy(dtype=object)
    reported = plots["township_reported"].to_numpy(dtype=object)[accepted_idx]
    check_townships(reported, lies_in, accepted_idx, context, names, add)

    accepted = plots.iloc[accepted_idx].copy()
    accepted = accepted.set_geometry(gpd.GeoSeries(geoms[accepted_idx], crs=_crs.STORE_CRS,
                                                   index=accepted.index))
    accepted["area_m2"] = areas[accepted_idx]
    accepted = accepted.reset_index(drop=True)
    problem = plots.iloc[np.flatnonzero(flagged)][["plot_id"]].copy()
    problem = gpd.GeoDataFrame(problem, geometry=gpd.GeoSeries(
        np.asarray(plots.geometry.values, dtype=object)[flagged], crs=_crs.STORE_CRS,
        index=problem.index))
    problem["label"] = [str(labels[i]) for i in np.flatnonzero(flagged)]
    return Outcome(report, accepted, splits, n, problem, dict(info or {}), strict)


def _polygonal(geom):
    """The polygonal parts of a geometry, or None."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return None
    out = shapely.union_all(parts)
    return None if out.is_empty else out
