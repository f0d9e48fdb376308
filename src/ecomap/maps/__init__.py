"""Folium maps of restoration plots and water sites, self-contained for offline use.

Builders take frames and return :class:`folium.Map`; :func:`to_html` renders a map as
one HTML file with every script and style inlined.  Nothing here touches paths.
"""

from __future__ import annotations

import datetime as _dt
import html

import folium
import geopandas as gpd
import pandas as pd
from branca.element import Element

from ecomap import __version__
from ecomap.aggregate import display_table, township_totals
from ecomap.errors import NotFoundError
from ecomap.maps import _layers, _style

__all__ = ["county_map", "to_html", "township_map"]


def _notes(*, lang: str, source: str, illustrative: bool) -> list[str]:
    notes = [_style.text("source", lang, source=source, version=__version__,
                         date=_dt.date.today().isoformat())]
    if illustrative:
        notes.insert(0, _style.text("illustrative", lang))
    return notes


def _is_illustrative(towns: gpd.GeoDataFrame) -> bool:
    return "illustrative" in towns and bool(pd.Series(towns["illustrative"]).fillna(0).any())


def county_map(county: gpd.GeoDataFrame, townships: gpd.GeoDataFrame,
               plots: gpd.GeoDataFrame, summary: pd.DataFrame, *,
               water_sites: gpd.GeoDataFrame | None = None, year: int | str = "",
               county_name: str = "", source: str = "", lang: str = "zh") -> folium.Map:
    """County overview: township choropleth, plots by category, water sites.

    Parameters
    ----------
    county, townships, plots
        Layers from the store (EPSG:4490).
    summary
        :func:`ecomap.aggregate.summary_table` of the same year.
    water_sites
        Sites with a ``water_class`` column (annual class), optional.
    """
    bounds = (county if len(county) else townships).total_bounds
    m = _layers.base_map(bounds, lang=lang)
    totals = township_totals(summary, townships=townships["name"]).set_index(
        "township")["area_mu"]
    _layers.add_townships(m, townships, totals, lang=lang)
    if len(county):
        _layers.add_county(m, county, lang=lang)
    _layers.add_plots(m, plots, lang=lang)
    if water_sites is not None:
        _layers.add_water_sites(m, water_sites, lang=lang)
    title = _style.text("county_title", lang, county=county_name, year=year)
    _layers.add_furniture(m, title=title, notes=_notes(
        lang=lang, source=source, illustrative=_is_illustrative(townships)))
    return m


def township_map(township: str, townships: gpd.GeoDataFrame, plots: gpd.GeoDataFrame,
                 summary: pd.DataFrame, *, water_sites: gpd.GeoDataFrame | None = None,
                 year: int | str = "", source: str = "", lang: str = "zh") -> folium.Map:
    """One township, zoomed to it, with its plots, water sites and summary table."""
    sel = townships[townships["name"] == township]
    if sel.empty:
        names = "、".join(townships["name"])
        raise NotFoundError(f"no township {township!r} in the store; choose one of: {names}")
    m = _layers.base_map(sel.total_bounds, lang=lang, height="640px")
    totals = township_totals(summary, townships=townships["name"]).set_index(
        "township")["area_mu"]
    _layers.add_townships(m, townships, totals, lang=lang, highlight=township)
    _layers.add_plots(m, plots, lang=lang)
    if water_sites is not None:
        _layers.add_water_sites(m, water_sites, lang=lang)
    title = _style.text("township_title", lang, township=township, year=year)
    _layers.add_furniture(m, title=title, notes=_notes(
        lang=lang, source=source, illustrative=_is_illustrative(townships)))
    rows = summary[summary["township"] == township]
    table = display_table(rows, lang=lang, total=False).iloc[:, 1:]  # without 乡镇
    caption = html.escape(_style.text("summary", lang, township=township))
    m.get_root().html.add_child(Element(
        f'<div class="ecomap-summary" style="padding:8px 12px;font-family:sans-serif">'
        f"<h3>{caption}</h3>{table.to_html(index=False, border=1, na_rep='')}</div>"))
    return m


def to_html(m: folium.Map) -> str:
    """The map as one self-contained HTML document (scripts, styles, images inlined)."""
    from ecomap.maps._assets import render_offline

    return render_offline(m)
