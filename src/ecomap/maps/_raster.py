"""Raster layers on the folium maps: colour-mapped overlays with a colour-bar legend,
plots outlined by the change of a raster mean (e.g. NDVI gain), and the NDVI change map
that puts the two over the county and township outlines.

The overlay is a PNG inlined as a ``data:`` URI (no file, no network), already in Web
Mercator and downsampled by :func:`ecomap.raster.overlay_from_array`; legends are plain
HTML/CSS, one per layer, shown while their layer is on the map (:func:`layer_legend`).
Nothing here touches paths.
"""

from __future__ import annotations

import html
import json
import math

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Element, MacroElement, Template

from ecomap.raster.overlay import COLORMAPS, Overlay

__all__ = ["add_boundaries", "add_change_plots", "add_change_raster", "add_raster_overlay",
           "change_map_page",
           "colorbar_html", "layer_legend", "nice_ceil"]

_TEXT = {
    "no_data": ("无数据", "no data"),
    "gain": ("增加", "gain"),
    "no_gain": ("未增加", "no gain"),
    "change_plots": ("小班{name}变化", "Plots: change of {name}"),
    "before": ("前期", "before"),
    "after": ("后期", "after"),
    "change": ("变化", "change"),
    "status": ("判定", "status"),
    "flagged": ("未见增加的小班", "plots with no gain"),
    "plots_gain": ("{name}增加的小班", "plots where {name} rose"),
    "plots_no_data": ("无数据的小班", "plots without data"),
    "loss": ("减少", "loss"),
    "rise": ("增加", "gain"),
    "unit": ("单位: {unit}", "unit: {unit}"),
    "unitless": ("{name}差值, 无量纲", "{name} difference, unitless"),
    "boundaries": ("界线", "Boundaries"),
}


def _t(key: str, lang: str, **fmt) -> str:
    zh, en = _TEXT[key]
    return (zh if lang == "zh" else en).format(**fmt)


_CSS = (
    ".ecomap-colorbar{background:rgba(255,255,255,.93);padding:6px 10px;border-radius:4px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.3);font-size:12px;line-height:1.45;min-width:220px;"
    "color:#222}"
    ".ecomap-colorbar .bar{height:12px;border:1px solid #555;margin:3px 0 1px}"
    ".ecomap-colorbar .ticks{display:flex;justify-content:space-between;"
    "font-variant-numeric:tabular-nums}"
    ".ecomap-colorbar .ends{display:flex;justify-content:space-between;color:#555;"
    "font-size:11px}"
    ".ecomap-colorbar .unit{color:#555;font-size:11px}"
    ".ecomap-colorbar .sym{display:inline-block;width:14px;height:9px;margin-right:6px;"
    "vertical-align:middle}"
)


