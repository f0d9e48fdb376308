"""Web uploads under load and attack: GeoPackage views, the checked copy stored on
confirm, limits of features, time, memory and staging bytes, the preview drawn on
demand.

Plots are squares drawn in the Gauss-Kruger zone of the test townships (tests/conftest):
a 100 m × 100 m square is 10 000 m² = 15 mu.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import requests
import shapely
from fastapi.testclient import TestClient

from ecomap.errors import InputError
from ecomap.io.vector import read_upload
from ecomap.settings import Settings
from ecomap.store import open_store
from ecomap.web import create_app
from ecomap.web.accounts import Accounts
from tests.conftest import X0, Y0
from tests.uploads import GK, frame, plot, standard_rows, zip_files
from tests.webapp import (
    ACCOUNTS,
    PASSWORD,
    LiveServer,
    add_accounts,
    free_port,
    gbk_zip,
    make_settings,
    sign_in,
)

SQUARE_M2 = 100 * 100


# --- builders -------------------------------------------------------------------------

def squares_gpkg(path: Path, n: int, *, side_m: float = 10.0, gap_m: float = 5.0) -> Path:
    """``n`` squares of ``side_m`` m in a grid inside 甲镇, ids Q0…, written through
    Arrow without a spatial index (300 000 in about two seconds)."""
    cols = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    step = side_m + gap_m
    x = X0 - 9_500 + (i % cols) * step
    y = Y0 + 200 + (i // cols) * step
    gdf = gpd.GeoDataFrame({"小班号": np.char.add("Q", i.astype(str)), "年度": 2023},
                           geometry=shapely.box(x, y, x + side_m, y + side_m), crs=GK)
    pyogrio.write_dataframe(gdf, path, layer="plots", use_arrow=True,
                            layer_options={"SPATIAL_INDEX": "NO"})
    return path


def plots_gpkg(path: Path, geoms, *, ids=None) -> Path:
    rows = standard_rows(len(geoms))
    for r, pid in zip(rows, ids or [], strict=False):
        r["小班号"] = pid
    pyogrio.write_dataframe(frame(rows, geoms), path, layer="plots",
                            layer_options={"SPATIAL_INDEX": "NO"})
    return path


def view_gpkg(path: Path, *, loops: int = 2_000_000_000) -> Path:
    """A GeoPackage whose only registered layer 造林 is a SQL VIEW over a hidden table
    of two squares, made slow on purpose: running it counts to ``loops`` first (hours
    by default)."""
    plots_gpkg(path, [plot(-3000, 1000), plot(-2800, 1000)])
    con = sqlite3.connect(path)
    con.executescript(f"""
        CREATE VIEW 造林 AS WITH RECURSIVE c(x) AS
            (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {loops})
          SELECT p.* FROM plots p WHERE (SELECT max(x) FROM c) > 0;
        INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)
          SELECT '造林', 'features', '造林', srs_id FROM gpkg_contents
          WHERE table_name = 'plots';
        INSERT INTO gpkg_geometry_columns
          SELECT '造林', column_name, geometry_type_name, srs_id, z, m
          FROM gpkg_geometry_columns WHERE table_name = 'plots';
        DELETE FROM gpkg_geometry_columns WHERE table_name = 'plots';
        DELETE FROM gpkg_contents WHERE table_name = 'plots';
    """)
    con.commit()
    con.close()
    return path


# --- clients ----------------------------------------------------------------------------

class Http:
    """A requests session against a live server, called like the TestClient."""

    def __init__(self, base: str) -> None:
        self.base, self.session = base, requests.Session()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc) -> None:
        self.session.close()

    def _call(self, method: str, path: str, follow_redirects: bool = True, **kwargs):
        return self.session.request(method, self.base + path, timeout=120,
                                    allow_redirects=follow_redirects, **kwargs)

    def get(self, path, **kwargs):
        return self._call("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self._call("POST", path, **kwargs)


def make_app(tmp_path: Path, **overrides):
    settings = make_settings(tmp_path, **overrides)
    app = create_app(settings, staging_root=tmp_path / "staging")
    add_accounts(app)
    return app, settings


def client(app) -> TestClient:
    return TestClient(app, base_url="http://ecomap.local")


def bearer(c, name: str) -> dict:
    r = c.post("/api/login", data={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def upload(c, path: Path, headers: dict, *, name: str | None = None, confirm=False):
    with open(path, "rb") as f:
        return c.post("/api/uploads", headers=headers,
                      files={"file": (name or path.name, f, "application/octet-stream")},
                      data={"category": "afforestation", "year": "2023",
                            "confirm": str(confirm).lower()})


def staged_files(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "staging").rglob("*") if p.is_file())


def only_problem(report: dict) -> dict:
    assert report["status"] == "reject", report
    assert len(report["problems"]) == 1, report["problems"]
    return report["problems"][0]


# --- GeoPackage views ---------------------------------------------------------------------

def test_a_view_layer_is_refused_unread_loose_and_zipped(tmp_path):
    """The view would take hours to run: had it run, the check would have been stopped
    at its time limit (code ``time_limit``); refused as a view, it never ran."""
    app, settings = make_app(tmp_path)
    loose = view_gpkg(tmp_path / "造林小班.gpkg")
    zipped = zip_files(tmp_path / "造林小班.zip", {"数据/造林小班.gpkg": loose})
    with client(app) as c:
        ed = bearer(c, "编辑甲")
        for path in (loose, zipped):
            r = upload(c, path, ed, confirm=True)
            assert r.status_code == 200 and r.json()["batch_id"] is None
            p = only_problem(r.json()["report"])
            assert p["code"] == "input"
            assert path.name in p["message"] and "造林" in p["message"]
            assert "视图" in p["message"] and "另存为" in p["message"]
            assert "/tmp" not in p["message"] and str(tmp_path) not in p["message"]
    with open_store(settings.store) as st:
        assert len(st.plots()) == 0
    assert staged_files(tmp_path) == []


def test_a_spatial_index_is_read_and_other_virtual_tables_are_refused(tmp_path):
    """QGIS, ArcGIS and GDAL write an R*-tree spatial index (a virtual table of SQLite's
    own rtree module) into every GeoPackage: such a file is read.  A virtual table of
    another module is refused, naming it."""
    path = tmp_path / "造林.gpkg"
    pyogrio.write_dataframe(frame(standard_rows(2), [plot(-3000, 1000), plot(-2800, 1000)]),
                            path, layer="plots", layer_options={"SPATIAL_INDEX": "YES"})
    with sqlite3.connect(path) as con:
        kinds = [sql for (sql,) in con.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'rtree_plots_geom'")]
    assert kinds and "USING rtree" in kinds[0].replace('"', "")
    assert len(read_upload(path).frame) == 2
    with sqlite3.connect(path) as con:
        con.execute("CREATE VIRTUAL TABLE notes USING fts5(text)")
    with pytest.raises(InputError, match="notes") as info:
        read_upload(path)
    assert "造林.gpkg" in str(info.value)


def test_reading_a_geopackage_runs_none_of_its_sql(tmp_path):
    """A trigger that would log any write stays silent and the file keeps its bytes."""
    path = plots_gpkg(tmp_path / "plots.gpkg", [plot(-3000, 1000), plot(-2800, 1000)])
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE log (what TEXT);
        CREATE TRIGGER spy AFTER UPDATE ON plots BEGIN INSERT INTO log VALUES ('u'); END;
        CREATE TRIGGER spy2 AFTER INSERT ON plots BEGIN INSERT INTO log VALUES ('i'); END;
    """)
    con.commit()
    con.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    read = read_upload(path, layer="plots")
    assert len(read.frame) == 2
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM log").fetchone() == (0,)


