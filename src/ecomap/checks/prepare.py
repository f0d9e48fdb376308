"""Plots as users send them (Chinese 小班 field names, any CRS) mapped onto the store's
canonical columns, with a report of the attribute problems found on the way."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ecomap import crs as _crs
from ecomap.checks.report import Report, feature_labels, feature_text, stripped_text
from ecomap.i18n import tr
from ecomap.schema import PLOT_FIELDS, canonical_field, get_category

__all__ = ["prepare_plots", "rename_back"]


def _canonical_names(columns, report: Report, source: str) -> dict[str, str]:
    """Column → canonical plot field, one column per field: a column named as the field
    itself (``plot_id``) first, then the first alias (``小班号``); another column standing
    for a field already taken is kept as it is, among the original attributes, with a
    warning naming both."""
    taken = {str(c): str(c) for c in columns if str(c) in PLOT_FIELDS}
    rename: dict[str, str] = {}
    for col in columns:
        canon = canonical_field(col)
        if not canon or str(col) in taken:
            continue
        owner = next((k for k, v in {**taken, **rename}.items() if v == canon), None)
        if owner is not None:
            report.add("warning", "duplicate_field", tr(
                "{source}: 列 {col!r} 与列 {owner!r} 都表示 {field}; 采用 {owner!r}, "
                "{col!r} 作为原始属性保留; 如不对请删去或改名其中一列",
                "{source}: columns {col!r} and {owner!r} both stand for {field}; {owner!r} is "
                "used and {col!r} kept as an original attribute; delete or rename one if "
                "that is wrong", source=source, col=col, owner=owner,
                field=PLOT_FIELDS[canon]["zh"]), field=str(col))
            continue
        rename[col] = canon
    return rename


def prepare_plots(gdf: gpd.GeoDataFrame, *, category: str, year: int | None = None,
                  source: str = "input", require_year: bool = True
                  ) -> tuple[gpd.GeoDataFrame, Report]:
    """Canonical plots: aliases mapped, category and year set, CRS EPSG:4490.

    Returns every feature (checks come later) and a report of attribute problems.
    ``attributes`` keeps every original attribute as JSON, so nothing is lost.
    Without ``require_year`` (a dry run) a missing year is a warning saying that
    storing needs it, so that every other check still runs.
    """
    report = Report(source)
    cat = get_category(category)
    # Areas measured once, in the file's own CRS when that is the area-true zone.  Those
    # of geometries found invalid (in the store CRS) are set aside by check_plots.
    src_geoms = np.asarray(gdf.geometry.values, dtype=object)
    measurable = ~(shapely.is_missing(src_geoms) | shapely.is_empty(src_geoms))
    measurable[measurable] &= np.isin(shapely.get_type_id(src_geoms[measurable]), (3, 6))
    src_areas = np.full(len(gdf), np.nan)
    if gdf.crs is not None and measurable.any():
        src_areas[measurable] = _crs.areas_m2(src_geoms[measurable], gdf.crs)
    gdf = _crs.to_store_crs(gdf)
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
    rename = _canonical_names(attrs.columns, report, source)
    canonical = attrs.rename(columns=rename)
    out = pd.DataFrame(index=range(len(gdf)))
    for name, spec in PLOT_FIELDS.items():
        values = canonical[name] if name in canonical else None
        if values is None:
            out[name] = None
        elif spec["type"] in ("float", "int"):
            if pd.api.types.is_numeric_dtype(values):
                text, num = values, values.astype(float)
            else:
                text = values.astype(object).map(lambda v: str(v).strip().replace(",", "")
                                                 if v is not None else None)
                num = pd.to_numeric(text, errors="coerce")
            unreadable = num.isna() & values.notna() & (text.astype(object).fillna("") != "")
            for i in np.flatnonzero(unreadable.to_numpy()):
                report.add("warning", "bad_value", tr(
                    "{source}: {feature}: {field} 的值 {value!r} 不是数字; 已留空, 请改正",
                    "{source}: {feature}: {field} = {value!r} is not a number; left empty",
                    source=source, feature=feature_text(feature_labels(canonical)[i]),
                    field=rename_back(rename, name), value=values.iloc[i]),
                    feature=feature_labels(canonical)[i], field=rename_back(rename, name))
            out[name] = num.astype("Int64") if spec["type"] == "int" else num
        else:
            text = stripped_text(values)
            out[name] = text.where(text != "", None).astype(object)
    out["category"] = cat.code
    labels = feature_labels(out)
    if year is not None:
        differs = out["year"].notna() & (out["year"] != int(year))
        for i in np.flatnonzero(differs.to_numpy()):
            report.add("warning", "year_differs", tr(
                "{source}: {feature} 的年度为 {said}; 按 --year 记为 {year} 年度",
                "{source}: {feature} says year {said}; stored as {year} as --year asks",
                source=source, feature=feature_text(labels[i]), said=out["year"].iloc[i],
                year=year), feature=labels[i], field=rename_back(rename, "year"))
        out["year"] = int(year)
    elif out["year"].isna().any():
        missing = [labels[i] for i in np.flatnonzero(out["year"].isna().to_numpy())]
        if require_year:
            report.add("error", "no_year", tr(
                "{source}：{n} 个小班没有年度（如 {some}）；请填写“年度”字段或加 --year 年份",
                "{source}: no year for {n} feature(s) (e.g. {some}); fill the 年度 field or "
                "pass --year", source=source, n=len(missing),
                some=", ".join(str(m) for m in missing[:3])), field="年度")
        else:
            report.add("warning", "no_year", tr(
                "{source}：{n} 个小班没有年度（如 {some}）；其余检查已完成，但入库（ecomap ingest）"
                "时须填写“年度”字段或加 --year 年份；与已入库同年度小班的重叠未检查",
                "{source}: no year for {n} feature(s) (e.g. {some}); every other check ran, "
                "but storing them (ecomap ingest) needs the 年度 field filled or --year "
                "YEAR; overlaps with stored plots of the same year were not checked",
                source=source, n=len(missing), some=", ".join(str(m) for m in missing[:3])),
                field="年度")
    out["attributes"] = _attributes_json(attrs)
    result = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(gdf.geometry.values,
                                                          crs=_crs.STORE_CRS))
    result.attrs["field_names"] = {v: k for k, v in rename.items()}
    result.attrs["area_m2"] = src_areas
    return result, report


def _attributes_json(attrs: pd.DataFrame) -> list[str]:
    """Every original attribute of each feature as a JSON object (nothing is lost)."""
    if attrs.shape[1] == 0:
        return ["{}"] * len(attrs)
    text = attrs.rename(columns=str).to_json(orient="records", lines=True, force_ascii=False,
                                             date_format="iso")
    lines = text.splitlines()
    if len(lines) != len(attrs):  # a value held a line break: fall back to one at a time
        return [json.dumps({str(k): _jsonable(v) for k, v in row.items()}, ensure_ascii=False)
                for row in attrs.to_dict(orient="records")]
    return lines


def rename_back(rename: dict[str, str], canonical: str) -> str:
    """The user's own name of a canonical field."""
    return next((k for k, v in rename.items() if v == canonical), canonical)


def _jsonable(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, (str, int, float, bool)):
        return v
    return str(v)
