"""The GeoPackage store: round trip, provenance, rollback, atomicity, GDAL compatibility."""

import sqlite3

import pyogrio
import pytest
import shapely

from ecomap.errors import NotFoundError, StoreError
from ecomap.store import Provenance, open_store
from tests.conftest import gk_frame, known_plots, plot

# The messages checked here are the English ones (Chinese is the default).
pytestmark = pytest.mark.usefixtures("english")


def test_missing_store_says_how_to_make_one(tmp_path):
    with pytest.raises(NotFoundError, match="ecomap demo"):
        open_store(tmp_path / "nope.gpkg")


def test_other_geopackage_is_refused(tmp_path):
    path = tmp_path / "other.gpkg"
    pyogrio.write_dataframe(known_plots(), path, layer="x")
    with pytest.raises(StoreError, match="not an ecomap store"):
        open_store(path)


def test_round_trip_keeps_geometry_and_chinese_attributes(filled_store):
    sent = known_plots()
    got = filled_store.plots()
    assert got["plot_id"].tolist() == sent["plot_id"].tolist()
    assert got["village"].tolist() == ["甲村", "甲村", "乙村", "乙村"]
    assert got.crs.to_epsg() == 4490
    for a, b in zip(got.geometry, sent.geometry, strict=True):
        assert shapely.equals_exact(a, shapely.MultiPolygon([b]) if b.geom_type == "Polygon"
                                    else b, tolerance=1e-12)


def test_township_areas_are_sums_of_hand_computed_pieces(filled_store):
    df = filled_store.township_areas(year=2023)
    got = {(r.township, r.category): (r.count, r.area_m2) for r in df.itertuples()}
    # 甲: 300 000 of S-30-70 + 960 000 HOLE; 乙: 700 000 of S-30-70.
    assert got[("甲镇", "afforestation")][1] == pytest.approx(1_260_000, abs=1)
    assert got[("乙镇", "afforestation")][1] == pytest.approx(700_000, abs=1)
    # Counted once each: HOLE in 甲, S-30-70 in 乙 (where 70 % lies).
    assert got[("甲镇", "afforestation")][0] == 1
    assert got[("乙镇", "afforestation")][0] == 1
    assert got[("甲镇", "mine_remediation")] == (0, pytest.approx(40_000, abs=1))
    assert got[("乙镇", "mine_remediation")] == (1, pytest.approx(90_000, abs=1))
    assert set(filled_store.township_areas()["year"]) == {2022, 2023}


def test_batches_record_provenance(filled_store):
    b = filled_store.batches()
    plots = b[b["kind"] == "plots"].iloc[0]
    assert plots["source_file"] == "plots.geojson"
    assert plots["sha256"] == "0" * 64
    assert plots["user"] == "test"
    assert plots["feature_count"] == 4
    assert plots["area_m2"] == pytest.approx(1e6 + 960_000 + 130_000 + 200_000, abs=1)
    assert plots["created_at"].endswith("Z")


def test_rollback_removes_exactly_one_batch(filled_store):
    second = gk_frame([{"plot_id": "LATE", "category": "afforestation", "year": 2023}],
                      [plot(-8000, 8000, 100, 100)])
    batch = filled_store.add_plots(second, provenance=Provenance("late.geojson"))
    assert len(filled_store.plots()) == 5
    result = filled_store.rollback(batch)
    assert result["removed"] == {"plots": 1, "plot_townships": 1}
    assert filled_store.plots()["plot_id"].tolist() == ["S-30-70", "HOLE", "MULTI", "OLD"]
    assert len(filled_store.plot_splits()) == 6  # 2 + 1 + 2 + 1 pieces remain
    with pytest.raises(NotFoundError, match="ecomap batches"):
        filled_store.rollback(batch)


