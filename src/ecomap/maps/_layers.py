"""Map layers shared by every map: the base map, county and townships, plots, water sites.

Plots go to the browser in the compact encoding of :mod:`ecomap.maps._vector`, one
layer per category, drawn by ``ecomap.plotLayer``: as SVG paths when the map holds at
most :data:`CANVAS_THRESHOLD` plots (crisp vector output when printed), above that as
one canvas path per category (50,000 plots draw in well under a second).  The county,
township and water-site layers are small and stay ordinary ``folium.GeoJson`` layers;
their string properties are HTML-escaped here because folium's tooltips and popups
put them into HTML as they are.
"""

from __future__ import annotations

import json
import math

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.map import Layer

from ecomap.maps import _style
from ecomap.maps._basemaps import Basemap
from ecomap.maps._furniture import EcomapAssets, LegendRow, LegendSection, RawHtml, add_call
from ecomap.maps._vector import Field, Grid, encode_layer, script_json, simplify_layer
from ecomap.schema import CATEGORIES, category_label, label

__all__ = [
    "CANVAS_THRESHOLD",
    "PLOT_FIELDS",
    "PlotLayer",
    "add_county",
    "add_plots",
    "add_townships",
    "add_water_sites",
    "base_map",
    "class_colors",
    "class_labels",
    "classify",
    "choose_renderer",
    "label_point",
    "nice_step",
]

#: Above this many plots on one map, plot layers are drawn on canvas.
CANVAS_THRESHOLD = 3000

# Categories drawn as outlines and hidden at first (they cover whole townships).
_OUTLINE_CATEGORIES = {"forest_ranger"}
# Categories whose plots tile an area: simplified as a coverage (shared borders kept).
_COVERAGE_CATEGORIES = {"forest_ranger"}

#: Plot attributes shown in popups, in this order (those present and not all empty).
PLOT_FIELDS = ["plot_id", "village", "township", "method", "species", "area_mu_reported",
               "year", "status", "implementer"]

# Small GeoJSON layers (county, townships): 6 decimals, ~0.1 m.
_PRECISION = 6


def choose_renderer(n_plots: int, renderer: str = "auto") -> str:
    """``"svg"`` or ``"canvas"`` for a map of ``n_plots`` plots."""
    if renderer not in ("auto", "svg", "canvas"):
        raise ValueError(f"renderer must be auto, svg or canvas, not {renderer!r}")
    if renderer != "auto":
        return renderer
    return "canvas" if n_plots > CANVAS_THRESHOLD else "svg"


def base_map(bounds, *, lang: str, basemap: Basemap, renderer: str = "svg",
             height: str = "100%") -> folium.Map:
    """An empty map fitted to ``bounds`` (minx, miny, maxx, maxy) with ecomap.js loaded."""
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    # The view is fitted to the bounds by ecomap.finish (no animation); zoom 10 is a start.
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], tiles=None, height=height,
                   zoom_start=10, control_scale=False, zoom_snap=0.25,
                   prefer_canvas=renderer == "canvas", max_zoom=basemap.max_zoom)
    # Fitted now, before any layer is added (one first draw) and without animation.
    add_call(m, f"{{map}}.fitBounds({script_json([[miny, minx], [maxy, maxx]])}, "
                "{animate: false});")
    m.add_child(EcomapAssets({
        "ecomap-lang": lang,
        "ecomap-basemap": basemap.name + (" (online: needs the internet)" if basemap.online
                                          else " (offline)")}))
    return m


def _geojson(gdf: gpd.GeoDataFrame, props: list[str], *, grid: Grid | None = None,
             coverage: bool = False) -> dict:
    """A compact GeoJSON dict with HTML-escaped string properties."""
    geoms = gdf.geometry.values
    if grid is not None:
        geoms = simplify_layer(geoms, grid.qy, coverage=coverage)
    geoms = shapely.transform(np.asarray(geoms, dtype=object),
                              lambda c: np.round(c, _PRECISION))
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
                clean[k] = _style.html_text(v)
        features.append({"type": "Feature", "properties": clean,
                         "geometry": json.loads(shapely.to_geojson(geom))})
    return {"type": "FeatureCollection", "features": features}


