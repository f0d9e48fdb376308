"""Folium maps must open on the intranet with no internet: every asset inlined.

The browser test (``-m browser``) opens the page in a real headless Chromium, records
Chromium's network log and checks that the page itself requested nothing over
http(s), that the map draws and that no script failed.
"""

from __future__ import annotations

import json
import re

import branca.colormap as bcm
import folium
import pytest
from folium import plugins

from ecomap.maps._assets import (
    UnvendoredAssetError,
    asset_report,
    inline_assets,
    render_offline,
)
from ecomap.maps._minimap import GeoJsonMiniMap
from ecomap.maps._vendored import MANIFEST_PATH, STATIC_DIR, vendored_packages
from tests.chromium import ERROR_PROBE, chromium_binary, js_errors, load_page, page_requests

PINNED = {
    "leaflet": "1.9.3",
    "leaflet.fullscreen": "3.0.0",
    "leaflet-minimap": "3.6.1",
    "leaflet-measure": "2.1.7",
    "leaflet-search": "2.9.7",
    "d3": "3.5.5",
    "jquery": "3.7.1",
}


def _square(x: float, y: float, d: float) -> dict:
    ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


PLOTS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"plot_id": f"XB-{i}", "township": t, "area_mu": a},
            "geometry": _square(110.00 + 0.05 * i, 30.00 + 0.03 * i, 0.03),
        }
        for i, (t, a) in enumerate([("城关镇", 12.5), ("龙潭乡", 48.0), ("青山镇", 96.3)])
    ],
}
COUNTY = {
    "type": "FeatureCollection",
    "features": [{"type": "Feature", "properties": {}, "geometry": _square(109.9, 29.9, 0.35)}],
}


def build_map(*, jquery_popup: bool = False) -> tuple[folium.Map, dict[str, str]]:
    """The offline map the county uses, with every control we ship; returns JS names."""
    m = folium.Map(location=[30.05, 110.08], zoom_start=11, tiles=None)
    step = bcm.StepColormap(
        ["#edf8e9", "#74c476", "#006d2c"], index=[0, 25, 75, 100], vmin=0, vmax=100,
        caption="修复面积(亩) step",
    )
    plots = folium.GeoJson(
        PLOTS,
        name="修复小班",
        style_function=lambda f: {
            "color": "#333", "weight": 1, "fillOpacity": 0.7,
            "fillColor": step(f["properties"]["area_mu"]),
        },
        tooltip=folium.GeoJsonTooltip(["plot_id", "township"], aliases=["小班号", "乡镇"]),
        popup=folium.GeoJsonPopup(["plot_id", "area_mu"], aliases=["小班号", "面积(亩)"]),
    ).add_to(m)
    step.add_to(m)
    bcm.LinearColormap(["#fff5eb", "#d94801"], vmin=0, vmax=100, caption="linear").add_to(m)
    site = folium.CircleMarker(
        [30.02, 110.03], radius=8, color="#222", fill=True, fill_color="#0068b7",
        tooltip="监测点 W-1",
    ).add_to(m)
    marker = folium.Marker([30.09, 110.16], tooltip="默认图标").add_to(m)
    if jquery_popup:
        # folium.Popup builds its content with jQuery: $(`...`)[0]
        folium.Popup("<b>水源地</b>", max_width=200).add_to(marker)
    plugins.Fullscreen().add_to(m)
    GeoJsonMiniMap(COUNTY, position="bottomright").add_to(m)
    plugins.MeasureControl(primary_length_unit="meters", primary_area_unit="sqmeters").add_to(m)
    plugins.Search(plots, search_label="plot_id", placeholder="小班号").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    names = {"map": m.get_name(), "plots": plots.get_name(), "site": site.get_name(),
             "marker": marker.get_name()}
    return m, names


# ------------------------------------------------------------------------- vendored


def test_manifest_lists_the_pinned_versions_and_files_are_intact():
    assert vendored_packages() == PINNED
    manifest = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    total = 0
    for pkg in manifest["packages"]:
        assert pkg["licence"] and (STATIC_DIR / pkg["licence_file"]).is_file()
        for f in pkg["files"]:
            assert (STATIC_DIR / f["path"]).stat().st_size == f["bytes"]
            assert not f["path"].endswith(("-src.js", ".esm.js", ".map"))
            total += f["bytes"]
    assert total == manifest["total_bytes"] < 1_500_000


def test_folium_cdn_urls_are_the_vendored_versions():
    """If folium bumps a pin, this fails before any map goes out half-online."""
    m, _ = build_map(jquery_popup=True)
    html = m.get_root().render()
    urls = re.findall(r'<(?:script src|link rel="stylesheet" href)="(https://[^"]+)"', html)
    assert any("leaflet@1.9.3/dist/leaflet.js" in u for u in urls)
    for name, version in PINNED.items():
        if name != "jquery":
            assert any(name in u and version in u for u in urls), (name, urls)
    inline_assets(html)  # raises on any unvendored / version-mismatched asset


