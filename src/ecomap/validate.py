"""Checks on plots before they are stored, and the report that lists every problem.

``prepare_plots`` turns a layer as users send it (Chinese 小班 field names, any CRS)
into the store's canonical columns, repairing what is safe to repair and collecting
every problem rather than stopping at the first.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ecomap import crs as _crs
from ecomap.errors import ValidationError
from ecomap.schema import PLOT_FIELDS, canonical_field, get_category

__all__ = ["Problem", "Report", "prepare_plots"]


@dataclass
class Problem:
    """One thing wrong with the input; ``error`` rejects the file, ``warning`` does not."""

    severity: str
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
    def status(self) -> str:
        if self.errors:
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


def _feature_label(frame: pd.DataFrame, i: int, id_col: str | None):
    if id_col is not None:
        value = frame[id_col].iloc[i]
        if value is not None and str(value) not in ("", "nan", "None"):
            return str(value)
    return i + 1


def prepare_plots(gdf: gpd.GeoDataFrame, *, category: str, year: int | None = None,
                  source: str = "input") -> tuple[gpd.GeoDataFrame, Report]:
    """Canonical plots ready for :meth:`ecomap.store.Store.add_plots`.

    Parameters
    ----------
    gdf
        Plots as read, with a CRS.
    category
        Category code or name for every plot of the layer.
    year
        Year of the work; when None it is taken from the 年度/year field.
    source
        File name, for messages.

    Returns
    -------
    (plots, report)
        Plots in EPSG:4490 with the canonical columns plus ``attributes`` (every
        original attribute, JSON), and the report of problems (errors are not raised
        here: call ``report.raise_if_errors()``).
    """
    report = Report(source)
    cat = get_category(category)
    if gdf.crs is None:
        report.add("error", "no_crs", f"{source}: no coordinate reference system; pass --crs")
        return gdf, report
    gdf = _crs.to_store_crs(gdf)
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))

    rename: dict[str, str] = {}
    for col in attrs.columns:
        canon = canonical_field(col)
        if canon and canon not in rename.values():
            rename[col] = canon
    canonical = attrs.rename(columns=rename)
    id_col = "plot_id" if "plot_id" in canonical else None

    out = pd.DataFrame(index=range(len(gdf)))
    for name, spec in PLOT_FIELDS.items():
        values = canonical[name].reset_index(drop=True) if name in canonical else None
        if values is None:
            out[name] = None
        elif spec["type"] == "float":
            out[name] = pd.to_numeric(values, errors="coerce")
        elif spec["type"] == "int":
            out[name] = pd.to_numeric(values, errors="coerce").astype("Int64")
        else:
            out[name] = values.astype(object).where(values.notna(), None)
            out[name] = [None if v is None else str(v).strip() for v in out[name]]
    out["category"] = cat.code

    if year is not None:
        if "year" in canonical:
            differs = out["year"].notna() & (out["year"] != int(year))
            for i in np.flatnonzero(differs.to_numpy()):
                report.add("warning", "year_differs",
                           f"{source}: feature {_feature_label(canonical, i, id_col)} says year "
                           f"{out['year'].iloc[i]}, stored as {year} as --year asks",
                           feature=_feature_label(canonical, i, id_col), field="year")
        out["year"] = int(year)
    elif out["year"].isna().any():
        missing = [_feature_label(canonical, i, id_col)
                   for i in np.flatnonzero(out["year"].isna().to_numpy())]
        report.add("error", "no_year",
                   f"{source}: no year for {len(missing)} feature(s) (e.g. {missing[:3]}); "
                   "fill the 年度 field or pass --year", field="year")

    out["attributes"] = [
        json.dumps({k: _jsonable(v) for k, v in row.items()}, ensure_ascii=False)
        for row in attrs.to_dict(orient="records")
    ]

    geoms = np.asarray(gdf.geometry.values, dtype=object)
    geoms = _check_geometries(geoms, canonical, id_col, report)
    result = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, crs=_crs.STORE_CRS))
    keep = ~pd.isna(result.geometry.values)
    return result[keep].reset_index(drop=True), report


def _jsonable(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


def _check_geometries(geoms, frame, id_col, report: Report) -> np.ndarray:
    """Repair invalid polygons, drop slivers of other types; report each change."""
    out = geoms.copy()
    for i, g in enumerate(geoms):
        label = _feature_label(frame, i, id_col)
        if g is None or g.is_empty:
            report.add("error", "no_geometry", f"feature {label} has no geometry; draw it or "
                       "delete the row", feature=label)
            out[i] = None
            continue
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            report.add("error", "not_polygon", f"feature {label} is a {g.geom_type}; plots "
                       "must be polygons", feature=label)
            out[i] = None
            continue
        if not g.is_valid:
            reason = shapely.is_valid_reason(g)
            fixed = shapely.make_valid(g)
            polys = shapely.get_parts(fixed)
            polys = [p for p in polys if p.geom_type in ("Polygon", "MultiPolygon")]
            fixed = shapely.union_all(polys) if polys else None
            if fixed is None or fixed.is_empty:
                report.add("error", "invalid_geometry",
                           f"feature {label} is invalid ({reason}) and cannot be repaired",
                           feature=label)
                out[i] = None
            else:
                report.add("warning", "repaired_geometry",
                           f"feature {label} was invalid ({reason}); repaired", feature=label)
                out[i] = fixed
    return out
