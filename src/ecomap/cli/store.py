"""``ecomap store``: copy a store between a GeoPackage and PostGIS; province-scale
summaries of partitioned GeoParquet on a dask cluster."""

from __future__ import annotations

import click

from ecomap.cli import _options
from ecomap.cli._output import emit
from ecomap.i18n import tr

__all__ = ["COMMANDS"]


@click.group("store", short_help="Copy stores between a GeoPackage and PostGIS; "
                                 "province-scale summaries.")
def store_group():
    """Manage stores: copy between a GeoPackage and PostGIS; QGIS styles and project."""


@store_group.command("copy", short_help="Copy a store between a GeoPackage and PostGIS.")
@click.argument("source", metavar="SRC")
@click.argument("target", metavar="DST")
def copy_cmd(source, target):
    """Copy every layer, batch and township split from SRC to a new store DST.

    SRC and DST are .gpkg paths or PostGIS URLs (postgresql://user@host/db, with
    ?schema=NAME for one store per schema).  Stored areas and splits are copied as
    they are, so both stores give the same summaries.  DST must be new or empty.

    \b
    Examples:
      ecomap store copy ecomap.gpkg postgresql://gis@db.lan/forest
      ecomap store copy "postgresql://gis@db.lan/forest?schema=dayu" backup.gpkg
    """
    from ecomap.store.copy import copy_store

    counts = copy_store(source, target)
    what = ", ".join(f"{n} {layer}" for layer, n in counts.items())
    click.echo(tr("已复制 {what} 到 {target}", "copied {what} to {target}", what=what,
                  target=target.split("@")[-1] if "://" in target else target))


@store_group.command("parquet", short_help="Write the stored plots as partitioned "
                                            "GeoParquet (for 'store summary').")
@click.argument("source", metavar="SRC")
@click.argument("target", metavar="DIR")
@click.option("--rows-per-partition", type=int, default=250_000, show_default=True,
              help="Plots per GeoParquet file.")
def parquet_cmd(source, target, rows_per_partition):
    """Write the plots of store SRC (with their stored areas) to DIR as spatially
    partitioned GeoParquet, for 'ecomap store summary'.

    \b
    Example:
      ecomap store parquet ecomap.gpkg parts/
    """
    from ecomap import scale
    from ecomap.store import open_store

    with open_store(source) as st:
        plots = st.plots()
    scale.write_plots_parquet(plots, target, rows_per_partition=rows_per_partition)
    click.echo(tr("已将 {n} 个图斑写入 {target}", "wrote {n} plots to {target}", n=len(plots),
                  target=target))


@store_group.command("summary", short_help="Province-scale summary of partitioned "
                                            "GeoParquet on a dask cluster.")
@click.argument("plots", metavar="DIR")
@_options.store
@_options.year
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="A running dask scheduler (tcp://host:8786); default: a local cluster.")
@click.option("--workers", type=int, default=None,
              help="Worker processes of the local cluster (default: one per core).")
@_options.table_format("csv")
@_options.table_output
def summary_cmd(plots, store, year, scheduler, workers, fmt, output):
    """Area and plot count by township x category x year of the plots in DIR
    (GeoParquet), split among the townships of the store on a dask cluster.

    \b
    Examples:
      ecomap store summary parts/ --year 2023 > province.csv
      ecomap store summary parts/ --scheduler tcp://10.0.0.5:8786 -o province.xlsx
    """
    from ecomap import scale
    from ecomap.units import ha_from_m2, mu_from_m2

    s = _options.settings(store)
    with _options.open_settings_store(s) as st:
        towns = st.townships()
    with scale.connect(scheduler, n_workers=workers) as client:
        df = scale.township_areas(plots, towns, year=year, client=client)
    df["area_mu"] = mu_from_m2(df["area_m2"])
    df["area_ha"] = ha_from_m2(df["area_m2"])
    df = df.drop(columns="area_m2")
    emit(df, fmt=fmt, output=output, default="csv")


@store_group.command("qgis", short_help="Write QGIS default styles and a project with an "
                                        "A4 layout into the GeoPackage store.")
@_options.store
@_options.lang
@click.option("--title", default=None, help="Title of the print layout (default: the county "
                                             "map's title).")
def qgis_cmd(store, lang, title):
    """(Re)write ecomap's default layer styles (colours, Chinese names, labels, field
    aliases) and the QGIS project 'ecomap' (layers as on the county map, an A4 print
    layout) into the GeoPackage store.  The data layers are not changed; styles and
    projects saved in QGIS under other names are kept.

    Open it in QGIS with Project > Open From > GeoPackage, or add a layer from the file:
    its default style loads with it.

    \b
    Example:
      ecomap store qgis --store ecomap.gpkg
    """
    from ecomap.errors import StoreError
    from ecomap.qgis import write_qgis
    from ecomap.store import is_postgis_url

    s = _options.settings(store, lang)
    if is_postgis_url(s.store):
        raise StoreError(tr("QGIS 样式与工程只写入 GeoPackage 数据库, 不写入 PostGIS; 可先用 "
                            "'ecomap store copy' 复制为 .gpkg",
                            "QGIS styles and the project are written into a GeoPackage "
                            "store only, not PostGIS; 'ecomap store copy' makes a .gpkg copy"))
    with _options.open_settings_store(s):
        pass  # the store says what is wrong with a file that is not an ecomap store
    from ecomap.api import briefing_date

    date = briefing_date(s.date or None, timezone=s.timezone).isoformat()
    written = write_qgis(s.store, lang=s.lang, title=title, date=date, timezone=s.timezone)
    click.echo(tr("已写入 QGIS 默认样式 ({layers}) 与工程 '{project}' 到 {store}; 在 QGIS 中用 "
                  "“项目 → 打开自 → GeoPackage”打开",
                  "wrote QGIS default styles ({layers}) and the project '{project}' into "
                  "{store}; open it in QGIS with Project > Open From > GeoPackage",
                  layers=", ".join(written["styles"]), project=written["project"],
                  store=s.store))


COMMANDS = [store_group]
