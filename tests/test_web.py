"""The web service through FastAPI's TestClient: accounts and roles, CSRF, the upload
review cycle, hostile uploads, the size limit, escaping, concurrency, the JSON API.

Areas are checked against hand computation: the test plots are w × w metre squares
drawn in the Gauss-Kruger zone of the test townships (tests/conftest).
"""

from __future__ import annotations

import io
import json
import tempfile
import threading
import zipfile
from pathlib import Path

import pyogrio
import pytest
from click.testing import CliRunner

from ecomap.cli import cli
from ecomap.store import open_store
from ecomap.web import create_app
from ecomap.web.accounts import Accounts
from tests.uploads import frame, plot, standard_rows, zip_files
from tests.webapp import PASSWORD, add_accounts, bearer, client, csrf_of, gbk_zip, make_settings, sign_in

MU = 10000 / 15  # m² per mu


def snapshot(settings) -> tuple:
    with open_store(settings.store) as st:
        return len(st.plots()), len(st.plot_splits()), len(st.batches())


def staged_files(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "staging").rglob("*") if p.is_file()]


def upload(c, path: Path, headers=None, *, confirm=False, category="afforestation",
           year=2023):
    with open(path, "rb") as f:
        return c.post("/api/uploads", headers=headers or {},
                      files={"file": (path.name, f, "application/octet-stream")},
                      data={"category": category, "year": str(year),
                            "confirm": str(confirm).lower()})


def upload_form(c, path: Path, csrf: str, *, name: str | None = None, **options):
    """The upload page's form, as a browser sends it (afforestation, 2023; the CSRF token
    in the form's action URL, so that it is checked before the file is read)."""
    with open(path, "rb") as f:
        return c.post(f"/upload?csrf={csrf}", data={"category": "afforestation",
                                                    "year": "2023", "csrf": csrf},
                      files={"file": (name or path.name, f, "application/octet-stream")},
                      **options)


# --- accounts, sign-in, roles ------------------------------------------------------------

