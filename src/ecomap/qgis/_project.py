"""A QGIS project of the store, as plain XML: layers, groups, canvas and an A4 layout.

The layers' data sources name the GeoPackage relatively (``./ecomap.gpkg|layername=…``),
as QGIS writes a project stored in the GeoPackage it reads, so the file opens wherever
it is moved.  The canvas and the layout use the county's CGCS2000 3-degree
Gauss-Kruger zone: the county keeps its shape and the scale bar reads in metres, while
the layers stay in EPSG:4490.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from ecomap.qgis import _qml

__all__ = ["ProjectSpec", "project_qgs", "project_zip"]

# QGIS's layout item types (QgsLayoutItemRegistry).
_PAGE, _MAP, _PICTURE, _LABEL, _LEGEND, _SCALEBAR = 65638, 65639, 65640, 65641, 65642, 65646

#: A4 landscape, mm.
PAGE_W, PAGE_H = 297.0, 210.0
MAP_BOX = (10.0, 24.0, 205.0, 166.0)  # x, y, width, height of the map item
SIDE_X = 222.0  # legend, scale bar and north arrow column

_GEOMETRY = {"fill": ("Polygon", "MultiPolygon"), "marker": ("Point", "Point")}


@dataclass
class ProjectSpec:
    """What the project shows: the file it lives in, the map's texts and extent."""

    file_name: str
    title: str
    lang: str = "zh"
    #: (minx, miny, maxx, maxy) of the county in the canvas CRS (metres).
    extent: tuple[float, float, float, float] = (0, 0, 1, 1)
    #: (minx, miny, maxx, maxy) of every layer in EPSG:4490, by layer.
    layer_extents: dict[str, tuple] = field(default_factory=dict)
    canvas_epsg: int = 4490
    canvas_wkt: str = ""
    categories: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    illustrative: bool = True
    notes: tuple[str, ...] = ()
    legend_title: str = "图例"
    #: The year whose plots the project shows (as the county map does); None: all.
    plot_year: int | None = None


_STORE_WKT = (
    'GEOGCRS["China Geodetic Coordinate System 2000",DATUM["China 2000",ELLIPSOID['
    '"CGCS2000",6378137,298.257222101,LENGTHUNIT["metre",1]]],PRIMEM["Greenwich",0,'
    'ANGLEUNIT["degree",0.0174532925199433]],CS[ellipsoidal,2],AXIS["geodetic latitude '
    '(Lat)",north,ORDER[1],ANGLEUNIT["degree",0.0174532925199433]],AXIS["geodetic longitude '
    '(Lon)",east,ORDER[2],ANGLEUNIT["degree",0.0174532925199433]],ID["EPSG",4490]]')


def _srs(epsg: int, wkt: str) -> str:
    return (f"<spatialrefsys><wkt>{escape(wkt)}</wkt><authid>EPSG:{epsg}</authid>"
            f"<srid>{epsg}</srid></spatialrefsys>")


#: Layers from top to bottom of the layer panel, with their group (as on the county map:
#: the county outline on top, township lines, water sites, plots by category).
ORDER = (("boundaries", "county"), ("boundaries", "townships"), (None, "water_sites"),
         (None, "plots"))


def layer_id(layer: str) -> str:
    return f"ecomap_{layer}"


def _source(spec: ProjectSpec, layer: str) -> str:
    # The plots of one year, as on the county map: a filter the user can change in QGIS
    # (Layer Properties → Source → Query Builder).
    subset = (f'|subset="year" = {int(spec.plot_year)}'
              if layer == "plots" and spec.plot_year is not None else "")
    return f"./{spec.file_name}|layername={layer}{subset}"


def _maplayer(spec: ProjectSpec, layer: str) -> str:
    geom, wkb = _GEOMETRY[_qml.LAYER_GEOMETRY[layer][1]]
    x0, y0, x1, y1 = spec.layer_extents.get(layer) or (0, 0, 0, 0)
    labels = "1" if layer == "townships" else "0"
    name = _qml.layer_name(layer, spec.lang, illustrative=spec.illustrative)
    body = _qml.style_body(layer, spec.lang, categories=spec.categories, classes=spec.classes)
    return (f'<maplayer type="vector" geometry="{geom}" wkbType="{wkb}" '
            f'labelsEnabled="{labels}" autoRefreshEnabled="0" autoRefreshTime="0" '
            'refreshOnNotifyEnabled="0" refreshOnNotifyMessage="" minScale="100000000" '
            'maxScale="0" hasScaleBasedVisibilityFlag="0" readOnly="0" '
            'simplifyDrawingHints="1" simplifyAlgorithm="0" simplifyDrawingTol="1" '
            'simplifyLocal="1" simplifyMaxScale="1" styleCategories="AllStyleCategories" '
            'symbologyReferenceScale="-1">'
            f"<extent><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax>"
            f"</extent><id>{layer_id(layer)}</id>"
            f"<datasource>{escape(_source(spec, layer))}</datasource>"
            f"<layername>{escape(name)}</layername>"
            f"<srs>{_srs(4490, _STORE_WKT)}</srs>"
            '<provider encoding="UTF-8">ogr</provider>'
            '<flags><Identifiable>1</Identifiable><Removable>1</Removable>'
            "<Searchable>1</Searchable><Private>0</Private></flags>"
            f"{body}</maplayer>")


