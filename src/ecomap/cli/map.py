"""``ecomap map county|township`` and ``ecomap briefing``: maps as files for people.

Every map is one self-contained HTML file by default (opens with no internet).
``--embed`` writes an ``<iframe>`` snippet for another page, ``--png`` / ``--pdf`` an
A4 print (300 dpi) through headless Chromium.  ``--basemap`` adds online tiles
(OpenStreetMap, 天地图, 高德); the map then says it needs the internet.
"""

from __future__ import annotations

from pathlib import Path

import click

from ecomap.cli import _options
from ecomap.i18n import tr

_FORMATS = ("html", "embed", "png", "pdf")
_SUFFIX = {"html": ".html", "embed": ".embed.html", "png": ".png", "pdf": ".pdf"}


def _map_options(f):
    """--basemap, --tianditu-key, --format/--embed/--png/--pdf, --dpi."""
    for option in reversed([
        click.option("--basemap", type=click.Choice(["none", "osm", "tianditu", "gaode"]),
                     default="none", show_default=True,
                     help="Background tiles. none: county and township outlines only, works "
                          "offline. osm, tianditu (天地图) and gaode (高德, data shifted to "
                          "GCJ-02) load tiles from the internet when the map is opened."),
        click.option("--tianditu-key", envvar="ECOMAP_TIANDITU_KEY", default=None,
                     metavar="KEY", help="天地图 key for --basemap tianditu (default: "
                                         "$ECOMAP_TIANDITU_KEY); it is written into the map."),
        click.option("--format", "fmt", type=click.Choice(_FORMATS), default=None,
                     help="html (default): one offline file; embed: an <iframe> snippet; "
                          "png/pdf: an A4 print through headless Chromium."),
        click.option("--embed", is_flag=True, help="Same as --format embed."),
        click.option("--png", is_flag=True, help="Same as --format png (A4, 300 dpi)."),
        click.option("--pdf", is_flag=True, help="Same as --format pdf (A4)."),
        click.option("--dpi", type=click.IntRange(72, 600), default=300, show_default=True,
                     help="Resolution of --png."),
    ]):
        f = option(f)
    return f


def _format(fmt: str | None, embed: bool, png: bool, pdf: bool) -> str:
    chosen = [name for name, on in (("embed", embed), ("png", png), ("pdf", pdf)) if on]
    if fmt:
        chosen.append(fmt)
    if len(set(chosen)) > 1:
        raise click.UsageError(str(tr("只能选一种输出格式, 不能同时用 {chosen}",
                                      "choose one output format, not {chosen}",
                                      chosen=tr(" 和 ".join(chosen), " and ".join(chosen)))))
    return chosen[0] if chosen else "html"


def _write(m, fmt: str, output: str | None, default: str, *, dpi: int) -> Path:
    from ecomap import maps
    from ecomap.io.export import atomic_write, write_text

    path = Path(output) if output else Path(default + _SUFFIX[fmt])
    if fmt == "html":
        return write_text(path, maps.to_html(m))
    if fmt == "embed":
        return write_text(path, maps.to_embed(m))
    data = maps.to_png(m, dpi=dpi) if fmt == "png" else maps.to_pdf(m)
    return atomic_write(path, data)


@click.group("map", short_help="Write maps: offline HTML, embeddable snippets, PNG or PDF.")
def map_group():
    """Write maps: offline HTML (every script inlined), embeddable snippets, PNG or PDF."""


@map_group.command("county", short_help="County overview: township choropleth, plots, "
                                        "water sites.")
@_options.store
@_options.year
@_options.output
@_options.lang
@_map_options
def county_cmd(store, year, output, lang, basemap, tianditu_key, fmt, embed, png, pdf, dpi):
    """County overview: township choropleth, plots by category, water sites.

    \b
    Examples:
      ecomap map county --year 2023
      ecomap map county --pdf -o county.pdf --basemap tianditu
    """
    from ecomap import api

    fmt = _format(fmt, embed, png, pdf)
    s = _options.settings(store, lang)
    with _options.open_settings_store(s) as st:
        m = api.county_map(st, year=year, lang=s.lang, basemap=basemap,
                           tianditu_key=tianditu_key)
    path = _write(m, fmt, output, "maps/county", dpi=dpi)
    click.echo(tr("已写出 {path}", "wrote {path}", path=path))