def test_pages_and_api_ask_to_sign_in(app):
    with client(app) as c:
        r = c.get("/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/"
        r = c.get("/api/summary")
        assert r.status_code == 401 and "请先登录" in r.json()["message"]
        r = c.get("/api/summary?lang=en")
        assert r.status_code == 401 and "sign in" in r.json()["message"]
        token = csrf_of(c.get("/login").text)
        r = c.post("/login", data={"username": "admin", "password": "wrong password",
                                   "csrf": token})
        assert r.status_code == 401 and "账号或密码错误" in r.text
        assert "ecomap_session" not in c.cookies


def test_session_cookie_is_httponly_and_samesite(app):
    with client(app) as c:
        token = csrf_of(c.get("/login").text)
        r = c.post("/login", data={"username": "admin", "password": PASSWORD, "csrf": token},
                   follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "ecomap_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_passwords_are_stored_as_argon2_hashes(app, settings):
    import sqlite3

    with sqlite3.connect(settings.users_path) as con:
        hashes = [h for (h,) in con.execute("SELECT password_hash FROM users")]
    assert len(hashes) == 4 and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(PASSWORD in h for h in hashes)


def test_failed_sign_ins_are_limited(app):
    with client(app) as c:
        token = csrf_of(c.get("/login").text)
        for _ in range(5):
            r = c.post("/login", data={"username": "viewer", "password": "nope nope",
                                       "csrf": token})
            assert r.status_code == 401
        # Now even the right password waits.
        r = c.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf": token})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert "登录失败次数过多" in r.text
        r = c.post("/api/login", data={"username": "viewer", "password": PASSWORD})
        assert r.status_code == 429 and "请等" in r.json()["message"]
        # Other accounts are not locked out by it.
        assert c.post("/api/login", data={"username": "admin",
                                          "password": PASSWORD}).status_code == 200


def test_each_role_has_its_rights(app, settings, tmp_path):
    shp = gbk_zip(tmp_path, "plots", 2)
    with client(app) as c:
        viewer = bearer(app, "viewer")
        assert c.get("/api/summary", headers=viewer).status_code == 200
        r = upload(c, shp, viewer, confirm=True)
        assert r.status_code == 403 and "editor role" in r.json()["message"]
        assert snapshot(settings)[0] == 0
        ed1, ed2, admin = bearer(app, "编辑甲"), bearer(app, "编辑乙"), bearer(app, "admin")
        r = upload(c, shp, ed1, confirm=True)
        assert r.status_code == 200, r.text
        batch = r.json()["batch_id"]
        assert snapshot(settings)[0] == 2
        # Another editor may not roll it back, the viewer neither; its owner may.
        r = c.post(f"/api/batches/{batch}/rollback", headers=ed2)
        assert r.status_code == 403 and "编辑甲" in r.json()["message"]
        assert c.post(f"/api/batches/{batch}/rollback", headers=viewer).status_code == 403
        assert c.post(f"/api/batches/{batch}/rollback", headers=ed1).status_code == 200
        assert snapshot(settings)[0] == 0
        # An admin may roll back anybody's batch, and manage accounts.
        batch = upload(c, shp, ed2, confirm=True).json()["batch_id"]
        assert c.post(f"/api/batches/{batch}/rollback", headers=admin).status_code == 200
        # Township-layer batches cannot be rolled back by editors.
        towns = [b for b in c.get("/api/batches", headers=ed1).json() if b["kind"] ==
                 "townships"][0]
        r = c.post(f"/api/batches/{towns['batch_id']}/rollback", headers=ed1)
        assert r.status_code == 403
    with client(app) as c:
        sign_in(c, "viewer")
        assert c.get("/upload").status_code == 403
        assert c.get("/users").status_code == 403
        page = c.get("/batches").text
        assert "/rollback" not in page  # no rollback buttons for a viewer
    with client(app) as c:
        token = sign_in(c, "admin")
        r = c.post("/users", data={"username": "新用户", "password": "long enough",
                                   "role": "editor", "csrf": token}, follow_redirects=False)
        assert r.status_code == 303
        assert "新用户" in c.get("/users").text


# --- CSRF ---------------------------------------------------------------------------------

def test_forms_without_the_csrf_token_are_refused(app, settings, tmp_path):
    shp = gbk_zip(tmp_path, "plots", 1)
    with client(app) as c:
        token = sign_in(c, "编辑甲")
        for bad in ("", "forged-token"):
            r = upload_form(c, shp, bad)
            assert r.status_code == 403 and "CSRF" in r.text
        # The JSON API used with the browser's cookie needs the header too.
        with open(shp, "rb") as f:
            r = c.post("/api/uploads", data={"category": "afforestation", "year": "2023",
                                             "confirm": "true"},
                       files={"file": ("plots.zip", f, "application/zip")})
        assert r.status_code == 403
        assert staged_files(tmp_path) == [] and snapshot(settings)[0] == 0
        with open(shp, "rb") as f:
            r = c.post("/api/uploads", headers={"X-CSRF-Token": token},
                       data={"category": "afforestation", "year": "2023", "confirm": "true"},
                       files={"file": ("plots.zip", f, "application/zip")})
        assert r.status_code == 200 and r.json()["batch_id"] is not None
        # Signing in needs the form's token as well (login CSRF).
        c.cookies.clear()
        r = c.post("/login", data={"username": "admin", "password": PASSWORD})
        assert r.status_code == 403


# --- the upload cycle (pages) -------------------------------------------------------------

def test_upload_review_confirm(app, settings, tmp_path):
    rows = standard_rows(3)
    for i, r in enumerate(rows):
        r["小班号"] = f"大余{i + 1}"
    # The third is a bow-tie: repaired to its two triangles, 100 × 100 / 2 m² … see below.
    from tests.uploads import bowtie, shp_members, write_shp

    shp = write_shp(frame(rows, [plot(-3000, 1000), plot(-2800, 1000, 200, 100),
                                 bowtie(-2500, 1000, 100)]), tmp_path / "src" / "造林.shp")
    zipped = zip_files(tmp_path / "造林小班.zip", shp_members(shp))
    with client(app) as c:
        token = sign_in(c, "编辑甲")
        r = upload_form(c, zipped, token, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/uploads/")
        review = c.get(r.headers["location"]).text
        assert "通过(有警告)" in review and "造林小班.zip" in review
        assert "大余3" in review and "GB18030" in review
        # 100² + 200 × 100 + the bow-tie's two triangles (100²/2) = 35 000 m².
        assert f"{35_000 / MU:,.1f}" in review  # 亩 to one decimal
        assert snapshot(settings)[0] == 0  # nothing stored before confirming
        preview = c.get(r.headers["location"] + "/preview.html")
        assert preview.status_code == 200 and "default-src 'none'" in \
            preview.headers["content-security-policy"]
        # The bow-tie is drawn in red under its 小班号 (JSON-escaped in the page).
        assert json.dumps("大余3")[1:-1] in preview.text
        r = c.post(r.headers["location"] + "/confirm", data={"csrf": csrf_of(review)},
                   follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/batches?stored=")
    with open_store(settings.store) as st:
        plots = st.plots()
        assert sorted(plots["plot_id"]) == ["大余1", "大余2", "大余3"]
        assert plots["area_m2"].sum() == pytest.approx(35_000, abs=1)
        assert st.batches()["user"].iloc[-1] == "编辑甲"
        assert st.batches()["source_file"].iloc[-1] == "造林小班.zip"
    assert staged_files(tmp_path) == []  # the upload's folder is gone


def test_discard_stores_nothing_and_removes_the_file(app, settings, tmp_path):
    shp = gbk_zip(tmp_path, "plots", 2)
    with client(app) as c:
        token = sign_in(c, "编辑甲")
        r = upload_form(c, shp, token, follow_redirects=False)
        where = r.headers["location"]
        assert len(staged_files(tmp_path)) == 1
        # Another editor cannot see or confirm it.
        with client(app) as other:
            sign_in(other, "编辑乙")
            assert other.get(where).status_code == 403
        r = c.post(where + "/discard", data={"csrf": token}, follow_redirects=False)
        assert r.status_code == 303
        assert c.get(where).status_code == 404
    assert staged_files(tmp_path) == [] and snapshot(settings)[0] == 0


# --- hostile and oversized uploads --------------------------------------------------------

def test_zip_slip_and_zip_bomb_are_refused_with_nothing_stored(tmp_path):
    settings = make_settings(tmp_path, max_unzipped_mb=5)
    app = create_app(settings, staging_root=tmp_path / "staging")
    add_accounts(app)
    before = snapshot(settings)
    slip = zip_files(tmp_path / "slip.zip", {"../../evil.shp": b"x", "a/../../../x.dbf": b"y"})
    bomb = zip_files(tmp_path / "bomb.zip", {"big.shp": b"\0" * 20_000_000})
    with client(app) as c:
        ed = bearer(app, "编辑甲")
        r = upload(c, slip, ed, confirm=True)
        assert r.status_code == 200
        j = r.json()
        assert j["report"]["status"] == "reject" and j["batch_id"] is None
        assert "zip slip" in j["report"]["problems"][0]["message"]
        r = upload(c, bomb, ed, confirm=True)
        j = r.json()
        assert j["report"]["status"] == "reject" and j["batch_id"] is None
        assert "zip 炸弹" in j["report"]["problems"][0]["message"]
    assert snapshot(settings) == before
    # Archives are unpacked in a fresh folder under the system's temporary directory;
    # a slipped member would land one to three levels above it.
    tmp = Path(tempfile.gettempdir())
    for folder in (tmp, tmp.parent, tmp.parent.parent, tmp_path, tmp_path.parent):
        assert not (folder / "evil.shp").exists() and not (folder / "x.dbf").exists()
    assert staged_files(tmp_path) == []


def test_oversized_upload_gets_a_readable_answer(tmp_path):
    settings = make_settings(tmp_path, max_upload_mb=0.2)
    app = create_app(settings, staging_root=tmp_path / "staging")
    add_accounts(app)
    big = tmp_path / "big.geojson"
    big.write_bytes(b" " * 400_000)
    with client(app) as c:
        token = sign_in(c, "编辑甲")
        r = upload_form(c, big, token)
        assert r.status_code == 413
        assert "文件太大" in r.text and "0.2 MB" in r.text and "<html" in r.text
        # Through the API, and streamed without a Content-Length: refused while it arrives.
        ed = bearer(app, "编辑甲")
        r = upload(c, big, ed)
        assert r.status_code == 413 and "MB allowed" in r.json()["message"]

        def chunks():
            yield (b'--b\r\nContent-Disposition: form-data; name="file"; filename="b.geojson"'
                   b"\r\n\r\n")
            for _ in range(40):
                yield b" " * 10_000
            yield b"\r\n--b--\r\n"

        r = c.post("/api/uploads", content=chunks(),
                   headers={**ed, "Content-Type": "multipart/form-data; boundary=b"})
        assert r.status_code == 413 and "MB allowed" in r.json()["message"]
    assert snapshot(settings)[0] == 0 and staged_files(tmp_path) == []


def test_unaccepted_type_is_refused_with_the_list(app, tmp_path):
    doc = tmp_path / "plots.docx"
    doc.write_bytes(b"PK\x03\x04")
    lone = tmp_path / "plots.shp"
    lone.write_bytes(b"\0" * 100)
    with client(app) as c:
        ed = bearer(app, "编辑甲")
        r = upload(c, doc, ed)
        assert r.status_code == 400 and ".zip" in r.json()["message"]
        r = upload(c, lone, ed)
        assert r.status_code == 400 and "一起压缩成 .zip" in r.json()["message"]


# --- escaping -----------------------------------------------------------------------------

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_attribute_values_are_escaped_on_pages_and_maps(app, settings, tmp_path):
    gj = tmp_path / "evil.geojson"
    frame([{"小班号": EVIL, "村": EVIL, "年度": 2023}], [plot(-3000, 1000)]).to_crs(
        4490).to_file(gj, driver="GeoJSON")
    with client(app) as c:
        token = sign_in(c, "编辑甲")
        r = upload_form(c, gj, token, name="<b>evil</b>.geojson")
        review = r.text
        assert r.status_code == 200 and "<script>alert" not in review
        assert "<b>evil" not in review
        where = str(r.url)
        preview = c.get(where + "/preview.html").text
        assert "<img src=x" not in preview and "\\u0026lt;script" in preview
        c.post(where + "/confirm", data={"csrf": csrf_of(review)})
        page = c.get("/townships/甲镇").text
        assert "&lt;script&gt;alert" in page and "<script>alert" not in page
        town_map = c.get("/maps/township/甲镇.html").text
        assert "<img src=x" not in town_map and "onerror=alert(1)>" not in town_map


# --- concurrency --------------------------------------------------------------------------

def test_two_concurrent_uploads_are_both_stored(app, settings, tmp_path):
    files = [gbk_zip(tmp_path, "甲", 30, y0=1000, prefix="JA"),
             gbk_zip(tmp_path, "乙", 30, y0=3000, prefix="YI")]
    tokens = [bearer(app, "编辑甲"), bearer(app, "编辑乙")]
    start = threading.Barrier(3)
    results: list = [None, None]
    seen: list[float] = []
    done = threading.Event()

    def send(i):
        with client(app) as c:
            start.wait()
            results[i] = upload(c, files[i], tokens[i], confirm=True)

    def read():
        with client(app) as c:
            start.wait()
            while not done.is_set():
                r = c.get("/api/summary", headers=tokens[0])
                assert r.status_code == 200, r.text
                seen.append(sum(x["area_mu"] for x in r.json()))

    threads = [threading.Thread(target=send, args=(i,)) for i in (0, 1)]
    reader = threading.Thread(target=read)
    for t in [*threads, reader]:
        t.start()
    for t in threads:
        t.join(timeout=300)
    done.set()
    reader.join(timeout=60)
    for r in results:
        assert r is not None and r.status_code == 200, r and r.text
        assert r.json()["batch_id"] is not None
    with open_store(settings.store) as st:
        plots = st.plots()
        assert len(plots) == 60 and len(st.batches()) == 4
        assert plots["area_m2"].sum() == pytest.approx(60 * 10_000, abs=1)
        assert set(st.batches()["user"]) >= {"编辑甲", "编辑乙"}
    # A reader saw 0, one batch or both — never part of one (30 plots of 100 × 100 m).
    one = 30 * 10_000 / MU
    assert seen and all(any(abs(s - k * one) < 0.05 for k in (0, 1, 2)) for s in seen), seen


# --- the JSON API and downloads -----------------------------------------------------------

def test_api_check_then_confirm(app, settings, tmp_path):
    shp = gbk_zip(tmp_path, "plots", 3, w=200)
    with client(app) as c:
        ed = bearer(app, "编辑甲")
        j = upload(c, shp, ed).json()
        assert j["batch_id"] is None and j["report"]["status"] == "accept"
        assert j["report"]["area_mu"] == pytest.approx(3 * 40_000 / MU, abs=1e-3)
        assert j["report"]["by_township"] == {"甲镇": pytest.approx(3 * 40_000 / MU, abs=1e-3)}
        assert c.get(f"/api/uploads/{j['upload_id']}", headers=ed).json() == j["report"]
        done = c.post(f"/api/uploads/{j['upload_id']}/confirm", headers=ed).json()
        assert done["plots"] == 3
        summary = c.get("/api/summary?year=2023", headers=ed).json()
        assert summary == [{"township": "甲镇", "category": "afforestation", "year": 2023,
                            "count": 3, "area_mu": round(3 * 40_000 / MU, 2),
                            "area_ha": 12.0}]
        spec = c.get("/api/openapi.json").json()
        assert {"/api/uploads", "/api/uploads/{token}/confirm", "/api/summary",
                "/api/batches/{batch_id}/rollback"} <= set(spec["paths"])
        # A confirmed upload is gone from the waiting list.
        assert c.post(f"/api/uploads/{j['upload_id']}/confirm", headers=ed).status_code == 404


def test_pages_and_downloads(app, settings, tmp_path):
    shp = gbk_zip(tmp_path, "plots", 2)
    with client(app) as c:
        upload(c, shp, bearer(app, "编辑甲"), confirm=True)
        sign_in(c, "viewer")
        home = c.get("/")
        assert home.status_code == 200 and "甲镇" in home.text and "人工造林" in home.text
        assert "script-src 'self'" in home.headers["content-security-policy"]
        county = c.get("/maps/county.html")
        # The county map holds the two stored plots (their ids in its plot layer).
        assert county.status_code == 200
        assert "XB001" in county.text and "XB002" in county.text
        assert county.headers["content-encoding"] == "gzip"
        again = c.get("/maps/county.html", headers={"If-None-Match": county.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert c.get("/?lang=en").text.count("Overview") >= 1
        csv = c.get("/downloads/summary.csv?year=2023")
        assert csv.content.startswith(b"\xef\xbb\xbf") and "甲镇" in csv.content.decode("utf-8-sig")
        assert c.get("/downloads/summary.xlsx").content[:2] == b"PK"
        gpkg = c.get("/townships/甲镇/plots.gpkg")
        path = tmp_path / "down.gpkg"
        path.write_bytes(gpkg.content)
        got = pyogrio.read_dataframe(path)
        assert sorted(got["plot_id"]) == ["XB001", "XB002"]
        assert c.get("/townships/无此镇").status_code == 404
        r = c.get("/downloads/briefing.zip")
        assert r.status_code == 200, r.text
        bundle = zipfile.ZipFile(io.BytesIO(r.content))
        names = set(bundle.namelist())
        assert {"briefing.html", "county.html", "summary.csv", "summary.xlsx"} <= names
        records = json.loads(bundle.read("summary.json"))
        assert sum(r["count"] for r in records) == 2


def test_cli_user_add_then_sign_in(settings):
    runner = CliRunner()
    r = runner.invoke(cli, ["user", "add", "林业站", "--role", "editor", "--password",
                            "a long secret", "--store", settings.store, "--users",
                            settings.users_path])
    assert r.exit_code == 0, r.output
    accounts = Accounts(settings.users_path)
    assert accounts.authenticate("林业站", "a long secret").role == "editor"
    r = runner.invoke(cli, ["user", "add", "short", "--password", "1234", "--users",
                            settings.users_path])
    assert r.exit_code == 2 and "至少要 8 个字符" in r.output
    r = runner.invoke(cli, ["user", "list", "--users", settings.users_path])
    assert "林业站\teditor" in r.output


# --- what the review found: races, limits, every form's CSRF, error pages -----------------

def test_a_double_confirm_stores_one_batch(app, settings, tmp_path):
    shp = gbk_zip(tmp_path, "plots", 5)
    ed = bearer(app, "编辑甲")
    with client(app) as c:
        token = upload(c, shp, ed).json()["upload_id"]
    start = threading.Barrier(2)
    codes: list[int] = []

    def confirm():
        with client(app) as c:
            start.wait()
            codes.append(c.post(f"/api/uploads/{token}/confirm", headers=ed).status_code)

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(codes) == [200, 404]
    assert snapshot(settings)[:1] == (5,)


def test_sign_ins_sent_at_once_are_limited_too(app):
    start = threading.Barrier(12)
    codes: list[int] = []

    def attempt():
        with client(app) as c:
            start.wait()
            codes.append(c.post("/api/login", data={"username": "viewer",
                                                    "password": "wrong wrong"}).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert codes.count(401) == 5 and codes.count(429) == 7


def test_forms_without_files_take_small_bodies_only(app, settings):
    with client(app) as c:
        r = c.post("/login", data={"username": "x", "password": "y" * 200_000, "csrf": "z"})
        assert r.status_code == 413 and "too large" in r.text


def test_every_state_changing_form_checks_csrf(app, settings, tmp_path):
    shp = gbk_zip(tmp_path, "plots", 1)
    with client(app) as c:
        batch = upload(c, shp, bearer(app, "admin"), confirm=True).json()["batch_id"]
        token = upload(c, gbk_zip(tmp_path, "more", 1, y0=3000, prefix="M"),
                       bearer(app, "admin")).json()["upload_id"]
        sign_in(c, "admin")
        before = (snapshot(settings), len(app.state.accounts.list()))
        posts = [("/logout", {}), (f"/batches/{batch}/rollback", {}),
                 ("/users", {"username": "x1", "password": "long enough", "role": "admin"}),
                 ("/users/viewer/remove", {}), (f"/uploads/{token}/confirm", {}),
                 (f"/uploads/{token}/discard", {})]
        for url, data in posts:
            for bad in ("", "forged", "甲乙"):  # also a token that is not ASCII
                r = c.post(url, data={**data, "csrf": bad}, follow_redirects=False)
                assert r.status_code == 403 and "CSRF" in r.text, (url, bad, r.status_code)
        assert (snapshot(settings), len(app.state.accounts.list())) == before
        assert c.get(f"/uploads/{token}").status_code == 200  # still waiting
        assert c.get("/").status_code == 200  # still signed in


def test_an_api_token_is_not_a_session_cookie(app, tmp_path):
    token = bearer(app, "admin")["Authorization"].split()[1]
    with client(app) as c:
        c.cookies.set("ecomap_session", token)
        assert c.get("/", follow_redirects=False).status_code == 303  # to the sign-in


def test_other_accounts_cannot_reach_an_upload(app, tmp_path):
    shp = gbk_zip(tmp_path, "plots", 1)
    with client(app) as c:
        token = upload(c, shp, bearer(app, "编辑甲")).json()["upload_id"]
        for who, code in (("编辑乙", 403), ("viewer", 403)):
            h = bearer(app, who)
            assert c.get(f"/api/uploads/{token}", headers=h).status_code == code
            assert c.post(f"/api/uploads/{token}/confirm", headers=h).status_code == code
            assert c.delete(f"/api/uploads/{token}", headers=h).status_code == code
        sign_in(c, "编辑乙")
        assert c.get(f"/uploads/{token}/preview.html").status_code == 403
        # The admin may see it, and stores it under its uploader's name.
        r = c.post(f"/api/uploads/{token}/confirm", headers=bearer(app, "admin"))
        assert r.status_code == 200
        batches = c.get("/api/batches", headers=bearer(app, "admin")).json()
        assert batches[-1]["user"] == "编辑甲" and batches[-1]["year"] == 2023


def test_unknown_pages_and_incomplete_forms_get_readable_answers(app):
    with client(app) as c:
        token = sign_in(c, "编辑甲")
        r = c.get("/no/such/page")
        assert r.status_code == 404 and "出错了" in r.text and "/no/such/page" in r.text
        r = c.post(f"/upload?csrf={token}", data={"csrf": token, "category": "afforestation"})
        assert r.status_code == 422 and "year" in r.text and "<html" in r.text
        r = c.post("/api/uploads", headers=bearer(app, "编辑甲"), data={"year": "2023"})
        assert r.status_code == 422 and "file" in r.json()["message"]
        # Signed out meanwhile: a form sends you back to its page after signing in.
        c.cookies.delete("ecomap_session")
        r = c.post("/batches/1/rollback", data={"csrf": token}, follow_redirects=False,
                   headers={"Referer": "http://ecomap.local/batches"})
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/batches"


def test_another_program_writing_meanwhile_does_not_lock_out_the_web(app, settings,
                                                                     tmp_path):
    """While another program (QGIS, `ecomap ingest`) holds the store's write lock, the
    web's readers are answered and its upload waits, then is stored: no 'database is
    locked' reaches anybody."""
    import sqlite3
    import time

    web_file = gbk_zip(tmp_path, "web", 30, y0=1000, prefix="WEB")
    ed = bearer(app, "编辑甲")
    with client(app) as c:
        token = upload(c, web_file, ed).json()["upload_id"]
    other = sqlite3.connect(settings.store, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the other program starts writing
    result: list = []

    def confirm():
        with client(app) as c:
            result.append(c.post(f"/api/uploads/{token}/confirm", headers=ed))

    t = threading.Thread(target=confirm)
    t.start()
    with client(app) as c:
        readers = [c.get("/api/summary", headers=ed) for _ in range(3)]
    time.sleep(2)
    assert not result  # still waiting for the lock
    other.execute("COMMIT")
    other.close()
    t.join(timeout=120)
    assert all(x.status_code == 200 for x in readers)
    assert result and result[0].status_code == 200, result and result[0].text
    with open_store(settings.store) as st:
        assert st.plots()["plot_id"].str.startswith("WEB").sum() == 30