def _tree(spec: ProjectSpec) -> str:
    def node(layer: str) -> str:
        name = _qml.layer_name(layer, spec.lang, illustrative=spec.illustrative)
        return (f'<layer-tree-layer id="{layer_id(layer)}" name={quoteattr(name)} '
                f'source={quoteattr(_source(spec, layer))} providerKey="ogr" '
                'checked="Qt::Checked" expanded="1" legend_exp="" patch_size="-1,-1" '
                'legend_split_behavior="0"><customproperties><Option/></customproperties>'
                "</layer-tree-layer>")

    boundaries = "界线" if spec.lang == "zh" else "Boundaries"
    inner = "".join(node(layer) for group, layer in ORDER if group == "boundaries")
    rest = "".join(node(layer) for group, layer in ORDER if group is None)
    return ('<layer-tree-group><customproperties><Option/></customproperties>'
            f'<layer-tree-group name={quoteattr(boundaries)} checked="Qt::Checked" '
            'expanded="1" groupLayer=""><customproperties><Option/></customproperties>'
            f"{inner}</layer-tree-group>{rest}"
            "<custom-order enabled=\"0\">"
            + "".join(f"<item>{layer_id(layer)}</item>" for _, layer in ORDER)
            + "</custom-order></layer-tree-group>")


# --- layout -----------------------------------------------------------------------------
def _uuid() -> str:
    return "{" + str(uuid.uuid4()) + "}"


def _item(kind: int, x: float, y: float, w: float, h: float, *, z: int, item_id: str,
          uid: str | None = None, frame: bool = False, background: bool = False,
          attrs: str = "", children: str = "") -> str:
    uid = uid or _uuid()
    return (f'<LayoutItem type="{kind}" uuid="{uid}" templateUuid="{uid}" '
            f'id={quoteattr(item_id)} position="{x},{y},mm" positionOnPage="{x},{y},mm" '
            f'size="{w},{h},mm" zValue="{z}" frame="{str(frame).lower()}" '
            f'background="{str(background).lower()}" outlineWidthM="0.3,mm" '
            'frameJoinStyle="miter" referencePoint="0" itemRotation="0" visibility="1" '
            'opacity="1" blendMode="0" excludeFromExports="0" positionLock="false" '
            f'groupUuid="" {attrs}>'
            '<FrameColor red="0" green="0" blue="0" alpha="255"/>'
            '<BackgroundColor red="255" green="255" blue="255" alpha="255"/>'
            '<LayoutObject><dataDefinedProperties><Option type="Map"><Option name="name" '
            'value="" type="QString"/><Option name="properties"/><Option name="type" '
            'value="collection" type="QString"/></Option></dataDefinedProperties>'
            "<customproperties><Option/></customproperties></LayoutObject>"
            f"{children}</LayoutItem>")


def _font(size: float, *, bold: bool = False) -> str:
    """A QFont description; the family falls back to a CJK font where it is missing."""
    return f"Noto Sans CJK SC,{size},-1,5,{75 if bold else 50},0,0,0,0,0"


def _label(text: str, x, y, w, h, *, size: float, z: int, item_id: str, bold=False,
           halign: int = 1) -> str:
    """A text item; ``halign`` 1 left, 4 centre (Qt alignment flags)."""
    return _item(_LABEL, x, y, w, h, z=z, item_id=item_id,
                 attrs=f'labelText={quoteattr(text)} htmlState="0" halign="{halign}" '
                       'valign="128" marginX="0" marginY="0"',
                 children=f'<LabelFont description="{_font(size, bold=bold)}" style=""/>'
                          '<FontColor red="33" green="33" blue="33" alpha="255"/>')