def nice_ceil(value: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10ⁿ at or above ``value`` (> 0):
    the end of a colour scale whose ticks are round numbers."""
    if not value or not math.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= value * (1 - 1e-9):
            return float(f"{step * power:.12g}")
    return 10 * power


def tick_text(value: float, *, signed: bool = False) -> str:
    """A tick label: as few decimals as the value needs (≤ 3), a true minus sign."""
    text = f"{abs(value):.3f}".rstrip("0").rstrip(".")
    if text == "0":
        return "0"
    sign = "−" if value < 0 else ("+" if signed else "")
    return sign + text


def colorbar_html(title: str, colormap: str, vmin: float, vmax: float, *,
                  ticks: int = 3, fmt="{:.2f}", unit: str = "",
                  ends: tuple[str, str] | None = None, lang: str = "zh") -> str:
    """A horizontal colour bar: the ramp as a CSS gradient, ``ticks`` labels under it
    (``fmt``: a format string or a function of the value), then the words for its two
    ends (``ends``, e.g. loss/gain) and the unit."""
    stops = COLORMAPS[colormap]
    gradient = ", ".join(f"{c} {100 * i / (len(stops) - 1):.1f}%" for i, c in enumerate(stops))
    show = fmt if callable(fmt) else fmt.format
    labels = "".join(f"<span>{html.escape(show(float(v)))}</span>"
                     for v in np.linspace(vmin, vmax, max(2, ticks)))
    out = (f'<div class="ecomap-colorbar-inner"><b>{html.escape(title)}</b>'
           f'<div class="bar" style="background:linear-gradient(to right, {gradient})"></div>'
           f'<div class="ticks">{labels}</div>')
    if ends:
        out += (f'<div class="ends"><span>← {html.escape(ends[0])}</span>'
                f'<span>{html.escape(ends[1])} →</span></div>')
    if unit:
        out += f'<div class="unit">{html.escape(_t("unit", lang, unit=unit))}</div>'
    return out + "</div>"


class _LayerLegend(MacroElement):
    """A Leaflet control holding a legend, on the map exactly while its layer is.

    The control follows the layer however it is switched (the layer control, a legend
    row, a script): it listens to the map's ``layeradd``/``layerremove`` for that
    layer, which the layer control's ``overlayadd``/``overlayremove`` always come
    with.  The legend's element carries ``data-ecomap-legend-for`` = the layer's name.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function(){
          var map = {{ this._parent.get_name() }};
          var c = L.control({position: {{ this.position|tojson }}});
          c.onAdd = function() {
            var d = L.DomUtil.create('div', {{ this.css|tojson }});
            d.innerHTML = {{ this.inner|tojson }};
            {% if this.layer %}d.setAttribute('data-ecomap-legend-for', {{ this.layer|tojson }});
            {% endif %}L.DomEvent.disableClickPropagation(d);
            return d;
          };
          {% if this.layer %}
          var layer = {{ this.layer }};
          var sync = function(){
            if (map.hasLayer(layer)) { if (!c._map) { c.addTo(map); } }
            else if (c._map) { c.remove(); }
          };
          map.on('layeradd layerremove overlayadd overlayremove', function(e){
            if (e.layer === layer) { sync(); }
          });
          sync();
          {% else %}
          c.addTo(map);
          {% endif %}
        })();
        {% endmacro %}""")

    def __init__(self, inner: str, *, position: str, css: str, layer: str | None) -> None:
        super().__init__()
        self._name = "EcomapLayerLegend"
        self.inner, self.position, self.css, self.layer = inner, position, css, layer


def layer_legend(m: folium.Map, inner_html: str, layer=None, *,
                 position: str = "bottomright", css: str = "ecomap-colorbar") -> None:
    """Put a legend (trusted HTML) on ``m`` that shows while ``layer`` is on the map
    (always, without a layer).  Legends in one corner stack in the order added."""
    _add_css(m)
    m.add_child(_LayerLegend(inner_html, position=position, css=css,
                             layer=layer.get_name() if layer is not None else None))


def _add_css(m: folium.Map) -> None:
    root = m.get_root()
    if not getattr(root, "_ecomap_colorbar_css", False):
        root.header.add_child(Element(f"<style>{_CSS}</style>"))
        root._ecomap_colorbar_css = True


#: Panes above the map's own overlays (Leaflet's overlayPane is 400): a raster, when
#: shown, lies over the township choropleth, the boundary lines and the zones outlined
#: on it over that.
RASTER_PANE, ZONES_PANE = ("ecomap-raster", 450), ("ecomap-raster-zones", 460)
#: County and township lines over a raster (and under the zones).
LINES_PANE = ("ecomap-raster-lines", 455)


def _pane(m: folium.Map, pane: tuple[str, int], *, pointer_events: bool) -> str:
    name, z = pane
    panes = m.__dict__.setdefault("_ecomap_panes", set())
    if name not in panes:
        folium.map.CustomPane(name, z_index=z, pointer_events=pointer_events).add_to(m)
        panes.add(name)
    return name


def _keep_layer_control_last(m: folium.Map) -> None:
    """Move a LayerControl added before our layers behind them, so that it lists them
    (its script runs in child order and can only name layers defined above it)."""
    for key, child in list(m._children.items()):
        if isinstance(child, folium.LayerControl):
            m._children.move_to_end(key)


def add_raster_overlay(m: folium.Map, overlay: Overlay, *, name: str, legend_title: str,
                       lang: str = "zh", opacity: float = 0.8, show: bool = True,
                       fmt="{:.2f}", gcj02: bool = False, unit: str = "",
                       ticks: int = 3, ends: tuple[str, str] | None = None
                       ) -> folium.raster_layers.ImageOverlay:
    """Put a colour-mapped raster (:func:`ecomap.raster.overlay_from_array`) on ``m``
    as a toggleable layer, with a colour bar that shows while the layer is on.

    ``gcj02``: the map's basemap is Gaode's (GCJ-02), so the image is shifted as the
    vector overlays are (by the shift at its corners; it varies by < 1 m over a county).
    """
    west, south, east, north = overlay.bounds
    if gcj02:
        from ecomap.crs import gcj02_from_wgs84

        (west, east), (south, north) = gcj02_from_wgs84([west, east], [south, north])
    layer = folium.raster_layers.ImageOverlay(
        overlay.data_uri(),
        bounds=[[float(south), float(west)], [float(north), float(east)]],
        name=name, opacity=opacity, show=show, pixelated=True, interactive=False,
        pane=_pane(m, RASTER_PANE, pointer_events=False),
    )
    layer.add_to(m)
    inner = colorbar_html(legend_title, overlay.colormap, overlay.vmin, overlay.vmax, fmt=fmt,
                          unit=unit, ticks=ticks, ends=ends, lang=lang)
    inner += (f'<div style="font-size:11px;color:#555">'
              f'<span class="sym" style="border:1px solid #999;background:transparent">'
              f'</span>{html.escape(_t("no_data", lang))}</div>')
    layer_legend(m, inner, layer)
    _keep_layer_control_last(m)
    return layer


def add_change_raster(m: folium.Map, overlay: Overlay, *, name: str = "NDVI",
                      lang: str = "zh", unit: str = "", show: bool = True
                      ) -> folium.raster_layers.ImageOverlay:
    """The difference raster of :func:`ecomap.raster.change.change_overlay` as a layer:
    its colour bar centred on 0 (ticks at ±v, ±v/2, 0), loss and gain named at its ends,
    with the unit (default: "{name} difference, unitless")."""
    title = f"{name}变化(后期−前期)" if lang == "zh" else f"{name} change (after − before)"
    return add_raster_overlay(m, overlay, name=title, legend_title=title, lang=lang,
                              show=show, fmt=lambda v: tick_text(v, signed=True), ticks=5,
                              unit=unit or _t("unitless", lang, name=name),
                              ends=(_t("loss", lang), _t("rise", lang)))


#: Outline of a plot by its change status (drawn over the difference raster).
CHANGE_OUTLINES = {
    "gain": {"color": "#1b1b1b", "weight": 1.3, "dashArray": None},
    "no_gain": {"color": "#d50000", "weight": 3, "dashArray": None},
    "no_data": {"color": "#757575", "weight": 1.5, "dashArray": "3 3"},
}


def add_change_plots(m: folium.Map, plots, change: pd.DataFrame, *, name: str = "NDVI",
                     lang: str = "zh", label_column: str = "plot_id", show: bool = True
                     ) -> folium.GeoJson:
    """Plots outlined by the change of a raster mean (no gain in red, thick), see-through
    so that the difference raster shows inside them; before/after/change in the tooltip.

    ``plots`` is a GeoDataFrame in lon/lat (EPSG:4490/4326) and ``change`` its
    :func:`ecomap.raster.change_table`, same index.
    """
    frame = plots[[label_column, plots.geometry.name]].join(
        change[["before", "after", "change", "status"]])
    status_text = {"gain": _t("gain", lang), "no_gain": _t("no_gain", lang),
                   "no_data": _t("no_data", lang)}
    features = []
    for _, row in frame.iterrows():
        geom = row[plots.geometry.name]
        if geom is None or geom.is_empty:
            continue
        props = {
            "label": html.escape(str(row[label_column])),
            "before": _num(row["before"]), "after": _num(row["after"]),
            "change": _num(row["change"]),
            "status": status_text.get(row["status"], row["status"]),
            "_status": row["status"] if row["status"] in CHANGE_OUTLINES else "no_data",
        }
        features.append({"type": "Feature", "properties": props,
                         "geometry": json.loads(_to_geojson(geom))})
    title = _t("change_plots", lang, name=name)
    fields = ["label", "before", "after", "change", "status"]
    aliases = ["小班号" if lang == "zh" else "Plot", f"{name} {_t('before', lang)}",
               f"{name} {_t('after', lang)}", _t("change", lang), _t("status", lang)]
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": features}, name=title, show=show,
        style_function=lambda f: {**CHANGE_OUTLINES[f["properties"]["_status"]],
                                  "fill": True, "fillOpacity": 0.0},
        highlight_function=lambda _: {"weight": 3.5, "color": "#000", "fillOpacity": 0.1},
        tooltip=folium.GeoJsonTooltip(fields, aliases=aliases),
        pane=_pane(m, ZONES_PANE, pointer_events=True),
    )
    layer.add_to(m)
    counts = frame["status"].value_counts()
    rows = [("gain", _t("plots_gain", lang, name=name)), ("no_gain", _t("flagged", lang)),
            ("no_data", _t("plots_no_data", lang))]
    inner = f"<b>{html.escape(title)}</b>"
    for key, text in rows:
        n = int(counts.get(key, 0))
        if n == 0 and key != "no_gain":
            continue
        s = CHANGE_OUTLINES[key]
        border = f"{max(1.5, s['weight'] - 1):g}px {'dashed' if s['dashArray'] else 'solid'}"
        inner += (f'<div><span class="sym" style="border:{border} {s["color"]}"></span>'
                  f"{html.escape(text)}: {n}</div>")
    layer_legend(m, inner, layer)
    _keep_layer_control_last(m)
    return layer


_LABEL_CENTRED = "position:absolute;left:0;top:0;transform:translate(-50%,-50%)"


def add_boundaries(m: folium.Map, county: gpd.GeoDataFrame | None,
                   townships: gpd.GeoDataFrame | None, *, lang: str, name: str,
                   labels: bool = True, legend: bool = True,
                   position: str = "bottomright") -> folium.FeatureGroup | None:
    """County and township outlines (no fill) with township names, as one layer with
    its own legend; ``None`` when there is neither."""
    from ecomap.maps import _style
    from ecomap.maps._layers import _geojson

    has_county = county is not None and len(county) > 0
    has_towns = townships is not None and len(townships) > 0
    if not (has_county or has_towns):
        return None
    group = folium.FeatureGroup(name=name, overlay=True, control=True, show=True)
    lines = _pane(m, LINES_PANE, pointer_events=False)
    rows = []
    if has_towns:
        town_style = {**_style.TOWNSHIP_STYLE, "fill": False}
        folium.GeoJson(_geojson(townships, ["name"]), style_function=lambda _: town_style,
                       interactive=False, pane=lines).add_to(group)
        illustrative = "illustrative" in townships and bool(
            pd.Series(townships["illustrative"]).fillna(0).any())
        rows.append((_style.TOWNSHIP_LINE, _style.text(
            "township_line" if illustrative else "township_line_official", lang)))
    if has_county:
        folium.GeoJson(_geojson(county, []), style_function=lambda _: dict(_style.COUNTY_STYLE),
                       interactive=False, pane=lines).add_to(group)
        rows.insert(0, (_style.COUNTY_LINE, _style.text("county_line", lang)))
    if labels and has_towns:
        for geom, town in zip(townships.geometry.values, townships["name"], strict=True):
            if geom is None or geom.is_empty:
                continue
            pt = geom.representative_point()
            # Centred on the point whatever the width of the name.
            folium.Marker([pt.y, pt.x], icon=folium.DivIcon(
                html=f'<div class="ecomap-label" style="{_LABEL_CENTRED}">'
                     f"{_style.html_text(town)}</div>",
                icon_size=(0, 0), icon_anchor=(0, 0)), interactive=False).add_to(group)
    group.add_to(m)
    if legend:
        inner = f"<b>{html.escape(_t('boundaries', lang))}</b>" + "".join(
            f'<div><span class="ecomap-line" style="{line}"></span>{html.escape(text)}</div>'
            for line, text in rows)
        layer_legend(m, inner, group, position=position)
    return group


def change_map_page(county: gpd.GeoDataFrame, townships: gpd.GeoDataFrame,
                    overlay: Overlay, zones: gpd.GeoDataFrame, *, name: str = "NDVI",
                    lang: str = "zh", title: str, subtitle: str = "", source: str = "",
                    unit: str = "", label_column: str = "plot_id", paper: str = "A4",
                    landscape: bool = True) -> folium.Map:
    """The change map: the difference raster (diverging ramp centred on 0, opacity
    0.8) over the county and township outlines (no choropleth), the zones of the change
    table ``zones`` outlined on top; one legend per layer, hidden with its layer.

    All frames in EPSG:4490; ``overlay`` from :func:`ecomap.raster.change.change_overlay`.
    """
    import datetime as dt

    from ecomap import __version__
    from ecomap.maps import _furniture, _style
    from ecomap.maps._basemaps import get_basemap
    from ecomap.maps._layers import base_map

    frames = [f for f in (county, townships, zones) if f is not None and len(f)]
    if frames:
        bounds = frames[0].total_bounds
    else:
        west, south, east, north = overlay.bounds
        bounds = (west, south, east, north)
    m = base_map(bounds, lang=lang, basemap=get_basemap("none", lang=lang))
    m.get_root().title = _style.html_text(title)
    # Bottom-right corner, from the bottom up: notes, colour bar, plots (the raster
    # and the plots lie in panes of their own: the order of adding does not change
    # what is drawn over what).
    _furniture.add_notes(m, [_style.text("source", lang, source=source or "-",
                                         version=__version__,
                                         date=dt.date.today().isoformat())])
    add_change_raster(m, overlay, name=name, lang=lang, unit=unit)
    add_change_plots(m, zones, zones, name=name, lang=lang, label_column=label_column)
    _furniture.add_title(m, title, subtitle)
    _furniture.add_controls(m, lang=lang, search=False)
    # The boundaries' legend top left under the buttons (hidden in print): room a
    # county drawn to fit the page leaves, as beside the title.
    add_boundaries(m, county, townships, lang=lang, name=_style.text("boundaries", lang),
                   position="topleft")
    _keep_layer_control_last(m)
    _furniture.page_style(m, paper=paper, landscape=landscape)
    _furniture.finish(m, bounds)
    return m


def _num(value) -> float | str:
    return "" if value is None or not np.isfinite(value) else round(float(value), 3)


def _to_geojson(geom) -> str:
    import shapely

    return shapely.to_geojson(shapely.set_precision(geom, 1e-6))
