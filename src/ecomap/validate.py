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
    message: str
    feature: int | str | None = None
    field: str | None = None


@dataclass
class Report:
    """Every problem found in one input, in the order found."""

    source: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, severity: str, code: str, message: str, *, feature=None, field=None) -> None:
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

    def to_dicts(self) -> list[dict]:
        return [asdict(p) for p in self.problems]

    def raise_if_errors(self) -> None:
        """Raise :class:`ValidationError` listing every error, if there are any."""
        errors = self.errors
        if errors:
            lines = "\n".join(f"  - {p.message}" for p in errors[:20])
            more = f"\n  … and {len(errors) - 20} more" if len(errors) > 20 else ""
            raise ValidationError(
                f"{self.source}: {len(errors)} problem(s), nothing stored:\n{lines}{more}",
                self.problems)


@dataclass
class CheckContext:
    """What the checks compare against, taken from the store (all EPSG:4490)."""

    county: object | None = None
    township_names: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    township_geoms: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    #: Plots already stored for the same category and year: fid, batch_id, plot_id, geometry.
    stored: gpd.GeoDataFrame | None = None
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

    def to_json(self) -> dict:
        """The report as other tools read it (see the README)."""
        by_town = self.splits.assign(area_mu=mu_from_m2(self.splits["area_m2"])).groupby(
            self.splits["township"].fillna("(县界外)"), sort=False)["area_mu"].sum()
        return {
            "status": self.status,
            "file": self.info.get("file"),
            "layer": self.info.get("layer"),
            "features": self.features,
            "accepted_features": len(self.plots) if self.status != "reject" else 0,
            "area_mu": round(float(mu_from_m2(self.plots["area_m2"].sum())), 4)
            if len(self.plots) else 0.0,
            "crs": self.info.get("crs"),
            "crs_source": self.info.get("crs_source"),
            "encoding": self.info.get("encoding"),
            "by_township": {str(k): round(float(v), 4) for k, v in by_town.items()},
            "problems": self.report.to_dicts(),
        }


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


def _feature_text(label) -> str:
    return f"feature {label}" if isinstance(label, int) else f"plot {label}"