def fitted_extent(extent, width: float, height: float, pad: float = 0.04):
    """``extent`` grown by ``pad`` and to the aspect ratio of a ``width`` x ``height``
    item, around its centre."""
    x0, y0, x1, y1 = extent
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = (x1 - x0) * (1 + 2 * pad), (y1 - y0) * (1 + 2 * pad)
    if w / h < width / height:
        w = h * width / height
    else:
        h = w * height / width
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def map_box(extent) -> tuple[float, float, float, float]:
    """The map item's box: the full width of the map column, as tall as the county's
    shape needs (between 110 mm and the page's room)."""
    x, y, w, h = MAP_BOX
    ex0, ey0, ex1, ey1 = extent
    if ex1 > ex0 and ey1 > ey0:
        h = min(h, max(110.0, w * (ey1 - ey0) / (ex1 - ex0) * 1.02))
    return x, y, w, round(h, 1)


def _nice_segment(map_width_m: float, bar_mm: float, map_mm: float) -> int:
    """A round segment length (m) so that two segments take about ``bar_mm``."""
    target = map_width_m * bar_mm / map_mm / 2
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000,
                 10000, 20000, 25000, 50000, 100000):
        if step >= target:
            return step
    return 100000


def _layout(spec: ProjectSpec) -> str:
    mx, my, mw, mh = map_box(spec.extent)
    # Title, map and the line below it are centred on the page as one block.
    top = max(7.0, round((PAGE_H - (17 + mh + 16)) / 2, 1))
    my = top + 17
    ext = fitted_extent(spec.extent, mw, mh)
    map_uid = _uuid()
    zh = spec.lang == "zh"
    page = _item(_PAGE, 0, 0, PAGE_W, PAGE_H, z=0, item_id="", background=True)
    title = _label(spec.title, 10, top, PAGE_W - 20, 12, size=20, z=5, item_id="title",
                   bold=True, halign=4)
    # The map follows the project's layer visibility (keepLayerSet false); the legend
    # lists what the map shows (legendFilterByMap), e.g. only the stored categories.
    mapitem = _item(
        _MAP, mx, my, mw, mh, z=1, item_id="map", uid=map_uid, frame=True, background=True,
        attrs='keepLayerSet="false" followPreset="false" followPresetName="" '
              'drawCanvasItems="true" mapRotation="0" labelMargin="0,mm" mapFlags="0" '
              'isTemporal="0"',
        children=(f'<Extent xmin="{ext[0]}" ymin="{ext[1]}" xmax="{ext[2]}" ymax="{ext[3]}"/>'
                  f"<crs>{_srs(spec.canvas_epsg, spec.canvas_wkt)}</crs><LayerSet/>"
                  '<AtlasMap scalingMode="2" atlasDriven="0" margin="0.1"/>'
                  "<labelBlockingItems/>"))
    styles = "".join(
        f'<style name="{name}" marginTop="{top}" marginLeft="{left}" indent="0" '
        f'alignment="1"><styleFont description="{_font(size, bold=bold)}" style=""/></style>'
        for name, size, top, left, bold in (("title", 13, 0, 0, True),
                                            ("group", 11, 3, 0, True),
                                            ("subgroup", 10, 2.5, 0, False),
                                            ("symbol", 9, 2, 0, False),
                                            ("symbolLabel", 9, 1.5, 2, False)))
    legend = _item(
        _LEGEND, SIDE_X, my, PAGE_W - SIDE_X - 8, 120, z=3, item_id="legend",
        attrs=f'title={quoteattr(spec.legend_title)} map_uuid="{map_uid}" '
              'resizeToContents="1" columnCount="1" splitLayer="0" equalColumnWidth="0" '
              'symbolWidth="7" symbolHeight="4" boxSpace="2" columnSpace="2" '
              'lineSpacing="1" titleAlignment="1" symbolAlignment="1" wrapChar="" '
              'fontColor="#212121" legendFilterByAtlas="0" legendFilterByMap="1" '
              'rasterBorder="1" '
              'rasterBorderColor="0,0,0,255" rasterBorderWidth="0" wmsLegendWidth="50" '
              'wmsLegendHeight="25" minSymbolSize="0" maxSymbolSize="0"',
        children=f"<styles>{styles}</styles>")
    seg = _nice_segment(ext[2] - ext[0], 45, mw)
    unit = "km" if seg >= 1000 else "m"
    scalebar = _item(
        _SCALEBAR, mx, my + mh + 2, 60, 12, z=4, item_id="scalebar",
        attrs=f'mapUuid="{map_uid}" style="Single Box" unitType="{"km" if unit == "km" else "meters"}" '
              'numMapUnitsPerScaleBarUnit="1" '
              f'unitLabel="{"千米" if zh and unit == "km" else ("米" if zh else unit)}" '
              f'numUnitsPerSegment="{seg / 1000 if unit == "km" else seg:g}" numSegments="2" '
              'numSegmentsLeft="0" numSubdivisions="1" subdivisionsHeight="1.5" '
              'segmentSizeMode="0" minBarWidth="50" maxBarWidth="150" height="2.5" '
              'labelBarSpace="2" boxContentSpace="1" alignment="0" '
              'labelVerticalPlacement="0" labelHorizontalPlacement="0" outlineWidth="0.3" '
              'lineJoinStyle="miter" lineCapStyle="square"',
        children=(_qml.text_style(size=8, color="#212121")
                  + '<strokeColor red="0" green="0" blue="0" alpha="255"/>'
                  '<fillColor red="0" green="0" blue="0" alpha="255"/>'
                  '<fillColor2 red="255" green="255" blue="255" alpha="255"/>'))
    north = _item(
        _PICTURE, mx + mw - 16, my + 3, 12, 16, z=6, item_id="north",
        attrs=f'file=":/images/north_arrows/layout_default_north_arrow.svg" mode="0" '
              f'mapUuid="{map_uid}" northMode="0" northOffset="0" pictureRotation="0" '
              'resizeMode="0" anchorPoint="0" pictureWidth="12" pictureHeight="16" '
              'svgFillColor="33,33,33,255" svgBorderColor="33,33,33,255" '
              'svgBorderWidth="0.2"')
    notes = "\n".join(spec.notes)
    note = _label(notes, mx + 75, my + mh + 3, mw - 75, 12, size=8, z=7, item_id="notes",
                  halign=2)
    name = "县域图(A4)" if zh else "County map (A4)"
    return (f'<Layouts><Layout name={quoteattr(name)} units="mm" printResolution="300" '
            'worldFileMap="">'
            '<Snapper tolerance="5" snapToGrid="0" snapToGuides="1" snapToItems="1"/>'
            '<Grid offsetUnits="mm" offsetY="0" resUnits="mm" offsetX="0" resolution="10"/>'
            f'<PageCollection>{page}<GuideCollection visible="1"/></PageCollection>'
            f"{mapitem}{title}{legend}{scalebar}{north}{note}"
            '<customproperties><Option/></customproperties>'
            '<Atlas enabled="0" hideCoverage="0" filenamePattern="" coverageLayer="" '
            'filterFeatures="0" pageNameExpression="" sortFeatures="0"/>'
            "</Layout></Layouts>")


