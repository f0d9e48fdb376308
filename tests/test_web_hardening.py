"""Hardening of the web service (issue #18): uploads refused before their body is read,
sign-in limits that cannot lock the owner out, sessions that end, forwarded headers,
query values checked, empty downloads, security headers on every answer, sandboxed maps.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import select
import socket
import tempfile
import threading
import time
from pathlib import Path

import openpyxl
import pyogrio
from click.testing import CliRunner
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from ecomap.cli import cli
from ecomap.cli.serve import uvicorn_options
from ecomap.web import create_app
from tests.webapp import PASSWORD, LiveServer, add_accounts, gbk_zip, make_settings, sign_in

MB = 1_000_000


def client(app, address: str = "testclient", **options) -> TestClient:
    """A client connecting from ``address`` (what the sign-in limiter counts)."""
    return TestClient(app, base_url="http://ecomap.local", client=(address, 50000), **options)


def api_login(c, name: str, password: str = PASSWORD):
    return c.post("/api/login", data={"username": name, "password": password})


def bearer(c, name: str) -> dict:
    r = api_login(c, name)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def temp_bytes(path: Path) -> int:
    """Bytes in files under ``path``, counting the unnamed ones (O_TMPFILE, unlinked)
    that this process holds open there — where spooled uploads go."""
    total = 0
    for p in path.rglob("*"):
        with contextlib.suppress(FileNotFoundError):  # removed while counted
            total += p.stat().st_size if p.is_file() else 0
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd).startswith(str(path)) and "(deleted)" in os.readlink(fd) \
                    or os.readlink(fd).startswith(f"{path}/#"):
                total += os.stat(fd).st_size
    return total


def raw_post(port: int, path: str, headers: dict, *, length: int, chunk: int = MB,
             sent_before_wait: int | None = None) -> tuple[bytes, int]:
    """POST a body of ``length`` bytes to the live server over a plain socket, a chunk at
    a time, stopping as soon as the server answers; (the answer, bytes sent)."""
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
            "Content-Type: multipart/form-data; boundary=xyz", f"Content-Length: {length}",
            *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    sent, answer = 0, b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall("\r\n".join(head).encode())
        part = b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"" \
               b"\r\n\r\n"
        try:
            while sent < length:
                readable, _, _ = select.select([s], [], [], 0.01)
                if readable:
                    break
                data = (part + b"\0" * chunk)[:min(chunk, length - sent)]
                part = b""
                s.sendall(data)
                sent += len(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while b"\r\n\r\n" not in answer:
                got = s.recv(65536)
                if not got:
                    break
                answer += got
        except ConnectionResetError:
            pass
    return answer, sent


# --- uploads: who may send one is known before the body is read --------------------------

def test_anonymous_uploads_are_refused_before_the_body_is_read(app, tmp_path, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))  # where a parsed form would spool
    peak, stop = [0], threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], temp_bytes(tmp) + temp_bytes(tmp_path / "staging"))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with LiveServer(app) as server:
            page, sent1 = raw_post(server.port, "/upload", {}, length=100 * MB)
            api, sent2 = raw_post(server.port, "/api/uploads", {}, length=100 * MB)
            forged, sent3 = raw_post(server.port, "/api/uploads",
                                     {"Authorization": "Bearer forged"}, length=100 * MB)
    finally:
        stop.set()
        watcher.join()
    assert page.startswith(b"HTTP/1.1 303") and b"location: /login" in page.lower()
    assert api.startswith(b"HTTP/1.1 401") and forged.startswith(b"HTTP/1.1 401")
    assert peak[0] < 2 * MB, f"{peak[0]} bytes written to temporary files"
    # The answer came while the body was still arriving: the server did not take it in.
    assert max(sent1, sent2, sent3) < 20 * MB


def test_signed_in_upload_without_csrf_in_the_url_is_refused_unread(app, tmp_path):
    with client(app) as c:
        token = sign_in(c, "编辑甲")
        body = b"--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + \
            token.encode() + b"\r\n--b--\r\n"
        # The token in the form's body alone is not enough: the body is not read first.
        r = c.post("/upload", content=body,
                   headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert r.status_code == 403 and "CSRF" in r.text
        # A viewer may not upload, whatever the body.
    with client(app) as c:
        token = sign_in(c, "viewer")
        r = c.post(f"/upload?csrf={token}", content=b"x" * 10,
                   headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert r.status_code == 403 and "editor" in r.text


def test_uploads_at_once_are_capped_per_account_and_in_all(tmp_path):
    settings = make_settings(tmp_path, max_parallel_uploads=2,
                             max_parallel_uploads_per_user=1)
    app = create_app(settings, staging_root=tmp_path / "staging")
    add_accounts(app)
    with client(app) as c:
        tokens = {name: bearer(c, name)["Authorization"] for name in ("编辑甲", "编辑乙",
                                                                        "admin")}
    small = gbk_zip(tmp_path, "plots", 1).read_bytes()
    with LiveServer(app) as server:
        hold = []

        def start_slow(name):
            """An upload that has begun and is still arriving (its slot taken)."""
            s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            s.sendall(f"POST /api/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: "
                      f"{tokens[name]}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                      f"Content-Length: {10 * MB}\r\n\r\n--b\r\n".encode())
            hold.append(s)

        def quick(name) -> tuple:
            import httpx2 as httpx

            r = httpx.post(f"{server.url}/api/uploads",
                           headers={"Authorization": tokens[name]},
                           data={"category": "afforestation", "year": "2023"},
                           files={"file": ("plots.zip", small, "application/zip")},
                           timeout=60)
            return r.status_code, r.headers.get("retry-after"), r.json()

        try:
            start_slow("编辑甲")
            time.sleep(0.5)
            code, retry, body = quick("编辑甲")  # a second one of the same account
            assert code == 429 and int(retry) > 0 and "编辑甲" in body["message"]
            start_slow("编辑乙")
            time.sleep(0.5)
            code, _, body = quick("admin")  # two running in all: a third waits
            assert code == 429 and "2" in body["message"]
        finally:
            for s in hold:
                s.close()
        deadline = time.time() + 30
        while (code := quick("admin")[0]) == 429 and time.time() < deadline:
            time.sleep(0.2)
        assert code == 200  # the slots are given back when an upload ends


# --- sign-in limits that cannot lock the owner out ------------------------------------

def failed_sign_ins(app, name: str, address: str, n: int) -> list[int]:
    with client(app, address) as c:
        return [api_login(c, name, "wrong password").status_code for _ in range(n)]


def test_failures_from_another_address_do_not_lock_the_owner_out(app):
    assert failed_sign_ins(app, "admin", "203.0.113.9", 6) == [401] * 5 + [429]
    # The owner at their own address: not held up by the failures elsewhere.
    with client(app, "198.51.100.7") as c:
        assert api_login(c, "admin").status_code == 200
    # Twenty failures from four more addresses: unknown places must wait now …
    for i in range(4):
        failed_sign_ins(app, "admin", f"203.0.113.{20 + i}", 5)
    with client(app, "192.0.2.50") as c:
        r = api_login(c, "admin")
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    # … but not the owner's known address, nor the owner's known browser elsewhere.
    with client(app, "198.51.100.7") as c:
        assert api_login(c, "admin").status_code == 200
    with client(app, "198.51.100.7") as c:
        sign_in(c, "admin")  # this browser gets its device cookie
        device = c.cookies["ecomap_device"]
    with client(app, "192.0.2.99", cookies={"ecomap_device": device}) as c:
        sign_in(c, "admin")
    # Twenty failures from one (NAT) address for several accounts: people who signed in
    # from there before still get in.
    with client(app, "10.9.9.9") as c:
        assert api_login(c, "编辑甲").status_code == 200
    for name in ("甲", "乙", "丙", "丁"):
        failed_sign_ins(app, name, "10.9.9.9", 5)
    with client(app, "10.9.9.9") as c:
        assert api_login(c, "编辑乙").status_code == 429  # never signed in from there
        assert api_login(c, "编辑甲").status_code == 200


def test_delays_grow_with_each_failure(app):
    limiter, now = app.state.limiter, [time.time()]
    limiter.clock = lambda: now[0]
    with client(app, "203.0.113.9") as c:
        codes = [api_login(c, "viewer", "wrong password").status_code for _ in range(5)]
        r = api_login(c, "viewer")
        assert codes == [401] * 5 and r.status_code == 429
        assert 14 <= int(r.headers["retry-after"]) <= 16  # 15 s after the fifth
        now[0] += 16
        assert api_login(c, "viewer", "wrong password").status_code == 401
        r = api_login(c, "viewer")
        assert r.status_code == 429 and 29 <= int(r.headers["retry-after"]) <= 31  # 30 s
        now[0] += 31
        assert api_login(c, "viewer").status_code == 200  # right: the place is clear again
        assert api_login(c, "viewer", "wrong password").status_code == 401


def test_a_new_password_and_unlock_clear_the_failures(app, settings):
    for i in range(5):
        failed_sign_ins(app, "编辑乙", f"203.0.113.{i}", 5)
    with client(app, "192.0.2.1") as c:
        assert api_login(c, "编辑乙").status_code == 429
        app.state.accounts.set_password("编辑乙", "another password 9")
        assert api_login(c, "编辑乙", "another password 9").status_code == 200
    assert failed_sign_ins(app, "viewer", "192.0.2.2", 6)[-1] == 429
    r = CliRunner().invoke(cli, ["user", "unlock", "viewer", "--store", settings.store,
                                 "--users", settings.users_path])
    assert r.exit_code == 0 and "5" in r.output, r.output
    with client(app, "192.0.2.2") as c:
        assert api_login(c, "viewer").status_code == 200
    r = CliRunner().invoke(cli, ["user", "unlock", "nobody", "--users", settings.users_path])
    assert r.exit_code != 0 and "nobody" in r.output


# --- sessions ----------------------------------------------------------------------------

def session_works(app, cookie: str) -> bool:
    with client(app, cookies={"ecomap_session": cookie}) as c:
        return c.get("/batches", follow_redirects=False).status_code == 200


def token_works(app, headers: dict) -> bool:
    with client(app) as c:
        return c.get("/api/batches", headers=headers).status_code == 200


def test_signing_in_again_ends_the_previous_session_of_that_browser(app):
    with client(app) as c:
        sign_in(c, "编辑甲")
        first = c.cookies["ecomap_session"]
        # The sign-in page seen while signed in: its form's token is the last one.
        login_csrf = re.findall(r'name="csrf" value="([^"]+)"', c.get("/login").text)[-1]
        r = c.post("/login", data={"username": "编辑甲", "password": PASSWORD,
                                   "csrf": login_csrf}, follow_redirects=False)
        assert r.status_code == 303
        second = c.cookies["ecomap_session"]
    with client(app) as other:  # another browser keeps its own session
        sign_in(other, "编辑甲")
        elsewhere = other.cookies["ecomap_session"]
    assert first != second
    assert not session_works(app, first)
    assert session_works(app, second) and session_works(app, elsewhere)


def test_api_logout_revokes_the_token(app):
    with client(app) as c:
        token, other = bearer(c, "编辑甲"), bearer(c, "编辑甲")
        r = c.post("/api/logout", headers=token)
        assert r.status_code == 200 and r.json()["signed_out"] == "编辑甲"
        assert c.get("/api/batches", headers=token).status_code == 401
        assert c.post("/api/logout", headers=token).status_code == 401
    assert token_works(app, other)


def test_sign_out_everywhere_for_oneself(app):
    with client(app) as laptop, client(app) as office:
        sign_in(laptop, "编辑甲")
        csrf = sign_in(office, "编辑甲")
        token = bearer(laptop, "编辑甲")
        cookies = [laptop.cookies["ecomap_session"], office.cookies["ecomap_session"]]
        page = office.get("/").text
        assert "退出所有设备" in page and 'action="/logout/all"' in page
        assert office.post("/logout/all", data={"csrf": "forged"}).status_code == 403
        r = office.post("/logout/all", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
    assert not any(session_works(app, k) for k in cookies) and not token_works(app, token)
    with client(app) as c:  # and by the API
        tokens = [bearer(c, "viewer"), bearer(c, "viewer")]
        r = c.post("/api/logout/all", headers=tokens[0])
        assert r.status_code == 200 and r.json()["sessions_closed"] == 2
    assert not any(token_works(app, t) for t in tokens)


def test_sign_out_everywhere_by_an_admin_and_from_the_server(app, settings):
    with client(app) as ed, client(app) as adm:
        sign_in(ed, "编辑甲")
        token = bearer(ed, "编辑甲")
        csrf = sign_in(adm, "admin")
        assert 'action="/users/%E7%BC%96%E8%BE%91%E7%94%B2/logout"' in adm.get("/users").text
        r = adm.post("/users/编辑甲/logout", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303
        assert ed.get("/batches", follow_redirects=False).status_code == 303
        assert not token_works(app, token)
        assert session_works(app, adm.cookies["ecomap_session"])  # the admin's own stays
        # The API: admins only.
        token = bearer(ed, "编辑甲")
        assert ed.post("/api/users/编辑乙/logout", headers=token).status_code == 403
        admin = bearer(adm, "admin")
        r = adm.post("/api/users/编辑甲/logout", headers=admin)
        assert r.status_code == 200 and r.json()["sessions_closed"] == 1
        assert not token_works(app, token)
        token = bearer(ed, "编辑甲")
    r = CliRunner().invoke(cli, ["user", "logout", "编辑甲", "--users", settings.users_path])
    assert r.exit_code == 0 and "1" in r.output, r.output
    assert not token_works(app, token)


# --- forwarded headers ---------------------------------------------------------------

def locked_out_by_another_forwarded_address(app, **options) -> bool:
    """Five failures claiming one X-Forwarded-For, then the right password claiming
    another: whether that was refused (the two counted as one address)."""
    import httpx2 as httpx

    with LiveServer(app, **options) as server:
        for _ in range(5):
            r = httpx.post(f"{server.url}/api/login", headers={"X-Forwarded-For": "6.6.6.6"},
                           data={"username": "admin", "password": "wrong password"})
            assert r.status_code == 401
        r = httpx.post(f"{server.url}/api/login", headers={"X-Forwarded-For": "7.7.7.7"},
                       data={"username": "admin", "password": PASSWORD})
        return r.status_code == 429


def test_forwarded_for_is_ignored_unless_a_proxy_is_named(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append(kw))
    settings = make_settings(tmp_path)
    base = ["serve", "--store", settings.store, "--users", settings.users_path]
    assert CliRunner().invoke(cli, base).exit_code == 0
    assert CliRunner().invoke(cli, [*base, "--forwarded-allow-ips",
                                    "127.0.0.1, 10.0.0.2"]).exit_code == 0
    assert calls[0]["proxy_headers"] is False
    assert calls[1]["proxy_headers"] is True
    assert calls[1]["forwarded_allow_ips"] == "127.0.0.1,10.0.0.2"
    # Served with those options by a real uvicorn, a local program sends X-Forwarded-For:
    off = {k: v for k, v in uvicorn_options("127.0.0.1", 0).items() if "forward" in k or
           "proxy" in k}
    on = {k: v for k, v in uvicorn_options("127.0.0.1", 0, "127.0.0.1").items()
          if "forward" in k or "proxy" in k}
    app = create_app(settings)
    add_accounts(app)
    assert locked_out_by_another_forwarded_address(app, **off)  # header ignored
    (tmp_path / "again").mkdir()
    app = create_app(make_settings(tmp_path / "again"))
    add_accounts(app)
    assert not locked_out_by_another_forwarded_address(app, **on)  # believed from the proxy


# --- query values, empty answers, security headers on every answer ------------------------

SECURITY = {"x-content-type-options": "nosniff", "x-frame-options": "SAMEORIGIN",
            "referrer-policy": "same-origin"}


def assert_secured(r) -> None:
    for k, v in SECURITY.items():
        assert r.headers.get(k) == v, (r.url, k, r.headers)
    assert "default-src" in r.headers.get("content-security-policy", ""), r.url


def year_routes(app) -> list[str]:
    """Every GET route taking ``?year=``, its path parameters filled in."""
    fill = {"name": "甲镇", "fmt": "csv"}
    return sorted(r.path.format(**fill) for r in app.routes if isinstance(r, APIRoute)
                  and any(p.name == "year" for p in r.dependant.query_params))


def test_a_year_out_of_range_is_a_readable_422_on_every_route(app):
    routes = year_routes(app)
    assert len(routes) >= 8 and "/townships/甲镇/plots.gpkg" in routes
    with client(app) as c:
        sign_in(c, "viewer")
        for path in routes:
            for bad in (str(10 ** 23), "1948", "2101", "next"):
                r = c.get(path, params={"year": bad})
                assert r.status_code == 422, (path, bad, r.status_code)
                assert "1949" in r.text and "2100" in r.text and "年份" in r.text, path
                assert_secured(r)
            assert c.get(path, params={"year": "2023"}).status_code == 200, path


def test_internal_errors_and_unknown_pages_carry_the_security_headers(app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("ecomap.api.summary", broken)
    with client(app, raise_server_exceptions=False) as c:
        sign_in(c, "viewer")
        r = c.get("/api/summary", params={"year": 2023})
        assert r.status_code == 500 and "内部错误" in r.json()["message"]
        assert "a bug" not in r.text
        assert_secured(r)
        r = c.get("/", params={"year": 2023})
        assert r.status_code == 500 and "<html" in r.text
        assert_secured(r)
        r = c.get("/no/such/page")
        assert r.status_code == 404
        assert_secured(r)
        r = c.post("/login", data={"username": "x", "password": "y" * 200_000, "csrf": "z"})
        assert r.status_code == 413
        assert_secured(r)


def test_downloads_of_a_year_without_plots_are_empty_files(app, tmp_path):
    with client(app) as c:
        sign_in(c, "viewer")
        r = c.get("/townships/甲镇/plots.gpkg", params={"year": 1990})
        assert r.status_code == 200
        path = tmp_path / "empty.gpkg"
        path.write_bytes(r.content)
        info = pyogrio.read_info(path, layer="plots")
        assert info["features"] == 0
        assert {"plot_id", "category", "year", "township", "area_mu"} <= set(info["fields"])
        assert "geom" not in info["fields"]  # the geometry is not also an attribute
        assert len(pyogrio.read_dataframe(path)) == 0
        r = c.get("/downloads/summary.csv", params={"year": 1990})
        lines = r.content.decode("utf-8-sig").splitlines()
        assert r.status_code == 200 and len(lines) == 1 and "乡镇" in lines[0]
        r = c.get("/downloads/summary.xlsx", params={"year": 1990})
        rows = list(openpyxl.load_workbook(io.BytesIO(r.content)).active.iter_rows(
            values_only=True))
        assert r.status_code == 200 and len(rows) == 1 and "乡镇" in rows[0]


# --- map documents ------------------------------------------------------------------------

def test_map_documents_are_sandboxed(app, tmp_path):
    shp = gbk_zip(tmp_path, "plots", 1)
    with client(app) as c:
        csrf = sign_in(c, "编辑甲")
        with open(shp, "rb") as f:
            r = c.post(f"/upload?csrf={csrf}", data={"category": "afforestation",
                                                     "year": "2023", "csrf": csrf},
                       files={"file": ("plots.zip", f, "application/zip")},
                       follow_redirects=False)
        assert r.status_code == 303
        review = r.headers["location"]
        for path in ("/maps/county.html", "/maps/township/甲镇.html",
                     f"{review}/preview.html"):
            r = c.get(path)
            assert r.status_code == 200, path
            csp = r.headers["content-security-policy"]
            assert "sandbox allow-scripts allow-popups" in csp and "default-src 'none'" in csp
            assert "allow-same-origin" not in csp
        # Pages themselves are not sandboxed (their forms must post with the cookie).
        assert "sandbox" not in c.get("/").headers["content-security-policy"]
