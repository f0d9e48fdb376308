"""Checks on plots before they are stored, and the report that lists every problem.

:func:`prepare_plots` maps a layer as users send it (Chinese 小班 field names, any
CRS) onto the store's canonical columns; :func:`check_plots` then checks geometry,
attributes and position against the county, its townships and the plots already
stored, repairing what is safe to repair.  Every problem names the feature and field.

Policy: a problem with one feature repairs or excludes that feature and makes the
result ``warn``; a problem with the file (``feature`` None, severity ``error``) rejects
it whole; with ``strict`` every problem rejects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ecomap import crs as _crs
from ecomap._geom import as_multipolygons
from ecomap.errors import ValidationError
from ecomap.i18n import Text, render, tr
from ecomap.schema import PLOT_FIELDS, canonical_field, get_category
from ecomap.split import split_by_township, townships_containing_boxes
from ecomap.units import mu_from_m2

__all__ = ["CheckContext", "Outcome", "Problem", "Report", "check_plots", "prepare_plots"]

# Overlaps smaller than this (m²) are drawing noise along shared edges, not double counting.
_OVERLAP_MIN_M2 = 1.0


@dataclass
class Problem:
    """One thing wrong with the input."""

    severity: str  # "error" (feature left out, or the file rejected) or "warning"
    code: str
    message: Text | str  # rendered in the language in force when shown
    feature: int | str | None = None
    field: str | None = None


@dataclass
class Report:
    """Every problem found in one input, in the order found."""

    source: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, severity: str, code: str, message: Text | str, *, feature=None,
            field=None) -> None:
        self.problems.append(Problem(severity, code, message, feature, field))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def file_errors(self) -> list[Problem]:
        return [p for p in self.errors if p.feature is None]

    def status(self, *, accepted: int | None = None, strict: bool = False) -> str:
        """``reject``, ``warn`` or ``accept`` (see the module docstring)."""
        if self.file_errors or accepted == 0 or (strict and self.problems):
            return "reject"
        return "warn" if self.problems else "accept"

    def to_dicts(self, lang: str | None = None) -> list[dict]:
        """The problems as plain dicts, messages rendered in ``lang`` (default: current)."""
        return [{**asdict(p), "message": render(p.message, lang)} for p in self.problems]

    def raise_if_errors(self) -> None:
        """Raise :class:`ValidationError` listing every error, if there are any."""
        errors = self.errors
        if errors:
            raise ValidationError(problem_list(self.source, errors), self.problems)


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


@dataclass
class Outcome:
    """The result of checking one layer: accepted plots, their splits and the report."""

    report: Report
    plots: gpd.GeoDataFrame
    splits: pd.DataFrame
    features: int
    problem_geoms: gpd.GeoDataFrame
    info: dict = field(default_factory=dict)
    strict: bool = False

    @property
    def status(self) -> str:
        return self.report.status(accepted=len(self.plots), strict=self.strict)

    def to_json(self, lang: str | None = None) -> dict:
        """The report as other tools read it (see the README); messages in ``lang``
        (default: the language in force).

        ``accepted_features``, ``area_mu`` and ``by_township`` count what is (or would
        be) stored: nothing when the file is rejected.  ``checked_area_mu`` is the area
        of the features that passed their own checks, stored or not.
        """
        stored = self.status != "reject"
        checked = round(float(mu_from_m2(self.plots["area_m2"].sum())), 4) \
            if len(self.plots) else 0.0
        by_town = self.splits.assign(area_mu=mu_from_m2(self.splits["area_m2"])).groupby(
            self.splits["township"].fillna("(县界外)"), sort=False)["area_mu"].sum() \
            if stored else {}
        return {
            "status": self.status,
            "file": self.info.get("file"),
            "layer": self.info.get("layer"),
            "features": self.features,
            "accepted_features": len(self.plots) if stored else 0,
            "area_mu": checked if stored else 0.0,
            "checked_area_mu": checked,
            "crs": self.info.get("crs"),
            "crs_source": self.info.get("crs_source"),
            "encoding": self.info.get("encoding"),
            "by_township": {str(k): round(float(v), 4) for k, v in by_town.items()},
            "problems": self.report.to_dicts(lang),
        }


def problem_list(source: str, problems: list, *, first: int = 20, fix: Text | str = ""
                 ) -> Text:
    """'FILE: N problems, nothing stored[FIX]:' and the first problems, one a line."""
    lines = "\n".join(f"  - {{p{k}}}" for k in range(min(first, len(problems))))
    params = {f"p{k}": (p["message"] if isinstance(p, dict) else getattr(p, "message", p))
              for k, p in enumerate(problems[:first])}
    more = len(problems) - first
    head = tr("{source}: {n} 个问题, 未入库{fix}:\n",
              "{source}: {n} problem(s), nothing was stored{fix}:\n", source=source,
              n=len(problems), fix=fix)
    tail = tr("\n  … 另有 {more} 个", "\n  … and {more} more", more=more) if more > 0 else ""
    body = Text(lines, lines, **params)
    return tr("{head}{body}{tail}", "{head}{body}{tail}", head=head, body=body, tail=tail)


def _labels(frame: pd.DataFrame) -> list:
    """How each feature is named in messages: its 小班号, else its 1-based number."""
    numbers = list(range(1, len(frame) + 1))
    if "plot_id" not in frame:
        return numbers
    text = _stripped(frame["plot_id"]).tolist()
    return [t if t and t != "nan" else n for t, n in zip(text, numbers, strict=True)]


def _stripped(values: pd.Series) -> pd.Series:
    """Values as text without surrounding blanks, "" for missing ones."""
    if isinstance(values.dtype, pd.StringDtype):  # text already: no round trip
        return values.fillna("").str.strip()
    obj = values.astype(object)
    return obj.where(obj.notna(), "").astype(str).str.strip()


def _feature_text(label) -> Text:
    """A feature as messages name it: 小班 XB001, else 第 3 个要素 (1-based)."""
    if isinstance(label, int):
        return tr("第 {n} 个要素", "feature {n}", n=label)
    return tr("小班 {id}", "plot {id}", id=label)


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
    rename: dict[str, str] = {}
    for col in attrs.columns:
        canon = canonical_field(col)
        if canon and canon not in rename.values():
            rename[col] = canon
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
                    source=source, feature=_feature_text(_labels(canonical)[i]),
                    field=rename_back(rename, name), value=values.iloc[i]),
                    feature=_labels(canonical)[i], field=rename_back(rename, name))
            out[name] = num.astype("Int64") if spec["type"] == "int" else num
        else:
            text = _stripped(values)
            out[name] = text.where(text != "", None).astype(object)
    out["category"] = cat.code
    labels = _labels(out)
    if year is not None:
        differs = out["year"].notna() & (out["year"] != int(year))
        for i in np.flatnonzero(differs.to_numpy()):
            report.add("warning", "year_differs", tr(
                "{source}: {feature} 的年度为 {said}; 按 --year 记为 {year} 年度",
                "{source}: {feature} says year {said}; stored as {year} as --year asks",
                source=source, feature=_feature_text(labels[i]), said=out["year"].iloc[i],
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


def check_plots(plots: gpd.GeoDataFrame, report: Report, context: CheckContext, *,
                strict: bool = False, info: dict | None = None) -> Outcome:
    """Check prepared plots; repair or exclude features; split the accepted ones.

    Parameters
    ----------
    plots, report
        From :func:`prepare_plots`.
    context
        County, townships and stored plots to compare with.
    strict
        Every problem rejects the file.
    info
        File, layer, CRS and encoding facts for the JSON report.
    """
    source = report.source
    n = len(plots)
    labels = _labels(plots)
    names = plots.attrs.get("field_names", {})
    geoms = np.asarray(plots.geometry.values, dtype=object).copy()
    keep = np.ones(n, dtype=bool)
    flagged = np.zeros(n, dtype=bool)

    def add(i, severity, code, message, fld=None):
        report.add(severity, code, tr("{source}: {feature}: {message}",
                                      "{source}: {feature}: {message}", source=source,
                                      feature=_feature_text(labels[i]), message=message),
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

    _check_duplicates_and_overlaps(geoms, keep, areas, labels, add, report, source)
    if context.stored_ids is not None and len(context.stored_ids):
        _check_stored_ids(plots, keep, context.stored_ids, add,
                          names.get("plot_id", "小班号"))
    if context.stored is not None and len(context.stored):
        _check_stored_overlaps(geoms, keep, context.stored, add)

    # -- township -------------------------------------------------------------------
    accepted_idx = np.flatnonzero(keep)
    splits = split_by_township(geoms[accepted_idx], context.township_names,
                               context.township_geoms, areas_m2=areas[accepted_idx])
    primary = splits[splits["primary"]].set_index("plot")["township"]
    lies_in = primary.reindex(range(len(accepted_idx))).to_numpy(dtype=object)
    reported = plots["township_reported"].to_numpy(dtype=object)[accepted_idx]
    _check_townships(reported, lies_in, accepted_idx, context, names, add)

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


def _check_townships(reported, lies_in, accepted_idx, context: CheckContext, names: dict,
                     add) -> None:
    """Declared townships (乡镇), as clerks type them, against where each plot lies.

    Names are compared after :func:`ecomap.townnames.match_township` has seen through
    spaces, suffixes, the county's name, traditional characters and notes in brackets.
    """
    from ecomap.i18n import tr
    from ecomap.townnames import match_township

    official = [str(n) for n in context.township_names if n is not None]
    if not official:
        return
    field_town = names.get("township_reported", "乡镇")
    # A blank cell counts only in a 乡镇 column of the file (not for KML folders).
    blank_counts = "township_reported" in names and field_town != "folder"
    listed = "、".join(official)
    text = np.array(["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                     for v in reported], dtype=object)
    blank = np.array([not t.strip() for t in text], dtype=bool)
    # Each distinct spelling matched once (files repeat a few names many times).
    matched = {t: match_township(t, official, context.county_name)
               for t in set(text[~blank].tolist())}
    official_of = np.array([matched.get(t) if not b else None
                            for t, b in zip(text, blank, strict=True)], dtype=object)
    lies = np.array([v if isinstance(v, str) else None for v in lies_in], dtype=object)
    unknown = ~blank & pd.isna(official_of)
    differs = ~blank & ~unknown & pd.notna(lies) & (official_of != lies)
    todo = (blank & blank_counts) | unknown | differs
    for pos in np.flatnonzero(todo):
        i, said, where = accepted_idx[pos], text[pos].strip(), lies[pos]
        in_town = tr("（地块位于{t}）", " (the plot lies in {t})", t=where) if where else ""
        if blank[pos]:
            add(i, "warning", "township_unknown", tr(
                "{field} 为空；本县乡镇为：{names}{lies}",
                "{field} is blank; the county's townships are: {names}{lies}",
                field=field_town, names=listed, lies=in_town), field_town)
        elif unknown[pos]:
            add(i, "warning", "township_unknown", tr(
                "{field} 的值“{said}”不是本县的乡镇名{lies}；请改为以下之一：{names}",
                "{field} says {said!r}, which is no township of the county{lies}; use one "
                "of: {names}", field=field_town, said=said, names=listed, lies=in_town),
                field_town)
        else:
            read_as = "" if said == official_of[pos] else official_of[pos]
            add(i, "warning", "township_mismatch", tr(
                "{field} 写的是 {said}{read_as}，但地块位于 {lies}",
                "{field} says {said}{read_as} but the plot lies in {lies}",
                field=field_town, said=said, lies=where,
                read_as=tr("（即 {n}）", " (read as {n})", n=read_as) if read_as else ""),
                field_town)


def _polygonal(geom):
    """The polygonal parts of a geometry, or None."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return None
    out = shapely.union_all(parts)
    return None if out.is_empty else out


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