def project_qgs(spec: ProjectSpec) -> str:
    """The project's ``.qgs`` XML text."""
    ext = spec.extent
    layers = "".join(_maplayer(spec, layer) for _, layer in ORDER)
    order = "".join(f'<layer id="{layer_id(layer)}"/>' for _, layer in ORDER)
    canvas_units = "degrees" if spec.canvas_epsg == 4490 else "meters"
    crs = _srs(spec.canvas_epsg, spec.canvas_wkt)
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis projectname={quoteattr(spec.title)} version="{_qml.QGIS_VERSION}">'
        '<homePath path=""/>'
        f"<title>{escape(spec.title)}</title>"
        '<autotransaction active="0"/><evaluateDefaultValues active="0"/><trust active="0"/>'
        f"<projectCrs>{crs}</projectCrs>"
        f"{_tree(spec)}"
        f'<mapcanvas name="theMapCanvas" annotationsVisible="1"><units>{canvas_units}</units>'
        f"<extent><xmin>{ext[0]}</xmin><ymin>{ext[1]}</ymin><xmax>{ext[2]}</xmax>"
        f"<ymax>{ext[3]}</ymax></extent><rotation>0</rotation>"
        f"<destinationsrs>{crs}</destinationsrs><rendermaptile>0</rendermaptile>"
        "</mapcanvas>"
        f"<projectlayers>{layers}</projectlayers>"
        f"<layerorder>{order}</layerorder>"
        "<properties><Paths><Absolute type=\"bool\">false</Absolute></Paths>"
        "<SpatialRefSys><ProjectionsEnabled type=\"int\">1</ProjectionsEnabled>"
        "</SpatialRefSys><Measurement><DistanceUnits type=\"QString\">meters</DistanceUnits>"
        "<AreaUnits type=\"QString\">m2</AreaUnits></Measurement></properties>"
        "<visibility-presets/><transformContext/>"
        f"<projectMetadata><identifier></identifier><parentidentifier></parentidentifier>"
        f"<language>{'zh' if spec.lang == 'zh' else 'en'}</language><type></type>"
        f"<title>{escape(spec.title)}</title><abstract></abstract><author>ecomap</author>"
        "</projectMetadata>"
        f"{_layout(spec)}"
        "</qgis>\n")


def project_zip(spec: ProjectSpec, name: str) -> bytes:
    """The project zipped as a ``.qgz`` archive (what ``qgis_projects.content`` holds)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}.qgs", project_qgs(spec).encode("utf-8"))
    return buf.getvalue()
