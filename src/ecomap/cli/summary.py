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
@click.option("--by-township", "pivot", is_flag=True,
              help="One row per township: restoration categories (mu) and their total "
                   "修复面积, then inspection patches and patrol areas apart.")
@_options.lang
def summary_cmd(store, year, fmt, output, pivot, lang):
    """Area (mu, ha) and plot count by township × category × year.

    A plot that crosses a township border is split between the townships by area; it
    is counted once, in the township holding most of it.  County totals (全县) close
    the table, one per category: categories are never added together.  With
    --by-township, restoration work adds up into 修复面积; inspection patches, patrol
    areas and compensation are shown in columns of their own, never in it.

    \b
    Examples:
      ecomap summary --year 2023
      ecomap summary --format json > summary.json
      ecomap summary -o summary.xlsx
      ecomap summary --year 2023 --by-township -o townships.xlsx
    """
    from ecomap.aggregate import display_table, summary_records

    s = _options.settings(store, lang)
    table = _summary(s.store, year)
    empty = tr("(没有入库的图斑)", "(no plots stored)")
    if pivot:
        _emit_pivot(table, s.store, year, fmt=fmt, output=output, lang=s.lang, empty=empty)
        return
    emit(display_table(table, lang=s.lang), fmt=fmt, output=output,
         records=summary_records(table), empty=empty)


def _emit_pivot(table, location: str, year, *, fmt, output, lang: str, empty) -> None:
    """The township pivot: 亩 to one decimal for people, codes and two decimals in JSON."""
    from ecomap.aggregate import township_pivot
    from ecomap.units import DECIMALS

    towns = _township_names(location)
    if table.empty:
        emit(table.iloc[:0], fmt=fmt, output=output, records=[], empty=empty)
        return
    coded = township_pivot(table, townships=towns, lang=None)
    records = [{"township": None if t == "county" else t,  # the county total: no township
                **{c: (round(v, 2) if isinstance(v, float) else v) for c, v in row.items()}}
               for t, row in zip(coded.index, coded.to_dict("records"), strict=True)]
    shown = township_pivot(table, townships=towns, lang=lang).round(DECIMALS["mu"])
    shown = shown.reset_index()
    emit(shown, fmt=fmt, output=output, records=records, sheet="乡镇汇总" if lang == "zh"
         else "By township", empty=empty)


def _township_names(location: str) -> list[str] | None:
    quick = _gpkg_township_areas(location, None)
    if quick is not None:
        return quick[0]
    from ecomap.store import open_store

    with open_store(location) as st:
        return st.townships()["name"].tolist()


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