# ------------------------------------------------------------------------ inlining


def test_full_map_needs_no_network():
    m, _ = build_map()
    html = inline_assets(m.get_root().render())
    assert asset_report(html) == []
    assert not re.search(r"<script[^>]+src=|<link[^>]+stylesheet", html)
    # the vendored code is in the page
    assert "Leaflet 1.9.3" in html and 'data-ecomap-asset="leaflet@1.9.3/dist/leaflet.js"' in html
    for label in ("d3@3.5.5/d3.min.js", "leaflet-search@2.9.7/dist/leaflet-search.min.js",
                  "leaflet-measure@2.1.7/dist/leaflet-measure.min.js",
                  "leaflet-minimap@3.6.1/dist/Control.MiniMap.min.js",
                  "leaflet.fullscreen@3.0.0/Control.FullScreen.js"):
        assert f'data-ecomap-asset="{label}"' in html
    # CSS images and the default marker icon are data: URIs
    assert "url(images/" not in html and "url(../images/" not in html
    assert 'url("data:image/png;base64,' in html and 'url("data:image/svg+xml;base64,' in html
    assert 'L.Icon.Default.mergeOptions({"iconUrl": "data:image/png;base64,' in html
    # nothing uses them, so folium's extras are gone
    for gone in ("jQuery v3", "bootstrap", "fontawesome", "awesome-markers", "glyphicons"):
        assert gone.lower() not in html.lower(), gone
    assert 300_000 < len(html.encode()) < 800_000


def test_folium_popup_keeps_jquery_inline():
    m, _ = build_map(jquery_popup=True)
    html = render_offline(m)
    assert "jQuery v3.7.1" in html and 'data-ecomap-asset="jquery@3.7.1/dist/jquery.min.js"' in html
    assert "bootstrap" not in html.lower()
    assert len(html.encode()) < 900_000


def test_inline_assets_is_idempotent_and_inlines_each_file_once():
    m, _ = build_map()
    raw = m.get_root().render()
    twice = raw.replace("</head>", '<script src="https://unpkg.com/leaflet@1.9.3/dist/leaflet.js">'
                        "</script></head>")
    once = inline_assets(twice)
    assert once.count('data-ecomap-asset="leaflet@1.9.3/dist/leaflet.js"') == 1
    assert inline_assets(once) == once


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js",
        "https://unpkg.com/leaflet@1.9.4/dist/leaflet.js",
        "https://cdnjs.cloudflare.com/ajax/libs/leaflet/1.9.3/leaflet.min.js",
        "//cdn.jsdelivr.net/npm/leaflet@1/dist/leaflet.js",
    ],
)
def test_cdn_host_differences_do_not_matter(url):
    html = inline_assets(f'<html><head><script src="{url}"></script></head></html>')
    assert 'data-ecomap-asset="leaflet@1.9.3/dist/leaflet.js"' in html
    assert asset_report(html) == []


def test_other_major_version_is_refused():
    page = '<script src="https://unpkg.com/leaflet@2.0.0/dist/leaflet.js"></script>'
    with pytest.raises(RuntimeError, match=r"leaflet@2\.0\.0.*1\.9\.3 is vendored"):
        inline_assets(page)


def test_unvendored_plugin_raises_naming_the_url():
    m, _ = build_map()
    plugins.MarkerCluster([[30.0, 110.0]]).add_to(m)
    with pytest.raises(RuntimeError, match=r"https://cdnjs\.cloudflare\.com/.*leaflet\.markercluster"):
        inline_assets(m.get_root().render())


def test_awesome_marker_icon_is_not_silently_dropped():
    m = folium.Map(tiles=None)
    folium.Marker([30, 110], icon=folium.Icon(icon="leaf", prefix="fa")).add_to(m)
    with pytest.raises(UnvendoredAssetError) as err:
        inline_assets(m.get_root().render())
    assert err.value.url.startswith("https://")
    assert "not vendored" in str(err.value)


def test_bootstrap_classes_in_a_popup_are_not_silently_dropped():
    m = folium.Map(tiles=None)
    folium.Marker([30, 110], tooltip=folium.Tooltip('<span class="badge">A</span>')).add_to(m)
    with pytest.raises(UnvendoredAssetError, match="bootstrap"):
        inline_assets(m.get_root().render())


