"""The map of an upload under review: the county and township outlines around it, the
plots that pass the checks (neutral grey), the features with problems in red (popup:
feature number, 小班号 and what is wrong), framed to the file with a small margin, with
one legend.  Used by the HTML validation report and the web upload preview."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
from branca.element import Element

from ecomap.maps import _furniture, _style
from ecomap.maps._basemaps import get_basemap
from ecomap.maps._layers import _geojson, base_map

__all__ = ["MARGIN", "MIN_PAD_DEG", "file_bounds", "review_map"]

#: The frame around the file: this share of its width and height on each side …
MARGIN = 0.05
#: … and at least this many degrees (~200 m), so that one small plot is seen in place.
MIN_PAD_DEG = 0.002

_PLOT = {"color": "#333333", "weight": 1, "fillColor": "#8d8d8d", "fillOpacity": 0.55}
_RING = {"color": "#c62828", "weight": 2, "fill": True, "fillOpacity": 0.0}
_PROBLEM = {"color": "#c62828", "weight": 2.5, "fillColor": "#e53935", "fillOpacity": 0.45}

_TEXT = {
    "plots": ("待入库图斑", "Plots to store"),
    "problems": ("有问题的要素", "Problem features"),
    "features": ("图斑", "Features"),
    "feature": ("要素序号", "Feature no."),
    "plot_id": ("小班号", "Plot ID"),
    "area": ("面积(亩)", "Area (mu)"),
    "what": ("问题", "Problems"),
    "label": ("要素", "Feature"),
}
#: Popup and tooltip headings of the problem features' fields.
_ALIAS = {"feature": "feature", "plot_id": "plot_id", "label": "label", "problems": "what"}
#: Popup tables: headings on one line, one problem a line (``problems`` joins with \n).
_POPUP_CSS = ("<style>.leaflet-popup-content th{white-space:nowrap;vertical-align:top;"
              "padding-right:8px}.leaflet-popup-content td{white-space:pre-line}</style>")


def _t(key: str, lang: str) -> str:
    zh, en = _TEXT[key]
    return zh if lang == "zh" else en


def _shown(frame: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    if frame is None or not len(frame):
        return None
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    return frame if len(frame) else None


def file_bounds(*frames: gpd.GeoDataFrame | None, margin: float = MARGIN,
                min_pad: float = MIN_PAD_DEG) -> tuple[float, float, float, float] | None:
    """(minx, miny, maxx, maxy) of the frames' features with a margin on each side:
    ``margin`` × the width (height), at least ``min_pad`` degrees; None if none."""
    shown = [f for f in map(_shown, frames) if f is not None]
    if not shown:
        return None
    b = np.array([f.total_bounds for f in shown])
    minx, miny = b[:, 0].min(), b[:, 1].min()
    maxx, maxy = b[:, 2].max(), b[:, 3].max()
    px = max((maxx - minx) * margin, min_pad)
    py = max((maxy - miny) * margin, min_pad)
    return (float(minx - px), float(miny - py), float(maxx + px), float(maxy + py))


def review_map(plots: gpd.GeoDataFrame, problems: gpd.GeoDataFrame | None = None,
               townships: gpd.GeoDataFrame | None = None, *,
               county: gpd.GeoDataFrame | None = None, lang: str = "zh",
               height: str = "100%", plots_label: str | None = None) -> folium.Map:
    """The file's plots that pass (grey) and its problem features (red) inside the
    county and township outlines (when given), framed to the file.

    ``problems`` may hold ``feature`` (1-based number in the file), ``plot_id``,
    ``label`` and ``problems`` (what is wrong, as text): those present go into its
    popup.  ``plots_label`` names the passing plots (default: plots to store).  Every
    text shown comes from the upload and is HTML-escaped (``_layers._geojson``).  All
    frames in EPSG:4490.
    """
    from ecomap.maps._raster import ZONES_PANE, _pane, add_boundaries

    problems = _shown(problems)
    accepted = _shown(plots)
    bounds = (file_bounds(accepted, problems)
              or file_bounds(townships, county, margin=0.02, min_pad=0.0)
              or (114.0, 25.0, 115.0, 26.0))
    m = base_map(bounds, lang=lang, basemap=get_basemap("none", lang=lang), height=height)
    boundaries = add_boundaries(m, county, townships, lang=lang,
                                name=_style.text("boundaries", lang), legend=False)
    lines = []
    if county is not None and len(county):
        lines.append(_furniture.LegendRow(
            f'<span class="ecomap-line" style="{_style.COUNTY_LINE}"></span>',
            _style.text("county_line", lang), boundaries))
    if townships is not None and len(townships):
        illustrative = "illustrative" in townships and bool(
            townships["illustrative"].fillna(0).astype(bool).any())
        lines.append(_furniture.LegendRow(
            f'<span class="ecomap-line" style="{_style.TOWNSHIP_LINE}"></span>',
            _style.text("township_line" if illustrative else "township_line_official", lang),
            boundaries))
    pane = _pane(m, ZONES_PANE, pointer_events=True)  # over the boundary lines
    rows = []
    if accepted is not None:
        shown = accepted.assign(_area=(accepted["area_m2"] / (10000 / 15)).round(1)) \
            if "area_m2" in accepted else accepted
        props = [c for c in ("plot_id", "_area") if c in shown]
        name = f"{plots_label or _t('plots', lang)} ({len(shown)})"
        layer = folium.GeoJson(
            _geojson(shown, props), name=_style.html_text(name), pane=pane,
            style_function=lambda _: dict(_PLOT),
            tooltip=folium.GeoJsonTooltip(props, aliases=[
                _t("plot_id" if c == "plot_id" else "area", lang) for c in props])
            if props else None)
        layer.add_to(m)
        rows.append(_furniture.LegendRow(
            f'<span class="ecomap-swatch" style="background:{_PLOT["fillColor"]};'
            f'border-color:{_PLOT["color"]}"></span>', name, layer))
    if problems is not None:
        # The label is the 小班号, else the number: shown when the number is not.
        keys = ("feature", "plot_id", "problems") if "feature" in problems else (
            "label", "problems")
        props = [c for c in keys if c in problems]
        name = f"{_t('problems', lang)} ({len(problems)})"
        tooltip = props[:2]
        # A ring at each problem feature: seen at any zoom, however small the feature.
        rings = problems.set_geometry(problems.geometry.representative_point())
        layer = folium.FeatureGroup(name=_style.html_text(name), overlay=True, control=True)
        for frame, style, marker in (
                (problems, _PROBLEM, None),
                (rings, _RING, folium.CircleMarker(radius=9, **_RING))):
            folium.GeoJson(
                _geojson(frame, props), pane=pane, marker=marker,
                style_function=lambda _, s=style: dict(s),
                highlight_function=lambda _: {"weight": 4, "color": "#000"},
                tooltip=folium.GeoJsonTooltip(tooltip, aliases=[
                    _t(_ALIAS[c], lang) for c in tooltip]) if props else None,
                popup=folium.GeoJsonPopup(props, aliases=[_t(_ALIAS[c], lang) for c in props],
                                          max_width=420, min_width=300) if props else None
            ).add_to(layer)
        layer.add_to(m)
        m.get_root().header.add_child(Element(_POPUP_CSS))
        rows.append(_furniture.LegendRow(
            f'<span class="ecomap-swatch" style="background:{_PROBLEM["fillColor"]};'
            f'border:2px solid {_PROBLEM["color"]}"></span>', name, layer))
    _furniture.add_controls(m, lang=lang, search=False)
    _furniture.add_legend(m, [
        _furniture.LegendSection(_style.text("boundaries", lang), lines),
        _furniture.LegendSection(_t("features", lang), rows)], "bottomright")
    # Fitted again with room for the controls (left) and the legend (right), measured
    # as drawn, so that neither covers a feature of the file.
    _furniture.add_call(m, (
        "(function(map){var c = map.getContainer(), lg = c.querySelector('.ecomap-legend');"
        "var w = lg ? lg.offsetWidth + 20 : 10;"
        f"map.fitBounds({_json(bounds)}, "
        "{paddingTopLeft: [54, 10], paddingBottomRight: [w, 10], animate: false});"
        "})({map});"))
    _furniture.finish(m, bounds)
    return m


def _json(bounds) -> str:
    """Leaflet's [[south, west], [north, east]] of (minx, miny, maxx, maxy)."""
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    return f"[[{miny!r}, {minx!r}], [{maxy!r}, {maxx!r}]]"
