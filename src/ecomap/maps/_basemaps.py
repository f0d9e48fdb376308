"""Basemaps: none (offline, the default), OpenStreetMap, Tianditu (天地图) and Gaode (高德).

``none`` draws the county and township outlines with labels on a plain background: the
map needs nothing from the network.  The other three load tiles from the internet; the
map says so on its face (and says when the tiles fail to load), keeps a "no basemap"
choice in the layer control and stays usable offline: the data layers do not depend on
the tiles.

Gaode tiles are drawn in GCJ-02, the obfuscated datum every map published in China
must use, which lies 100–700 m off WGS 84 / CGCS2000.  With ``gaode`` every overlay is
shifted WGS 84 → GCJ-02 before it is encoded (:func:`to_display`, through
:func:`ecomap.crs.geometries_to_gcj02`), so that plots sit where they are on the
ground relative to Gaode's roads and rivers.  Tianditu's ``_w`` tiles are CGCS2000 in
Web Mercator: no shift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import folium
import geopandas as gpd
from folium.map import Layer

from ecomap import crs
from ecomap.errors import InputError
from ecomap.i18n import tr
from ecomap.maps import _style
from ecomap.maps._furniture import RawHtml, RawMacro
from ecomap.maps._vector import script_json

__all__ = ["BASEMAPS", "Basemap", "Tiles", "add_basemap", "get_basemap", "online_urls",
           "to_display"]

BASEMAPS = ("none", "osm", "tianditu", "gaode")


@dataclass(frozen=True)
class Tiles:
    url: str
    attribution: str
    subdomains: str = "abc"
    max_zoom: int = 18


@dataclass(frozen=True)
class Basemap:
    """A basemap choice: its tile layers (none for ``none``) and whether it is GCJ-02."""

    name: str
    tiles: tuple[Tiles, ...] = ()
    gcj02: bool = False

    @property
    def online(self) -> bool:
        return bool(self.tiles)

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(t.url for t in self.tiles)

    @property
    def max_zoom(self) -> int:
        return min((t.max_zoom for t in self.tiles), default=18)


_OSM = Tiles(
    "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
    subdomains="abc", max_zoom=19)
_TIANDITU = ("https://t{s}.tianditu.gov.cn/%s_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
             "&LAYER=%s&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
             "&TILECOL={x}&tk=%s")
_TIANDITU_ATTR = '天地图 &copy; <a href="https://www.tianditu.gov.cn">国家地理信息公共服务平台</a>'
_GAODE = Tiles(
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
    "&x={x}&y={y}&z={z}",
    '&copy; <a href="https://www.amap.com">高德地图</a>', subdomains="1234", max_zoom=18)


def get_basemap(name: str = "none", *, tianditu_key: str | None = None,
                lang: str = "zh") -> Basemap:
    """The basemap called ``name`` (one of :data:`BASEMAPS`).

    Tianditu needs a key (free from https://console.tianditu.gov.cn): ``tianditu_key``,
    which the CLI reads from ``--tianditu-key`` or ``ECOMAP_TIANDITU_KEY``.  The key is
    written into the HTML, where anyone with the file can read it.
    """
    name = (name or "none").strip().lower()
    if name == "none":
        return Basemap("none")
    if name == "osm":
        return Basemap("osm", (_OSM,))
    if name == "gaode":
        return Basemap("gaode", (_GAODE,), gcj02=True)
    if name == "tianditu":
        key = (tianditu_key or "").strip()
        if not key:
            raise InputError(tr("天地图底图需要密钥: 请用 --tianditu-key 密钥 指定, 或设置 "
                                "ECOMAP_TIANDITU_KEY (可在 https://console.tianditu.gov.cn "
                                "免费申请)",
                                "the tianditu basemap needs a key: pass --tianditu-key KEY or "
                                "set ECOMAP_TIANDITU_KEY (a free key from "
                                "https://console.tianditu.gov.cn)"))
        if not re.fullmatch(r"[0-9a-fA-F]{32}", key):
            raise InputError(tr("天地图密钥 {key}… 不是 32 位十六进制字符; 请复制 "
                                "https://console.tianditu.gov.cn 上显示的密钥 (tk)",
                                "tianditu key {key}… is not 32 hexadecimal characters; copy "
                                "the key (tk) shown at https://console.tianditu.gov.cn",
                                key=key[:6]))
        vec, cva = ("vec", "cva") if lang == "zh" else ("vec", "eva")
        return Basemap("tianditu", (
            Tiles(_TIANDITU % (vec, vec, key), _TIANDITU_ATTR, "01234567", 18),
            Tiles(_TIANDITU % (cva, cva, key), _TIANDITU_ATTR, "01234567", 18),
        ))
    raise InputError(tr("未知底图 {name!r}; 可选: {choices}",
                        "unknown basemap {name!r}; choose one of: {choices}", name=name,
                        choices=", ".join(BASEMAPS)))


def to_display(gdf: gpd.GeoDataFrame | None, basemap: Basemap) -> gpd.GeoDataFrame | None:
    """``gdf`` in the coordinates the basemap is drawn in (GCJ-02 for Gaode)."""
    if gdf is None or not basemap.gcj02 or gdf.empty:
        return gdf
    out = gdf.copy()
    out[out.geometry.name] = crs.geometries_to_gcj02(gdf.geometry.values)
    return out


class _BlankBase(Layer):
    """An empty base layer: "no basemap" in the layer control."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, overlay=False, control=True, show=False)
        self._name = "BlankBase"

    def render(self, **kwargs) -> None:
        self.get_root().script.add_child(
            RawHtml(f"var {self.get_name()} = L.layerGroup();\n"), name=self.get_name())


class _WatchTiles(RawMacro):
    def __init__(self, layers: list, message: str) -> None:
        super().__init__()
        self._name = "WatchTiles"
        self.layers = layers
        self.message = message

    def script_js(self) -> str:
        names = ", ".join(t.get_name() for t in self.layers)
        return (f"ecomap.watchTiles({self._parent.get_name()}, [{names}], "
                f"{script_json(self.message)});\n")


def add_basemap(m: folium.Map, basemap: Basemap, *, lang: str) -> str | None:
    """Add the basemap's tiles (and a "no basemap" choice); the note to show, if online."""
    if not basemap.online:
        return None
    label = _style.text(basemap.name, lang)
    if len(basemap.tiles) == 1:
        t = basemap.tiles[0]
        base = folium.TileLayer(t.url, attr=t.attribution, name=label, subdomains=t.subdomains,
                                max_zoom=t.max_zoom, max_native_zoom=t.max_zoom, overlay=False)
        base._ecomap_online = True
        base.add_to(m)
        tiles = [base]
    else:
        base = folium.FeatureGroup(name=label, overlay=False, control=True, show=True)
        tiles = []
        for t in basemap.tiles:
            layer = folium.TileLayer(t.url, attr=t.attribution, subdomains=t.subdomains,
                                     max_zoom=t.max_zoom, max_native_zoom=t.max_zoom,
                                     control=False)
            layer._ecomap_online = True
            layer.add_to(base)
            tiles.append(layer)
        base.add_to(m)
    _BlankBase(_style.text("no_basemap", lang)).add_to(m)
    m.add_child(_WatchTiles(tiles, _style.text("online_failed", lang)))
    note = _style.text("online", lang, name=label)
    if basemap.gcj02:
        note += "；" if lang == "zh" else "; "
        note += _style.text("gcj02", lang)
    return note


def online_urls(root) -> tuple[str, ...]:
    """URL templates of the online basemap tiles anywhere in ``root`` (a map or page)."""
    found: list[str] = []

    def walk(el) -> None:
        if getattr(el, "_ecomap_online", False):
            found.append(el.tiles)
        for child in getattr(el, "_children", {}).values():
            walk(child)

    walk(root)
    return tuple(dict.fromkeys(found))
