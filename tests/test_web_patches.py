"""Township-bound editors and the patches pages, through the app over real HTTP
(TestClient): 督查图斑 list, one patch's page, its update and photos, the API, and
plot uploads refused outside the account's township.

The store: townships 甲镇 (west) | 乙镇 (east) of tests/conftest; patches TB001 in 甲镇,
TB002 and TB003 in 乙镇 (tests/test_patches.py's layer).  Account 甲站 is an editor
bound to 甲镇; 编辑甲 an editor of the whole county.
"""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from ecomap.cli import cli
from ecomap.patches.importing import import_patches
from ecomap.store import open_store
from ecomap.web import create_app
from ecomap.web.accounts import Accounts
from tests.test_patches import write_patch_zip
from tests.test_photos import jpeg
from tests.webapp import PASSWORD, add_accounts, bearer, client, gbk_zip, sign_in

TOWN_EDITOR = "甲站"


@pytest.fixture
def papp(settings, tmp_path):
    with open_store(settings.store) as st:
        _, result = import_patches(write_patch_zip(tmp_path / "p2022.zip"), st, year=2022)
        assert result is not None
    app = create_app(settings, staging_root=tmp_path / "staging")
    add_accounts(app)
    app.state.accounts.add(TOWN_EDITOR, PASSWORD, "editor", "甲镇")
    return app


def _state(app, patch_id):
    from ecomap.patches.service import store_patch_table

    with open_store(app.state.settings.store) as st:
        t = store_patch_table(st)
    return t[t["patch_id"] == patch_id].iloc[0].to_dict()


def _photo_count(app, patch_id):
    with open_store(app.state.settings.store) as st:
        return len(st.photos(target_kind="patch", target_key=patch_id))


UNLAWFUL = {"verification": "违法", "status": "整改中"}


# --- accounts ---------------------------------------------------------------------------

def test_accounts_file_without_townships_gets_the_column(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL, "
                "password_hash TEXT NOT NULL, created_at TEXT NOT NULL)")
    con.execute("INSERT INTO users VALUES ('老账号', 'editor', 'x', '2024-01-01')")
    con.commit()
    con.close()
    accounts = Accounts(path)
    assert accounts.get("老账号").township is None
    assert accounts.set_township("老账号", "甲镇").township == "甲镇"
    assert accounts.list()[0]["township"] == "甲镇"


def test_cli_binds_an_account_to_a_store_township(settings):
    env = {"ECOMAP_STORE": settings.store, "ECOMAP_USERS": settings.users}
    runner = CliRunner()
    r = runner.invoke(cli, ["user", "add", "站长", "--role", "editor", "--township", "甲",
                            "--password", PASSWORD], env=env)
    assert r.exit_code == 0, r.output
    assert Accounts(settings.users).get("站长").township == "甲镇"
    r = runner.invoke(cli, ["user", "township", "站长", "丙镇"], env=env)
    assert r.exit_code != 0 and "丙镇" in r.output and "甲镇" in r.output
    r = runner.invoke(cli, ["user", "township", "站长", "--none"], env=env)
    assert r.exit_code == 0, r.output
    assert Accounts(settings.users).get("站长").township is None


def test_users_page_shows_and_sets_the_township(papp):
    with client(papp) as c:
        csrf = sign_in(c, "admin")
        r = c.post("/users", data={"csrf": csrf, "username": "乙站", "password": PASSWORD,
                                   "role": "editor", "township": "乙"})
        assert r.status_code == 200, r.text
        r = c.post("/users", data={"csrf": csrf, "username": "丙站", "password": PASSWORD,
                                   "role": "editor", "township": "丙镇"})
        assert r.status_code == 400 and "丙镇" in r.text
        html = c.get("/users").text
    assert papp.state.accounts.get("乙站").township == "乙镇"
    row = html[html.index(f"<td>{TOWN_EDITOR}</td>"):]
    assert row[:row.index("</tr>")].count("甲镇") == 1


