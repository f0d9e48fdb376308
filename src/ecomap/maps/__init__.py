"""Folium maps of restoration plots and water sites, self-contained for offline use.

Builders take frames and return a :class:`folium.Map` (:func:`county_map`,
:func:`township_map`) or a whole page (:func:`briefing`).  :func:`to_html` renders one
as a single HTML file with every script and style inlined (no network request unless
an online basemap was chosen), :func:`to_embed` as an ``<iframe>`` snippet to drop into
another page, :func:`to_png` / :func:`to_pdf` as print-ready images through headless
Chromium.  Nothing here touches paths.

Large layers stay fast: plots are sent in a compact encoding (``_vector``) and drawn on
canvas above a few thousand plots (``_layers.CANVAS_THRESHOLD``).
"""

from __future__ import annotations

import datetime as _dt
import html

import folium
import geopandas as gpd
import pandas as pd

from ecomap import __version__
from ecomap.aggregate import display_table, township_totals
from ecomap.errors import NotFoundError
from ecomap.i18n import tr
from ecomap.maps import _basemaps, _furniture, _layers, _style
from ecomap.maps._basemaps import BASEMAPS, Basemap, get_basemap
from ecomap.maps._review import review_map
from ecomap.maps._vector import Grid

__all__ = [
    "BASEMAPS",
    "briefing",
    "county_map",
    "get_basemap",
    "review_map",
    "to_embed",
    "to_html",
    "to_pdf",
    "to_png",
    "township_map",
]


def _notes(*, lang: str, source: str, illustrative: bool) -> list[str]:
    notes = [_style.text("source", lang, source=source or "-", version=__version__,
                         date=_dt.date.today().isoformat())]
    if illustrative:
        notes.insert(0, _style.text("illustrative", lang))
    return notes


def _is_illustrative(towns: gpd.GeoDataFrame) -> bool:
    return "illustrative" in towns and bool(pd.Series(towns["illustrative"]).fillna(0).any())


def _basemap(basemap: str | Basemap, tianditu_key: str | None, lang: str) -> Basemap:
    if isinstance(basemap, Basemap):
        return basemap
    return get_basemap(basemap, tianditu_key=tianditu_key, lang=lang)


def _bounds(*frames: gpd.GeoDataFrame | None):
    for f in frames:
        if f is not None and len(f) and not f.geometry.is_empty.all():
            return f.total_bounds
    return (113.9, 25.2, 114.7, 25.7)  # nothing to show: somewhere, not an error


def _overview(county: gpd.GeoDataFrame, towns: gpd.GeoDataFrame, grid: Grid) -> dict | None:
    frame = county if len(county) else towns
    if frame is None or not len(frame):
        return None
    return _layers.outline_geojson(frame, grid.qy * 200)  # ~100 m: an overview


def county_map(county: gpd.GeoDataFrame, townships: gpd.GeoDataFrame,
               plots: gpd.GeoDataFrame, summary: pd.DataFrame, *,
               water_sites: gpd.GeoDataFrame | None = None, year: int | str = "",
               county_name: str = "", source: str = "", lang: str = "zh",
               basemap: str | Basemap = "none", tianditu_key: str | None = None,
               renderer: str = "auto", height: str = "100%", paper: str = "A4",
               landscape: bool = True, print_page: bool = True,
               progress: pd.DataFrame | None = None) -> folium.Map:
    """County overview: township choropleth, plots by category, water sites.

    Parameters
    ----------
    county, townships, plots
        Layers from the store (EPSG:4490).
    summary
        :func:`ecomap.aggregate.summary_table` of the same year.
    water_sites
        Sites with a ``water_class`` column (annual class), optional.
    basemap
        ``"none"`` (offline, default), ``"osm"``, ``"tianditu"`` (needs
        ``tianditu_key``) or ``"gaode"`` (overlays shifted to GCJ-02).
    renderer
        ``"auto"`` (SVG up to ``_layers.CANVAS_THRESHOLD`` plots, canvas above),
        ``"svg"`` or ``"canvas"``.
    paper, landscape
        The page it prints on (``@page``), also used by :func:`to_png`/:func:`to_pdf`.
    print_page
        False when the map goes into a page that sets its own print layout.
    progress
        :func:`ecomap.targets.progress_table` by township: adds the townships' target
        completion rate as a layer, off at first (:mod:`ecomap.maps._completion`).
    """
    bm = _basemap(basemap, tianditu_key, lang)
    title = _style.text("county_title", lang, county=county_name, year=year)
    return _make(county=county, townships=townships, plots=plots, summary=summary,
                 water_sites=water_sites, lang=lang, basemap=bm, renderer=renderer,
                 height=height, title=title, source=source, paper=paper, landscape=landscape,
                 print_page=print_page, progress=progress)