def _check_duplicates_and_overlaps(geoms, keep, areas, labels, add, report, source) -> None:
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
            other=_feature_text(labels[a]), mu=mu_from_m2(areas[b])))
    for a, b, m2 in zip(i[~dup], j[~dup], area[~dup], strict=True):
        if m2 < _OVERLAP_MIN_M2 or a in dropped or b in dropped:
            continue
        add(b, "warning", "overlap", tr(
            "与{other}重叠 {mu:,.2f} 亩 (是否重复计算?)",
            "overlaps {other} by {mu:,.2f} mu (double counting?)",
            other=_feature_text(labels[a]), mu=mu_from_m2(m2)))


def _check_stored_ids(plots, keep, stored_ids: pd.DataFrame, add, field_id: str) -> None:
    """A 小班号 stored already for the same category and year: the feature is left out."""
    from ecomap.i18n import tr

    ids = _stripped(plots["plot_id"]).to_numpy(dtype=object)
    years = pd.array(plots["year"], dtype="Int64")
    stored = stored_ids.assign(plot_id=_stripped(stored_ids["plot_id"]))
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


def _check_stored_overlaps(geoms, keep, stored: gpd.GeoDataFrame, add) -> None:
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
    labels = _labels(plots)
    geoms = np.asarray(plots.geometry.values, dtype=object)

    def add(i, severity, code, message, fld=None):
        report.add(severity, code, tr("{source}: {feature}: {message}",
                                      "{source}: {feature}: {message}", source=source,
                                      feature=_feature_text(labels[i]), message=message),
                   feature=labels[i], field=fld)

    _check_stored_overlaps(geoms, np.ones(len(plots), dtype=bool), stored, add)
    return report.problems