def test_failed_batch_leaves_nothing(filled_store, store_path):
    # A real failure inside the transaction, after the plots rows were inserted:
    # the database refuses the township rows.
    con = sqlite3.connect(store_path)
    con.execute("CREATE TRIGGER refuse BEFORE INSERT ON plot_townships "
                "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    con.commit()
    con.close()
    before = (len(filled_store.plots()), len(filled_store.batches()),
              len(filled_store.plot_splits()))
    with pytest.raises(sqlite3.IntegrityError, match="disk says no"):
        filled_store.add_plots(known_plots(), provenance=Provenance("again.geojson"))
    after = (len(filled_store.plots()), len(filled_store.batches()),
             len(filled_store.plot_splits()))
    assert after == before


def test_replacing_townships_resplits_every_plot(filled_store):
    # One township covering everything: every plot now lies wholly in 丙镇.
    merged = gk_frame([{"name": "丙镇", "name_en": "Bing", "kind": "town", "illustrative": 0}],
                      [shapely.segmentize(shapely.box(480_000, 2_810_000, 520_000,
                                                      2_840_000), 50)])
    filled_store.write_townships(merged, provenance=Provenance("official.shp"))
    df = filled_store.township_areas()
    assert set(df["township"]) == {"丙镇"}
    assert df["area_m2"].sum() == pytest.approx(2_290_000, abs=1)
    assert set(filled_store.plots()["township"]) == {"丙镇"}


def _border_moved_east(metres: float):
    """The two test townships with their border moved ``metres`` east of x = 500 000."""
    from tests.conftest import X0, Y0

    return gk_frame(
        [{"name": "甲镇", "name_en": "Jia", "kind": "town", "illustrative": 0},
         {"name": "乙镇", "name_en": "Yi", "kind": "town", "illustrative": 0}],
        [shapely.segmentize(shapely.box(X0 - 10_000, Y0, X0 + metres, Y0 + 10_000), 50),
         shapely.segmentize(shapely.box(X0 + metres, Y0, X0 + 10_000, Y0 + 10_000), 50)])


def test_moving_one_border_resplits_the_plots_it_crosses(filled_store):
    # The border moves from x = 0 to x = +300 m: S-30-70 (x -300..700) is now split
    # 600 000 / 400 000 and counted in 甲; the other plots lie far from the move.
    before = filled_store.plot_splits()
    filled_store.write_townships(_border_moved_east(300), provenance=Provenance("new.shp"))
    df = filled_store.township_areas(year=2023)
    got = {(r.township, r.category): (r.count, r.area_m2) for r in df.itertuples()}
    assert got[("甲镇", "afforestation")] == (2, pytest.approx(600_000 + 960_000, abs=1))
    assert got[("乙镇", "afforestation")] == (0, pytest.approx(400_000, abs=1))
    assert got[("甲镇", "mine_remediation")] == (0, pytest.approx(40_000, abs=1))
    assert got[("乙镇", "mine_remediation")] == (1, pytest.approx(90_000, abs=1))
    towns = filled_store.plots().set_index("plot_id")["township"]
    assert towns.to_dict() == {"S-30-70": "甲镇", "HOLE": "甲镇", "MULTI": "乙镇",
                               "OLD": "乙镇"}
    after = filled_store.plot_splits()
    cols = ["plot_fid", "township", "area_m2", "is_primary"]
    moved = before["plot_fid"] == 1
    assert after[after["plot_fid"] != 1][cols].reset_index(drop=True).equals(
        before[~moved][cols].reset_index(drop=True))
    # A full re-split from scratch finds nothing more to change.
    filled_store.resplit()
    assert filled_store.plot_splits().equals(after)
    info = pyogrio.read_info(filled_store.path, layer="plot_townships")
    assert info["features"] == len(after) == 6


def test_failed_resplit_leaves_the_store_as_it_was(filled_store, store_path):
    def triggers():
        with sqlite3.connect(store_path) as con:
            return set(con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))

    con = sqlite3.connect(store_path)
    con.execute("CREATE TRIGGER refuse BEFORE UPDATE OF township ON plots "
                "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    con.commit()
    con.close()
    before = (filled_store.townships().to_wkt(), filled_store.plot_splits(),
              filled_store.plots().drop(columns="geometry"), len(filled_store.batches()),
              triggers())
    with pytest.raises(sqlite3.IntegrityError, match="disk says no"):
        filled_store.write_townships(_border_moved_east(300), provenance=Provenance("new.shp"))
    after = (filled_store.townships().to_wkt(), filled_store.plot_splits(),
             filled_store.plots().drop(columns="geometry"), len(filled_store.batches()),
             triggers())
    assert after[0].equals(before[0]) and after[1].equals(before[1])
    assert after[2].equals(before[2]) and after[3] == before[3]
    # The GeoPackage triggers dropped for the bulk rewrite are all back.
    assert after[4] == before[4]
    assert {"rtree_plots_geom_update4", "rtree_plots_geom_update5",
            "trigger_insert_feature_count_plot_townships",
            "trigger_delete_feature_count_plot_townships"} <= {name for name, _ in after[4]}


def test_gdal_reads_the_store_with_its_spatial_index(filled_store, store_path):
    layers = dict(pyogrio.list_layers(store_path))
    assert layers["plots"] == "MultiPolygon"
    assert layers["water_sites"] == "Point"
    info = pyogrio.read_info(store_path, layer="plots")
    assert info["features"] == 4
    assert info["crs"] == "EPSG:4490"
    assert info["capabilities"]["fast_spatial_filter"]
    # The R-tree answers a bbox query: only the plot near (+6 km, +6 km) of the CM.
    minx, miny, maxx, maxy = known_plots().geometry.iloc[3].bounds
    sel = pyogrio.read_dataframe(store_path, layer="plots", bbox=(minx, miny, maxx, maxy))
    assert sel["plot_id"].tolist() == ["OLD"]


def _grid_plots(n: int, x0: float, prefix: str):
    """``n`` plots of 10 m × 10 m every 20 m, in rows of 50, from x0 m west of the border."""
    import geopandas as gpd
    import numpy as np

    from tests.conftest import GK, X0, Y0

    i = np.arange(n)
    x, y = X0 - x0 + 20.0 * (i % 50), Y0 + 100 + 20.0 * (i // 50)
    return gpd.GeoDataFrame({"plot_id": [f"{prefix}{j}" for j in i],
                             "category": "afforestation", "year": 2023},
                            geometry=shapely.box(x, y, x + 10, y + 10), crs=GK).to_crs(4490)


def test_large_batches_keep_a_sound_spatial_index(filled_store, store_path, monkeypatch):
    # 3000 plots (the R-tree is packed afresh in bulk, as it is from PACK_ROWS boxes on,
    # lowered here), then 600 more (inserted one by one into the 3004 boxes), then the
    # first batch rolled back.
    monkeypatch.setattr("ecomap.store._sqlite.PACK_ROWS", 1000)
    first = filled_store.add_plots(_grid_plots(3000, 9000, "A"), provenance=Provenance("a"))
    filled_store.add_plots(_grid_plots(600, 7000, "B"), provenance=Provenance("b"))

    def check(expected_features: int) -> list[str]:
        with sqlite3.connect(store_path) as con:
            assert con.execute("SELECT rtreecheck('rtree_plots_geom')").fetchone() == ("ok",)
        assert pyogrio.read_info(store_path, layer="plots")["features"] == expected_features
        # The window holds rows 0-1 of columns 0-2 of grid A (6 plots), nothing of B.
        lo = gk_frame([{}], [shapely.box(500_000 - 9000 + 2, 2_820_000 + 102,
                                         500_000 - 9000 + 45, 2_820_000 + 125)])
        sel = pyogrio.read_dataframe(store_path, layer="plots", bbox=tuple(lo.total_bounds))
        return sorted(sel["plot_id"])

    assert check(3604) == ["A0", "A1", "A2", "A50", "A51", "A52"]
    filled_store.rollback(first)
    assert check(604) == []
    assert len(filled_store.plots()) == 604


def test_filters(filled_store):
    assert filled_store.plots(category="mine_remediation")["plot_id"].tolist() == ["MULTI"]
    assert filled_store.plots(year=2022)["plot_id"].tolist() == ["OLD"]
    assert filled_store.plots(township="甲镇", year=2023)["plot_id"].tolist() == [
        "S-30-70", "HOLE", "MULTI"]


def test_plots_stored_before_townships_are_split_when_they_arrive(store_path):
    st = open_store(store_path.with_name("late.gpkg"), create=True)
    st.add_plots(known_plots(), provenance=Provenance("plots.geojson"))
    assert st.township_areas()["township"].isna().all()
    from tests.conftest import two_townships

    st.write_townships(two_townships(), provenance=Provenance("towns.geojson"))
    got = st.township_areas(year=2023).set_index(["township", "category"])["area_m2"]
    assert got[("甲镇", "afforestation")] == pytest.approx(1_260_000, abs=1)
    assert got[("乙镇", "afforestation")] == pytest.approx(700_000, abs=1)
    st.close()
