"""``ecomap summary``: restoration area by township, category and year."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

import click

from ecomap.cli import _options
from ecomap.cli._output import emit
from ecomap.i18n import tr

#: The layers of an ecomap store (``ecomap.store.LAYERS``): a GeoPackage lacking one is
#: left to the store, which says what is wrong with it.
_LAYERS = ("county", "townships", "plots", "plot_townships", "water_sites", "water_samples",
           "batches")


@click.command("summary", short_help="Area (mu, ha) and plot count by township, category "
                                     "and year.")
@_options.store
@_options.year
@_options.table_format()
@_options.table_output
@_options.lang
def summary_cmd(store, year, fmt, output, lang):
    """Area (mu, ha) and plot count by township × category × year.

    A plot that crosses a township border is split between the townships by area; it
    is counted once, in the township holding most of it.  County totals (全县) close
    the table.

    \b
    Examples:
      ecomap summary --year 2023
      ecomap summary --format json > summary.json
      ecomap summary -o summary.xlsx
    """
    from ecomap.aggregate import display_table, summary_records

    s = _options.settings(store, lang)
    table = _summary(s.store, year)
    emit(display_table(table, lang=s.lang), fmt=fmt, output=output,
         records=summary_records(table), empty=tr("(没有入库的图斑)", "(no plots stored)"))


def _summary(location: str, year: int | None):
    """:func:`ecomap.api.summary` of the store at ``location``.

    A GeoPackage is answered with SQLite and pandas alone — the sums of the township
    splits stored with the plots, as ``GeoPackageStore.township_areas`` computes them —
    so that the command starts in a fraction of the time the geo stack takes to load.
    Any other store, or a file that is not plainly an ecomap GeoPackage, goes through
    the store, which also says what is wrong.
    """
    from ecomap.aggregate import summary_table

    quick = _gpkg_township_areas(location, year)
    if quick is not None:
        towns, areas = quick
        return summary_table(areas, townships=towns)
    from ecomap import api
    from ecomap.store import open_store

    with open_store(location) as st:
        return api.summary(st, year=year)


def _gpkg_township_areas(location: str, year: int | None):
    """Township names (store order) and ``township, category, year, count, area_m2`` of
    an ecomap GeoPackage, read-only; None when ``location`` is not one."""
    import pandas as pd

    if not location.lower().endswith(".gpkg") or not os.path.isfile(location):
        return None
    uri = f"file:{quote(str(Path(location).resolve()))}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True, timeout=60)
    except sqlite3.Error:
        return None
    try:
        have = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
        if not have.issuperset(_LAYERS):
            return None
        towns = [r[0] for r in con.execute("SELECT name FROM townships ORDER BY fid")]
        where, params = ("WHERE year = ?", (int(year),)) if year is not None else ("", ())
        rows = con.execute(
            "SELECT township, category, year, SUM(is_primary) AS count, SUM(area_m2) AS "
            f"area_m2 FROM plot_townships {where} GROUP BY township, category, year "
            "ORDER BY township, category, year", params).fetchall()
    except sqlite3.Error:
        return None
    finally:
        con.close()
    areas = pd.DataFrame.from_records(
        rows, columns=["township", "category", "year", "count", "area_m2"])
    return towns, areas.astype({"count": "int64", "area_m2": "float64", "year": "int64"})


COMMANDS = [summary_cmd]