# --- the checked copy is the stored copy ---------------------------------------------------

def test_confirm_stores_the_reviewed_copy_without_reading_the_file_again(tmp_path):
    app, settings = make_app(tmp_path)
    reviewed = plots_gpkg(tmp_path / "plots.gpkg", [plot(-3000, 1000), plot(-2800, 1000),
                                                    plot(-2600, 1000, 200, 100)],
                          ids=["R1", "R2", "R3"])
    sent_sha = hashlib.sha256(reviewed.read_bytes()).hexdigest()
    other = plots_gpkg(tmp_path / "other.gpkg", [plot(-1000, 3000, 300, 300)], ids=["EVIL"])
    with client(app) as c:
        ed = bearer(c, "编辑甲")
        j = upload(c, reviewed, ed).json()
        assert j["report"]["status"] == "accept" and j["report"]["accepted_features"] == 3
        token = j["upload_id"]
        # Only the checked copy is kept: the file as sent is gone from the staging folder.
        assert [p.name for p in staged_files(tmp_path)] == ["checked.pickle"]
        # Somebody puts another file where the upload was: confirm does not look at it.
        item = app.state.staging._items[token]
        item.path.write_bytes(other.read_bytes())
        r = c.post(f"/api/uploads/{token}/confirm", headers=ed)
        assert r.status_code == 200, r.text
        assert r.json()["plots"] == 3
    with open_store(settings.store) as st:
        plots = st.plots()
        batch = st.batches().iloc[-1]
    assert sorted(plots["plot_id"]) == ["R1", "R2", "R3"]
    # 100 × 100 twice and 200 × 100: 40 000 m² = 60 mu.
    assert plots["area_m2"].sum() == pytest.approx(4 * SQUARE_M2, abs=1)
    assert batch["source_file"] == "plots.gpkg" and batch["user"] == "编辑甲"
    # The batch's provenance is the hash of the file as the user sent it.
    assert batch["sha256"] == sent_sha
    assert staged_files(tmp_path) == []