# --- patch updates and photos -----------------------------------------------------------

def test_bound_editor_updates_its_township_only(papp):
    with client(papp) as c:
        csrf = sign_in(c, TOWN_EDITOR)
        r = c.post("/patches/TB002", data={"csrf": csrf, **UNLAWFUL},
                   follow_redirects=False)
        assert r.status_code == 403
        assert "TB002" in r.text and "乙镇" in r.text and "甲镇" in r.text
        # The page of another township's patch shows it, without the forms.
        page = c.get("/patches/TB002").text
        assert 'id="update"' not in page and 'id="not-yours"' in page
        r = c.post("/patches/TB001", data={"csrf": csrf, **UNLAWFUL},
                   follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/patches/TB001?updated=2"
        page = c.get("/patches/TB001").text
    assert 'class="pst pst-in-progress" id="status">整改中' in page
    assert _state(papp, "TB001")["status"] == "整改中"
    assert (_state(papp, "TB002")["verification"], _state(papp, "TB002")["status"]) == (
        "未核实", "未整改")  # as imported


def test_unbound_editor_and_admin_keep_their_rights(papp):
    for name, patch in (("编辑甲", "TB002"), ("admin", "TB003")):
        with client(papp) as c:
            csrf = sign_in(c, name)
            r = c.post(f"/patches/{patch}", data={"csrf": csrf, **UNLAWFUL},
                       follow_redirects=False)
            assert r.status_code == 303, r.text
        assert _state(papp, patch)["status"] == "整改中"


def test_refused_transition_is_shown_and_nothing_stored(papp):
    with client(papp) as c:
        csrf = sign_in(c, TOWN_EDITOR)
        r = c.post("/patches/TB001", data={"csrf": csrf, "verification": "违法",
                                           "status": "已销号"})
    assert r.status_code == 422
    assert 'id="refused"' in r.text and "须先整改完成" in r.text and "TB001" in r.text
    assert _state(papp, "TB001")["verification"] == "未核实"


def test_update_without_csrf_refused(papp):
    with client(papp) as c:
        sign_in(c, TOWN_EDITOR)
        r = c.post("/patches/TB001", data=UNLAWFUL)
    assert r.status_code == 403 and _state(papp, "TB001")["status"] == "未整改"


def test_bound_editor_uploads_photos_to_its_township_only(papp):
    with client(papp) as c:
        csrf = sign_in(c, TOWN_EDITOR)
        files = [("files", ("现场1.jpg", jpeg(), "image/jpeg"))]
        r = c.post(f"/upload/photos?patch=TB002&csrf={csrf}", files=files)
        assert r.status_code == 403 and "TB002" in r.text and "乙镇" in r.text
        assert _photo_count(papp, "TB002") == 0
        r = c.post(f"/upload/photos?patch=TB001&csrf={csrf}", files=files,
                   follow_redirects=False)
        assert r.status_code == 303, r.text
        page = c.get("/patches/TB001").text
        photo_id = page.split('<img src="/photos/')[1].split(".jpg")[0]
        thumb = c.get(f"/photos/{photo_id}.jpg")
        full = c.get(f"/photos/{photo_id}/full.jpg")
        # The same photo again is refused with its message, nothing stored twice.
        again = c.post(f"/upload/photos?patch=TB001&csrf={csrf}", files=files)
    assert _photo_count(papp, "TB001") == 1
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    assert full.status_code == 200 and len(full.content) > len(thumb.content)
    assert again.status_code == 422 and "现场1.jpg" in again.text
    assert 'id="refused"' in again.text


def test_photo_upload_needs_the_csrf_of_the_action_url(papp):
    with client(papp) as c:
        sign_in(c, TOWN_EDITOR)
        r = c.post("/upload/photos?patch=TB001",
                   files=[("files", ("a.jpg", jpeg(), "image/jpeg"))])
    assert r.status_code == 403 and _photo_count(papp, "TB001") == 0


def test_viewer_sees_the_patch_without_forms_and_may_not_post(papp):
    with client(papp) as c:
        csrf = sign_in(c, "viewer")
        page = c.get("/patches/TB001").text
        r = c.post("/patches/TB001", data={"csrf": csrf, **UNLAWFUL})
    assert "TB001" in page and 'id="update"' not in page
    assert r.status_code == 403


# --- the list -----------------------------------------------------------------------------

def test_patches_page_lists_the_township_first_and_counts(papp):
    with client(papp) as c:
        sign_in(c, TOWN_EDITOR)
        own = c.get("/patches?year=2022").text
        county = c.get("/patches?year=2022&township=").text
    rows = lambda html: html.split('<table id="patches">')[1].split("</table>")[0]  # noqa: E731
    assert "TB001" in rows(own) and "TB002" not in rows(own)
    assert all(f"TB00{i}" in rows(county) for i in (1, 2, 3))
    # Not verified yet: drawn hollow, as on the patches map.
    tb002 = county.split('id="patch-TB002"')[1].split("</tr>")[0]
    assert '<span class="pst pst-unverified">未整改</span>' in tb002
    # The sentence: three patches, none verified yet.
    assert "2022年度森林督查问题图斑3个" in county
    progress = county.split('<table id="progress"')[1].split("</table>")[0]
    assert "乙镇" in progress and "甲镇" in progress


def test_overdue_patch_in_red_with_days_late(papp):
    with client(papp) as c:
        csrf = sign_in(c, "admin")
        c.post("/patches/TB002", data={"csrf": csrf, "verification": "违法",
                                       "deadline": "2020-01-31"})
        html = c.get("/patches?year=2022").text
    import datetime as dt

    days = (dt.date.today() - dt.date(2020, 1, 31)).days
    row = html.split('id="patch-TB002"')[1].split("</tr>")[0]
    assert f'<span class="late">(逾期 {days} 天)</span>' in row


def test_english_page(papp):
    with client(papp) as c:
        sign_in(c, TOWN_EDITOR)
        html = c.get("/patches/TB001?lang=en").text
    assert "Update the patch" in html and "not started" in html


# --- the API ------------------------------------------------------------------------------

def test_api_applies_the_same_township_rules(papp):
    head = bearer(papp, TOWN_EDITOR)
    with client(papp) as c:
        r = c.post("/api/patches/TB002", data=UNLAWFUL, headers=head)
        assert r.status_code == 403 and "乙镇" in r.json()["message"]
        r = c.post("/api/uploads/photos?patch=TB003", headers=head,
                   files=[("files", ("b.jpg", jpeg(), "image/jpeg"))])
        assert r.status_code == 403 and "TB003" in r.json()["message"]
        r = c.post("/api/patches/TB001", data=UNLAWFUL, headers=head)
        assert r.status_code == 200
        assert r.json()["events"] == [{"field": "verification", "value": "违法"},
                                      {"field": "status", "value": "整改中"}]
        r = c.post("/api/patches/TB001", data={"status": "未整改"}, headers=head)
        assert r.status_code == 422 and "只能向前" in r.json()["message"]
        r = c.post("/api/uploads/photos?patch=TB001", headers=head,
                   files=[("files", ("b.jpg", jpeg(), "image/jpeg"))])
        assert r.status_code == 200 and r.json()["photos"][0]["stored"] is True
        listed = c.get("/api/patches?year=2022&township=甲镇", headers=head).json()
    assert [r["patch_id"] for r in listed["rows"]] == ["TB001"]
    assert listed["rows"][0]["status"] == "整改中" and len(listed["rows"][0]["photos"]) == 1


# --- plot uploads -------------------------------------------------------------------------

def _upload(c, csrf, path):
    with open(path, "rb") as f:
        return c.post(f"/upload?csrf={csrf}", data={"category": "afforestation", "year": "2023"},
                      files={"file": (path.name, f, "application/zip")},
                      follow_redirects=False)


def test_plot_upload_outside_the_township_refused_naming_plots(papp, tmp_path):
    east = gbk_zip(tmp_path, "east", 2, x0=3000.0, prefix="YB")  # in 乙镇
    west = gbk_zip(tmp_path, "west", 2, x0=-3000.0, prefix="JB")  # in 甲镇
    with client(papp) as c:
        csrf = sign_in(c, TOWN_EDITOR)
        assert "只能上传位于 甲镇 的小班" in c.get("/upload").text
        r = _upload(c, csrf, east)
        assert r.status_code == 403
        assert "YB001、YB002" in r.text and "甲镇" in r.text
        assert papp.state.staging.pending(papp.state.accounts.get(TOWN_EDITOR)) == []
        r = _upload(c, csrf, west)
        assert r.status_code == 303, r.text
    head = bearer(papp, TOWN_EDITOR)
    with client(papp) as c, open(east, "rb") as f:
        r = c.post("/api/uploads", headers=head, data={"category": "afforestation", "year": "2023",
                                                        "confirm": "true"},
                   files={"file": ("east.zip", f, "application/zip")})
    assert r.status_code == 403 and "YB001" in r.json()["message"]
    with open_store(papp.state.settings.store) as st:
        assert len(st.plots()) == 0
    # The county's editor may upload it.
    with client(papp) as c:
        r = _upload(c, sign_in(c, "编辑甲"), east)
    assert r.status_code == 303, r.text


# --- in a real browser ----------------------------------------------------------------------

@pytest.mark.browser
def test_browser_township_editor_updates_status_and_uploads_a_photo(papp, tmp_path):
    import time
    from pathlib import Path

    from ecomap.maps._chromium import Chromium
    from tests.chromium import chromium_binary
    from tests.webapp import LiveServer

    out = Path(__file__).resolve().parents[1] / "test-output" / "web"
    out.mkdir(parents=True, exist_ok=True)

    def shot(page, name):
        time.sleep(0.2)
        (out / f"patches-{name}.png").write_bytes(page.screenshot(full_page=True))

    # A phone photo taken inside TB001 (GK x -3000…-2900, y 2000…2150 from the origin).
    photo = tmp_path / "TB001现场.jpg"
    photo.write_bytes(jpeg(at=(-2950, 2075)))
    binary = chromium_binary()
    with LiveServer(papp) as server, Chromium(binary) as browser:
        page = browser.new_page(offline=False)
        page.set_viewport(1280, 900)
        page.goto(server.url + "/patches/TB001")
        page.fill("#username", TOWN_EDITOR)
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
        page.wait_for_url(lambda u: u.endswith("/patches/TB001"))
        assert page.text("#status") == "未整改"

        # A refused transition: shown with its message, nothing stored.
        page.select("#f-status", "已销号")
        page.select("#f-verification", "违法")
        page.click("#save")
        page.wait_for("!!document.querySelector('#refused')")
        assert "须先整改完成" in page.text("#refused")
        # What was chosen is still chosen, to be corrected.
        assert page.evaluate("document.querySelector('#f-status').value") == "已销号"
        shot(page, "3-refused")

        page.select("#f-verification", "违法")
        page.select("#f-status", "整改中")
        page.click("#save")
        page.wait_for_url(lambda u: "updated=2" in u)
        assert page.text("#status") == "整改中"
        assert "pst-in-progress" in page.evaluate("document.querySelector('#status').className")

        page.set_files("#f-photos", photo)
        page.click("#send-photos")
        page.wait_for_url(lambda u: "photos=1" in u)
        page.wait_for("(() => { const i = document.querySelector('#photos img');"
                      " return !!i && i.complete && i.naturalWidth > 0; })()")
        assert page.evaluate("document.querySelector('#photos img').naturalWidth") > 0
        assert "TB001现场.jpg" in page.text("#photos")
        assert page.text("#status") == "整改中"
        assert "整改中" in page.text("#history")
        shot(page, "2-patch")

        page.goto(server.url + "/patches?year=2022&township=")
        page.wait_for("(() => { const i = document.querySelector('#patch-TB001 img');"
                      " return !!i && i.complete && i.naturalWidth > 0; })()")
        assert "pst-in-progress" in page.evaluate(
            "document.querySelector('#patch-TB001 .pst').className")
        shot(page, "1-list")

        # The map on the page: TB001 in the colour of 整改中, its photo in its popup.
        page.wait_for("!!document.querySelector('iframe[src*=\"/maps/patches.html\"]')")
        frame = page.frame("/maps/patches.html", timeout=20)
        frame.wait_for("typeof ecomap === 'object' && ecomap.maps.length > 0", timeout=60)
        find = ("(function () { var hit = null; ecomap.maps[0].eachLayer(function (l) {"
                " if (l._eco && l._eco.data.cols.patch_id && [0, 1, 2].some(function (i) {"
                " return l._eco.data.cols.patch_id.get(i) === 'TB001'; })) hit = l; });"
                " return hit; })()")
        assert frame.evaluate(f"{find}._eco.options.title") == "整改中"
        assert frame.evaluate(f"{find}._eco.options.style.fillColor") == "#e69f00"
        frame.evaluate(f"(function () {{ var l = {find}; ecomap.openFeature(ecomap.maps[0], "
                       "l._eco, 0); })()")
        frame.wait_for("(function () { var i = document.querySelector("
                       "'.leaflet-popup .ecomap-photos img');"
                       " return !!i && i.complete && i.naturalWidth > 0; })()", timeout=20)
        assert "TB001" in frame.evaluate(
            "document.querySelector('.leaflet-popup').textContent")
        shot(page, "4-map-popup")
        assert not page.exceptions()


def test_history_latest_first_as_it_happened(papp):
    import pandas as pd

    with open_store(papp.state.settings.store) as st:
        # Stored in this order, dated otherwise (a bulk table sent late).
        for field, value, at in (("verification", "违法", "2023-01-09T04:00:00+00:00"),
                                 ("status", "已整改", "2023-05-26T04:00:00+00:00"),
                                 ("note", "补记", "2023-02-01T04:00:00+00:00")):
            st.add_patch_events(pd.DataFrame({"patch_id": ["TB001"], "field": [field],
                                              "value": [value]}), user="root", at=at)
    with client(papp) as c:
        sign_in(c, "viewer")
        html = c.get("/patches/TB001").text
    history = html.split('<table id="history">')[1]
    # UTC 04:00 is 12:00 at the bureau (UTC+8).
    order = [history.index(s) for s in ("2023-05-26 12:00", "2023-02-01 12:00",
                                         "2023-01-09 12:00")]
    assert order == sorted(order)
    with client(papp) as c:
        sign_in(c, "viewer")
        row = c.get("/patches?year=2022&township=").text.split('id="patch-TB001"')[1]
    assert "2023-05-26 root" in row.split("</tr>")[0]  # the last change as it happened


def test_an_account_bound_after_the_check_cannot_confirm_outside(papp, tmp_path):
    east = gbk_zip(tmp_path, "east", 2, x0=3000.0, prefix="YB")  # in 乙镇
    with client(papp) as c:
        csrf = sign_in(c, "编辑乙")
        r = _upload(c, csrf, east)
        assert r.status_code == 303, r.text
        papp.state.accounts.set_township("编辑乙", "甲镇")
        r = c.post(r.headers["location"] + "/confirm", data={"csrf": csrf})
    assert r.status_code == 403 and "YB001、YB002" in r.text
    with open_store(papp.state.settings.store) as st:
        assert len(st.plots()) == 0
