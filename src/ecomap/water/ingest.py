"""A monitoring file (and its site table) checked and stored as one batch of kind ``water``.

The water counterpart of :mod:`ecomap.ingest`; the CLI and the demo call
:func:`ingest_water`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ecomap.errors import ValidationError
from ecomap.i18n import tr
from ecomap.io.vector import file_sha256
from ecomap.settings import Settings
from ecomap.store import Provenance, Store
from ecomap.water.checks import upload_from_tables

__all__ = ["ingest_water"]


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
    from ecomap.checks import problem_list
    from ecomap.io.tables import read_table

    settings = settings or Settings()
    name = name or Path(path).name
    table = read_table(path, encoding=encoding, sheet=sheet)
    sites_table = read_table(sites_path, encoding=encoding, sheet=sheet) if sites_path else None
    sites_name = sites_name or (Path(sites_path).name if sites_path else "--sites")
    upload = upload_from_tables(
        table, sites_table, stored_sites=store.water_sites(),
        stored_samples=store.water_samples(), townships=store.townships(),
        names=(name, sites_name))
    # --strict refuses warnings, not notes (a units row or a footnote left out).
    problems = upload.errors + ([p for p in upload.warnings if p["severity"] != "note"]
                                if strict else [])
    if problems:
        raise ValidationError(problem_list(name, problems, fix=tr(
            "; 请改正后重新运行命令", "; fix them and run the command again")), problems)
    if dry_run or not (len(upload.sites) or len(upload.samples)):
        return upload, None
    source = name + (f" + {sites_name}" if sites_path else "")
    batch = store.add_water(upload.sites, upload.samples,
                            provenance=Provenance(source, file_sha256(path), settings.user))
    return upload, batch