def test_tiles_and_the_stock_minimap_are_reported():
    """tiles=None is the offline map; folium's MiniMap always loads OpenStreetMap tiles."""
    m = folium.Map(tiles="OpenStreetMap")
    html = inline_assets(m.get_root().render())
    assert asset_report(html) == ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"]

    m = folium.Map(tiles=None)
    plugins.MiniMap().add_to(m)
    html = inline_assets(m.get_root().render())
    assert asset_report(html) == ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"]
    with pytest.raises(RuntimeError, match="tile.openstreetmap.org"):
        render_offline(m)

    m = folium.Map(tiles=None)
    GeoJsonMiniMap(COUNTY).add_to(m)
    assert asset_report(render_offline(m)) == []


def test_intranet_tiles_with_a_relative_url_are_fine():
    m = folium.Map(tiles=folium.TileLayer("/tiles/{z}/{x}/{y}.png", attr="县自然资源局"))
    assert asset_report(render_offline(m)) == []


@pytest.mark.parametrize(
    ("snippet", "url"),
    [
        ('<img src="https://a.example/x.png">', "https://a.example/x.png"),
        ("var p = `<img src=\\\"http://b.example/y.jpg\\\">`;", "http://b.example/y.jpg"),
        ("<style>.x{background:url('//c.example/z.gif')}</style>", "//c.example/z.gif"),
        ('<style>@import "https://d.example/a.css";</style>', "https://d.example/a.css"),
        ('<link rel="icon" href="https://e.example/f.ico">', "https://e.example/f.ico"),
        ('L.tileLayer.wms("https://g.example/wms", {})', "https://g.example/wms"),
        ('L.imageOverlay( "https://h.example/i.png", b)', "https://h.example/i.png"),
        ('{"iconUrl": "https://i.example/m.png"}', "https://i.example/m.png"),
        ('$.ajax("https://j.example/d.json", {})', "https://j.example/d.json"),
        ('<script src="https://k.example/l.js"></script>', "https://k.example/l.js"),
    ],
)
def test_asset_report_finds_fetches(snippet, url):
    assert asset_report(snippet) == [url]


def test_asset_report_ignores_plain_links_and_namespaces():
    page = ('<a href="https://leafletjs.com">Leaflet</a>'
            '<svg xmlns="http://www.w3.org/2000/svg"></svg><img src="data:image/png;base64,AA">')
    assert asset_report(page) == []


# -------------------------------------------------------------------------- browser

def _open_everything(names: dict[str, str]) -> str:
    return (
        "<script>window.addEventListener('load', function () {"
        f"{names['plots']}.openPopup(); {names['site']}.openTooltip();"
        f"if ({names['marker']}.getPopup()) {{ {names['marker']}.openPopup(); }}"
        "});</script>"
    )


@pytest.mark.browser
def test_offline_map_draws_in_headless_chromium(tmp_path):
    chromium_binary()
    m, names = build_map()
    html = render_offline(m)
    page = tmp_path / "map.html"
    page.write_text(html.replace("<head>", "<head>" + ERROR_PROBE, 1)
                    .replace("</html>", _open_everything(names) + "</html>"), encoding="utf-8")

    netlog = tmp_path / "netlog.json"
    shot = tmp_path / "map.png"
    dom = load_page(page, netlog=netlog, screenshot=shot)
    assert page_requests(netlog) == []
    assert js_errors(dom) is None
    # vector layers drawn (3 plots, circle marker, minimap outline + aiming rectangle)
    assert dom.count("leaflet-interactive") >= 4
    assert re.search(r'<path[^>]+class="leaflet-interactive"', dom)
    # branca/d3 legends, with their captions
    assert dom.count('class="legend leaflet-control"') == 2 and 'id="legend"' in dom
    assert "修复面积(亩) step" in dom and ">linear<" in dom
    # GeoJsonPopup / tooltip content, Leaflet's default icon from a data: URI
    assert "leaflet-popup-content" in dom and "XB-0" in dom and "foliumtooltip" in dom
    assert re.search(r'<img src="data:image/png;base64,[^"]+" class="leaflet-marker-icon', dom)
    for control in ("leaflet-control-layers", "leaflet-control-zoom-fullscreen",
                    "leaflet-control-minimap", "leaflet-control-measure",
                    "leaflet-control-search"):
        assert control in dom, control

    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5_000


@pytest.mark.browser
def test_folium_popup_with_inlined_jquery_works_offline(tmp_path):
    chromium_binary()
    m, names = build_map(jquery_popup=True)
    page = tmp_path / "popup.html"
    page.write_text(render_offline(m).replace("<head>", "<head>" + ERROR_PROBE, 1)
                    .replace("</html>", _open_everything(names) + "</html>"), encoding="utf-8")
    netlog = tmp_path / "netlog.json"
    dom = load_page(page, netlog=netlog)
    assert page_requests(netlog) == []
    assert js_errors(dom) is None
    assert "<b>水源地</b>" in dom
