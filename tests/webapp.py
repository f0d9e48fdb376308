"""Shared pieces of the web tests: a store, accounts, signed-in clients, a live server."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest

from ecomap.settings import Settings
from ecomap.store import open_store
from tests.conftest import write_county_and_townships
from tests.uploads import frame, plot, shp_members, standard_rows, write_shp, zip_files

PASSWORD = "correct horse 8"
ACCOUNTS = {"admin": "admin", "编辑甲": "editor", "编辑乙": "editor", "viewer": "viewer"}


def make_store(path: Path) -> Path:
    """Townships 甲镇 | 乙镇 and the county as their union (see tests/conftest)."""
    with open_store(path, create=True) as st:
        write_county_and_townships(st)
    return path


def make_settings(tmp_path: Path, **overrides) -> Settings:
    store = make_store(tmp_path / "county.gpkg")
    return Settings(store=str(store), users=str(tmp_path / "users.sqlite"), lang="zh",
                    **overrides)


def add_accounts(app) -> None:
    for name, role in ACCOUNTS.items():
        app.state.accounts.add(name, PASSWORD, role)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def sign_in(client, name: str, password: str = PASSWORD) -> str:
    """Signs ``client`` in through the form; returns the session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"username": name, "password": password, "csrf": token},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/upload" if ACCOUNTS.get(name) != "viewer" else "/").text)


def gbk_zip(tmp_path: Path, name: str, n: int, *, x0: float = -3000.0, y0: float = 1000.0,
            w: float = 100.0, prefix: str = "XB") -> Path:
    """A zipped GBK Shapefile of ``n`` squares of ``w`` × ``w`` m in 甲镇, ids PREFIX001…."""
    rows = standard_rows(n)
    for i, r in enumerate(rows):
        r["小班号"] = f"{prefix}{i + 1:03d}"
    geoms = [plot(x0 + i * (w + 50), y0, w, w) for i in range(n)]
    folder = tmp_path / f"{name}-src"
    shp = write_shp(frame(rows, geoms), folder / f"{name}.shp")
    return zip_files(tmp_path / f"{name}.zip", shp_members(shp))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The app served by a real uvicorn on a loopback port, in a thread."""

    def __init__(self, app, **options) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                pytest.fail("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def client(app):
    """A TestClient of ``app`` (at http://ecomap.local)."""
    from fastapi.testclient import TestClient

    return TestClient(app, base_url="http://ecomap.local")


def bearer(app, name: str) -> dict:
    """The Authorization header of a bearer token of account ``name``."""
    with client(app) as c:
        r = c.post("/api/login", data={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}
