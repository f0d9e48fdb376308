"""Raster layers on the folium maps: colour-mapped overlays with a colour-bar legend, and
plots coloured by the change of a raster mean (e.g. NDVI gain).

The overlay is a PNG inlined as a ``data:`` URI (no file, no network), already in Web
Mercator and downsampled by :func:`ecomap.raster.overlay_from_array`; the legend is
plain HTML/CSS.  Nothing here touches paths.
"""

from __future__ import annotations

import html
import json

import folium
import numpy as np
import pandas as pd
from branca.element import Element, MacroElement, Template

from ecomap.raster.overlay import COLORMAPS, Overlay

__all__ = ["add_change_plots", "add_raster_overlay", "colorbar_html"]

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
}


def _t(key: str, lang: str, **fmt) -> str:
    zh, en = _TEXT[key]
    return (zh if lang == "zh" else en).format(**fmt)


_CSS = (
    ".ecomap-colorbar{background:rgba(255,255,255,.92);padding:6px 10px;border-radius:4px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.3);font-size:12px;line-height:1.4;min-width:170px}"
    ".ecomap-colorbar .bar{height:12px;border:1px solid #555;margin:3px 0}"
    ".ecomap-colorbar .ticks{display:flex;justify-content:space-between}"
)


def colorbar_html(title: str, colormap: str, vmin: float, vmax: float, *,
                  ticks: int = 3, fmt: str = "{:.2f}") -> str:
    """A horizontal colour bar: the ramp as a CSS gradient, ``ticks`` labels under it."""
    stops = COLORMAPS[colormap]
    gradient = ", ".join(f"{c} {100 * i / (len(stops) - 1):.1f}%" for i, c in enumerate(stops))
    labels = "".join(f"<span>{html.escape(fmt.format(v))}</span>"
                     for v in np.linspace(vmin, vmax, max(2, ticks)))
    return (f'<div class="ecomap-colorbar-inner"><b>{html.escape(title)}</b>'
            f'<div class="bar" style="background:linear-gradient(to right, {gradient})"></div>'
            f'<div class="ticks">{labels}</div></div>')


class _Control(MacroElement):
    """A Leaflet control holding HTML, shown while a given layer is on the map."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function(){
          var map = {{ this._parent.get_name() }};
          var c = L.control({position: {{ this.position|tojson }}});
          c.onAdd = function() {
            var d = L.DomUtil.create('div', {{ this.css|tojson }});
            d.innerHTML = {{ this.inner|tojson }};
            L.DomEvent.disableClickPropagation(d);
            return d;
          };
          {% if this.layer %}
          var layer = {{ this.layer }};
          if (map.hasLayer(layer)) { c.addTo(map); }
          map.on('overlayadd', function(e){ if (e.layer === layer) { c.addTo(map); } });
          map.on('overlayremove', function(e){ if (e.layer === layer) { c.remove(); } });
          {% else %}
          c.addTo(map);
          {% endif %}
        })();
        {% endmacro %}""")

    def __init__(self, inner: str, *, position: str, css: str, layer: str | None) -> None:
        super().__init__()
        self._name = "EcomapControl"
        self.inner, self.position, self.css, self.layer = inner, position, css, layer


def _add_css(m: folium.Map) -> None:
    root = m.get_root()
    if not getattr(root, "_ecomap_colorbar_css", False):
        root.header.add_child(Element(f"<style>{_CSS}</style>"))
        root._ecomap_colorbar_css = True


#: Panes above the map's own overlays (Leaflet's overlayPane is 400): a raster, when
#: shown, lies over the township choropleth, and the zones coloured from it over that.
RASTER_PANE, ZONES_PANE = ("ecomap-raster", 450), ("ecomap-raster-zones", 460)


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
                       fmt: str = "{:.2f}", gcj02: bool = False
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
    _add_css(m)
    inner = colorbar_html(legend_title, overlay.colormap, overlay.vmin, overlay.vmax, fmt=fmt)
    inner += (f'<div style="font-size:11px;color:#666">'
              f'<span style="display:inline-block;width:10px;height:10px;border:1px solid #999;'
              f'margin-right:4px"></span>{html.escape(_t("no_data", lang))}</div>')
    m.add_child(_Control(inner, position="bottomright", css="ecomap-colorbar",
                         layer=layer.get_name()))
    _keep_layer_control_last(m)
    return layer


