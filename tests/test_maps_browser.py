"""Maps in a real headless Chromium with its network switched off.

Driven over the DevTools protocol (``ecomap.maps._chromium``): no request may leave
the page, no script may fail, every plot must be drawn; hovering shows a tooltip,
clicking opens the attribute popup (escaped), the search box finds plots; the
briefing, the embed snippet and the PNG/PDF exports work the same way.  Screenshots
go to ``test-output/`` for the test report.
"""

from __future__ import annotations

import re
import struct
import time
from pathlib import Path

import pytest

from ecomap import api, maps
from ecomap.maps._chromium import Chromium
from ecomap.store import Provenance
from tests.chromium import chromium_binary, load_page, page_requests
from tests.conftest import gk_frame, plot

pytestmark = pytest.mark.browser

OUT = Path(__file__).resolve().parents[1] / "test-output"
EVIL = '<img src=x onerror="window.__xss=1">'
READY = "document.documentElement.getAttribute('data-ecomap-ready') === '1'"


@pytest.fixture
def store_with_evil(filled_store):
    filled_store.add_plots(gk_frame([{"plot_id": "EVIL-1", "category": "afforestation",
                                      "year": 2023, "village": EVIL}],
                                    [plot(-2600, 7000, 400, 400)]),
                           provenance=Provenance("evil.geojson"))
    return filled_store


def _open(tmp_path: Path, html: str, name: str, *, size=(1200, 800)):
    chromium_binary()  # skips without Chromium
    path = tmp_path / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    browser = Chromium()
    page = browser.new_page(offline=True)
    page.call("Emulation.setDeviceMetricsOverride",
              {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False})
    page.goto(path.as_uri())
    page.wait_for(READY, timeout=60)
    return browser, page, path


def _shot(page, name: str) -> None:
    OUT.mkdir(exist_ok=True)
    data = page.screenshot()
    (OUT / f"{name}.png").write_bytes(data)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"


def _click(page, x, y):
    for kind in ("mousePressed", "mouseReleased"):
        page.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                               "clickCount": 1})


def _point_of(page, store, plot_id):
    """Container pixel of a point inside the plot."""
    plots = store.plots(year=2023).set_index("plot_id")
    pt = plots.geometry[plot_id].representative_point()
    return page.evaluate(f"(function () {{var p = ecomap.maps[0].latLngToContainerPoint("
                         f"[{pt.y}, {pt.x}]); return [p.x, p.y];}})()")


@pytest.mark.parametrize("renderer", ["svg", "canvas"])
def test_map_draws_offline_and_answers_the_mouse(tmp_path, store_with_evil, renderer):
    html = maps.to_html(api.county_map(store_with_evil, year=2023, renderer=renderer))
    browser, page, _ = _open(tmp_path, html, f"county-{renderer}")
    with browser:
        stats = page.evaluate("ecomap.stats(ecomap.maps[0])")
        assert stats["drawn"] == stats["features"] == 4  # S-30-70, HOLE, MULTI, EVIL-1
        if renderer == "svg":
            assert page.evaluate("document.querySelectorAll('path.leaflet-interactive')"
                                 ".length") >= 4 + 2
        else:
            assert page.evaluate("document.querySelectorAll('canvas').length") >= 1
        for css in ("ecomap-legend-plots", "ecomap-legend-choropleth", "ecomap-title",
                    "ecomap-north", "leaflet-control-scale", "leaflet-control-layers",
                    "leaflet-control-minimap", "leaflet-control-measure",
                    "leaflet-control-search", "leaflet-control-zoom-fullscreen", "ecomap-note"):
            assert page.evaluate(f"!!document.querySelector('.{css}')"), css
        assert "人工造林" in page.evaluate("document.querySelector('.ecomap-legend').textContent")

        # Hover: tooltip with the plot ID; click: the attribute table, escaped.
        x, y = _point_of(page, store_with_evil, "EVIL-1")
        for dx in (0, 1):
            page.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x + dx, "y": y})
            time.sleep(0.1)
        assert "EVIL-1" in page.wait_for("(document.querySelector('.ecomap-tip') || {})"
                                         ".textContent", timeout=5)
        _click(page, x, y)
        popup = page.wait_for("(document.querySelector('.leaflet-popup-content') || {})"
                              ".textContent", timeout=5)
        assert "小班号EVIL-1" in popup and EVIL in popup  # shown as text
        assert page.evaluate("window.__xss === undefined && "
                             "!document.querySelector('.leaflet-popup-content img')")

        # Search: type part of a plot ID, pick the tip, its popup opens.
        btn = page.evaluate("(function () {var r = document.querySelector("
                            "'.leaflet-control-search .search-button').getBoundingClientRect();"
                            "return [r.x + r.width / 2, r.y + r.height / 2];})()")
        _click(page, *btn)
        page.evaluate("document.querySelector('.leaflet-control-search .search-input').focus()")
        page.call("Input.insertText", {"text": "S-30"})
        page.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": "0", "code": "Digit0",
                                             "windowsVirtualKeyCode": 48})
        tips = page.wait_for("Array.from(document.querySelectorAll('.search-tip'))"
                             ".map(function (e) { return e.textContent; })", timeout=5)
        assert tips == ["S-30-70 · 甲村"]
        tip = page.evaluate("(function () {var r = document.querySelector('.search-tip')"
                            ".getBoundingClientRect(); return [r.x + 5, r.y + 5];})()")
        _click(page, *tip)
        page.wait_for("((document.querySelector('.leaflet-popup-content') || {}).textContent "
                      "|| '').indexOf('S-30-70') >= 0", timeout=5)
        page.wait_for("!ecomap.maps[0]._animatingZoom", timeout=5)
        time.sleep(0.3)
        _shot(page, f"maps-county-{renderer}")
        assert page.errors() == []
        assert [u for u in page.requests() if not u.startswith("file:")] == []


