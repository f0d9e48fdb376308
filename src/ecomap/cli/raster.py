"""``ecomap zonal`` and ``ecomap change``: raster statistics per plot or township."""

from __future__ import annotations

import click

from ecomap.cli import _options
from ecomap.cli._output import emit
from ecomap.i18n import tr

_layer = click.option("--layer", type=click.Choice(["plots", "townships"]), default="plots",
                      show_default=True, help="Zones: stored plots or townships.")
_category = click.option("--category", default=None, metavar="C",
                         help="Only plots of this category (code or Chinese name).")
_band = click.option("--band", type=int, default=1, show_default=True, help="Raster band.")
_raster_crs = click.option(
    "--raster-crs", default=None, metavar="CRS",
    help="CRS of a raster that carries none (e.g. EPSG:4547); overrides the file's.")


def _emit(table, fmt: str | None, output: str | None, *, lang: str) -> None:
    """The table for people (headers in ``lang``), its rows as stored in JSON."""
    import pandas as pd

    from ecomap.raster.service import display_table

    records = pd.DataFrame(table.drop(columns="geometry", errors="ignore")).to_dict(
        orient="records")
    emit(display_table(table, lang=lang), fmt=fmt, output=output, records=records,
         empty=tr("(没有区域)", "(no zones)"))


@click.command("zonal")
@click.argument("raster")
@_layer
@_category
@_options.year
@click.option("--stats", default="mean,min,max,count", show_default=True,
              help="Comma-separated: count, sum, mean, min, max, std, variance, majority, "
                   "minority, variety, median.")
@click.option("--categorical", is_flag=True,
              help="Land-cover classes: the share of each class per zone instead of --stats.")
@_band
@_raster_crs
@_options.table_format()
@_options.table_output
@_options.store
@_options.lang
def zonal_cmd(raster, layer, category, year, stats, categorical, band, raster_crs, fmt,
              output, store, lang):
    """Statistics of RASTER (a GeoTIFF; any CRS) per plot or township.

    Each pixel counts with the fraction of it inside the zone, so small plots get exact
    area-weighted values; nodata pixels are left out.  With --categorical, e.g. on a
    land-cover map, each class's share of each zone (forest cover rate per township).
    The table is printed, or written to -o FILE (.csv, .xlsx or .json).

    \b
    Examples:
      ecomap zonal ndvi_2023.tif --stats mean,max -o ndvi.csv
      ecomap zonal landcover.tif --categorical --layer townships
    """
    from ecomap.raster import service as api_raster

    s = _options.settings(store, lang)
    with _options.open_settings_store(s) as st:
        table = api_raster.zonal(st, raster, layer=layer, category=category, year=year,
                                 stats=stats, categorical=categorical, band=band,
                                 raster_crs=raster_crs)
    _emit(table, fmt, output, lang=s.lang)


@click.command("change", short_help="Change of the mean of BEFORE → AFTER (NDVI 2022 → "
                                    "2023) per plot, with a map.")
@click.argument("before")
@click.argument("after")
@_layer
@_category
@_options.year
@click.option("--min-gain", type=float, default=0.0, show_default=True,
              help="A zone whose mean rose by this much or less is flagged 'no gain'.")
@click.option("--name", default="NDVI", show_default=True, help="What the rasters hold.")
@click.option("--map", "map_path", default="maps/change.html", show_default=True,
              metavar="FILE", help="Where the map goes.")
@click.option("--no-map", is_flag=True, help="Write the table only.")
@_band
@_raster_crs
@_options.table_format()
@_options.table_output
@_options.store
@_options.lang
def change_cmd(before, after, layer, category, year, min_gain, name, map_path, no_map, band,
               raster_crs, fmt, output, store, lang):
    """Change of the mean of BEFORE → AFTER (e.g. NDVI 2022 → 2023) per plot.

    The two rasters may differ in grid and CRS.  Plots whose mean did not rise by more
    than --min-gain are flagged.  Writes the table (-o FILE, else printed) and a map with
    the difference raster and the plots coloured by their change.

    \b
    Examples:
      ecomap change ndvi_2022.tif ndvi_2023.tif --category afforestation
      ecomap change ndvi_2022.tif ndvi_2023.tif --no-map --format json
    """
    from ecomap.raster import service as api_raster

    s = _options.settings(store, lang)
    with _options.open_settings_store(s) as st:
        table = api_raster.change(st, before, after, layer=layer, category=category,
                                  year=year, min_gain=min_gain, band=band,
                                  raster_crs=raster_crs)
        if not no_map:
            from ecomap.io.export import write_text
            from ecomap.maps import to_html

            m = api_raster.change_map(st, before, after, table, year=year, lang=s.lang,
                                      name=name, raster_crs=raster_crs)
            path = write_text(map_path, to_html(m))
            click.echo(tr("已写出 {path}", "wrote {path}", path=path))
    _emit(table, fmt, output, lang=s.lang)
    flagged = int((table["status"] == "no_gain").sum())
    missing = int((table["status"] == "no_data").sum())
    click.echo(tr("{n} 个区域: {flagged} 个未增长, {missing} 个无数据",
                  "{n} zones: {flagged} with no gain, {missing} without data",
                  n=len(table), flagged=flagged, missing=missing), err=True)


COMMANDS = [zonal_cmd, change_cmd]
