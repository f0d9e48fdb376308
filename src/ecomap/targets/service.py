"""Progress and year over year of a store: what the CLI, the maps, the briefing and the web
call."""

from __future__ import annotations

import pandas as pd

from ecomap.targets.progress import progress_table, year_over_year

__all__ = ["import_targets", "latest_target_year", "store_progress", "store_year_over_year"]


def import_targets(path, store, *, user: str, name: str | None = None,
                   year: int | None = None, encoding: str | None = None, sheet=None
                   ) -> tuple[int, pd.DataFrame]:
    """Read, check and store a targets table as one batch: ``(batch id, targets)``.

    Township names are checked against the store's townships; the county's own name
    (as stored) also stands for the county as a whole.  ``name`` is the file as the
    user knows it (default: its name).
    """
    from pathlib import Path

    from ecomap.io.vector import file_sha256
    from ecomap.store import Provenance
    from ecomap.targets.read import read_targets

    name = name or Path(path).name
    county = store.county()
    targets = read_targets(path, townships=store.townships()["name"].tolist(),
                           county=str(county["name"].iloc[0]) if len(county) else None,
                           year=year, name=name, encoding=encoding, sheet=sheet)
    batch = store.add_targets(targets, provenance=Provenance(name, file_sha256(path), user))
    return batch, targets


def latest_target_year(store) -> int | None:
    """The latest year with targets stored, else the latest year with plots, else None."""
    targets = store.targets()
    if len(targets):
        return int(targets["year"].max())
    areas = store.township_areas()
    return int(areas["year"].max()) if len(areas) else None


def store_progress(store, *, year: int | None = None, by: str = "township") -> pd.DataFrame:
    """:func:`~ecomap.targets.progress.progress_table` of ``store`` for ``year`` (default:
    :func:`latest_target_year`); townships in the store's order.  Empty when the store
    holds neither targets nor plots."""
    year = latest_target_year(store) if year is None else int(year)
    if year is None:
        return progress_table(store.targets(), store.township_areas(), year=0, by=by,
                              townships=[])
    towns = store.townships()["name"].tolist()
    return progress_table(store.targets(year=year), store.township_areas(year=year),
                          year=year, townships=towns, by=by)


def store_year_over_year(store, *, by: str = "township") -> pd.DataFrame:
    """:func:`~ecomap.targets.progress.year_over_year` of every year ``store`` holds."""
    towns = store.townships()["name"].tolist()
    return year_over_year(store.township_areas(), townships=towns, by=by)
