"""The store suite on both backends: GeoPackage (tmp_path) and PostGIS (a schema per test).

PostGIS runs when ``ECOMAP_TEST_POSTGIS`` holds the URL of a database with the postgis
extension — ``make test`` starts a throwaway one with ``scripts/postgis.sh`` — and is
skipped otherwise.  Numbers are checked against the hand-computed plots of conftest,
and PostGIS against the GeoPackage.
"""

from __future__ import annotations

import os
import signal
import time
import uuid

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from ecomap.errors import NotFoundError, StoreError, ValidationError
from ecomap.store import Provenance, open_store
from tests.components import need_postgis
from tests.conftest import GK, X0, Y0, gk_frame, known_plots, plot, two_townships

# The messages checked here are the English ones (Chinese is the default).
pytestmark = pytest.mark.usefixtures("english")

PG_URL = os.environ.get("ECOMAP_TEST_POSTGIS", "")
BACKENDS = ["gpkg", "postgis"]
# Without PostGIS these skip, or fail under CI (tests/components.py).
needs_pg = pytest.mark.usefixtures("postgis_url")


@pytest.fixture
def postgis_url():
    return need_postgis()


def _with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def _pg():
    import psycopg

    return psycopg.connect(PG_URL, autocommit=True)


@pytest.fixture
def pg_schema(postgis_url):
    """A fresh schema of the test database, dropped afterwards; yields its store URL."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield _with_schema(PG_URL, schema)
    with _pg() as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def location(request, tmp_path):
    """Where a fresh store of the parametrised backend lives (path or URL)."""
    if request.param == "gpkg":
        return str(tmp_path / "test.gpkg")
    return request.getfixturevalue("pg_schema")


@pytest.fixture
def bstore(location):
    """An empty store with the two test townships, on each backend."""
    st = open_store(location, create=True)
    st.write_townships(two_townships(), provenance=Provenance("towns.geojson", user="test"))
    yield st
    st.close()


@pytest.fixture
def bfilled(bstore):
    bstore.add_plots(known_plots(), provenance=Provenance("plots.geojson", "0" * 64, "测试员"))
    return bstore


def _parametrize(fn):
    return pytest.mark.parametrize("location", BACKENDS, indirect=True)(fn)


def _water(names=("章水大桥", "浮江")):
    sites = gk_frame([{"site_name": n, "site_type": "河流", "waterbody": "章水", "river": "章水",
                       "target_class": "III"} for n in names],
                     [shapely.Point(500_000 - 3000 + 5000 * i, 2_825_000)
                      for i in range(len(names))])
    samples = pd.DataFrame([
        {"site_name": n, "date": f"2023-0{m}-15", "param": p, "value": v, "below_dl": 0}
        for n in names for m in (3, 6) for p, v in (("COD", 12.5), ("NH3-N", 0.42))])
    return sites, samples


# --- the suite, on both backends ------------------------------------------------------
@_parametrize
def test_round_trip_keeps_geometry_and_chinese_attributes(bfilled):
    sent = known_plots()
    got = bfilled.plots()
    assert got["plot_id"].tolist() == sent["plot_id"].tolist()
    assert got["village"].tolist() == ["甲村", "甲村", "乙村", "乙村"]
    assert got.crs.to_epsg() == 4490
    for a, b in zip(got.geometry, sent.geometry, strict=True):
        assert shapely.equals_exact(a, shapely.MultiPolygon([b]) if b.geom_type == "Polygon"
                                    else b, tolerance=1e-12)
    towns = bfilled.townships()
    assert towns["name"].tolist() == ["甲镇", "乙镇"]
    assert towns["area_m2"].tolist() == pytest.approx([1e8, 1e8], abs=1)


@_parametrize
def test_township_areas_are_sums_of_hand_computed_pieces(bfilled):
    df = bfilled.township_areas(year=2023)
    got = {(r.township, r.category): (r.count, r.area_m2) for r in df.itertuples()}
    # 甲: 300 000 of S-30-70 + 960 000 HOLE; 乙: 700 000 of S-30-70.
    assert got[("甲镇", "afforestation")][1] == pytest.approx(1_260_000, abs=1)
    assert got[("乙镇", "afforestation")][1] == pytest.approx(700_000, abs=1)
    assert got[("甲镇", "afforestation")][0] == 1
    assert got[("乙镇", "afforestation")][0] == 1
    assert got[("甲镇", "mine_remediation")] == (0, pytest.approx(40_000, abs=1))
    assert got[("乙镇", "mine_remediation")] == (1, pytest.approx(90_000, abs=1))
    assert set(bfilled.township_areas()["year"]) == {2022, 2023}
    splits = bfilled.plot_splits(year=2023)
    s3070 = splits[splits["plot_fid"] == bfilled.plots(year=2023)["fid"].iloc[0]]
    assert s3070["township"].tolist() == ["乙镇", "甲镇"]
    assert s3070["area_m2"].tolist() == pytest.approx([700_000, 300_000], abs=1)
    assert s3070["is_primary"].tolist() == [1, 0]


@_parametrize
def test_batches_record_provenance(bfilled):
    b = bfilled.batches()
    assert b["kind"].tolist() == ["townships", "plots"]
    plots = b[b["kind"] == "plots"].iloc[0]
    assert plots["source_file"] == "plots.geojson"
    assert plots["sha256"] == "0" * 64
    assert plots["user"] == "测试员"
    assert plots["feature_count"] == 4
    assert plots["area_m2"] == pytest.approx(1e6 + 960_000 + 130_000 + 200_000, abs=1)
    assert plots["created_at"].endswith("Z") and len(plots["created_at"]) == 20


@_parametrize
def test_rollback_removes_exactly_one_batch(bfilled):
    second = gk_frame([{"plot_id": "LATE", "category": "afforestation", "year": 2023}],
                      [plot(-8000, 8000, 100, 100)])
    batch = bfilled.add_plots(second, provenance=Provenance("late.geojson"))
    assert len(bfilled.plots()) == 5
    result = bfilled.rollback(batch)
    assert result["removed"] == {"plots": 1, "plot_townships": 1}
    assert bfilled.plots()["plot_id"].tolist() == ["S-30-70", "HOLE", "MULTI", "OLD"]
    assert len(bfilled.plot_splits()) == 6
    assert batch not in bfilled.batches()["batch_id"].tolist()
    with pytest.raises(NotFoundError, match="ecomap batches"):
        bfilled.rollback(batch)
    with pytest.raises(StoreError, match="cannot be rolled back"):
        bfilled.rollback(1)  # the townships


def _refuse_splits(store) -> None:
    """Make the database itself refuse township rows, mid-transaction."""
    if store.location.endswith(".gpkg"):
        import sqlite3

        con = sqlite3.connect(store.location)
        con.execute("CREATE TRIGGER refuse BEFORE INSERT ON plot_townships "
                    "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
        con.commit()
        con.close()
    else:
        with _pg() as con:
            con.execute(f'SET search_path TO "{store.schema}", public')
            con.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                        "$$ BEGIN RAISE EXCEPTION 'disk says no'; END $$")
            con.execute("CREATE TRIGGER refuse BEFORE INSERT ON plot_townships "
                        "FOR EACH STATEMENT EXECUTE FUNCTION refuse()")


@_parametrize
def test_failed_batch_leaves_nothing(bfilled):
    _refuse_splits(bfilled)
    before = (len(bfilled.plots()), len(bfilled.batches()), len(bfilled.plot_splits()))
    with pytest.raises(Exception, match="disk says no"):
        bfilled.add_plots(known_plots(), provenance=Provenance("again.geojson"))
    after = (len(bfilled.plots()), len(bfilled.batches()), len(bfilled.plot_splits()))
    assert after == before
    # The store still takes writes that do not touch the refused table.
    bfilled.write_county(gk_frame([{"name": "大余县", "adcode": "360723"}],
                                  [shapely.box(480_000, 2_810_000, 520_000, 2_840_000)]),
                         provenance=Provenance("county.shp"))
    assert bfilled.county()["name"].tolist() == ["大余县"]


@_parametrize
def test_replacing_townships_resplits_every_plot(bfilled):
    merged = gk_frame([{"name": "丙镇", "name_en": "Bing", "kind": "town", "illustrative": 0}],
                      [shapely.segmentize(shapely.box(480_000, 2_810_000, 520_000,
                                                      2_840_000), 50)])
    bfilled.write_townships(merged, provenance=Provenance("official.shp"))
    df = bfilled.township_areas()
    assert set(df["township"]) == {"丙镇"}
    assert df["area_m2"].sum() == pytest.approx(2_290_000, abs=1)
    assert set(bfilled.plots()["township"]) == {"丙镇"}
    assert bfilled.resplit() == 4
    assert len(bfilled.plot_splits()) == 4


@_parametrize
def test_moving_one_border_resplits_only_the_plots_it_crosses(bfilled, caplog):
    # The border moves from x = 0 to x = +300 m.  Only two plots' boxes meet the strip
    # that changed township: S-30-70 (x -300..700), now split 600 000 / 400 000 and
    # counted in 甲, and MULTI (parts at x -3000 and +2000), whose pieces stay as they are.
    from tests.test_store import _border_moved_east

    before = bfilled.plot_splits()
    with caplog.at_level("INFO", logger="ecomap.store.base"):
        bfilled.write_townships(_border_moved_east(300), provenance=Provenance("new.shp"))
    assert "re-split: 2 plots checked, 2 cut, 1 changed" in caplog.text
    df = bfilled.township_areas(year=2023)
    got = {(r.township, r.category): (r.count, r.area_m2) for r in df.itertuples()}
    assert got[("甲镇", "afforestation")] == (2, pytest.approx(600_000 + 960_000, abs=1))
    assert got[("乙镇", "afforestation")] == (0, pytest.approx(400_000, abs=1))
    towns = bfilled.plots().set_index("plot_id")["township"]
    assert towns.to_dict() == {"S-30-70": "甲镇", "HOLE": "甲镇", "MULTI": "乙镇",
                               "OLD": "乙镇"}
    after = bfilled.plot_splits()
    s3070 = int(bfilled.plots().set_index("plot_id").loc["S-30-70", "fid"])
    cols = ["plot_fid", "township", "area_m2", "is_primary"]
    assert after[after["plot_fid"] != s3070][cols].reset_index(drop=True).equals(
        before[before["plot_fid"] != s3070][cols].reset_index(drop=True))
    # A full re-split from scratch finds nothing more to change.
    caplog.clear()
    with caplog.at_level("INFO", logger="ecomap.store.base"):
        assert bfilled.resplit() == 4
    assert "0 changed" in caplog.text
    assert bfilled.plot_splits().equals(after)


@_parametrize
def test_filters(bfilled):
    assert bfilled.plots(category="mine_remediation")["plot_id"].tolist() == ["MULTI"]
    assert bfilled.plots(year=2022)["plot_id"].tolist() == ["OLD"]
    assert bfilled.plots(township="甲镇", year=2023)["plot_id"].tolist() == [
        "S-30-70", "HOLE", "MULTI"]
    batch = int(bfilled.batches()["batch_id"].iloc[-1])
    assert len(bfilled.plots(batch=batch)) == 4


@_parametrize
def test_water_sites_and_samples_one_batch(bstore):
    sites, samples = _water()
    batch = bstore.add_water(sites, samples, provenance=Provenance("水质.xlsx"))
    got = bstore.water_sites()
    assert got["site_name"].tolist() == ["章水大桥", "浮江"]
    assert got["township"].tolist() == ["甲镇", "乙镇"]
    assert got.geometry.geom_type.tolist() == ["Point", "Point"]
    assert len(bstore.water_samples(year=2023)) == 8
    assert bstore.water_samples(year=2022).empty
    with pytest.raises(ValidationError, match="nothing was stored"):
        bstore.add_water(sites.iloc[:1], samples.iloc[:2], provenance=Provenance("again.xlsx"))
    assert len(bstore.batches()) == 2
    assert bstore.rollback(batch)["removed"] == {"water_sites": 2, "water_samples": 8}
    assert bstore.water_sites().empty


def _ingest(location: str, n: int, k: int) -> None:
    """Store ``n`` plots of 10 m × 10 m on a grid as one batch: in 甲镇 for even ``k``,
    crossing into 乙镇 for odd ``k``."""
    import numpy as np

    side = int(np.ceil(np.sqrt(n)))
    x0 = -9000 + 2000 * k if k % 2 == 0 else -5 - 20 * side
    i = np.arange(n)
    x, y = X0 + x0 + 20.0 * (i % side), Y0 + 100 + 20.0 * (i // side) + 2500 * k
    gdf = gpd.GeoDataFrame({"plot_id": [f"P{k}-{j}" for j in range(n)],
                            "category": "afforestation", "year": 2023},
                           geometry=shapely.box(x, y, x + 10, y + 10), crs=GK).to_crs(4490)
    with open_store(location) as st:
        st.add_plots(gdf, provenance=Provenance(f"part{k}.shp", user=f"user{k}"))


def _fork(location: str, n: int, k: int):
    """A separate process running :func:`_ingest` (forked: no second start-up cost)."""
    import multiprocessing

    proc = multiprocessing.get_context("fork").Process(target=_ingest, args=(location, n, k))
    proc.start()
    return proc


@_parametrize
def test_concurrent_ingests_all_land(bfilled):
    location = bfilled.location if bfilled.location.endswith(".gpkg") else _url_of(bfilled)
    n, procs = 300, 4
    children = [_fork(location, n, k) for k in range(procs)]
    for c in children:
        c.join(timeout=120)
        if c.is_alive():  # never leave a hung writer behind
            c.kill()
            c.join()
    assert [c.exitcode for c in children] == [0] * procs
    batches = bfilled.batches()
    new = batches[batches["source_file"].str.startswith("part")]
    assert sorted(new["user"]) == [f"user{k}" for k in range(procs)]
    assert new["feature_count"].tolist() == [n] * procs
    plots = bfilled.plots()
    assert len(plots) == 4 + n * procs
    assert plots["fid"].is_unique
    for b in new["batch_id"]:
        got = plots[plots["batch_id"] == b]
        assert len(got) == n and got["plot_id"].is_unique
    # Every new plot is 100 m²; the odd processes' grids cross the border: split right.
    areas = bfilled.township_areas(year=2023)
    assert areas["area_m2"].sum() == pytest.approx(2_090_000 + 100 * n * procs, abs=1)
    assert areas["count"].sum() == 3 + n * procs


def _url_of(store) -> str:
    return _with_schema(PG_URL, store.schema)


# --- PostGIS only ---------------------------------------------------------------------
def _snapshot(store) -> tuple:
    return (len(store.plots()), store.batches()["batch_id"].tolist(), len(store.plot_splits()),
            store.township_areas().to_dict("records"))


@needs_pg
@pytest.mark.parametrize("location", ["postgis"], indirect=True)
def test_killed_ingest_leaves_postgis_as_it_was(bfilled):
    """SIGKILL while the plots are being written: the server rolls the transaction back."""
    before = _snapshot(bfilled)
    proc = _fork(_url_of(bfilled), 15_000, 0)
    killed = False
    with _pg() as con:
        deadline = time.monotonic() + 120
        while proc.is_alive() and time.monotonic() < deadline:
            row = con.execute(
                "SELECT pid FROM pg_locks WHERE relation = %s::regclass AND "
                "mode = 'RowExclusiveLock' AND pid <> pg_backend_pid()",
                (f'"{bfilled.schema}".plots',)).fetchone()
            if row:  # the child's COPY into plots is under way
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.002)
        proc.join()
        assert killed, "the ingest finished before it could be interrupted"
        while con.execute("SELECT count(*) FROM pg_locks WHERE pid = %s", row).fetchone()[0]:
            time.sleep(0.01)  # the server notices the dead client and rolls back
    assert _snapshot(bfilled) == before
    # And the store takes the next ingest.
    extra = gk_frame([{"plot_id": "NEXT", "category": "afforestation", "year": 2023}],
                     [plot(-8000, 8000, 100, 100)])
    bfilled.add_plots(extra, provenance=Provenance("next.geojson"))
    assert len(bfilled.plots()) == 5


@needs_pg
def test_postgis_numbers_equal_the_geopackage(tmp_path, pg_schema):
    stores = [open_store(tmp_path / "a.gpkg", create=True), open_store(pg_schema, create=True)]
    try:
        for st in stores:
            st.write_townships(two_townships(), provenance=Provenance("towns.geojson"))
            st.add_plots(known_plots(), provenance=Provenance("plots.geojson"))
        gp, pg = stores
        pd.testing.assert_frame_equal(gp.township_areas(), pg.township_areas())
        pd.testing.assert_frame_equal(gp.plot_splits(), pg.plot_splits())
        cols = ["fid", "plot_id", "township", "area_m2", "area_mu", "batch_id"]
        pd.testing.assert_frame_equal(pd.DataFrame(gp.plots()[cols]),
                                      pd.DataFrame(pg.plots()[cols]))
    finally:
        for st in stores:
            st.close()


@needs_pg
def test_postgis_refusals_name_the_fix(pg_schema):
    with pytest.raises(NotFoundError, match="create=True"):
        open_store(pg_schema)
    with pytest.raises(StoreError, match="cannot connect"):
        open_store("postgresql://nobody:secret@/nodb?host=/nonexistent&port=1")
    with pytest.raises(StoreError, match="plain SQL name"):
        open_store(_with_schema(PG_URL, "x;drop"))


# --- ecomap store copy --------------------------------------------------------------
def _layers(store) -> dict:
    out = {}
    for name in ("county", "townships", "plots", "water_sites"):
        gdf = getattr(store, name)()
        out[name] = (pd.DataFrame(gdf.drop(columns="geometry")).reset_index(drop=True),
                     shapely.to_wkb(gdf.geometry.values).tolist())
    out["plot_townships"] = store.plot_splits()
    out["water_samples"] = store.water_samples()
    out["batches"] = store.batches()
    out["township_areas"] = store.township_areas()
    return out


def _assert_same(a: dict, b: dict) -> None:
    for name in a:
        if isinstance(a[name], tuple):
            pd.testing.assert_frame_equal(a[name][0], b[name][0], obj=name)
            assert a[name][1] == b[name][1], name
        else:
            pd.testing.assert_frame_equal(a[name], b[name], obj=name, check_dtype=False)


@needs_pg
def test_store_copy_geopackage_to_postgis_and_back(filled_store, pg_schema, tmp_path):
    from ecomap.cli import cli

    sites, samples = _water()
    filled_store.add_water(sites, samples, provenance=Provenance("水质.xlsx"))
    filled_store.write_county(gk_frame([{"name": "大余县", "adcode": "360723"}],
                                       [shapely.box(480_000, 2_810_000, 520_000, 2_840_000)]),
                              provenance=Provenance("county.shp"))
    filled_store.add_plots(known_plots().iloc[:1], provenance=Provenance("later.geojson"))
    filled_store.rollback(3)  # leave a gap in the batch ids, as real stores have
    original = _layers(filled_store)
    src = filled_store.location
    back = str(tmp_path / "back.gpkg")
    runner = CliRunner()
    result = runner.invoke(cli, ["store", "copy", src, pg_schema])
    assert result.exit_code == 0, result.output
    assert "copied" in result.output
    with open_store(pg_schema) as pg:
        _assert_same(original, _layers(pg))
        # Ids continue after the copied ones.
        nxt = pg.add_plots(known_plots().iloc[:1], provenance=Provenance("new.geojson"))
        assert nxt == int(original["batches"]["batch_id"].max()) + 1
        pg.rollback(nxt)
    result = runner.invoke(cli, ["store", "copy", pg_schema, back])
    assert result.exit_code == 0, result.output
    with open_store(back) as gp:
        _assert_same(original, _layers(gp))
        assert gp.rollback(2)["removed"] == {"plots": 4, "plot_townships": 6}
    # A store that holds batches is not overwritten.
    result = runner.invoke(cli, ["store", "copy", src, pg_schema])
    assert result.exit_code == 2
    assert "already holds batches" in result.output
    result = runner.invoke(cli, ["store", "copy", pg_schema, back])
    assert result.exit_code == 2
    assert "already holds" in result.output


def test_store_copy_between_geopackages(filled_store, tmp_path):
    from ecomap.cli import cli

    target = tmp_path / "copy.gpkg"
    result = CliRunner().invoke(cli, ["store", "copy", filled_store.location, str(target)])
    assert result.exit_code == 0, result.output
    with open_store(target) as st:
        _assert_same(_layers(filled_store), _layers(st))
        assert isinstance(st.plots(), gpd.GeoDataFrame)
