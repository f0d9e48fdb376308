"""Uploads end to end: read → check → store one batch (or, for a dry run, only report).

The only module besides the CLI and the web layer that joins files, checks and the
store; both call :func:`validate_file` and :func:`ingest_file`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ecomap.errors import InputError
from ecomap.io.vector import file_sha256, read_upload
from ecomap.settings import Settings
from ecomap.store import Provenance, Store
from ecomap.validate import CheckContext, Outcome, Report, check_plots, prepare_plots

__all__ = ["check_context", "ingest_file", "validate_file"]

log = logging.getLogger(__name__)


def check_context(store: Store, *, category: str, year: int | None,
                  settings: Settings) -> CheckContext:
    """County, townships and same-category-and-year plots from the store."""
    county = store.county()
    towns = store.townships()
    stored = store.plots(category=category, year=year) if year is not None else None
    return CheckContext(
        county=county.geometry.union_all() if len(county) else None,
        township_names=towns["name"].to_numpy(dtype=object),
        township_geoms=np.asarray(towns.geometry.values, dtype=object),
        stored=stored, min_plot_mu=settings.min_plot_mu,
        area_tolerance=settings.area_tolerance)


def validate_file(path: str | os.PathLike, store: Store, *, category: str,
                  year: int | None = None, crs: str | None = None,
                  encoding: str | None = None, layer: str | None = None,
                  strict: bool = False, settings: Settings | None = None,
                  name: str | None = None) -> Outcome:
    """Read and check an upload against the store; writes nothing.

    File problems (unreadable, no CRS, several layers …) come back as a rejected
    outcome with one file-level problem, so callers report them like any other.
    """
    settings = settings or Settings()
    from ecomap.schema import get_category

    code = get_category(category).code
    shown = name or Path(path).name
    county = store.county()
    near = tuple(county.total_bounds) if len(county) else None
    try:
        read = read_upload(path, layer=layer, encoding=encoding, crs=crs, near=near,
                           settings=settings, name=shown)
    except InputError as exc:
        report = Report(shown)
        code = getattr(exc, "code", None) or \
            type(exc).__name__.replace("Error", "").lower() or "input"
        report.add("error", code, str(exc))
        return _rejected(report, {"file": shown, "layer": layer})
    plots, report = prepare_plots(read.frame, category=code, year=year, source=shown)
    for severity, kind, text in read.notes:
        report.add(severity, kind, text)
    info = {"file": shown, "layer": read.layer, "crs": read.crs,
            "crs_source": read.crs_source, "encoding": read.encoding}
    if report.file_errors:
        return _rejected(report, info, features=len(plots))
    context = check_context(store, category=code, year=year, settings=settings)
    return check_plots(plots, report, context, strict=strict, info=info)


def _rejected(report: Report, info: dict, features: int = 0) -> Outcome:
    import geopandas as gpd
    import pandas as pd

    empty = gpd.GeoDataFrame({"plot_id": []}, geometry=gpd.GeoSeries([], crs="EPSG:4490"))
    splits = pd.DataFrame({"plot": [], "township": [], "area_m2": [], "primary": []})
    return Outcome(report, empty.assign(area_m2=[]), splits, features, empty, info)


def ingest_file(path: str | os.PathLike, store: Store, *, category: str, year: int,
                settings: Settings | None = None, name: str | None = None,
                **options) -> tuple[Outcome, int | None]:
    """Validate, then store the accepted plots as one batch in one transaction.

    Returns the outcome and the batch id (None when rejected; nothing is stored then).
    """
    settings = settings or Settings()
    outcome = validate_file(path, store, category=category, year=year, settings=settings,
                            name=name, **options)
    if outcome.status == "reject":
        return outcome, None
    provenance = Provenance(name or Path(path).name, file_sha256(path), settings.user)
    batch = store.add_plots(outcome.plots, provenance=provenance, splits=outcome.splits)
    log.info("%s: stored %d plots as batch %d", provenance.source_file, len(outcome.plots),
             batch)
    return outcome, batch


def ingest_water(path: str | os.PathLike, store: Store, *, sites_path=None,
                 encoding: str | None = None, sheet=None, strict: bool = False,
                 dry_run: bool = False, settings: Settings | None = None,
                 name: str | None = None, sites_name: str | None = None):
    """Check monitoring sites and samples of a table (and a site table), then store them
    as one batch of kind ``water`` in one transaction.

    Returns the checked upload and the batch id (None for a dry run or when there is
    nothing new).  Raises :class:`ValidationError` listing every problem, storing
    nothing, when there are errors (or warnings, with ``strict``).
    """
    from ecomap import water
    from ecomap.errors import ValidationError
    from ecomap.io.tables import read_table

    settings = settings or Settings()
    name = name or Path(path).name
    table = read_table(path, encoding=encoding, sheet=sheet)
    sites_table = read_table(sites_path, encoding=encoding, sheet=sheet) if sites_path else None
    sites_name = sites_name or (Path(sites_path).name if sites_path else "--sites")
    upload = water.upload_from_tables(
        table, sites_table, stored_sites=store.water_sites(),
        stored_samples=store.water_samples(), townships=store.townships(),
        names=(name, sites_name))
    problems = upload.errors + (upload.warnings if strict else [])
    if problems:
        lines = "\n".join(f"  - {p['message']}" for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ValidationError(f"{name}: {len(problems)} problem(s), nothing was stored; fix "
                              f"them and run the command again:\n{lines}{more}", problems)
    if dry_run or not (len(upload.sites) or len(upload.samples)):
        return upload, None
    source = name + (f" + {sites_name}" if sites_path else "")
    batch = store.add_water(upload.sites, upload.samples,
                            provenance=Provenance(source, file_sha256(path), settings.user))
    return upload, batch
