"""Map layers and furniture shared by the county and township maps."""

from __future__ import annotations

import html
import json
import warnings

import folium
import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement, Template
from folium import plugins

from ecomap.maps import _style
from ecomap.schema import CATEGORIES, category_label, label

# Categories drawn as outlines and hidden at first (they cover whole townships).
_OUTLINE_CATEGORIES = {"forest_ranger"}

# Coordinates are written with 6 decimals: ~0.1 m, well below what a screen shows.
_PRECISION = 6


def base_map(bounds, *, lang: str, height: str = "100%") -> folium.Map:
    """An empty map fitted to ``bounds`` (minx, miny, maxx, maxy), no tiles, scale bar."""
    minx, miny, maxx, maxy = bounds
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], tiles=None, height=height,
                   control_scale=True, zoom_snap=0.25, prefer_canvas=False)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    m.get_root().header.add_child(Element(
        f'<meta name="ecomap-lang" content="{lang}"><style>'
        ".leaflet-container{background:#f4f1ea;font-family:'Microsoft YaHei','PingFang SC',"
        "'Noto Sans CJK SC',sans-serif}"
        ".ecomap-box{background:rgba(255,255,255,.92);padding:6px 10px;border-radius:4px;"
        "box-shadow:0 1px 4px rgba(0,0,0,.3);font-size:12px;line-height:1.5}"
        ".ecomap-box table{border-collapse:collapse}.ecomap-box td,.ecomap-box th"
        "{border:1px solid #ccc;padding:1px 6px;text-align:right}"
        ".ecomap-swatch{display:inline-block;width:14px;height:10px;margin-right:6px;"
        "border:1px solid #555;vertical-align:middle}"
        ".ecomap-dot{display:inline-block;width:10px;height:10px;border-radius:50%;"
        "margin-right:6px;border:1px solid #333;vertical-align:middle}"
        ".ecomap-label{font-size:12px;font-weight:bold;color:#333;white-space:nowrap;"
        "text-shadow:0 0 3px #fff,0 0 3px #fff}"
        "@media print{.leaflet-control-layers,.leaflet-control-zoom{display:none}}"
        "</style>"))
    return m


def _geojson(gdf: gpd.GeoDataFrame, props: list[str]) -> dict:
    """A compact GeoJSON dict with HTML-escaped string properties."""
    geoms = shapely.set_precision(gdf.geometry.values, 10 ** -_PRECISION)
    features = []
    records = gdf[props].to_dict(orient="records") if props else [{}] * len(gdf)
    for geom, rec in zip(geoms, records, strict=True):
        if geom is None or geom.is_empty:
            continue
        clean = {}
        for k, v in rec.items():
            if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
                clean[k] = ""
            elif isinstance(v, (int, float, np.integer, np.floating)):
                clean[k] = float(v) if isinstance(v, (float, np.floating)) else int(v)
            else:
                clean[k] = html.escape(str(v))
        features.append({"type": "Feature", "properties": clean,
                         "geometry": json.loads(shapely.to_geojson(geom))})
    return {"type": "FeatureCollection", "features": features}


def add_county(m: folium.Map, county: gpd.GeoDataFrame, *, lang: str) -> None:
    folium.GeoJson(_geojson(county, []), name=_style.text("county", lang),
                   style_function=lambda _: dict(_style.COUNTY_STYLE),
                   control=False, interactive=False).add_to(m)


def classify(values, k: int = 5) -> tuple[np.ndarray, list[float]]:
    """Class index of each value and the upper bounds (Fisher-Jenks via mapclassify)."""
    values = np.asarray(values, dtype=float)
    distinct = np.unique(values)
    k = max(1, min(k, len(distinct)))
    if k < 2:
        return np.zeros(len(values), dtype=int), [float(values.max()) if len(values) else 0.0]
    with warnings.catch_warnings():  # "Numba not installed": irrelevant for a few values
        warnings.simplefilter("ignore", UserWarning)
        cls = mapclassify.FisherJenks(values, k=k)
    return np.asarray(cls.yb, dtype=int), [float(b) for b in cls.bins]


def add_townships(m: folium.Map, towns: gpd.GeoDataFrame, totals: pd.Series, *, lang: str,
                  highlight: str | None = None) -> None:
    """Township polygons coloured by restoration area, with labels and a legend."""
    area = totals.reindex(towns["name"]).fillna(0).to_numpy(dtype=float)
    classes, bins = classify(area)
    colors = _style.CHOROPLETH_COLORS[-len(bins):] if len(bins) < 5 else _style.CHOROPLETH_COLORS
    frame = towns.assign(_area=np.round(area, 1), _color=[colors[c] for c in classes])
    frame["_label"] = frame["name"]
    name = _style.text("townships", lang)

    def style(feature):
        s = dict(_style.TOWNSHIP_STYLE)
        s["fillColor"] = feature["properties"]["_color"]
        if highlight and feature["properties"]["name"] == html.escape(highlight):
            s.update(weight=3, color="#000", dashArray=None)
        return s

    folium.GeoJson(
        _geojson(frame, ["name", "_area", "_color"]), name=name, style_function=style,
        tooltip=folium.GeoJsonTooltip(["name", "_area"],
                                      aliases=[label("township", lang), label("area_mu", lang)]),
    ).add_to(m)
    for geom, town in zip(towns.geometry.values, towns["name"], strict=True):
        pt = geom.representative_point()
        folium.Marker([pt.y, pt.x], icon=folium.DivIcon(
            html=f'<div class="ecomap-label">{html.escape(str(town))}</div>',
            icon_size=(80, 16), icon_anchor=(40, 8)), interactive=False).add_to(m)
    lows = [0.0, *bins[:-1]]
    rows = "".join(
        f'<div><span class="ecomap-swatch" style="background:{c}"></span>'
        f"{lo:,.0f} – {hi:,.0f}</div>" for c, lo, hi in zip(colors, lows, bins, strict=False))
    add_box(m, f"<b>{_style.text('choropleth', lang)}</b>{rows}", "bottomright",
            css_class="ecomap-legend ecomap-legend-choropleth")


