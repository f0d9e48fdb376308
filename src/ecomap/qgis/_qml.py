"""Layer styles as QGIS 3.22 writes them (QML), built as plain XML text.

The elements of a style (renderer, labels, field names and aliases) are the same in a
``.qml`` document, in the GeoPackage's ``layer_styles`` table and inside a project's
``<maplayer>``: :func:`style_body` builds them once for both.  Colours and names come
from :mod:`ecomap.schema` and :mod:`ecomap.maps._style`, as on the HTML maps.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from ecomap import schema

__all__ = ["LAYER_GEOMETRY", "QGIS_VERSION", "category_codes", "layer_name", "qml",
           "style_body", "water_class_label"]



def _map_style():
    """``ecomap.maps._style``, the one source of the maps' colours and texts, without
    importing ``ecomap.maps`` and its folium stack when it is not loaded yet (creating a
    store writes these styles and stays cheap).  The module needs ``ecomap.schema`` only."""
    loaded = sys.modules.get("ecomap.maps._style")
    if loaded is not None:
        return loaded
    path = Path(schema.__file__).parent / "maps" / "_style.py"
    spec = importlib.util.spec_from_file_location("ecomap.qgis._map_style", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_style = _map_style()

#: The version QGIS stamps on what it writes; the files are read by QGIS 3.22 and later.
QGIS_VERSION = "3.22.16-Białowieża"

#: Styled layers -> (geometry column, symbol type).
LAYER_GEOMETRY = {"county": ("geom", "fill"), "townships": ("geom", "fill"),
                  "water_sites": ("geom", "marker"), "plots": ("geom", "fill")}

# Names of the layers in QGIS's layer panel and the layout legend.
_LAYER_NAMES = {
    "county": _style.TEXT["county"],
    "townships": _style.TEXT["township_line"],
    "townships_official": _style.TEXT["township_line_official"],
    "water_sites": ("水质监测点(水质目标)", "Water-quality sites (target class)"),
    "plots": ("小班(按类别)", "Plots by category"),
}

# Field aliases not in ecomap.schema's labels (the attribute table reads in Chinese).
_ALIASES = {
    "township_reported": ("上报乡镇", "Township (reported)"),
    "area_mu_reported": ("上报面积(亩)", "Reported area (mu)"),
    "area_m2": ("面积(平方米)", "Area (m²)"),
    "attributes": ("其他属性", "Other attributes"),
    "name": ("名称", "Name"),
    "name_en": ("英文名", "English name"),
    "kind": ("类型", "Kind"),
    "illustrative": ("示意界线", "Illustrative"),
    "adcode": ("行政区划代码", "Division code"),
    "waterbody": ("水体", "Water body"),
}

_NO_CLASS = ("无水质目标", "No target class")

_UNIT_SCALE = "3x:0,0,0,0,0,0"


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def layer_name(layer: str, lang: str = "zh", *, illustrative: bool = True) -> str:
    """The name of a store layer in QGIS's layer panel and legend."""
    if layer == "townships" and not illustrative:
        layer = "townships_official"
    return _pick(_LAYER_NAMES[layer], lang)


def field_alias(layer: str, field: str, lang: str = "zh") -> str:
    """The alias of a field of a store layer, from ecomap's labels."""
    if layer == "townships" and field == "name":
        return schema.label("township", lang)
    if field in _ALIASES:
        return _pick(_ALIASES[field], lang)
    if field == "batch_id":
        return schema.label("batch_id", lang)
    text = schema.label(field, lang)
    return "" if text == field else text


def water_class_label(cls: str, lang: str = "zh") -> str:
    """``III`` -> ``III类`` (``Class III``), as class names read on Chinese maps."""
    return f"{cls}类" if lang == "zh" else f"Class {cls}"


def category_codes(stored=()) -> list[str]:
    """The category codes a plots style lists: every known category in report order, so
    that plots of a category stored later are drawn in their colour too (the print
    legend shows those on the map only), then any unknown stored code."""
    return list(schema.CATEGORIES) + sorted({c for c in stored if c} - set(schema.CATEGORIES))


