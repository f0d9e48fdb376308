"""The province's patch layer into the store: the readers and checks plots go through
(:func:`ecomap.io.vector.read_upload`, :func:`ecomap.checks.prepare_plots`,
:func:`ecomap.checks.check_plots`), the patch ID as the key, every original field kept.

A patch layer is the province's list: one patch with an error (no ID, a duplicate ID,
a geometry that cannot be repaired, outside the county …) rejects the file, so that a
stored year is never a part of the list.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ecomap.checks import CheckContext, Outcome, check_plots, prepare_plots
from ecomap.checks.report import stripped_text
from ecomap.i18n import tr
from ecomap.ingest import read_near_county, rejected_outcome
from ecomap.io.vector import file_sha256
from ecomap.settings import Settings
from ecomap.store import Provenance, Store
from ecomap.units import mu_from_m2

__all__ = ["CHANGE_ALIASES", "ID_ALIASES", "import_patches", "read_patches"]

log = logging.getLogger(__name__)

#: Names of the province's patch-ID field, the first found is the key.
ID_ALIASES = ("patch_id", "图斑编号", "变化图斑编号", "监测图斑编号", "图斑号", "TBBH", "JCBH",
              "BHTBBH", "tbbh", "jcbh")
#: Names of the change-type field (变化类型 / 图斑类型).
CHANGE_ALIASES = ("change_type", "变化类型", "图斑类型", "BHLX", "TBLX")
CATEGORY = "forest_inspection_patch"


def _find(columns, aliases) -> str | None:
    by_name = {str(c).strip().lower(): c for c in columns}
    for a in aliases:
        if a.lower() in by_name:
            return by_name[a.lower()]
    return None


def read_patches(path: str | os.PathLike, store: Store, *, year: int,
                 settings: Settings | None = None, name: str | None = None,
                 encoding: str | None = None, crs: str | None = None,
                 layer: str | None = None):
    """Read and check a patch layer against the store; writes nothing.

    Returns ``(outcome, frame)``: the check outcome (its report names every problem)
    and the patches to store (``patch_id``, ``township`` — where most of the patch lies
    in the store's townships —, ``village``, ``area_mu``, ``change_type``,
    ``attributes``, geometry), or None when the file is rejected.
    """
    settings = settings or Settings()
    shown = name or Path(path).name
    read, refused = read_near_county(path, store, layer=layer, encoding=encoding, crs=crs,
                                     settings=settings, name=shown)
    if refused is not None:
        return refused, None
    county = store.county()
    raw = read.frame
    info = {"file": shown, "layer": read.layer, "crs": read.crs,
            "crs_source": read.crs_source, "encoding": read.encoding,
            "sha256": file_sha256(path) if Path(path).is_file() else None}
    plots, report = prepare_plots(raw, category=CATEGORY, year=year, source=shown)
    for severity, kind, text in read.notes:
        report.add(severity, kind, text)
    id_col = _find(raw.columns, ID_ALIASES)
    if id_col is None:
        report.add("error", "no_patch_id", tr(
            "{file}：找不到图斑编号字段（应为 {names} 之一）；字段有：{have}",
            "{file}: no patch-ID field (one of {names}); the fields are: {have}",
            file=shown, names="、".join(ID_ALIASES[:7]),
            have="、".join(str(c) for c in raw.columns if c != raw.geometry.name)))
        return rejected_outcome(report, info, len(raw)), None
    ids = stripped_text(raw[id_col]).reset_index(drop=True)
    ids = ids.where(~ids.isin(["nan", "None"]), "")
    first: dict[str, int] = {}
    for i, pid in enumerate(ids.tolist()):
        if not pid:
            report.add("error", "no_patch_id", tr(
                "{file}：第 {n} 个要素没有{field}；请补填（未入库）",
                "{file}: feature {n} has no {field}; fill it in (nothing stored)",
                file=shown, n=i + 1, field=id_col), feature=i + 1, field=str(id_col))
        elif pid in first:
            report.add("error", "duplicate_patch_id", tr(
                "{file}：第 {n} 个要素的{field} {id} 与第 {m} 个要素重复；图斑编号须唯一（未入库）",
                "{file}: feature {n} repeats {field} {id} of feature {m}; patch IDs must be "
                "unique (nothing stored)", file=shown, n=i + 1, m=first[pid] + 1,
                field=id_col, id=pid), feature=pid, field=str(id_col))
        else:
            first[pid] = i
    plots["plot_id"] = ids.to_numpy(dtype=object)
    change_col = _find(raw.columns, CHANGE_ALIASES)
    plots["change_type"] = (stripped_text(raw[change_col]).reset_index(drop=True)
                            .replace("", None).to_numpy(dtype=object)
                            if change_col is not None else None)
    names = raw.columns
    if report.file_errors or report.errors:
        return rejected_outcome(report, info, len(raw)), None
    towns = store.townships()
    cnames = county["name"].dropna().astype(str) if "name" in county else []
    context = CheckContext(
        county=county.geometry.union_all() if len(county) else None,
        county_name=cnames.iloc[0] if len(cnames) else None,
        township_names=towns["name"].to_numpy(dtype=object),
        township_geoms=np.asarray(towns.geometry.values, dtype=object),
        min_plot_mu=0.0, area_tolerance=settings.area_tolerance)
    outcome = check_plots(plots, report, context, info=info)
    if outcome.report.errors:
        return outcome, None
    acc = outcome.plots
    primary = outcome.splits[outcome.splits["primary"]].set_index("plot")["township"]
    frame = acc[["plot_id", "village", "change_type", "attributes"]].rename(
        columns={"plot_id": "patch_id"})
    frame.insert(1, "township", primary.reindex(range(len(acc))).to_numpy(dtype=object))
    frame.insert(3, "area_mu", np.round(mu_from_m2(acc["area_m2"].to_numpy(dtype=float)), 4))
    frame = frame.set_geometry(acc.geometry)
    frame.attrs["fields"] = [str(c) for c in names if c != raw.geometry.name]
    return outcome, frame


def import_patches(path: str | os.PathLike, store: Store, *, year: int,
                   settings: Settings | None = None, name: str | None = None,
                   **options) -> tuple[Outcome, dict | None]:
    """Check a patch layer, then store it for ``year`` in one transaction, updating
    the patches stored before by ID (:meth:`ecomap.store.Store.store_patches`).

    Returns the outcome and what changed (``batch_id``, ``new``, ``changed``,
    ``unchanged``, ``missing``), or None when the file is rejected (nothing stored).
    """
    settings = settings or Settings()
    outcome, frame = read_patches(path, store, year=year, settings=settings, name=name,
                                  **options)
    if frame is None:
        return outcome, None
    sha = outcome.info.get("sha256") or file_sha256(path)
    result = store.store_patches(frame, year=int(year), provenance=Provenance(
        name or Path(path).name, sha, settings.user))
    return outcome, result