def add_plots(m: folium.Map, plots: gpd.GeoDataFrame, *, lang: str) -> list[str]:
    """One layer per category, with tooltips and attribute popups; returns the codes drawn."""
    if plots.empty:
        return []
    fields = ["plot_id", "village", "township", "method", "species", "area_mu_reported",
              "year", "status", "implementer"]
    frame = plots.copy()
    frame["area_mu"] = frame["area_mu"].round(2)
    drawn = []
    codes = [c for c in CATEGORIES if c in set(frame["category"])]
    codes += sorted(set(frame["category"]) - set(codes))
    for code in codes:
        group = frame[frame["category"] == code]
        color = _style.category_color(code)
        # Patrol areas tile the forest: outlines only, off until asked for.
        outline = code in _OUTLINE_CATEGORIES
        style = ({"color": color, "weight": 0.8, "fill": False} if outline else
                 {"color": color, "weight": 1, "fillColor": color, "fillOpacity": 0.6})
        props = [f for f in fields if f in group and group[f].notna().any()] + ["area_mu"]
        aliases = [label(f, lang) if f != "area_mu" else label("plot_area_mu", lang)
                   for f in props]
        fg = folium.FeatureGroup(name=f"{category_label(code, lang)} ({len(group)})",
                                 show=not outline)
        folium.GeoJson(
            _geojson(group, props),
            style_function=lambda _, s=style: dict(s),
            highlight_function=lambda _: {"weight": 3, "color": "#000"},
            tooltip=folium.GeoJsonTooltip(props[:1] + ["area_mu"],
                                          aliases=[aliases[0], aliases[-1]]),
            popup=folium.GeoJsonPopup(props, aliases=aliases),
        ).add_to(fg)
        fg.add_to(m)
        drawn.append(code)
    rows = "".join(
        f'<div><span class="ecomap-swatch" style="{_swatch(c)}"></span>'
        f"{html.escape(category_label(c, lang))}</div>" for c in drawn)
    add_box(m, f"<b>{_style.text('plots', lang)}</b>{rows}", "bottomleft",
            css_class="ecomap-legend ecomap-legend-plots")
    return drawn


def _swatch(code: str) -> str:
    color = _style.category_color(code)
    if code in _OUTLINE_CATEGORIES:
        return f"background:transparent;border:2px solid {color}"
    return f"background:{color}"


def add_water_sites(m: folium.Map, sites: gpd.GeoDataFrame, *, lang: str) -> None:
    """Monitoring sites as circles coloured by their annual water class."""
    if sites.empty:
        return
    fg = folium.FeatureGroup(name=f"{_style.text('water', lang)} ({len(sites)})")
    for _, s in sites.iterrows():
        cls = s.get("water_class")
        cls = None if cls is None or (isinstance(cls, float) and np.isnan(cls)) else str(cls)
        color = _style.WATER_COLORS.get(cls, _style.WATER_COLORS[None])
        rows = [(label("site_name", lang), s.get("site_name")),
                (label("site_type", lang), s.get("site_type")),
                (label("river", lang), s.get("river")),
                (label("township", lang), s.get("township")),
                (label("target_class", lang), s.get("target_class")),
                (label("water_class", lang), cls or _style.text("no_class", lang)),
                ("定类因子" if lang == "zh" else "Deciding", s.get("deciding"))]
        table = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                        for k, v in rows if v is not None and str(v) not in ("", "nan"))
        folium.CircleMarker(
            [s.geometry.y, s.geometry.x], radius=7, color="#222", weight=1, fill=True,
            fill_color=color, fill_opacity=0.95,
            tooltip=html.escape(f"{s.get('site_name')} · {cls or '-'}"),
            popup=folium.Popup(f"<table>{table}</table>", max_width=320),
        ).add_to(fg)
    fg.add_to(m)
    present = [c for c in _style.WATER_CLASSES if c in set(sites.get("water_class", []))]
    rows = "".join(f'<div><span class="ecomap-dot" style="background:{_style.WATER_COLORS[c]}">'
                   f"</span>{c}</div>" for c in present)
    add_box(m, f"<b>{_style.text('water_class', lang)}</b>{rows}", "bottomleft",
            css_class="ecomap-legend ecomap-legend-water")


def add_box(m: folium.Map, inner_html: str, position: str, *, css_class: str = "") -> None:
    """A Leaflet control holding HTML (legends, title, notes)."""
    tmpl = Template("""
        {% macro script(this, kwargs) %}
        (function(){
          var c = L.control({position: {{ this.position|tojson }}});
          c.onAdd = function() {
            var d = L.DomUtil.create('div', {{ this.css|tojson }});
            d.innerHTML = {{ this.inner|tojson }};
            L.DomEvent.disableClickPropagation(d);
            return d;
          };
          c.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}""")
    box = MacroElement()
    box._template = tmpl
    box.position = position
    box.css = f"ecomap-box {css_class}".strip()
    box.inner = inner_html
    m.add_child(box)


def add_furniture(m: folium.Map, *, title: str, notes: list[str]) -> None:
    """Title, layer control, fullscreen and the notes every briefing map carries."""
    add_box(m, f'<div style="font-size:16px;font-weight:bold">{html.escape(title)}</div>',
            "topright", css_class="ecomap-title")
    plugins.Fullscreen(position="topleft").add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    add_box(m, "<br>".join(html.escape(n) for n in notes), "bottomright",
            css_class="ecomap-note")