def outline_geojson(county: gpd.GeoDataFrame, tolerance: float) -> dict:
    """The county outline, simplified for the overview map."""
    geom = shapely.simplify(shapely.union_all(county.geometry.values), tolerance)
    return {"type": "Feature", "properties": {}, "geometry": json.loads(
        shapely.to_geojson(shapely.transform(geom, lambda c: np.round(c, 4))))}


def add_county(m: folium.Map, county: gpd.GeoDataFrame, *, lang: str,
               grid: Grid) -> LegendRow:
    folium.GeoJson(_geojson(county, [], grid=grid, coverage=True),
                   name=_style.text("county", lang),
                   style_function=lambda _: dict(_style.COUNTY_STYLE),
                   control=False, interactive=False).add_to(m)
    return LegendRow(f'<span class="ecomap-line" style="{_style.COUNTY_LINE}"></span>',
                     _style.text("county_line", lang))


def nice_step(vmax: float, k: int = 5) -> float:
    """The 1-2-5 × 10^n class width that cuts ``[0, vmax]`` into closest to ``k`` classes
    (at most ``k + 1``; fewer rather than more on a tie)."""
    if not vmax > 0:
        return 1.0
    e = math.floor(math.log10(vmax / k))
    best = None
    for n in range(e - 1, e + 3):
        for m in (1, 2, 5):
            step = m * 10.0 ** n
            count = math.ceil(vmax / step - 1e-9)
            if count > k + 1:
                continue
            key = (abs(count - k), count)
            if best is None or key < best[0]:
                best = (key, step)
    return best[1]


def classify(values, k: int = 5) -> tuple[np.ndarray, list[float]]:
    """Class index of each value and the upper bounds of the classes.

    Equal classes from 0 on round numbers (1-2-5 × 10^n: 0–2,000–4,000…), about ``k`` of
    them up to the largest value; a value on a bound belongs to the class below it.
    All values 0 (or none): one class with bound 0.
    """
    values = np.asarray(values, dtype=float)
    vmax = float(np.nanmax(values)) if len(values) else 0.0
    if not vmax > 0:
        return np.zeros(len(values), dtype=int), [0.0]
    step = nice_step(vmax, k)
    n = math.ceil(vmax / step - 1e-9)
    bins = [round(step * (i + 1), 10) for i in range(n)]
    classes = np.searchsorted(np.asarray(bins), np.nan_to_num(values), side="left")
    return np.minimum(classes, n - 1).astype(int), bins


def class_colors(n: int) -> list[str]:
    """``n`` colours of the choropleth ramp, spread from its lightest to its darkest."""
    ramp = _style.CHOROPLETH_COLORS
    if n <= 1:
        return ramp[:1]
    return [ramp[round(i * (len(ramp) - 1) / (n - 1))] for i in range(n)]


def class_labels(bins: list[float], *, lang: str, empty: bool = False) -> list[str]:
    """Legend texts of the classes ``0 – 2,000``, ``2,000 – 4,000``…; one class of 0 is
    "0", no township at all "无数据"."""
    if empty:
        return [_style.text("no_data", lang)]
    if bins == [0.0]:
        return ["0"]
    step = bins[0]
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    lows = [0.0, *bins[:-1]]
    return [f"{lo:,.{decimals}f} – {hi:,.{decimals}f}" for lo, hi in zip(lows, bins, strict=True)]


def label_point(geom) -> shapely.Point:
    """Where a township's name goes: the pole of inaccessibility of its largest part."""
    from shapely.ops import polylabel

    parts = getattr(geom, "geoms", [geom])
    part = max(parts, key=lambda g: g.area)
    if part.geom_type != "Polygon":
        return geom.representative_point()
    minx, miny, maxx, maxy = part.bounds
    return polylabel(part, tolerance=max(maxx - minx, maxy - miny) / 200 or 1e-6)


