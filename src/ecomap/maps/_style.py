"""Colours and texts shared by every map."""

from __future__ import annotations

from ecomap.schema import CATEGORIES

#: Water classes in order, best first, with the colours of Chinese water-quality maps.
WATER_CLASSES = ["I", "II", "III", "IV", "V", "劣V"]
WATER_COLORS = {"I": "#00a0e9", "II": "#0068b7", "III": "#22ac38", "IV": "#f5c400",
                "V": "#f39800", "劣V": "#e60012", None: "#9e9e9e"}

#: Sequential greens for the township choropleth (ColorBrewer Greens, 5 classes).
CHOROPLETH_COLORS = ["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"]

COUNTY_STYLE = {"color": "#212121", "weight": 3, "fill": False}
TOWNSHIP_STYLE = {"color": "#555555", "weight": 1.2, "dashArray": "4 3", "fillOpacity": 0.55}

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
}


def text(key: str, lang: str = "zh", **fmt) -> str:
    zh, en = TEXT[key]
    return (zh if lang == "zh" else en).format(**fmt)


def category_color(code: str) -> str:
    cat = CATEGORIES.get(code)
    return cat.color if cat else "#607d8b"
