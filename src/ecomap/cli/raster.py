"""``ecomap zonal`` and ``ecomap change``: raster statistics per plot or township."""

from __future__ import annotations

import json

import click

from ecomap.cli import _options

_layer = click.option("--layer", type=click.Choice(["plots", "townships"]), default="plots",
                      show_default=True, help="Zones: stored plots or townships.")
_category = click.option("--category", default=None, metavar="C",
                         help="Only plots of this category (code or Chinese name).")
_band = click.option("--band", type=int, default=1, show_default=True, help="Raster band.")
_raster_crs = click.option(
    "--raster-crs", default=None, metavar="CRS",
    help="CRS of a raster that carries none (e.g. EPSG:4547); overrides the file's.")


def _echo_or_write(table, output: str | None, *, lang: str, empty: str) -> None:
    """Print the table, or write it as CSV/XLSX/JSON chosen by the file name."""
    import pandas as pd

    from ecomap.io.export import write_table
    from ecomap.raster.service import display_table

    if output is None:
        shown = display_table(table, lang=lang)
        with pd.option_context("display.max_rows", 60, "display.width", 200):
            click.echo(shown.to_string(index=False) if len(shown) else empty)
        return
    if output.lower().endswith(".json"):
        records = json.loads(pd.DataFrame(table.drop(columns="geometry", errors="ignore"))
                             .to_json(orient="records", force_ascii=False))
        path = write_table(table, output, records=records)
    else:
        path = write_table(display_table(table, lang=lang), output)
    click.echo(f"wrote {path}")


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
@_options.output
@_options.store
@_options.lang
def zonal_cmd(raster, layer, category, year, stats, categorical, band, raster_crs, output,
              store, lang):
    """Statistics of RASTER (a GeoTIFF; any CRS) per plot or township.

    Each pixel counts with the fraction of it inside the zone, so small plots get exact
    area-weighted values; nodata pixels are left out.  With --categorical, e.g. on a
    land-cover map, each class's share of each zone (forest cover rate per township).
    -o FILE writes .csv, .xlsx or .json.
    """
    from ecomap.raster import service as api_raster

    s = _options.settings(store, lang)
    with _options.open_settings_store(s) as st:
        table = api_raster.zonal(st, raster, layer=layer, category=category, year=year,
                                 stats=stats, categorical=categorical, band=band,
                                 raster_crs=raster_crs)
    _echo_or_write(table, output, lang=s.lang, empty="(no zones)")


@click.command("change")
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
@_options.output
@_options.store
@_options.lang
def change_cmd(before, after, layer, category, year, min_gain, name, map_path, no_map, band,
               raster_crs, output, store, lang):
    """Change of the mean of BEFORE → AFTER (e.g. NDVI 2022 → 2023) per plot.

    The two rasters may differ in grid and CRS.  Plots whose mean did not rise by more
    than --min-gain are flagged.  Writes the table (-o FILE, else printed) and a map with
    the difference raster and the plots coloured by their change.
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
            click.echo(f"wrote {write_text(map_path, to_html(m))}")
    _echo_or_write(table, output, lang=s.lang, empty="(no zones)")
    flagged = int((table["status"] == "no_gain").sum())
    missing = int((table["status"] == "no_data").sum())
    click.echo(f"{len(table)} zones: {flagged} with no gain, {missing} without data", err=True)


COMMANDS = [zonal_cmd, change_cmd]
