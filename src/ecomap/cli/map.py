"""``ecomap map county`` and ``ecomap map township NAME``: self-contained HTML maps."""

from __future__ import annotations

import click

from ecomap.cli import _options


@click.group("map")
def map_group():
    """Write offline HTML maps (every script inlined; open with no internet)."""


@map_group.command("county")
@_options.store
@_options.year
@_options.output
@_options.lang
def county_cmd(store, year, output, lang):
    """County overview: township choropleth, plots by category, water sites."""
    from ecomap import api
    from ecomap.io.export import write_text
    from ecomap.maps import to_html

    s = _options.settings(store, lang)
    with _options.open_settings_store(s) as st:
        html = to_html(api.county_map(st, year=year, lang=s.lang))
    path = write_text(output or "maps/county.html", html)
    click.echo(f"wrote {path}")


@map_group.command("township")
@click.argument("name")
@_options.store
@_options.year
@_options.output
@_options.lang
def township_cmd(name, store, year, output, lang):
    """One township (e.g. 黄龙镇): its plots, water sites and summary table."""
    from ecomap import api
    from ecomap.io.export import write_text
    from ecomap.maps import to_html

    s = _options.settings(store, lang)
    with _options.open_settings_store(s) as st:
        html = to_html(api.township_map(st, name, year=year, lang=s.lang))
    path = write_text(output or f"maps/township/{name}.html", html)
    click.echo(f"wrote {path}")


COMMANDS = [map_group]