@map_group.command("township", short_help="One township: its plots, water sites and "
                                          "summary table.")
@click.argument("name")
@_options.store
@_options.year
@_options.output
@_options.lang
@_map_options
def township_cmd(name, store, year, output, lang, basemap, tianditu_key, fmt, embed, png, pdf,
                 dpi):
    """One township (e.g. 黄龙镇): its plots, water sites and summary table.

    \b
    Examples:
      ecomap map township 黄龙镇
      ecomap map township 黄龙镇 --png -o 黄龙镇.png
    """
    from ecomap import api

    fmt = _format(fmt, embed, png, pdf)
    s = _options.settings(store, lang)
    with _options.open_settings_store(s) as st:
        m = api.township_map(st, name, year=year, lang=s.lang, basemap=basemap,
                             tianditu_key=tianditu_key)
    path = _write(m, fmt, output, f"maps/township/{name}", dpi=dpi)
    click.echo(tr("已写出 {path}", "wrote {path}", path=path))


@click.command("briefing", short_help="A briefing page (figures, tables, charts, maps) in "
                                      "one offline HTML file.")
@_options.store
@_options.year
@click.option("-o", "--output", "out", default="maps", show_default=True, metavar="DIR",
              help="Folder for briefing.html (and briefing.pdf).")
@_options.lang
@click.option("--basemap", type=click.Choice(["none", "osm", "tianditu", "gaode"]),
              default="none", show_default=True, help="Background tiles of the maps (see "
                                                      "'ecomap map county --help').")
@click.option("--tianditu-key", envvar="ECOMAP_TIANDITU_KEY", default=None, metavar="KEY",
              help="天地图 key for --basemap tianditu (default: $ECOMAP_TIANDITU_KEY).")
@click.option("--issuer", default=None, metavar="TEXT",
              help="Issuing unit (编制单位) in the title block and the PDF footer, e.g. "
                   "大余县林业局 (default: $ECOMAP_ISSUER; none: no such line).")
@click.option("--date", "date", default=None, metavar="YYYY-MM-DD",
              help="Date of the document (default: $ECOMAP_DATE, else today).")
@click.option("--source", default=None, metavar="TEXT",
              help="Data source line (default: named from the store's batches, e.g. "
                   "大余县2023年生态修复小班数据（入库批次 3–12）).")
@click.option("--pdf", is_flag=True, help="Also print it to briefing.pdf (A4, page numbers "
                                          "and issuer in the footer, via Chromium).")
def briefing_cmd(store, year, out, lang, basemap, tianditu_key, issuer, date, source, pdf):
    """A briefing page: the report's sentences with this year's figures, tables, charts,
    the county map and every township map, in one offline HTML file that prints on A4.

    \b
    Examples:
      ecomap briefing --year 2023
      ecomap briefing -o 简报 --pdf --issuer 大余县林业局 --date 2026-12-07
    """
    from ecomap import api, maps
    from ecomap.io.export import atomic_write, write_text

    s = _options.settings(store, lang)
    with _options.open_settings_store(s) as st:
        page = api.briefing(st, year=year, lang=s.lang, basemap=basemap,
                            tianditu_key=tianditu_key,
                            issuer=s.issuer if issuer is None else issuer,
                            date=date or s.date, source=source or "", timezone=s.timezone)
    html = maps.to_html(page)
    path = write_text(Path(out) / "briefing.html", html)
    click.echo(tr("已写出 {path}", "wrote {path}", path=path))
    if pdf:
        from ecomap.maps._export import html_to_pdf

        pdf_path = atomic_write(Path(out) / "briefing.pdf", html_to_pdf(html))
        click.echo(tr("已写出 {path}", "wrote {path}", path=pdf_path))


COMMANDS = [map_group, briefing_cmd]
