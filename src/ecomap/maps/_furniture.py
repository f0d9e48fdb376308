"""Map furniture: title, legends, notes, controls, page size for print, ecomap.js itself.

Everything here is a folium element whose script calls ``ecomap.js`` (inlined once per
page by :class:`EcomapAssets`); texts are escaped here, where they become HTML.
Controls stack in the order they are added: top corners downwards, bottom corners
upwards, so :func:`add_controls` and the builders add them in a fixed order.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import folium
from branca.element import Element, MacroElement
from folium import plugins
from folium.elements import JSCSSMixin

from ecomap.maps import _style
from ecomap.maps._minimap import GeoJsonMiniMap

__all__ = [
    "EcomapAssets",
    "LegendRow",
    "LegendSection",
    "PAPER_MM",
    "RawHtml",
    "RawMacro",
    "add_box",
    "add_call",
    "add_controls",
    "add_legend",
    "add_minimap",
    "add_notes",
    "add_title",
    "finish",
    "page_style",
]

_JS_DIR = Path(__file__).resolve().parent / "js"

#: Paper sizes in millimetres, portrait (width, height).
PAPER_MM = {"A4": (210, 297), "A3": (297, 420)}
#: Page margin in millimetres, all sides.
MARGIN_MM = 8


class RawHtml(Element):
    """Text put into the page as it is (an ``Element`` would parse it as a template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "RawHtml"
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


class RawMacro(MacroElement):
    """A MacroElement whose output is put into the page as it is.

    branca renders a ``MacroElement``'s macros and then wraps the output in
    ``Element(output)``, i.e. compiles it as a Jinja template a second time: data
    holding ``{{ … }}`` would be evaluated on the server (a village called
    ``{{7*7}}`` shows as 49).  Subclasses return their header, body and script text
    from :meth:`header_html`, :meth:`body_html` and :meth:`script_js` instead.
    """

    def header_html(self) -> str:
        return ""

    def body_html(self) -> str:
        return ""

    def script_js(self) -> str:
        return ""

    def render(self, **kwargs) -> None:
        figure = self.get_root()
        for part, text in ((figure.header, self.header_html()), (figure.html, self.body_html()),
                           (figure.script, self.script_js())):
            if text:
                part.add_child(RawHtml(text), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


class EcomapAssets(MacroElement):
    """``ecomap.js`` and ``ecomap.css``, inlined once into the page's header.

    ``meta`` (name → content) becomes ``<meta>`` tags: the page's language and basemap.
    """

    def __init__(self, meta: dict[str, str] | None = None) -> None:
        super().__init__()
        self._name = "EcomapAssets"
        self.meta = meta or {}

    def render(self, **kwargs):
        figure = self.get_root()
        js, layout = ((_JS_DIR / name).read_text(encoding="utf-8").replace("</script", "<\\/script")
                      for name in ("ecomap.js", "ecomap-layout.js"))
        css = (_JS_DIR / "ecomap.css").read_text(encoding="utf-8")
        meta = "".join(f'<meta name="{html.escape(k)}" content="{html.escape(v)}">'
                       for k, v in self.meta.items())
        figure.header.add_child(RawHtml(
            f'{meta}<style data-ecomap-asset="ecomap.css">{css}</style>'
            f'<script data-ecomap-asset="ecomap.js">{js}</script>'
            f'<script data-ecomap-asset="ecomap-layout.js">{layout}</script>'),
            name="ecomap-assets")
        super().render(**kwargs)


class _Call(RawMacro):
    """One JavaScript statement on the parent map (``{map}`` stands for its name)."""

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "EcomapCall"
        self.code = code

    def script_js(self) -> str:
        return self.code.replace("{map}", self._parent.get_name()) + "\n"


def add_call(m: folium.Map, code: str) -> None:
    """Run ``code`` (``{map}`` = the map's JS name) at this point of the map's script."""
    m.add_child(_Call(code))


def _js(value) -> str:
    from ecomap.maps._vector import script_json

    return script_json(value)


@dataclass
class LegendRow:
    """A legend row: a symbol (HTML, trusted), a label (text) and the layer it toggles."""

    symbol: str
    label: str
    layer: folium.map.Layer | None = None


@dataclass
class LegendSection:
    """A titled group of legend rows.

    ``layers``: the section shows only while one of these layers is on the map (the
    layer control and the rows' own toggles hide and show it); empty: always shown.
    Rows that toggle a layer themselves are dimmed instead when it is off, so that they
    stay there to be clicked on again: tie a section of toggles to nothing.
    """

    title: str
    rows: list[LegendRow] = field(default_factory=list)
    css_class: str = ""
    layers: list[folium.map.Layer] = field(default_factory=list)


class _Box(RawMacro):
    def __init__(self, inner: str, position: str, css: str, links: dict | None = None,
                 sections: dict | None = None) -> None:
        super().__init__()
        self._name = "EcomapBox"
        self.inner = inner
        self.position = position
        self.css = css
        self.links = links or {}
        self.sections = sections or {}

    def script_js(self) -> str:
        links = ", ".join(f"{_js(k)}: {layer.get_name()}" for k, layer in self.links.items())
        sections = ", ".join(f"{_js(k)}: [{', '.join(la.get_name() for la in layers)}]"
                             for k, layers in self.sections.items())
        return (f"ecomap.box({self._parent.get_name()}, {_js(self.position)}, {_js(self.css)}, "
                f"{_js(self.inner)}, {{{links}}}, {{{sections}}});\n")


def add_box(m: folium.Map, inner_html: str, position: str, *, css_class: str = "",
            links: dict | None = None, sections: dict | None = None) -> None:
    """A Leaflet control holding ``inner_html`` (trusted HTML built in this package).

    ``sections`` maps a ``data-ecomap-section`` key of the HTML to the layers that
    element shows with (``ecomap.tieToLayers``).
    """
    m.add_child(_Box(inner_html, position, f"ecomap-box leaflet-control {css_class}".strip(),
                     links, sections))


def add_legend(m: folium.Map, sections: list[LegendSection], position: str, *,
               css_class: str = "") -> None:
    """One legend box; rows linked to a layer show/hide it when clicked, a section with
    ``layers`` shows only while one of them is on the map.

    This is how a map gets "one legend per visible layer": give each layer its own
    ``LegendSection(title, rows, layers=[layer])``.  On maps with the docked layout
    (:func:`finish` with ``layout=True``) the legend joins the furniture panel.
    """
    links: dict[str, folium.map.Layer] = {}
    tied: dict[str, list[folium.map.Layer]] = {}
    parts = []
    for sec in sections:
        if not sec.rows:
            continue
        key = ""
        if sec.layers:
            key = f"s{len(tied)}"
            tied[key] = list(sec.layers)
        rows = []
        for row in sec.rows:
            row_key = f"r{len(links)}"
            attr = ""
            if row.layer is not None:
                attr = f' data-ecomap-row="{row_key}"'
                links[row_key] = row.layer
            rows.append(f"<div{attr}>{row.symbol}{html.escape(row.label)}</div>")
        attr = f' data-ecomap-section="{key}"' if key else ""
        parts.append(f'<div class="ecomap-section {sec.css_class}"{attr}>'
                     f"<b>{html.escape(sec.title)}</b>{''.join(rows)}</div>")
    if parts:
        add_box(m, "".join(parts), position, css_class=f"ecomap-legend {css_class}".strip(),
                links=links, sections=tied)


def add_title(m: folium.Map, title: str, subtitle: str = "") -> None:
    inner = html.escape(title)
    if subtitle:
        inner += f"<small>{html.escape(subtitle)}</small>"
    m.add_child(_Call(f"ecomap.title({{map}}, {_js(inner)});"))


def add_notes(m: folium.Map, notes: list[str], *, online: str | None = None) -> None:
    """Source/date and boundary notes (and the online-basemap warning) bottom right."""
    lines = [html.escape(n) for n in notes]
    if online:
        lines.insert(0, f'<span class="ecomap-online">{html.escape(online)}</span>')
    add_box(m, "<br>".join(lines), "bottomright", css_class="ecomap-note")


class _Search(JSCSSMixin, RawMacro):
    """leaflet-search over every plot layer of the map (``ecomap.search``)."""

    default_js = [("leaflet-search.min.js",
                   "https://cdn.jsdelivr.net/npm/leaflet-search@2.9.7/dist/leaflet-search.min.js")]
    default_css = [("leaflet-search.min.css",
                    "https://cdn.jsdelivr.net/npm/leaflet-search@2.9.7/dist/leaflet-search.min.css")]

    def __init__(self, options: dict) -> None:
        super().__init__()
        self._name = "EcomapSearch"
        self.options = options

    def script_js(self) -> str:
        return f"ecomap.search({self._parent.get_name()}, {_js(self.options)});\n"


def add_controls(m: folium.Map, *, lang: str, search: bool,
                 search_hint: str = "search") -> None:
    """Fullscreen, measure, search (top left); layers, north arrow (top right); scale.

    ``search_hint``: the key of the search box's placeholder text (``_style.TEXT``)."""
    plugins.Fullscreen(position="topleft", title=_style.text("fullscreen", lang),
                       title_cancel=_style.text("fullscreen_exit", lang)).add_to(m)
    plugins.MeasureControl(
        position="topleft", primary_length_unit="meters", secondary_length_unit="kilometers",
        primary_area_unit="sqmeters", secondary_area_unit="mu" if lang == "zh" else "hectares",
        units={"mu": {"factor": 0.0015, "display": "亩", "decimals": 2}},
        localization="cn" if lang == "zh" else "en", active_color="#c62828",
        completed_color="#c62828").add_to(m)
    if search:
        m.add_child(_Search({
            "placeholder": _style.text(search_hint, lang),
            "notFound": _style.text("search_none", lang),
            "cancel": _style.text("search_cancel", lang),
            "villageSuffix": _style.TEXT["village_suffix"][0 if lang == "zh" else 1],
        }))
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    m.add_child(_Call(f"ecomap.northArrow({{map}}, 'topright', {_js(_style.text('north', lang))});"))
    m.add_child(_Call("L.control.scale({imperial: false, maxWidth: 160, "
                      "position: 'bottomleft'}).addTo({map});"))


def add_minimap(m: folium.Map, outline: dict | None, *, size: int = 130,
                print_: bool = True) -> None:
    """The overview map (county outline, no tiles), bottom right, always the whole county.

    ``print_=False``: on screen only (a county map on paper already shows the county).
    """
    if outline is None:
        return
    import shapely

    minx, miny, maxx, maxy = shapely.from_geojson(json.dumps(outline)).bounds

    def merc(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / (2 * math.pi)

    dx, dy = (maxx - minx) / 360, merc(maxy) - merc(miny)
    zoom = math.floor(math.log2((size - 16) / 256 / max(dx, dy, 1e-9)))
    GeoJsonMiniMap(outline, {"color": "#333", "weight": 1, "fillColor": "#a5d6a7",
                             "fillOpacity": 0.6},
                   position="bottomright", width=size, height=size, toggle_display=True,
                   screen_only=not print_,
                   zoom_level_fixed=max(0, min(zoom, 16)),
                   center_fixed=[(miny + maxy) / 2, (minx + maxx) / 2],
                   aiming_rect_options={"color": "#c62828", "weight": 1.5, "fillOpacity": 0.08,
                                        "interactive": False},
                   shadow_rect_options={"color": "#000", "weight": 1, "opacity": 0,
                                        "fillOpacity": 0, "interactive": False},
                   ).add_to(m)


def finish(m: folium.Map, bounds, *, layout: bool = False, lang: str = "zh") -> None:
    """The map's last statement: print handling and the ready flag (see ``ecomap.js``).

    ``layout``: dock the bottom corners' furniture (legends, minimap, scale, notes) in a
    panel beside or below the map frame and fit ``bounds`` to the rest of the frame, on
    paper and on large windows; on small windows the panel collapses into a button
    (``ecomap-layout.js``).
    """
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    options: dict = {"bounds": [[miny, minx], [maxy, maxx]]}
    if layout:
        options.update(layout=True, toggle=_style.text("legend", lang))
    m.add_child(_Call(f"ecomap.finish({{map}}, {_js(options)});"))


class _PageStyle(RawMacro):
    """``@page`` and the printed size of one map, written into the page when rendered."""

    def __init__(self, css: str) -> None:
        super().__init__()
        self._name = "EcomapPageStyle"
        self.css = css

    def header_html(self) -> str:
        return f"<style>{self.css}</style>"


def page_style(m: folium.Map, *, paper: str = "A4", landscape: bool = True) -> None:
    """``@page`` size and the printed size of the map: the whole page inside the margins."""
    w, h = PAPER_MM[paper]
    if landscape:
        w, h = h, w
    mw, mh = w - 2 * MARGIN_MM, h - 2 * MARGIN_MM - 1  # 1 mm spare: no blank second page
    size = f"#{m.get_name()}{{width:{mw}mm !important;height:{mh}mm !important}}"
    css = (f"@page{{size:{paper} {'landscape' if landscape else 'portrait'};"
           f"margin:{MARGIN_MM}mm}}@media print{{{size}}}html.ecomap-print {size}"
           f"html.ecomap-png body{{padding:{MARGIN_MM}mm !important}}")
    m.add_child(_PageStyle(css))