def test_a_changed_checked_copy_is_not_stored(tmp_path):
    app, settings = make_app(tmp_path)
    with client(app) as c:
        ed = bearer(c, "编辑甲")
        token = upload(c, gbk_zip(tmp_path, "plots", 2), ed).json()["upload_id"]
        checked = staged_files(tmp_path)[0]
        checked.write_bytes(checked.read_bytes() + b"\0")
        r = c.post(f"/api/uploads/{token}/confirm", headers=ed)
        assert r.status_code == 404 and "请重新上传" in r.json()["message"]
    with open_store(settings.store) as st:
        assert len(st.plots()) == 0


def test_overlaps_with_plots_stored_since_the_check_are_found_on_confirm(tmp_path):
    """Two editors check overlapping files before either stores: the second confirm
    reports the overlap with the first batch (found again under the write lock)."""
    app, settings = make_app(tmp_path)
    a = plots_gpkg(tmp_path / "a.gpkg", [plot(-3000, 1000)], ids=["A1"])
    b = plots_gpkg(tmp_path / "b.gpkg", [plot(-2950, 1000)], ids=["B1"])  # 50 m over A1
    with client(app) as c:
        ta = upload(c, a, bearer(c, "编辑甲")).json()
        tb = upload(c, b, bearer(c, "编辑乙")).json()
        assert ta["report"]["status"] == tb["report"]["status"] == "accept"
        assert c.post(f"/api/uploads/{ta['upload_id']}/confirm",
                      headers=bearer(c, "编辑甲")).json()["status"] == "accept"
        r = c.post(f"/api/uploads/{tb['upload_id']}/confirm", headers=bearer(c, "编辑乙"))
        assert r.status_code == 200 and r.json()["status"] == "warn"
    with open_store(settings.store) as st:
        assert sorted(st.plots()["plot_id"]) == ["A1", "B1"]


# --- limits: features, time, memory, staging bytes ---------------------------------------

def test_feature_count_is_read_before_any_geometry(tmp_path, monkeypatch):
    path = squares_gpkg(tmp_path / "many.gpkg", 1_000)

    def no_reading(*args, **kwargs):
        raise AssertionError("geometries were read before the count was checked")

    monkeypatch.setattr(pyogrio, "read_dataframe", no_reading)
    with pytest.raises(InputError) as err:
        read_upload(path, settings=Settings(max_features=999))
    assert "1,000" in str(err.value) and "999" in str(err.value)
    assert err.value.code == "too_many_features"


