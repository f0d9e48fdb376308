"""Colours and texts shared by every map."""

from __future__ import annotations

import html

from ecomap.schema import CATEGORIES

#: Water classes in order, best first, with the colours of Chinese water-quality maps.
WATER_CLASSES = ["I", "II", "III", "IV", "V", "劣V"]
WATER_COLORS = {"I": "#00a0e9", "II": "#0068b7", "III": "#22ac38", "IV": "#f5c400",
                "V": "#f39800", "劣V": "#e60012", None: "#9e9e9e"}

#: Sequential light greys for the township choropleth, lightest first (up to 6 classes).
#: The plots carry every hue of the map (three greens, teal, brown, orange, pink,
#: purple, red) and the water sites blues, so the choropleth under them has none: a
#: green ramp swallowed the green plots.  It stays light enough for black labels.
CHOROPLETH_COLORS = ["#f7f7f7", "#e3e3e3", "#cecece", "#b9b9b9", "#a3a3a3", "#8c8c8c"]

COUNTY_STYLE = {"color": "#212121", "weight": 3, "fill": False}
TOWNSHIP_STYLE = {"color": "#555555", "weight": 1.2, "dashArray": "4 3", "fillOpacity": 0.8}

TEXT = {
    "county_title": ("{county}生态修复“落地上图”({year})", "{county} ecological restoration ({year})"),
    "township_title": ("{township}生态修复小班图({year})", "{township}: restoration plots ({year})"),
    "choropleth": ("修复面积(亩)", "Restoration area (mu)"),
    "plots": ("修复小班", "Restoration plots"),
    "water": ("水质监测点", "Water-quality sites"),
    "townships": ("乡镇界(示意)", "Townships (illustrative)"),
    "county": ("县界", "County boundary"),
    "no_class": ("无监测数据", "No data"),
    "source": ("数据来源：{source}；制图：ecomap {version}，{date}",
               "Source: {source}; map: ecomap {version}, {date}"),
    "illustrative": ("注：乡镇界为示意(泰森多边形)，非正式行政区划。",
                     "Note: township boundaries are illustrative (Voronoi cells), not official."),
    "summary": ("{township}汇总", "{township} summary"),
    "water_class": ("水质类别", "Water class"),
    "boundaries": ("界线", "Boundaries"),
    "county_line": ("县界", "County boundary"),
    "township_line": ("乡镇界(示意)", "Township boundary (illustrative)"),
    "township_line_official": ("乡镇界", "Township boundary"),
    "search": ("搜索小班号或村名", "Plot ID or village"),
    "search_patch": ("搜索图斑编号或村名", "Patch ID or village"),
    "search_none": ("未找到", "Not found"),
    "search_cancel": ("取消", "Cancel"),
    "village_suffix": ("(全村{n}个小班)", "(village, {n} plots)"),
    "north": ("指北针", "North"),
    "fullscreen": ("全屏", "Full screen"),
    "fullscreen_exit": ("退出全屏", "Exit full screen"),
    "no_basemap": ("无底图(离线)", "No basemap (offline)"),
    "online": ("底图：{name}(在线，需联网；离线时仅显示叠加数据)",
               "Basemap: {name} (online, needs the internet; offline only the overlays show)"),
    "online_failed": ("底图无法加载(需联网)；图上数据不受影响",
                      "Basemap tiles cannot load (no internet); the data layers are unaffected"),
    "osm": ("OpenStreetMap", "OpenStreetMap"),
    "tianditu": ("天地图", "Tianditu"),
    "gaode": ("高德地图", "Gaode (AMap)"),
    "gcj02": ("叠加数据已转换为GCJ-02坐标以对齐高德底图", "Overlays shifted to GCJ-02 to match Gaode tiles"),
    "plot_layer": ("{name} ({n})", "{name} ({n})"),
    "unit_mu": ("亩", "mu"),
    "legend": ("图例", "Legend"),
    "no_data": ("无数据", "No data"),
}


#: Legend symbols of the boundary lines (dashes as drawn).
COUNTY_LINE = "border-top:3px solid #212121"
TOWNSHIP_LINE = "border-top:1.5px dashed #555"

#: Path style of a hovered or selected plot.
HIGHLIGHT_STYLE = {"color": "#000000", "weight": 3, "fill": False}


def html_text(value) -> str:
    """``value`` as HTML text that also survives folium's second Jinja pass.

    folium renders its templates, then branca compiles the output as a template again,
    so ``{{ … }}`` in data would be evaluated: braces become character references.
    Use for every string that reaches a folium template (properties, names, labels).
    """
    return html.escape(str(value), quote=True).replace("{", "&#123;").replace("}", "&#125;")


def text(key: str, lang: str = "zh", **fmt) -> str:
    zh, en = TEXT[key]
    out = (zh if lang == "zh" else en).format(**fmt)
    # A title without a year (a store with no plots yet) drops the empty brackets.
    return out.replace("()", "").rstrip() if fmt.get("year", None) == "" else out


def darker(color: str, factor: float = 0.6) -> str:
    """``#rrggbb`` with each channel times ``factor``: the outline of a filled plot."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(round(c * factor) for c in (r, g, b)))


def category_color(code: str) -> str:
    cat = CATEGORIES.get(code)
    return cat.color if cat else "#607d8b"