def township_map(township: str, townships: gpd.GeoDataFrame, plots: gpd.GeoDataFrame,
                 summary: pd.DataFrame, *, water_sites: gpd.GeoDataFrame | None = None,
                 year: int | str = "", source: str = "", lang: str = "zh",
                 county: gpd.GeoDataFrame | None = None, basemap: str | Basemap = "none",
                 tianditu_key: str | None = None, renderer: str = "auto",
                 height: str = "640px", table: bool = True, paper: str = "A4",
                 landscape: bool = True, print_page: bool = True) -> folium.Map:
    """One township, zoomed to it, with its plots, water sites and summary table."""
    if not (townships["name"] == township).any():
        names = "、".join(townships["name"])
        raise NotFoundError(tr("数据库中没有乡镇 {township!r}; 可选: {names}",
                               "no township {township!r} in the store; choose one of: {names}",
                               township=township, names=names))
    bm = _basemap(basemap, tianditu_key, lang)
    title = _style.text("township_title", lang, township=township, year=year)
    m = _make(county=county if county is not None else townships.iloc[:0], townships=townships,
              plots=plots, summary=summary, water_sites=water_sites, lang=lang, basemap=bm,
              renderer=renderer, height=height, title=title, source=source, focus=township,
              paper=paper, landscape=landscape, print_page=print_page)
    if table:
        m.add_child(_SummaryTable(summary_html(summary, township, lang=lang)))
    return m


def summary_html(summary: pd.DataFrame, township: str, *, lang: str = "zh") -> str:
    """The township's summary table (category × year: plots, mu, ha) as HTML."""
    rows = summary[summary["township"] == township]
    table = display_table(rows, lang=lang, total=False).iloc[:, 1:]  # without 乡镇
    caption = html.escape(_style.text("summary", lang, township=township))
    return (f'<div class="ecomap-summary"><h3>{caption}</h3>'
            f"{table.to_html(index=False, border=1, na_rep='')}</div>")


class _SummaryTable(_furniture.RawMacro):
    """HTML after the map in the page body (added when the page is rendered)."""

    def __init__(self, inner: str) -> None:
        super().__init__()
        self._name = "EcomapSummaryTable"
        self.inner = inner

    def body_html(self) -> str:
        return self.inner