def _vm_hwm_mb(pid: int) -> float:
    """Peak resident memory of process ``pid`` (Linux), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


class ServerProcess:
    """``python -m ecomap serve`` in a process of its own (its memory measured alone)."""

    def __init__(self, tmp_path: Path, **env) -> None:
        settings = make_settings(tmp_path)
        accounts = Accounts(settings.users_path)
        for name, role in ACCOUNTS.items():
            accounts.add(name, PASSWORD, role)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [sys.executable, "-m", "ecomap", "serve", "--store", settings.store,
                    "--users", settings.users_path, "--port", str(self.port),
                    "--no-access-log"]
        self.env = {**os.environ, **{f"ECOMAP_{k.upper()}": str(v) for k, v in env.items()}}

    def __enter__(self) -> ServerProcess:
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                requests.get(self.url + "/login", timeout=2)
                return self
            except requests.ConnectionError:
                assert self.proc.poll() is None, self.proc.stderr.read().decode()
                time.sleep(0.2)
        pytest.fail("the server did not start")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_300_000_features_are_refused_in_seconds_with_bounded_memory(tmp_path):
    many = squares_gpkg(tmp_path / "三十万小班.gpkg", 300_000)
    with ServerProcess(tmp_path) as server, Http(server.url) as c:
        ed = bearer(c, "编辑甲")
        # A small upload first, so that the server has imported what uploads need.
        assert upload(c, gbk_zip(tmp_path, "warm", 2), ed).json()["report"]["status"] \
            == "accept"
        before = _vm_hwm_mb(server.proc.pid)
        r = upload(c, many, ed, confirm=True)
        grew = _vm_hwm_mb(server.proc.pid) - before
        assert r.status_code == 200 and r.json()["batch_id"] is None
        p = only_problem(r.json()["report"])
        assert p["code"] == "too_many_features"
        assert "三十万小班.gpkg" in p["message"] and "300,000" in p["message"]
        assert "100,000" in p["message"] and "拆分" in p["message"]
        # The 47 MB file streams to disk; the server itself reads no geometry.
        assert grew < 80, f"server peak memory grew by {grew:.0f} MB"


def test_a_check_over_the_time_limit_is_stopped_and_the_server_answers_meanwhile(tmp_path):
    import multiprocessing

    app, settings = make_app(tmp_path, check_seconds=2.0, max_features_web=500_000)
    heavy = squares_gpkg(tmp_path / "heavy.gpkg", 200_000)
    with LiveServer(app) as server, Http(server.url) as c:
        ed = bearer(c, "编辑甲")
        sign_in(c, "编辑乙")
        answer: list = []

        def send():
            start = time.monotonic()
            answer.append(upload(c, heavy, ed, confirm=True))
            answer.append(time.monotonic() - start)

        t = threading.Thread(target=send)
        t.start()
        pages = []
        while t.is_alive():
            start = time.monotonic()
            r = c.get("/")
            pages.append((r.status_code, time.monotonic() - start))
            time.sleep(0.2)
        t.join()
    r, took = answer
    assert r.status_code == 200 and r.json()["batch_id"] is None
    p = only_problem(r.json()["report"])
    assert p["code"] == "time_limit" and "heavy.gpkg" in p["message"]
    assert "2 秒" in p["message"]
    assert took >= 2.0  # stopped at the limit, not before
    # The server answered other requests while the check ran (how fast: make bench).
    assert len(pages) >= 3 and all(code == 200 for code, _ in pages), pages
    assert not [pr for pr in multiprocessing.active_children()
                if pr.name.startswith("ecomap-check")]
    assert staged_files(tmp_path) == []  # nothing left of the stopped check
    with open_store(settings.store) as st:
        assert len(st.plots()) == 0


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as on Linux")
def test_a_check_needing_more_memory_than_allowed_is_stopped(tmp_path):
    app, settings = make_app(tmp_path, check_memory_mb=40, max_features_web=500_000)
    heavy = squares_gpkg(tmp_path / "heavy.gpkg", 200_000)
    with client(app) as c:
        r = upload(c, heavy, bearer(c, "编辑甲"), confirm=True)
        small = upload(c, gbk_zip(tmp_path, "small", 1), bearer(c, "编辑甲"))
    assert r.status_code == 200 and r.json()["batch_id"] is None
    p = only_problem(r.json()["report"])
    assert p["code"] == "memory_limit" and "40 MB" in p["message"], p
    # A small file fits in the same limit.
    assert small.json()["report"]["status"] == "accept"


def test_staging_is_bounded_in_bytes_per_account_and_in_all(tmp_path):
    big = squares_gpkg(tmp_path / "大文件.gpkg", 300)  # 120 KB as sent
    mid = squares_gpkg(tmp_path / "中文件.gpkg", 100)  # 90 KB as sent, ~26 KB checked
    assert big.stat().st_size > 100_000 and 60_000 < mid.stat().st_size < 100_000
    (tmp_path / "a").mkdir()
    app, _ = make_app(tmp_path / "a", staging_mb_per_user=0.1)
    with client(app) as c:
        ed, ed2 = bearer(c, "编辑甲"), bearer(c, "编辑乙")
        # Refused while it arrives: larger than the account's 100 KB.
        r = upload(c, big, ed)
        assert r.status_code == 400, r.text
        message = r.json()["message"]
        assert "大文件.gpkg" in message and "确认或放弃" in message
        sent = f"{big.stat().st_size / 1e6:.2g} MB"
        assert f"此文件({sent})加上您待确认的上传(0 MB)超过每个账号允许的 0.1 MB" in message
        assert staged_files(tmp_path / "a") == []
        first = upload(c, mid, ed)
        assert first.status_code == 200
        kept = sum(p.stat().st_size for p in staged_files(tmp_path / "a"))
        assert 0 < kept < 40_000  # the checked copy only
        # The file as sent and what waits already pass the account's budget …
        r = upload(c, mid, ed)
        assert r.status_code == 400 and "确认或放弃" in r.json()["message"]
        # … not another account's; and discarding makes room again.
        assert upload(c, mid, ed2).status_code == 200
        assert c.delete(f"/api/uploads/{first.json()['upload_id']}",
                        headers=ed).status_code == 200
        assert upload(c, mid, ed).status_code == 200
    (tmp_path / "b").mkdir()
    app, _ = make_app(tmp_path / "b", staging_mb=0.1)
    with client(app) as c:
        assert upload(c, mid, bearer(c, "编辑甲")).status_code == 200
        r = upload(c, mid, bearer(c, "编辑乙"))
        assert r.status_code == 400
        assert "中文件.gpkg" in r.json()["message"] and "稍后" in r.json()["message"]
    # The upload form gets a readable page.
    (tmp_path / "c").mkdir()
    app, _ = make_app(tmp_path / "c", staging_mb_per_user=0.05)
    with client(app) as c:
        token = sign_in(c, "编辑甲")
        with open(mid, "rb") as f:
            r = c.post(f"/upload?csrf={token}", data={"category": "afforestation", "year": "2023",
                                                "csrf": token},
                       files={"file": (mid.name, f, "application/octet-stream")})
        assert r.status_code == 400 and "<html" in r.text
        assert "中文件.gpkg" in r.text and "确认或放弃" in r.text


# --- the preview ---------------------------------------------------------------------------

def test_the_preview_is_drawn_on_demand_from_the_checked_copy(tmp_path):
    app, settings = make_app(tmp_path)
    # 100 × 100 m squares, one of them with a vertex every 5 cm (8 000 vertices).
    dense = shapely.segmentize(plot(-2800, 1000), 0.05)
    plain = plots_gpkg(tmp_path / "plain.gpkg", [plot(-3000, 1000), plot(-2800, 1000)],
                       ids=["P1", "P2"])
    heavy = plots_gpkg(tmp_path / "dense.gpkg", [plot(-3000, 1000), dense],
                       ids=["P1", "P2"])
    with client(app) as c:
        token = sign_in(c, "编辑甲")
        del token
        ed = bearer(c, "编辑甲")
        ids = [upload(c, p, ed).json()["upload_id"] for p in (plain, heavy)]
        items = [app.state.staging._items[t] for t in ids]
        # In memory: the report only, no map and no frame.
        assert not any(hasattr(i, "preview") for i in items)
        maps = [c.get(f"/uploads/{t}/preview.html") for t in ids]
        assert all(m.status_code == 200 and "P2" in m.text for m in maps)
        # Simplified to about a metre: the dense square draws like the plain one.
        assert abs(len(maps[1].content) - len(maps[0].content)) < 2_000
        # Drawn from the saved copy each time it is asked for.
        (items[0].folder / "checked.pickle").unlink()
        assert c.get(f"/uploads/{ids[0]}/preview.html").status_code == 404
        # What is stored keeps every vertex (only the preview is simplified).
        assert c.post(f"/api/uploads/{ids[1]}/confirm", headers=ed).status_code == 200
    with open_store(settings.store) as st:
        stored = st.plots()
    p2 = stored.loc[stored["plot_id"] == "P2", "geometry"].iloc[0]
    assert shapely.get_num_coordinates(p2) > 8_000
