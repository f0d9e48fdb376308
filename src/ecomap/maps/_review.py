"""The preview map of an upload under review: township outlines, the plots that would
be stored, and the features with problems in red (labelled with their 小班号)."""

from __future__ import annotations

import folium
import geopandas as gpd

from ecomap.maps import _furniture
from ecomap.maps._basemaps import get_basemap
from ecomap.maps._layers import _geojson, base_map

__all__ = ["review_map"]

_TOWN = {"color": "#607d8b", "weight": 1.2, "fillOpacity": 0.0}
_PLOT = {"color": "#2e7d32", "weight": 1.5, "fillColor": "#66bb6a", "fillOpacity": 0.45}
_PROBLEM = {"color": "#d32f2f", "weight": 2.5, "fillColor": "#e53935", "fillOpacity": 0.35}


def _bounds(*frames):
    frames = [f for f in frames if f is not None and len(f) and not f.geometry.is_empty.all()]
    if not frames:
        return None
    b = [f.total_bounds for f in frames]
    return (min(x[0] for x in b), min(x[1] for x in b), max(x[2] for x in b),
            max(x[3] for x in b))


def review_map(plots: gpd.GeoDataFrame, problems: gpd.GeoDataFrame | None = None,
               townships: gpd.GeoDataFrame | None = None, *, lang: str = "zh",
               height: str = "100%") -> folium.Map:
    """Plots to store (green) and problem features (red, tooltip = feature label).

    Every text shown comes from the upload and is HTML-escaped (``_layers._geojson``).
    All frames in EPSG:4490.
    """
    problems = problems if problems is not None else plots.iloc[:0]
    problems = problems[problems.geometry.notna() & ~problems.geometry.is_empty]
    bounds = _bounds(problems, plots) or _bounds(townships) or (114.0, 25.0, 115.0, 26.0)
    m = base_map(bounds, lang=lang, basemap=get_basemap("none", lang=lang))
    if townships is not None and len(townships):
        folium.GeoJson(_geojson(townships, ["name"]), name="乡镇" if lang == "zh" else "Townships",
                       style_function=lambda _: dict(_TOWN),
                       tooltip=folium.GeoJsonTooltip(["name"], labels=False)).add_to(m)
    if len(plots):
        shown = plots.assign(_area=(plots["area_m2"] / (10000 / 15)).round(2)) \
            if "area_m2" in plots else plots.assign(_area=0.0)
        props = [c for c in ("plot_id", "_area") if c in shown]
        folium.GeoJson(_geojson(shown, props), name="待入库图斑" if lang == "zh" else "Plots to store",
                       style_function=lambda _: dict(_PLOT),
                       tooltip=folium.GeoJsonTooltip(props, aliases=[
                           "小班号" if lang == "zh" else "Plot",
                           "面积(亩)" if lang == "zh" else "Area (mu)"][:len(props)])
                       ).add_to(m)
    if len(problems):
        props = ["label"] if "label" in problems else []
        folium.GeoJson(_geojson(problems, props), name="有问题的要素" if lang == "zh" else "Problem features",
                       style_function=lambda _: dict(_PROBLEM),
                       tooltip=folium.GeoJsonTooltip(props, aliases=[
                           "有问题的要素" if lang == "zh" else "Problem feature"])
                       if props else None).add_to(m)
    _furniture.add_controls(m, lang=lang, search=False)
    _furniture.finish(m, bounds)
    return m