def add_townships(m: folium.Map, towns: gpd.GeoDataFrame, totals: pd.Series, *, lang: str,
                  grid: Grid, illustrative: bool, highlight: str | None = None,
                  fill_opacity: float | None = None) -> tuple[LegendRow, LegendSection]:
    """Township polygons coloured by restoration area, with labels.

    ``fill_opacity`` lightens the choropleth over an online basemap.  Returns the
    boundary legend row and the choropleth legend section (shown with the layer).
    """
    area = totals.reindex(towns["name"]).fillna(0).to_numpy(dtype=float)
    classes, bins = classify(area)
    colors = class_colors(len(bins))
    frame = towns.assign(_area=np.round(area, 1), _color=[colors[c] for c in classes])
    name = _style.text("townships" if illustrative else "township_line_official", lang)
    group = folium.FeatureGroup(name=name, overlay=True, control=True, show=True)

    def style(feature):
        s = dict(_style.TOWNSHIP_STYLE)
        s["fillColor"] = feature["properties"]["_color"]
        if fill_opacity is not None:
            s["fillOpacity"] = fill_opacity
        if highlight and feature["properties"]["name"] == _style.html_text(highlight):
            s.update(weight=3, color="#000", dashArray=None)
        return s

    folium.GeoJson(
        _geojson(frame, ["name", "_area", "_color"], grid=grid, coverage=True),
        style_function=style,
        tooltip=folium.GeoJsonTooltip(["name", "_area"],
                                      aliases=[label("township", lang), label("area_mu", lang)]),
    ).add_to(group)
    pane = _label_pane(m)
    for geom, town in zip(towns.geometry.values, towns["name"], strict=True):
        if geom is None or geom.is_empty:
            continue
        pt = label_point(geom)
        folium.Marker([pt.y, pt.x], icon=folium.DivIcon(
            html=f'<div class="ecomap-label">{_style.html_text(town)}</div>',
            icon_size=(0, 0), icon_anchor=(0, 0)), interactive=False, pane=pane,
        ).add_to(group)
    group.add_to(m)
    texts = class_labels(bins, lang=lang, empty=not len(towns))
    rows = [LegendRow(f'<span class="ecomap-swatch" style="background:{c}"></span>', t)
            for c, t in zip(colors, texts, strict=True)]
    line = LegendRow(f'<span class="ecomap-line" style="{_style.TOWNSHIP_LINE}"></span>',
                     _style.text("township_line" if illustrative else "township_line_official",
                                 lang), group)
    # Shown while the township layer is on (its rows are not toggles: nothing to dim).
    return line, LegendSection(_style.text("choropleth", lang), rows,
                               "ecomap-legend-choropleth", layers=[group])


#: Township labels: their own pane, above markers (600) and below tooltips (650).
LABEL_PANE = ("ecomap-labels", 640)


def _label_pane(m: folium.Map) -> str:
    name, z = LABEL_PANE
    if not m.__dict__.get("_ecomap_label_pane"):
        folium.map.CustomPane(name, z_index=z, pointer_events=False).add_to(m)
        m._ecomap_label_pane = True
    return name


class PlotLayer(Layer):
    """One category of plots, compact-encoded and drawn by ``ecomap.plotLayer``.

    The data goes into the page as a ``<script type="application/json">`` block (parsed
    with ``JSON.parse``, faster than a script literal, and inert for the offline
    check); nothing of it passes through Jinja.
    """

    def __init__(self, data: dict, options: dict, *, name: str, show: bool = True) -> None:
        super().__init__(name=_style.html_text(name), overlay=True, control=True, show=show)
        self._name = "PlotLayer"
        self.data = script_json(data)
        self.options = script_json({"name": name, **options})

    def render(self, **kwargs) -> None:
        figure = self.get_root()
        name, parent = self.get_name(), self._parent.get_name()
        figure.html.add_child(RawHtml(
            f'<script type="application/json" id="{name}_data">{self.data}</script>'),
            name=f"{name}_data")
        js = (f"var {name} = ecomap.plotLayer({parent}, JSON.parse(document.getElementById("
              f'"{name}_data").textContent), {self.options});\n')
        if self.show:
            js += f"{name}.addTo({parent});\n"
        figure.script.add_child(RawHtml(js), name=name)


def _plot_fields(group: pd.DataFrame, lang: str) -> list[Field]:
    fields = [Field(f, label(f, lang), decimals=0 if f == "year" else 2,
                    grouping=f != "year")
              for f in PLOT_FIELDS if f in group and group[f].notna().any()]
    return [*fields, Field("area_mu", label("plot_area_mu", lang), 2)]


