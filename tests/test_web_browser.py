"""End to end in a real headless Chromium (Playwright driving Debian's ``chromium``)
against the app served by a real uvicorn: sign in, upload a zipped GBK Shapefile, read
the review page, confirm, and find the new plots on the township map.

Screenshots of every step go to ``test-output/web/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
    page.wait_for_function(f"!!document.querySelector('iframe[src*=\"{part}\"]')")
    for _ in range(200):
        frames = [f for f in page.frames if part in f.url]
        if frames:
            frames[0].wait_for_function(READY, timeout=60_000)
            return frames[0]
        page.wait_for_timeout(100)
    pytest.fail(f"no frame {part}")


def _shot(page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # let the maps settle after their first draw
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=name != "2-dashboard")


def test_sign_in_upload_review_confirm_and_see_the_plots(tmp_path):
    binary = chromium_binary()
    from playwright.sync_api import sync_playwright

    settings = make_settings(tmp_path)
    app = create_app(settings, staging_root=tmp_path / "staging")
    add_accounts(app)
    # The plot file as a forestry station sends it: GBK Shapefile, Chinese names, zipped;
    # the third plot is a bow-tie that the checks repair (a warning on the review page).
    rows = standard_rows(3)
    shp = write_shp(frame(rows, [plot(-3000, 1000, 300, 300), plot(-2500, 1000, 200, 200),
                                 bowtie(-2000, 1000, 200)]), tmp_path / "src" / "造林小班.shp")
    zipped = zip_files(tmp_path / "造林小班2023.zip", shp_members(shp))
    errors: list[str] = []
    with LiveServer(app) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=binary,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (errors.append("dialog: " + d.message), d.dismiss()))

        page.goto(server.url + "/")
        assert page.url.startswith(server.url + "/login")
        page.fill("#username", "编辑甲")
        page.fill("#password", PASSWORD)
        _shot(page, "1-sign-in")
        page.click("#sign-in")
        page.wait_for_url(server.url + "/")
        assert "编辑甲" in page.inner_text("header")
        _map_frame(page, "/maps/county.html")
        _shot(page, "2-dashboard")

        page.goto(server.url + "/upload")
        page.set_input_files("#file", str(zipped))
        page.select_option("#category", "afforestation")
        page.fill("#year", "2023")
        page.click("#check")
        page.wait_for_url("**/uploads/*")
        assert page.inner_text("#status") == "通过(有警告)"
        assert page.inner_text("#accepted") == "3"
        # 300² + 200² + the bow-tie's two triangles (200² / 2) = 150 000 m².
        assert page.inner_text("#area") == f"{150_000 / MU:,.2f}"
        problems = page.inner_text("#problems")
        assert "XB003" in problems and "警告" in problems
        assert "甲镇" in page.inner_text("#by-township")
        preview = _map_frame(page, "/preview.html")
        assert preview.evaluate("document.querySelectorAll('path.leaflet-interactive')"
                                ".length") >= 3
        _shot(page, "3-review")
        with open_store(settings.store) as st:
            assert len(st.plots()) == 0  # nothing stored before confirming

        page.click("#confirm")
        page.wait_for_url("**/batches?stored=*")
        assert page.is_visible("#stored")
        assert "造林小班2023.zip" in page.inner_text("#batches")
        _shot(page, "4-batches")

        page.goto(server.url + "/townships/甲镇")
        table = page.inner_text("#plots")
        for pid in ("XB001", "XB002", "XB003"):
            assert pid in table
        town = _map_frame(page, "/maps/township/")
        stats = town.evaluate("ecomap.stats(ecomap.maps[0])")
        assert stats["features"] == stats["drawn"] == 3
        # Hover the first new plot: its tooltip names it.
        with open_store(settings.store) as st:
            pt = st.plots().set_index("plot_id").geometry["XB001"].representative_point()
        x, y = town.evaluate(f"(function () {{var p = ecomap.maps[0].latLngToContainerPoint("
                             f"[{pt.y}, {pt.x}]); return [p.x, p.y];}})()")
        box = page.locator("#township-map").bounding_box()
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.move(box["x"] + x + 1, box["y"] + y)
        town.wait_for_function("((document.querySelector('.ecomap-tip') || {}).textContent "
                               "|| '').indexOf('XB001') >= 0", timeout=10_000)
        _shot(page, "5-township")
        # Opened directly, a map still draws, in a sandbox: an origin of its own, without
        # the site's cookies (a script slipped into it could not act as the user).
        assert town.evaluate("window.origin") == "null"
        page.goto(server.url + "/maps/county.html")
        page.wait_for_function(READY, timeout=60_000)
        assert page.evaluate("window.origin") == "null"
        assert page.evaluate("(function () { try { return document.cookie; } "
                             "catch (e) { return 'refused'; } })()") == "refused"
        browser.close()
    assert errors == []