def test_chinese_text_has_glyphs_not_boxes(tmp_path, filled_store):
    """The page's font stack draws 人工造林 with real glyphs (a CJK font is installed),
    not the missing-glyph box Chromium draws for a code point no font has."""
    browser, page, _ = _open(tmp_path, maps.to_html(api.county_map(filled_store, year=2023)),
                             "glyphs")
    with browser:
        same = page.evaluate("""(function () {
            var font = getComputedStyle(document.querySelector('.ecomap-legend')).fontFamily;
            function draw(text) {
                var c = document.createElement('canvas'); c.width = 200; c.height = 40;
                var x = c.getContext('2d'); x.font = '24px ' + font; x.fillText(text, 2, 30);
                return Array.from(x.getImageData(0, 0, 200, 40).data).join(',');
            }
            var tofu = draw('\\uDB80\\uDC00'), ink = draw('人');
            return [ink === tofu, ink === draw(' ')];
        })()""")
        assert same == [False, False]


def test_network_log_shows_no_request(tmp_path, filled_store):
    """Chromium's own net log (not only the page's view of it) is empty for the map."""
    chromium_binary()
    page = tmp_path / "county.html"
    page.write_text(maps.to_html(api.county_map(filled_store, year=2023, renderer="canvas")),
                    encoding="utf-8")
    netlog = tmp_path / "netlog.json"
    dom = load_page(page, netlog=netlog, ready=READY)
    assert page_requests(netlog) == []
    assert re.search(r'<div class="folium-map leaflet-container', dom)  # the script ran


def test_briefing_draws_every_map_offline(tmp_path, filled_store):
    html = maps.to_html(api.briefing(filled_store, year=2023))
    browser, page, _ = _open(tmp_path, html, "briefing", size=(1100, 900))
    with browser:
        drawn = page.evaluate("ecomap.maps.map(function (m) { return ecomap.stats(m).drawn; })")
        assert drawn == [3, 3, 2]  # county; 甲镇: S-30-70, HOLE, MULTI; 乙镇: S-30-70, MULTI
        assert page.errors() == []
        assert [u for u in page.requests() if not u.startswith("file:")] == []
        _shot(page, "maps-briefing")