def _make(*, county, townships, plots, summary, water_sites, lang, basemap, renderer, height,
          title, source, focus=None, paper="A4", landscape=True, print_page=True,
          progress=None) -> folium.Map:
    """Everything both map kinds share; ``focus`` is the township to zoom to."""
    county, townships, plots, water_sites = (
        _basemaps.to_display(f, basemap) for f in (county, townships, plots, water_sites))
    if focus is not None:
        bounds = _bounds(townships[townships["name"] == focus], plots)
    else:
        bounds = _bounds(county, townships, plots)
    grid = Grid.for_bounds(_bounds(county, townships, plots))
    mode = _layers.choose_renderer(len(plots), renderer)
    m = _layers.base_map(bounds, lang=lang, basemap=basemap, renderer=mode, height=height)
    m.get_root().title = _style.html_text(title)
    online = _basemaps.add_basemap(m, basemap, lang=lang)
    lines = []
    if len(county):
        lines.append(_layers.add_county(m, county, lang=lang, grid=grid))
    illustrative = _is_illustrative(townships)
    totals = township_totals(summary, townships=townships["name"]).set_index(
        "township")["area_mu"]
    town_line, choropleth = _layers.add_townships(
        m, townships, totals, lang=lang, grid=grid, illustrative=illustrative, highlight=focus,
        fill_opacity=0.3 if basemap.online else None)
    lines.append(town_line)
    right = [choropleth]
    if progress is not None and focus is None:  # before the controls that list layers
        from ecomap.maps._completion import add_completion

        completion = add_completion(m, townships, progress, lang=lang, grid=grid)
        right += [completion] if completion is not None else []
    plot_legend = _layers.add_plots(m, plots, lang=lang, grid=grid, renderer=mode)
    sections = [_furniture.LegendSection(_style.text("boundaries", lang), lines), plot_legend]
    if water_sites is not None:
        sections.append(_layers.add_water_sites(m, water_sites, lang=lang))
    _furniture.add_title(m, title)
    _furniture.add_controls(m, lang=lang, search=not plots.empty)
    # The bottom corners' furniture is docked in a panel beside the map frame (on paper
    # and on large windows) and the view fitted to the rest: it never covers the county.
    _furniture.add_legend(m, sections, "bottomleft", css_class="ecomap-legend-main")
    _furniture.add_notes(m, _notes(lang=lang, source=source, illustrative=illustrative),
                         online=online)
    _furniture.add_legend(m, right, "bottomright")
    # On paper a county map is its own overview; a township map keeps the minimap.
    _furniture.add_minimap(m, _overview(county, townships, grid), print_=focus is not None)
    if print_page:
        _furniture.page_style(m, paper=paper, landscape=landscape)
    _furniture.finish(m, bounds, layout=True, lang=lang)
    return m


def briefing(county: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, plots: gpd.GeoDataFrame,
             summary: pd.DataFrame, **kwargs):
    """The briefing page (see :func:`ecomap.maps._briefing.briefing_page`)."""
    from ecomap.maps._briefing import briefing_page

    return briefing_page(county, townships, plots, summary, **kwargs)


def to_html(m) -> str:
    """The map (or page) as one self-contained HTML document.

    Every script, style and image is inlined; the only remote URLs left are the tiles
    of an online basemap chosen on purpose (``basemap="osm"`` …).
    """
    from ecomap.maps._assets import render_offline

    return render_offline(m, allow=_basemaps.online_urls(m.get_root()))


def to_embed(m, *, height: str = "640px", title: str = "") -> str:
    """An ``<iframe>`` snippet holding the whole map: paste it into any page.

    The map lives in ``srcdoc`` (no separate file, no request), sandboxed so that it
    can neither touch nor be broken by the host page's scripts and styles.  ``title``
    (default: the map's title) labels the frame for screen readers.
    """
    doc = to_html(m)
    label = html.escape(title, quote=True) if title else (m.get_root().title or "ecomap")
    return (f'<iframe title="{label}" style="width:100%;height:{html.escape(height)};border:0" '
            'sandbox="allow-scripts allow-popups" allowfullscreen loading="lazy" '
            f'srcdoc="{html.escape(doc, quote=True)}"></iframe>\n')


def to_png(m, *, dpi: int = 300, timeout: float = 120.0) -> bytes:
    """The map as a PNG of its printed page (A4 by default) at ``dpi``, via Chromium."""
    from ecomap.maps._export import html_to_png

    return html_to_png(to_html(m), dpi=dpi, timeout=timeout)


def to_pdf(m, *, timeout: float = 120.0) -> bytes:
    """The map (or briefing) as a PDF of its printed pages, via Chromium."""
    from ecomap.maps._export import html_to_pdf

    return html_to_pdf(to_html(m), timeout=timeout)
