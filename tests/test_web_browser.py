"""End to end in a real headless Chromium (``ecomap.maps._chromium`` driving Debian's
``chromium``) against the app served by a real uvicorn: sign in, upload a zipped GBK
Shapefile, read the review page, confirm, and find the new plots on the township map.

Screenshots of every step go to ``test-output/web/``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ecomap.maps._chromium import Chromium
from ecomap.store import open_store
from ecomap.web import create_app
from tests.chromium import chromium_binary
from tests.uploads import bowtie, frame, plot, shp_members, standard_rows, write_shp, zip_files
from tests.webapp import PASSWORD, LiveServer, add_accounts, make_settings

pytestmark = pytest.mark.browser

OUT = Path(__file__).resolve().parents[1] / "test-output" / "web"
MU = 10000 / 15
READY = "document.documentElement.getAttribute('data-ecomap-ready') === '1'"


def _map_frame(page, part: str):
    """The frame of the map whose URL contains ``part``, once the map has drawn."""
    page.wait_for(f"!!document.querySelector('iframe[src*=\"{part}\"]')")
    found = page.frame(part, timeout=20)
    found.wait_for(READY, timeout=60)
    return found


def _shot(page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    time.sleep(0.3)  # let the maps settle after their first draw
    (OUT / f"{name}.png").write_bytes(page.screenshot(full_page=name != "2-dashboard"))


def test_sign_in_upload_review_confirm_and_see_the_plots(tmp_path):
    binary = chromium_binary()
    settings = make_settings(tmp_path)
    app = create_app(settings, staging_root=tmp_path / "staging")
    add_accounts(app)
    # The plot file as a forestry station sends it: GBK Shapefile, Chinese names, zipped;
    # the third plot is a bow-tie that the checks repair (a warning on the review page).
    rows = standard_rows(3)
    shp = write_shp(frame(rows, [plot(-3000, 1000, 300, 300), plot(-2500, 1000, 200, 200),
                                 bowtie(-2000, 1000, 200)]), tmp_path / "src" / "造林小班.shp")
    zipped = zip_files(tmp_path / "造林小班2023.zip", shp_members(shp))
    with LiveServer(app) as server, Chromium(binary) as browser:
        page = browser.new_page(offline=False)
        page.set_viewport(1280, 900)
        page.set_locale("zh-CN")

        page.goto(server.url + "/")
        assert page.url.startswith(server.url + "/login")
        page.fill("#username", "编辑甲")
        page.fill("#password", PASSWORD)
        _shot(page, "1-sign-in")
        page.click("#sign-in")
        page.wait_for_url(lambda u: u == server.url + "/")
        assert "编辑甲" in page.text("header")
        _map_frame(page, "/maps/county.html")
        _shot(page, "2-dashboard")

        page.goto(server.url + "/upload")
        page.set_files("#file", zipped)
        page.select("#category", "afforestation")
        page.fill("#year", "2023")
        page.click("#check")
        page.wait_for_url(lambda u: "/uploads/" in u)
        assert page.text("#status") == "通过(有警告)"
        assert page.text("#accepted") == "3"
        # 300² + 200² + the bow-tie's two triangles (200² / 2) = 150 000 m².
        assert page.text("#area") == f"{150_000 / MU:,.1f}"  # 亩 to one decimal
        problems = page.text("#problems")
        assert "XB003" in problems and "警告" in problems
        assert "甲镇" in page.text("#by-township")
        preview = _map_frame(page, "/preview.html")
        assert preview.evaluate("document.querySelectorAll('path.leaflet-interactive')"
                                ".length") >= 3
        _shot(page, "3-review")
        with open_store(settings.store) as st:
            assert len(st.plots()) == 0  # nothing stored before confirming

        page.click("#confirm")
        page.wait_for_url(lambda u: "/batches?stored=" in u)
        assert page.is_visible("#stored")
        assert "造林小班2023.zip" in page.text("#batches")
        _shot(page, "4-batches")

        page.goto(server.url + "/townships/甲镇")
        table = page.text("#plots")
        for pid in ("XB001", "XB002", "XB003"):
            assert pid in table
        town = _map_frame(page, "/maps/township/")
        # The map fills its frame, the frame at least 560 px high: nothing drawn below its
        # edge (the scale bar and the south of the township show).
        frame_h = page.bounding_box("#township-map")["height"]
        inner, content, scale_bottom = town.evaluate(
            "[window.innerHeight, document.documentElement.scrollHeight, document"
            ".querySelector('.leaflet-control-scale').getBoundingClientRect().bottom]")
        assert frame_h >= 560 and abs(frame_h - inner) <= 4
        assert content <= inner and 0 < scale_bottom <= inner
        stats = town.evaluate("ecomap.stats(ecomap.maps[0])")
        assert stats["features"] == stats["drawn"] == 3
        # Hover the first new plot: its tooltip names it.
        with open_store(settings.store) as st:
            pt = st.plots().set_index("plot_id").geometry["XB001"].representative_point()
        x, y = town.evaluate(f"(function () {{var p = ecomap.maps[0].latLngToContainerPoint("
                             f"[{pt.y}, {pt.x}]); return [p.x, p.y];}})()")
        box = page.bounding_box("#township-map")
        page.mouse_move(box["x"] + x, box["y"] + y)
        page.mouse_move(box["x"] + x + 1, box["y"] + y)
        town.wait_for("((document.querySelector('.ecomap-tip') || {}).textContent "
                      "|| '').indexOf('XB001') >= 0", timeout=10)
        _shot(page, "5-township")
        # Opened directly, a map still draws, in a sandbox: an origin of its own, without
        # the site's cookies (a script slipped into it could not act as the user).
        assert town.evaluate("window.origin") == "null"
        page.goto(server.url + "/maps/county.html")
        page.wait_for(READY, timeout=60)
        assert page.evaluate("window.origin") == "null"
        assert page.evaluate("(function () { try { return document.cookie; } "
                             "catch (e) { return 'refused'; } })()") == "refused"
        errors = page.exceptions() + ["dialog: " + d for d in page.dialogs()]
    assert errors == []