def test_township_map_draws_offline(tmp_path, filled_store):
    html = maps.to_html(api.township_map(filled_store, "乙镇", year=2023))
    browser, page, _ = _open(tmp_path, html, "township")
    with browser:
        assert page.evaluate("ecomap.stats(ecomap.maps[0]).drawn") == 2  # S-30-70, MULTI
        assert "乙镇汇总" in page.evaluate("document.querySelector('.ecomap-summary').textContent")
        assert page.errors() == []
        assert [u for u in page.requests() if not u.startswith("file:")] == []
        _shot(page, "maps-township")


def test_embedded_map_draws_inside_its_iframe(tmp_path, filled_store):
    snippet = maps.to_embed(api.county_map(filled_store, year=2023), height="600px")
    host = f"<!DOCTYPE html><html><body><h1>县局门户</h1>{snippet}</body></html>"
    chromium_binary()
    path = tmp_path / "host.html"
    path.write_text(host, encoding="utf-8")
    with Chromium() as browser:
        page = browser.new_page(offline=True)
        page.goto(path.as_uri())
        expr = ("[document.documentElement.getAttribute('data-ecomap-ready'), "
                "(document.querySelector('.folium-map') || document.body).getAttribute("
                "'data-ecomap-drawn')]")
        deadline = time.monotonic() + 30
        res = None
        while time.monotonic() < deadline:
            # The sandboxed iframe may live in a process of its own: attach to it as a target.
            targets = browser.call("Target.getTargets")["targetInfos"]
            frames = [t for t in targets if t["type"] == "iframe"]
            if frames:
                session = browser.call("Target.attachToTarget", {
                    "targetId": frames[0]["targetId"], "flatten": True})["sessionId"]
                inner = type(page)(browser, session)
            else:
                tree = page.call("Page.getFrameTree")["frameTree"].get("childFrames") or []
                if not tree:
                    time.sleep(0.1)
                    continue
                ctx = page.call("Page.createIsolatedWorld",
                                {"frameId": tree[0]["frame"]["id"]})["executionContextId"]
                inner = None
            for _ in range(300):
                if inner is not None:
                    res = inner.evaluate(expr)
                else:
                    res = page.call("Runtime.evaluate", {"expression": expr, "contextId": ctx,
                                                         "returnByValue": True})["result"]["value"]
                if res[0] == "1":
                    break
                time.sleep(0.1)
            break
        assert res == ["1", "3"]
        assert page.errors() == []
        assert [u for u in page.requests() if not u.startswith("file:")] == []


def _png_size(png: bytes) -> tuple[int, int]:
    return struct.unpack(">II", png[16:24])


def test_png_and_pdf_exports(filled_store):
    chromium_binary()
    m = api.county_map(filled_store, year=2023)
    png = maps.to_png(m)
    assert _png_size(png) == (3509, 2481)  # A4 landscape at 300 dpi
    phys = png.index(b"pHYs")
    assert struct.unpack(">IIB", png[phys + 4:phys + 13]) == (11811, 11811, 1)
    OUT.mkdir(exist_ok=True)
    (OUT / "maps-county-300dpi.png").write_bytes(png)
    pdf = maps.to_pdf(api.county_map(filled_store, year=2023))
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert (round(float(box.group(1))), round(float(box.group(2)))) == (842, 595)
    (OUT / "maps-county.pdf").write_bytes(pdf)


@pytest.mark.slow
def test_fifty_thousand_plots_open_and_pan(tmp_path):
    """The benchmark's 50,000 plots: every one drawn, quickly, and a pan redraws fast."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from maps_bench import make_plots

    county, towns, plots, summary = make_plots(50_000)
    html = maps.to_html(maps.county_map(county, towns, plots, summary, county_name="大余县"))
    assert len(html.encode()) < 8_000_000
    t0 = time.monotonic()
    browser, page, _ = _open(tmp_path, html, "fifty-thousand", size=(1400, 1000))
    with browser:
        assert time.monotonic() - t0 < 30
        assert page.evaluate("ecomap.stats(ecomap.maps[0]).drawn") == 50_000
        pan = page.evaluate("new Promise(function (done) {var m = ecomap.maps[0], "
                            "t = performance.now(); m.panBy([300, 200], {animate: false});"
                            "requestAnimationFrame(function () { requestAnimationFrame("
                            "function () { done(performance.now() - t); }); });})")
        assert pan < 2000
        _shot(page, "maps-50000")
