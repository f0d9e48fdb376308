"""Uploads end to end: read → check → store one batch (or, for a dry run, only report).

With :mod:`ecomap.water.ingest` (monitoring data), the only module besides the CLI and
the web layer that joins files, checks and the store; both call :func:`validate_file`
and :func:`ingest_file`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ecomap.checks import CheckContext, Outcome, Report, check_plots, prepare_plots
from ecomap.errors import InputError
from ecomap.i18n import message_of, tr
from ecomap.io.vector import file_sha256, read_upload
from ecomap.settings import Settings
from ecomap.store import Provenance, Store
from ecomap.store.base import replace_problem, same_file_batch, same_file_text

__all__ = ["check_context", "ingest_file", "read_near_county", "rejected_outcome", "validate_file"]

log = logging.getLogger(__name__)


def check_context(store: Store, *, category: str, year: int | None,
                  settings: Settings, replace: int | None = None) -> CheckContext:
    """County, townships and same-category-and-year plots from the store; the plots of
    the batch ``replace`` do not count (they go when the new batch is stored)."""
    county = store.county()
    towns = store.townships()
    stored = store.plots(category=category, year=year) if year is not None else None
    if stored is not None and replace is not None:
        stored = stored[stored["batch_id"] != int(replace)]
    if stored is not None:
        ids = stored[["plot_id", "year", "batch_id"]]
    else:  # years from the file: 小班号 of every year, compared by (小班号, year)
        ids = store.plots(category=category)[["plot_id", "year", "batch_id"]]
        if replace is not None:
            ids = ids[ids["batch_id"] != int(replace)]
    names = county["name"].dropna().astype(str) if "name" in county else []
    return CheckContext(
        county=county.geometry.union_all() if len(county) else None,
        county_name=names.iloc[0] if len(names) else None,
        township_names=towns["name"].to_numpy(dtype=object),
        township_geoms=np.asarray(towns.geometry.values, dtype=object),
        stored=stored, stored_ids=pd.DataFrame(ids), min_plot_mu=settings.min_plot_mu,
        area_tolerance=settings.area_tolerance)


def validate_file(path: str | os.PathLike, store: Store, *, category: str,
                  year: int | None = None, crs: str | None = None,
                  encoding: str | None = None, layer: str | None = None,
                  strict: bool = False, settings: Settings | None = None,
                  name: str | None = None, replace: int | None = None,
                  require_year: bool = False) -> Outcome:
    """Read and check an upload against the store; writes nothing.

    Without a year (no 年度 field and no ``year``) every check runs and a warning says
    that storing needs one; ``require_year`` (as :func:`ingest_file` sets) rejects instead.

    File problems (unreadable, no CRS, several layers …) come back as a rejected
    outcome with one file-level problem, so callers report them like any other; so does
    a file stored before (the same SHA-256) unless ``replace`` names that batch.
    ``replace``: the plot batch the file would replace (its plots do not count as
    stored).  ``info["replaceable"]`` lists the stored batches the file repeats.
    """
    settings = settings or Settings()
    from ecomap.schema import get_category

    code = get_category(category).code
    shown = name or Path(path).name
    sha256 = file_sha256(path) if Path(path).is_file() else None
    batches = store.batches().to_dict("records")
    same = same_file_batch(batches, sha256, kind="plots", replace=replace)
    refusal = (replace_problem(batches, replace, kind="plots") if replace is not None
               else None)
    if same is not None or refusal is not None:
        report = Report(shown)
        if refusal is not None:
            report.add("error", "replace_unknown", tr("{file}: {refusal}", "{file}: {refusal}",
                                                       file=shown, refusal=refusal))
        if same is not None:
            report.add("error", "duplicate_file", same_file_text(shown, same))
        info = {"file": shown, "layer": layer, "sha256": sha256,
                "replaceable": [int(same["batch_id"])] if same is not None else []}
        return rejected_outcome(report, info)
    read, refused = read_near_county(path, store, layer=layer, encoding=encoding, crs=crs,
                                     settings=settings, name=shown)
    if refused is not None:
        return refused
    plots, report = prepare_plots(read.frame, category=code, year=year, source=shown,
                                  require_year=require_year)
    for severity, kind, text in read.notes:
        report.add(severity, kind, text)
    info = {"file": shown, "layer": read.layer, "crs": read.crs,
            "crs_source": read.crs_source, "encoding": read.encoding, "sha256": sha256}
    if report.file_errors:
        return rejected_outcome(report, info, features=len(plots))
    context = check_context(store, category=code, year=year, settings=settings,
                            replace=replace)
    if read.kind == "kml":
        from ecomap.io.kml import apply_kml_names

        apply_kml_names(read.frame, plots, context.township_names, context.county_name)
    outcome = check_plots(plots, report, context, strict=strict, info=info)
    # The stored batches whose 小班号 the file repeats: the file may replace one of them.
    repeated = {str(p.feature) for p in report.problems if p.code == "duplicate_stored"}
    ids = context.stored_ids
    hit = ids["batch_id"][ids["plot_id"].astype(object).astype(str).str.strip().isin(
        repeated)] if repeated else []
    outcome.info["replaceable"] = sorted({int(b) for b in hit})
    return outcome


def read_near_county(path, store: Store, *, layer: str | None, encoding: str | None,
                     crs: str | None, settings: Settings, name: str):
    """``(read, None)``: the upload read (its coordinates placed near the store's
    county when the CRS has to be guessed); or ``(None, outcome)``: a file that cannot
    be read, as a rejected outcome with one file-level problem."""
    county = store.county()
    near = tuple(county.total_bounds) if len(county) else None
    try:
        return read_upload(path, layer=layer, encoding=encoding, crs=crs, near=near,
                           settings=settings, name=name), None
    except InputError as exc:
        report = Report(name)
        code = getattr(exc, "code", None) or \
            type(exc).__name__.replace("Error", "").lower() or "input"
        report.add("error", code, message_of(exc))
        return None, rejected_outcome(report, {"file": name, "layer": layer})


def rejected_outcome(report: Report, info: dict, features: int = 0) -> Outcome:
    """A rejected outcome: ``report``'s problems and nothing accepted (``features`` read)."""
    import geopandas as gpd
    import pandas as pd

    empty = gpd.GeoDataFrame({"plot_id": []}, geometry=gpd.GeoSeries([], crs="EPSG:4490"))
    splits = pd.DataFrame({"plot": [], "township": [], "area_m2": [], "primary": []})
    return Outcome(report, empty.assign(area_m2=[]), splits, features, empty, info)


def ingest_file(path: str | os.PathLike, store: Store, *, category: str, year: int,
                settings: Settings | None = None, name: str | None = None,
                replace: int | None = None, **options) -> tuple[Outcome, int | None]:
    """Validate, then store the accepted plots as one batch in one transaction; with
    ``replace``, the plot batch of that id is rolled back in the same transaction.

    Returns the outcome and the batch id (None when rejected; nothing is stored then).
    """
    settings = settings or Settings()
    outcome = validate_file(path, store, category=category, year=year, settings=settings,
                            name=name, replace=replace, require_year=True, **options)
    if outcome.status == "reject":
        return outcome, None
    sha256 = outcome.info.get("sha256") or file_sha256(path)
    provenance = Provenance(name or Path(path).name, sha256, settings.user)
    batch = store.add_plots(outcome.plots, provenance=provenance, splits=outcome.splits,
                            replace=replace)
    log.info("%s: stored %d plots as batch %d", provenance.source_file, len(outcome.plots),
             batch)
    return outcome, batch