def add_change_plots(m: folium.Map, plots, change: pd.DataFrame, *, name: str = "NDVI",
                     lang: str = "zh", label_column: str = "plot_id", vmax: float | None = None,
                     colormap: str = "change", show: bool = True) -> folium.GeoJson:
    """Plots coloured by the change of a raster mean; plots with no gain outlined in red.

    ``plots`` is a GeoDataFrame in lon/lat (EPSG:4490/4326) and ``change`` its
    :func:`ecomap.raster.change_table`, same index.
    """
    from ecomap.raster.overlay import colorize

    frame = plots[[label_column, plots.geometry.name]].join(
        change[["before", "after", "change", "status"]])
    vals = frame["change"].to_numpy(dtype=float)
    if vmax is None:
        finite = np.abs(vals[np.isfinite(vals)])
        vmax = float(np.percentile(finite, 98)) if finite.size else 1.0
        vmax = vmax or 1.0
    rgba = colorize(vals[None, :], colormap=colormap, vmin=-vmax, vmax=vmax)[0]
    colors = ["#{:02x}{:02x}{:02x}".format(*c[:3]) if c[3] else "#bdbdbd" for c in rgba]
    status_text = {"gain": _t("gain", lang), "no_gain": _t("no_gain", lang),
                   "no_data": _t("no_data", lang)}
    features = []
    for (_, row), color in zip(frame.iterrows(), colors, strict=True):
        geom = row[plots.geometry.name]
        if geom is None or geom.is_empty:
            continue
        props = {
            "label": html.escape(str(row[label_column])),
            "before": _num(row["before"]), "after": _num(row["after"]),
            "change": _num(row["change"]),
            "status": status_text.get(row["status"], row["status"]),
            "_color": color, "_flag": row["status"] == "no_gain",
        }
        features.append({"type": "Feature", "properties": props,
                         "geometry": json.loads(_to_geojson(geom))})
    title = _t("change_plots", lang, name=name)
    fields = ["label", "before", "after", "change", "status"]
    aliases = ["小班号" if lang == "zh" else "Plot", f"{name} {_t('before', lang)}",
               f"{name} {_t('after', lang)}", _t("change", lang), _t("status", lang)]
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": features}, name=title, show=show,
        style_function=lambda f: {
            "fillColor": f["properties"]["_color"], "fillOpacity": 0.85,
            "color": "#d50000" if f["properties"]["_flag"] else "#333333",
            "weight": 3 if f["properties"]["_flag"] else 0.8},
        highlight_function=lambda _: {"weight": 3, "color": "#000"},
        tooltip=folium.GeoJsonTooltip(fields, aliases=aliases),
        pane=_pane(m, ZONES_PANE, pointer_events=True),
    )
    layer.add_to(m)
    _add_css(m)
    flagged = int((frame["status"] == "no_gain").sum())
    inner = colorbar_html(f"{title}", colormap, -vmax, vmax, fmt="{:+.2f}")
    inner += (f'<div><span style="display:inline-block;width:12px;height:8px;'
              f'border:2px solid #d50000;margin-right:4px"></span>'
              f"{html.escape(_t('flagged', lang))}: {flagged}</div>")
    m.add_child(_Control(inner, position="bottomright", css="ecomap-colorbar",
                         layer=layer.get_name()))
    _keep_layer_control_last(m)
    return layer


def _num(value) -> float | str:
    return "" if value is None or not np.isfinite(value) else round(float(value), 3)


def _to_geojson(geom) -> str:
    import shapely

    return shapely.to_geojson(shapely.set_precision(geom, 1e-6))