def add_plots(m: folium.Map, plots: gpd.GeoDataFrame, *, lang: str, grid: Grid,
              renderer: str) -> LegendSection:
    """One layer per category, with tooltips, popups and search; returns the legend.

    A ``photos_html`` column (HTML, :func:`ecomap.photos.photo_popups`) is added to
    each plot's popup."""
    section = LegendSection(_style.text("plots", lang), [], "ecomap-legend-plots")
    if plots.empty:
        return section
    frame = plots.copy()
    frame["area_mu"] = pd.to_numeric(frame["area_mu"], errors="coerce")
    present = set(frame["category"])
    codes = [c for c in CATEGORIES if c in present]
    codes += sorted(present - set(codes))
    for code in codes:
        group = frame[frame["category"] == code]
        color = _style.category_color(code)
        # Patrol areas tile the forest: outlines only, off until asked for.
        outline = code in _OUTLINE_CATEGORIES
        # Filled plots: a darker outline of their own colour keeps them apart from the
        # choropleth and from each other.
        style = ({"color": color, "weight": 1.2, "fill": False} if outline else
                 {"color": _style.darker(color), "weight": 0.8, "fillColor": color,
                  "fillOpacity": 0.8})
        geoms = simplify_layer(group.geometry.values, grid.qy,
                               coverage=code in _COVERAGE_CATEGORIES)
        data = encode_layer(group.set_geometry(geoms), _plot_fields(group, lang), grid)
        title = category_label(code, lang)
        options = {
            "title": title, "mode": renderer, "style": style,
            "highlight": _style.HIGHLIGHT_STYLE,
            "tooltip": ["plot_id", "area_mu"] if "plot_id" in group else ["area_mu"],
            "search": ["plot_id", "village"] if "village" in group else ["plot_id"],
        }
        if "photos_html" in group:  # feature number -> its photos (ecomap.photos.popup)
            options["photos"] = {str(i): h for i, h in enumerate(group["photos_html"]) if h}
        layer = PlotLayer(data, options, name=_style.text("plot_layer", lang, name=title,
                                                          n=len(group)), show=not outline)
        layer.add_to(m)
        section.rows.append(LegendRow(f'<span class="ecomap-swatch" style="{_swatch(code)}">'
                                      "</span>", title, layer))
    return section


def _swatch(code: str) -> str:
    color = _style.category_color(code)
    if code in _OUTLINE_CATEGORIES:
        return f"background:transparent;border:2px solid {color}"
    return f"background:{color};border-color:{_style.darker(color)}"


def add_water_sites(m: folium.Map, sites: gpd.GeoDataFrame, *, lang: str) -> LegendSection:
    """Monitoring sites as circles coloured by their annual water class."""
    section = LegendSection(_style.text("water_class", lang), [], "ecomap-legend-water")
    if sites.empty:
        return section
    frame = sites.copy()
    cls = frame.get("water_class", pd.Series(None, index=frame.index, dtype=object))
    cls = cls.astype(object).where(cls.notna(), None)
    frame["water_class"] = [c if c is not None else _style.text("no_class", lang) for c in cls]
    frame["_color"] = [_style.WATER_COLORS.get(c, _style.WATER_COLORS[None]) for c in cls]
    fields = [f for f in ("site_name", "site_type", "river", "township", "target_class",
                          "water_class", "deciding") if f in frame]
    aliases = [label(f, lang) if f != "deciding" else ("定类因子" if lang == "zh" else
                                                       "Deciding") for f in fields]
    layer = folium.GeoJson(
        _geojson(frame, [*fields, "_color"]),
        name=f"{_style.text('water', lang)} ({len(frame)})",
        marker=folium.CircleMarker(radius=7, weight=1, color="#222", fill=True,
                                   fill_opacity=0.95, className="ecomap-site"),
        style_function=lambda f: {"fillColor": f["properties"]["_color"], "color": "#222",
                                  "weight": 1, "fillOpacity": 0.95},
        tooltip=folium.GeoJsonTooltip(["site_name", "water_class"],
                                      aliases=[label("site_name", lang),
                                               label("water_class", lang)]),
        popup=folium.GeoJsonPopup(fields, aliases=aliases),
    )
    layer.add_to(m)
    present = [c for c in _style.WATER_CLASSES if c in set(cls)]
    for c in present:
        section.rows.append(LegendRow(
            f'<span class="ecomap-dot" style="background:{_style.WATER_COLORS[c]}"></span>', c,
            layer))
    if any(c is None for c in cls):
        section.rows.append(LegendRow(
            f'<span class="ecomap-dot" style="background:{_style.WATER_COLORS[None]}"></span>',
            _style.text("no_class", lang), layer))
    return section