# --- symbols ----------------------------------------------------------------------------
def rgba(color: str, alpha: float = 1.0) -> str:
    """``#2e7d32`` -> ``46,125,50,255`` (QGIS's colour text)."""
    c = color.lstrip("#")
    r, g, b = (int(c[i:i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(alpha * 255)}"


def _options(props: dict[str, str]) -> str:
    opts = "".join(f'<Option name={quoteattr(k)} value={quoteattr(str(v))} type="QString"/>'
                   for k, v in props.items())
    return f'<Option type="Map">{opts}</Option>'


_DDP = ('<data_defined_properties><Option type="Map"><Option name="name" value="" '
        'type="QString"/><Option name="properties"/><Option name="type" value="collection" '
        'type="QString"/></Option></data_defined_properties>')


def _symbol(name: str, kind: str, layers: list[tuple[str, dict]]) -> str:
    body = "".join(f'<layer locked="0" pass="0" class="{cls}" enabled="1">{_options(props)}'
                   f"{_DDP}</layer>" for cls, props in layers)
    return (f'<symbol force_rhr="0" name={quoteattr(name)} clip_to_extent="1" type="{kind}" '
            f'alpha="1">{_DDP}{body}</symbol>')


def fill(color: str, *, alpha: float = 0.6, outline: str | None = None, width: float = 0.26,
         filled: bool = True, dash: str | None = None) -> tuple[str, dict]:
    """A SimpleFill symbol layer: ``filled=False`` draws the outline alone."""
    return ("SimpleFill", {
        "border_width_map_unit_scale": _UNIT_SCALE, "color": rgba(color, alpha),
        "joinstyle": "round", "offset": "0,0", "offset_map_unit_scale": _UNIT_SCALE,
        "offset_unit": "MM", "outline_color": rgba(outline or color),
        "outline_style": "dash" if dash else "solid", "outline_width": width,
        "outline_width_unit": "MM", "style": "solid" if filled else "no"})


def line(color: str, width: float, *, dash: str | None = None) -> tuple[str, dict]:
    """A SimpleLine symbol layer (a polygon's boundary); ``dash`` in mm, ``"2;1.5"``."""
    return ("SimpleLine", {
        # Dashes aligned to each stretch between corners, so the boundary two townships
        # share (drawn once by each) shows one dash pattern, not two out of phase.
        "align_dash_pattern": "1" if dash else "0",
        "tweak_dash_pattern_on_corners": "1" if dash else "0",
        "capstyle": "flat", "customdash": dash or "5;2", "customdash_map_unit_scale":
        _UNIT_SCALE, "customdash_unit": "MM", "joinstyle": "round",
        "line_color": rgba(color), "line_style": "solid", "line_width": width,
        "line_width_unit": "MM", "offset": "0", "offset_map_unit_scale": _UNIT_SCALE,
        "offset_unit": "MM", "use_custom_dash": "1" if dash else "0",
        "width_map_unit_scale": _UNIT_SCALE})


def marker(color: str, size: float = 3.6) -> tuple[str, dict]:
    """A SimpleMarker circle with a dark outline (the water sites of the HTML map)."""
    return ("SimpleMarker", {
        "angle": "0", "color": rgba(color, 0.95), "horizontal_anchor_point": "1",
        "joinstyle": "bevel", "name": "circle", "offset": "0,0",
        "offset_map_unit_scale": _UNIT_SCALE, "offset_unit": "MM",
        "outline_color": rgba("#222222"), "outline_style": "solid", "outline_width": "0.26",
        "outline_width_unit": "MM", "scale_method": "diameter", "size": size,
        "size_map_unit_scale": _UNIT_SCALE, "size_unit": "MM", "vertical_anchor_point": "1"})


def _single(symbol: str) -> str:
    return ('<renderer-v2 forceraster="0" type="singleSymbol" enableorderby="0" '
            f'symbollevels="0" referencescale="-1"><symbols>{symbol}</symbols>'
            "<rotation/><sizescale/></renderer-v2>")


def _categorized(attr: str, cats: list[tuple[str, str, str]], *, off=()) -> str:
    """``cats``: (value, label, symbol XML named by its index); values in ``off`` are
    unticked (not drawn until the user ticks them in the layer panel)."""
    rows = "".join(f'<category label={quoteattr(lab)} value={quoteattr(val)} '
                   f'render="{"false" if val in off else "true"}" symbol="{i}"/>'
                   for i, (val, lab, _) in enumerate(cats))
    syms = "".join(s for _, _, s in cats)
    return (f'<renderer-v2 forceraster="0" attr={quoteattr(attr)} type="categorizedSymbol" '
            'enableorderby="0" symbollevels="0" referencescale="-1">'
            f"<categories>{rows}</categories><symbols>{syms}</symbols>"
            "<rotation/><sizescale/></renderer-v2>")


def is_outline(code: str) -> bool:
    """Patrol areas tile the forest: drawn as outlines, and off at first, as on the HTML
    map."""
    return schema.kind_of(code) == "patrol"


def plot_symbol(code: str, name: str) -> str:
    """A plot category's symbol as on the HTML map: filled at 0.8 with a darker outline
    of its own colour; patrol areas as outlines only."""
    color = _style.category_color(code)
    if is_outline(code):
        return _symbol(name, "fill", [fill(color, width=0.3, filled=False)])
    return _symbol(name, "fill", [fill(color, alpha=0.8, outline=_style.darker(color),
                                       width=0.2)])


def _renderer(layer: str, lang: str, *, categories=(), classes=()) -> str:
    if layer == "plots":
        cats = [(code, schema.category_label(code, lang), plot_symbol(code, str(i)))
                for i, code in enumerate(category_codes(categories))]
        return _categorized("category", cats,
                            off={code for code, _, _ in cats if is_outline(code)})
    if layer == "county":
        return _single(_symbol("0", "fill", [line(_style.COUNTY_STYLE["color"], 0.8)]))
    if layer == "townships":
        # Heavier than the patrol-area outlines they cross (when those are on).
        return _single(_symbol("0", "fill", [line(_style.TOWNSHIP_STYLE["color"], 0.5,
                                                  dash="2;1.2")]))
    if layer == "water_sites":
        # Every GB 3838 class (a site stored later is drawn in its colour too), then
        # QGIS's "all other values" category (value "") for sites without one.
        codes = [*_style.WATER_CLASSES,
                 *sorted({c for c in classes if c} - set(_style.WATER_CLASSES))]
        cats = [(c, water_class_label(c, lang),
                 _symbol(str(i), "marker", [marker(_style.WATER_COLORS.get(c) or
                                                   _style.WATER_COLORS[None])]))
                for i, c in enumerate(codes)]
        cats.append(("", _pick(_NO_CLASS, lang),
                     _symbol(str(len(cats)), "marker", [marker(_style.WATER_COLORS[None])])))
        return _categorized("target_class", cats)
    raise KeyError(layer)


# --- labels -----------------------------------------------------------------------------
def text_style(*, field: str = "", size: float = 10, color: str = "#333333",
               buffer: bool = False) -> str:
    """A ``<text-style>`` (labels, scale bar texts); ``buffer`` draws a white halo."""
    return (
        '<text-style fontWeight="50" allowHtml="0" fontWordSpacing="0" fontStrikeout="0" '
        f'fontSizeMapUnitScale="{_UNIT_SCALE}" namedStyle="" isExpression="0" '
        f'fontFamily="Noto Sans CJK SC" textColor="{rgba(color)}" '
        f'fieldName={quoteattr(field)} useSubstitutions="0" '
        'fontItalic="0" textOpacity="1" fontKerning="1" multilineHeight="1" blendMode="0" '
        f'fontSizeUnit="Point" fontSize="{size}" capitalization="0" fontLetterSpacing="0" '
        'fontUnderline="0" textOrientation="horizontal"><families/>'
        '<text-buffer bufferSize="1" bufferSizeUnits="MM" bufferBlendMode="0" '
        f'bufferSizeMapUnitScale="{_UNIT_SCALE}" bufferJoinStyle="128" '
        f'bufferDraw="{1 if buffer else 0}" '
        'bufferColor="255,255,255,255" bufferOpacity="0.9" bufferNoFill="1"/>'
        '<text-mask maskEnabled="0"/><background shapeDraw="0"/><shadow shadowDraw="0"/>'
        '<dd_properties><Option type="Map"><Option name="name" value="" type="QString"/>'
        '<Option name="properties"/><Option name="type" value="collection" type="QString"/>'
        '</Option></dd_properties><substitutions/></text-style>')


def _labeling(field: str, *, size: float = 10, color: str = "#333333") -> str:
    """Simple labels of ``field`` with a white halo (buffer), centred in the polygon."""
    return (
        '<labeling type="simple"><settings calloutType="simple">'
        + text_style(field=field, size=size, color=color, buffer=True)
        + '<text-format formatNumbers="0" plussign="0" wrapChar="" multilineAlign="3" '
        'autoWrapLength="0" useMaxLineLengthForAutoWrap="1" decimals="3" '
        'addDirectionSymbol="0" placeDirectionSymbol="0" reverseDirectionSymbol="0" '
        'leftDirectionSymbol="&lt;" rightDirectionSymbol=">"/>'
        '<placement placement="0" centroidWhole="0" centroidInside="1" fitInPolygonOnly="0" '
        'priority="5" polygonPlacementFlags="2" placementFlags="10" dist="0" '
        'distUnits="MM" offsetType="0" quadOffset="4" xOffset="0" yOffset="0" '
        'offsetUnits="MM" rotationAngle="0" preserveRotation="1" '
        'layerType="PolygonGeometry"/>'
        '<rendering labelPerPart="0" maxNumLabels="2000" scaleMin="0" scaleMax="0" '
        'obstacleFactor="1" fontLimitPixelSize="0" fontMinPixelSize="0" limitNumLabels="0" '
        'zIndex="0" minFeatureSize="0" scaleVisibility="0" obstacle="1" obstacleType="1" '
        'unplacedVisibility="0" mergeLines="0" displayAll="1" upsidedownLabels="0" '
        'drawLabels="1" fontMaxPixelSize="10000"/>'
        '<dd_properties><Option type="Map"><Option name="name" value="" type="QString"/>'
        '<Option name="properties"/><Option name="type" value="collection" type="QString"/>'
        '</Option></dd_properties><callout type="simple"><Option type="Map">'
        '<Option name="enabled" value="0" type="QString"/></Option></callout>'
        "</settings></labeling>")


# --- fields -----------------------------------------------------------------------------
def _fields(layer: str, lang: str) -> str:
    """Field configuration (category codes shown by their names) and aliases."""
    from ecomap.store.layers import LAYERS_SCHEMA

    cols = ["fid", *LAYERS_SCHEMA[layer][1]]
    conf, aliases = [], []
    for i, col in enumerate(cols):
        widget = '<editWidget type=""><config><Option/></config></editWidget>'
        if col == "category":
            pairs = "".join(
                f'<Option type="Map"><Option name={quoteattr(c.name(lang))} '
                f'value={quoteattr(c.code)} type="QString"/></Option>'
                for c in schema.CATEGORIES.values())
            widget = ('<editWidget type="ValueMap"><config><Option type="Map">'
                      f'<Option name="map" type="List">{pairs}</Option></Option></config>'
                      "</editWidget>")
        conf.append(f'<field name={quoteattr(col)} configurationFlags="None">{widget}</field>')
        alias = field_alias(layer, col, lang) if col != "fid" else ""
        aliases.append(f'<alias name={quoteattr(alias)} field={quoteattr(col)} index="{i}"/>')
    return (f"<fieldConfiguration>{''.join(conf)}</fieldConfiguration>"
            f"<aliases>{''.join(aliases)}</aliases>")


def style_body(layer: str, lang: str = "zh", *, categories=(), classes=()) -> str:
    """The style elements of ``layer``: renderer, labels, blending, fields and aliases."""
    labels = ""
    if layer == "townships":
        labels = _labeling("name")
    elif layer == "county":
        labels = ""
    return (_renderer(layer, lang, categories=categories, classes=classes) + labels
            + '<customproperties><Option type="Map"><Option name="embeddedWidgets/count" '
              'value="0" type="int"/></Option></customproperties>'
              "<blendMode>0</blendMode><featureBlendMode>0</featureBlendMode>"
              "<layerOpacity>1</layerOpacity>"
              '<legend showLabelLegend="0" type="default-vector"/>'
            + _fields(layer, lang)
            + f"<displayfield>{escape(_display_field(layer))}</displayfield>"
              "<layerGeometryType>"
            + ("0" if LAYER_GEOMETRY[layer][1] == "marker" else "2")
            + "</layerGeometryType>")


def _display_field(layer: str) -> str:
    return {"plots": "plot_id", "water_sites": "site_name"}.get(layer, "name")


def qml(layer: str, lang: str = "zh", *, categories=(), classes=()) -> str:
    """A whole ``.qml`` document of ``layer`` (what ``layer_styles.styleQML`` holds)."""
    labels = "1" if layer == "townships" else "0"
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="{QGIS_VERSION}" styleCategories="AllStyleCategories" '
            f'labelsEnabled="{labels}" hasScaleBasedVisibilityFlag="0" minScale="100000000" '
            'maxScale="0" readOnly="0" simplifyDrawingHints="1" simplifyAlgorithm="0" '
            'simplifyDrawingTol="1" simplifyLocal="1" simplifyMaxScale="1" '
            'symbologyReferenceScale="-1">\n'
            f"{style_body(layer, lang, categories=categories, classes=classes)}\n</qgis>\n")