def prepare_plots(gdf: gpd.GeoDataFrame, *, category: str, year: int | None = None,
                  source: str = "input") -> tuple[gpd.GeoDataFrame, Report]:
    """Canonical plots: aliases mapped, category and year set, CRS EPSG:4490.

    Returns every feature (checks come later) and a report of attribute problems.
    ``attributes`` keeps every original attribute as JSON, so nothing is lost.
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
                report.add("warning", "bad_value",
                           f"{source}: {_feature_text(_labels(canonical)[i])}: "
                           f"{rename_back(rename, name)} = {values.iloc[i]!r} is not a number; "
                           "left empty", feature=_labels(canonical)[i],
                           field=rename_back(rename, name))
            out[name] = num.astype("Int64") if spec["type"] == "int" else num
        else:
            text = _stripped(values)
            out[name] = text.where(text != "", None).astype(object)
    out["category"] = cat.code
    labels = _labels(out)
    if year is not None:
        differs = out["year"].notna() & (out["year"] != int(year))
        for i in np.flatnonzero(differs.to_numpy()):
            report.add("warning", "year_differs",
                       f"{source}: {_feature_text(labels[i])} says year {out['year'].iloc[i]}; "
                       f"stored as {year} as --year asks", feature=labels[i],
                       field=rename_back(rename, "year"))
        out["year"] = int(year)
    elif out["year"].isna().any():
        missing = [labels[i] for i in np.flatnonzero(out["year"].isna().to_numpy())]
        report.add("error", "no_year",
                   f"{source}: no year for {len(missing)} feature(s) (e.g. {missing[:3]}); "
                   "fill the 年度 field or pass --year", field="年度")
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
        report.add(severity, code, f"{source}: {_feature_text(labels[i])}: {message}",
                   feature=labels[i], field=fld)
        flagged[i] = True
        if severity == "error":
            keep[i] = False

    # -- geometry -------------------------------------------------------------------
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        add(i, "error", "empty_geometry", "has no geometry; draw it or delete the row "
            "(left out)")
    types = shapely.get_type_id(geoms)
    for i in np.flatnonzero(~missing & ~np.isin(types, (3, 6, 7))):
        add(i, "error", "not_polygon", f"is a {geoms[i].geom_type}, not a polygon (left out)")
    polygonal = keep.copy()
    invalid = np.zeros(n, dtype=bool)
    invalid[polygonal] = ~shapely.is_valid(geoms[polygonal]) | (types[polygonal] == 7)
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        before = geoms[i]
        fixed = _polygonal(shapely.make_valid(before))
        if fixed is None:
            add(i, "error", "invalid_geometry", f"invalid ({reason}) and cannot be repaired "
                "(left out)")
            continue
        geoms[i] = fixed
        after_mu = float(mu_from_m2(_crs.areas_m2([fixed], _crs.STORE_CRS)[0]))
        add(i, "warning", "repaired_geometry",
            f"invalid ({reason}); repaired, area now {after_mu:,.2f} mu — check the shape")
    geoms[keep] = as_multipolygons(geoms[keep])

    areas = np.asarray(plots.attrs.get("area_m2", np.full(n, np.nan)), dtype=float).copy()
    areas[invalid | ~keep] = np.nan
    todo = keep & ~np.isfinite(areas)
    areas[todo] = _crs.areas_m2(geoms[todo], _crs.STORE_CRS)
    areas[~keep] = 0.0
    for i in np.flatnonzero(keep & (mu_from_m2(areas) < context.min_plot_mu)):
        add(i, "error", "sliver", f"area {mu_from_m2(areas[i]):.3f} mu is below the "
            f"{context.min_plot_mu} mu minimum (a sliver; left out)")

    # -- attributes -----------------------------------------------------------------
    declared = plots["area_mu_reported"].to_numpy(dtype=float, na_value=np.nan)
    computed = mu_from_m2(areas)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(declared - computed) / computed
    field_area = names.get("area_mu_reported", "面积_亩")
    for i in np.flatnonzero(keep & np.isfinite(rel) & (rel > context.area_tolerance)):
        add(i, "warning", "area_mismatch",
            f"{field_area} says {declared[i]:,.2f} mu but the shape measures "
            f"{computed[i]:,.2f} mu ({rel[i]:.0%} apart)", field_area)

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
                hint = ("; its coordinates look swapped (latitude, longitude) — swap them"
                        if shapely.intersects(county, swapped) else
                        "; check its coordinates and CRS")
                add(i, "error", "outside_county", f"lies wholly outside the county{hint} "
                    "(left out)")
            elif outside_mu >= 0.01:
                add(i, "warning", "partly_outside",
                    f"{outside_mu:,.2f} mu of it lie outside the county boundary")

    _check_duplicates_and_overlaps(geoms, keep, areas, labels, add, report, source)
    if context.stored is not None and len(context.stored):
        _check_stored_overlaps(geoms, keep, context.stored, add)

    # -- township -------------------------------------------------------------------
    accepted_idx = np.flatnonzero(keep)
    splits = split_by_township(geoms[accepted_idx], context.township_names,
                               context.township_geoms, areas_m2=areas[accepted_idx])
    primary = splits[splits["primary"]].set_index("plot")["township"]
    lies_in = primary.reindex(range(len(accepted_idx))).to_numpy(dtype=object)
    reported = plots["township_reported"].to_numpy(dtype=object)[accepted_idx]
    field_town = names.get("township_reported", "乡镇")
    for pos in np.flatnonzero(pd.notna(reported) & pd.notna(lies_in)
                              & (reported != lies_in)):
        i, said, lies = accepted_idx[pos], reported[pos], lies_in[pos]
        if not _same_township(said, lies):
            add(i, "warning", "township_mismatch",
                f"{field_town} says {said} but the plot lies in {lies}", field_town)

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


def _same_township(said: str, lies: str) -> bool:
    a, b = str(said).strip(), str(lies).strip()
    return a == b or (len(a) >= 2 and (b.startswith(a) or a.startswith(b)))


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
        add(b, "error", "duplicate",
            f"is an exact copy of {_feature_text(labels[a])} ({mu_from_m2(areas[b]):,.2f} mu "
            "counted twice; the copy is left out)")
    for a, b, m2 in zip(i[~dup], j[~dup], area[~dup], strict=True):
        if m2 < _OVERLAP_MIN_M2 or a in dropped or b in dropped:
            continue
        add(b, "warning", "overlap",
            f"overlaps {_feature_text(labels[a])} by {mu_from_m2(m2):,.2f} mu (double "
            "counting?)")


def _check_stored_overlaps(geoms, keep, stored: gpd.GeoDataFrame, add) -> None:
    idx = np.flatnonzero(keep)
    stored_geoms = np.asarray(stored.geometry.values, dtype=object)
    i, j, area = _overlap_pairs(geoms[idx], stored_geoms)
    batches = stored["batch_id"].to_numpy()
    ids = stored["plot_id"].to_numpy(dtype=object)
    for a, b, m2 in zip(idx[i], j, area, strict=True):
        if m2 < _OVERLAP_MIN_M2:
            continue
        other = f"stored plot {ids[b]}" if ids[b] else "a stored plot"
        add(a, "warning", "overlaps_stored",
            f"overlaps {other} of batch {batches[b]} by {mu_from_m2(m2):,.2f} mu (same "
            "category and year: double counting?)")


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
        report.add(severity, code, f"{source}: {_feature_text(labels[i])}: {message}",
                   feature=labels[i], field=fld)

    _check_stored_overlaps(geoms, np.ones(len(plots), dtype=bool), stored, add)
    return report.problems
