"""Uploads as users send them: every case generated here, outcomes asserted exactly."""

from __future__ import annotations

import json

import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import box

from ecomap.cli import cli
from ecomap.crs import transform_geometries
from ecomap.ingest import ingest_file, validate_file
from ecomap.store import open_store
from tests.conftest import X0, Y0, write_county_and_townships
from tests.uploads import (
    bowtie,
    frame,
    plot,
    shp_members,
    standard_rows,
    write_kml,
    write_shp,
    zip_files,
)

MU = 10000 / 15  # m² per mu


@pytest.fixture
def store(tmp_path):
    """Townships 甲镇 | 乙镇 and the county as their union (20 km × 10 km)."""
    st = open_store(tmp_path / "ecomap.gpkg", create=True)
    write_county_and_townships(st)
    yield st
    st.close()


def codes(outcome) -> list[str]:
    return [p.code for p in outcome.report.problems]


def snapshot(st) -> tuple:
    return (len(st.plots()), len(st.plot_splits()), len(st.batches()))


# --- encodings ----------------------------------------------------------------------

@pytest.mark.parametrize(("cpg", "ldid"), [(True, None), (False, 0x00), (False, 0x4D)])
def test_gbk_shapefile_chinese_intact(tmp_path, store, cpg, ldid):
    shp = write_shp(frame(standard_rows(2), [plot(-2000, 1000), plot(-1000, 1000)]),
                    tmp_path / "造林小班.shp", cpg=cpg, ldid=ldid)
    out = validate_file(shp, store, category="afforestation", year=2023)
    assert out.status == "accept", out.report.to_dicts()
    assert out.info["encoding"] == "GB18030"
    assert out.plots["village"].tolist() == ["石门村", "石门村"]
    assert out.plots["plot_id"].tolist() == ["XB001", "XB002"]
    assert json.loads(out.plots["attributes"][0])["树种"] == "杉木"
    assert out.to_json()["area_mu"] == pytest.approx(2 * 10_000 / MU, abs=1e-4)


def test_utf8_shapefile_without_cpg(tmp_path, store):
    shp = write_shp(frame(standard_rows(1), [plot(-2000, 1000)]), tmp_path / "p.shp",
                    encoding="UTF-8", cpg=False, ldid=0)
    out = validate_file(shp, store, category="afforestation", year=2023)
    assert out.info["encoding"] == "UTF-8"
    assert out.plots["village"].tolist() == ["石门村"]


def test_cpg_that_lies_is_overruled(tmp_path, store):
    shp = write_shp(frame(standard_rows(1), [plot(-2000, 1000)]), tmp_path / "p.shp")
    shp.with_suffix(".cpg").write_text("UTF-8")
    out = validate_file(shp, store, category="afforestation", year=2023)
    assert out.plots["village"].tolist() == ["石门村"]
    assert "encoding" in codes(out) and out.status == "warn"


def test_encoding_option_forces(tmp_path, store):
    shp = write_shp(frame(standard_rows(1), [plot(-2000, 1000)]), tmp_path / "p.shp",
                    cpg=False, ldid=0)
    out = validate_file(shp, store, category="afforestation", year=2023, encoding="GB18030")
    assert out.info["encoding"] == "GB18030" and out.plots["village"][0] == "石门村"


# --- CRS ----------------------------------------------------------------------------

def test_zone_prefixed_eastings_without_prj_are_assumed(tmp_path, store):
    g = frame(standard_rows(1), [plot(-2000, 1000)])
    g = g.set_geometry(shapely.transform(g.geometry.values, lambda c: c + [38_000_000, 0]))
    shp = write_shp(g.set_crs(None, allow_override=True), tmp_path / "p.shp", prj=False)
    out = validate_file(shp, store, category="afforestation", year=2023)
    assert out.info["crs"] == "EPSG:4526" and out.info["crs_source"] == "assumed"
    assert "crs_assumed" in codes(out) and out.status == "warn"
    assert out.to_json()["area_mu"] == pytest.approx(10_000 / MU, abs=1e-4)


def test_eastings_without_zone_and_prj_are_rejected_with_the_fix(tmp_path, store):
    g = frame(standard_rows(1), [plot(-2000, 1000)]).set_crs(None, allow_override=True)
    shp = write_shp(g, tmp_path / "p.shp", prj=False)
    out = validate_file(shp, store, category="afforestation", year=2023)
    assert out.status == "reject"
    assert "--crs EPSG:4547" in out.report.problems[0].message
    fixed = validate_file(shp, store, category="afforestation", year=2023, crs="EPSG:4547")
    assert fixed.status == "accept" and fixed.info["crs_source"] == "option"


def test_degrees_without_prj_in_the_county(tmp_path, store):
    g = frame(standard_rows(1), [plot(-2000, 1000)]).to_crs(4490).set_crs(
        None, allow_override=True)
    out = validate_file(write_shp(g, tmp_path / "p.shp", prj=False), store,
                        category="afforestation", year=2023)
    assert out.info["crs"] == "EPSG:4490" and out.info["crs_source"] == "assumed"


def test_esri_gauss_kruger_prj(tmp_path, store):
    shp = write_shp(frame(standard_rows(1), [plot(-2000, 1000)]), tmp_path / "p.shp")
    shp.with_suffix(".prj").write_text(
        'PROJCS["CGCS2000_3_Degree_GK_CM_114E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",'
        'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],'
        'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],'
        'PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],'
        'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",114.0],'
        'PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]')
    out = validate_file(shp, store, category="afforestation", year=2023)
    assert out.status == "accept", out.report.to_dicts()
    assert out.info["crs"] == "EPSG:4547"
    assert out.to_json()["area_mu"] == pytest.approx(10_000 / MU, abs=1e-3)


def test_xian80_is_converted_with_a_warning(tmp_path, store):
    # Xian 1980 3-degree GK CM 114E (EPSG:2383): a datum shift of metres, not recomputed.
    g = frame(standard_rows(1), [plot(-2000, 1000)]).set_crs("EPSG:2383", allow_override=True)
    out = validate_file(write_shp(g, tmp_path / "p.shp"), store, category="afforestation",
                        year=2023)
    assert "old_datum" in codes(out) and out.status == "warn"


def test_swapped_axes_are_detected(tmp_path, store):
    g = frame(standard_rows(1), [plot(-2000, 1000)]).to_crs(4490)
    swapped = g.set_geometry(shapely.transform(g.geometry.values, lambda c: c[:, ::-1]))
    out = validate_file(write_shp(swapped, tmp_path / "p.shp"), store,
                        category="afforestation", year=2023)
    assert out.status == "reject"  # its one feature lies outside the county
    assert codes(out) == ["outside_county"]
    assert "swapped" in out.report.problems[0].message
    no_prj = validate_file(write_shp(swapped.set_crs(None, allow_override=True),
                                     tmp_path / "q.shp", prj=False),
                           store, category="afforestation", year=2023)
    assert no_prj.status == "reject" and "swapped" in no_prj.report.problems[0].message


# --- geometry -----------------------------------------------------------------------

def test_bowtie_is_repaired_to_its_hand_computed_area(tmp_path, store):
    g = frame(standard_rows(2), [bowtie(-3000, 1000), plot(-1000, 1000)])
    out = validate_file(write_shp(g, tmp_path / "p.shp"), store, category="afforestation",
                        year=2023)
    assert out.status == "warn" and codes(out) == ["repaired_geometry"]
    assert out.report.problems[0].feature == "XB001"
    # Two triangles of 200 × 100 / 2 = 10 000 m² each.
    repaired = out.plots.loc[out.plots["plot_id"] == "XB001", "area_m2"].item()
    assert repaired == pytest.approx(20_000, abs=0.5)


def test_null_point_and_sliver_features_are_left_out(tmp_path, store):
    g = frame(standard_rows(3), [plot(-3000, 1000), plot(-2000, 1000, 5, 5),
                                 plot(-1000, 1000)])
    g.loc[2, "geometry"] = None
    out = validate_file(write_shp(g, tmp_path / "p.shp"), store, category="afforestation",
                        year=2023)
    # 5 m × 5 m = 0.0375 mu, under the 0.1 mu minimum.
    assert sorted(codes(out)) == ["empty_geometry", "sliver"]
    assert out.plots["plot_id"].tolist() == ["XB001"] and out.status == "warn"


def test_points_in_a_polygon_layer(tmp_path, store):
    pts = frame(standard_rows(1), [shapely.Point(X0 - 500, Y0 + 500)])
    out = validate_file(write_shp(pts, tmp_path / "p.shp"), store, category="afforestation",
                        year=2023)
    assert codes(out) == ["not_polygon"] and out.status == "reject"


def test_overlaps_and_duplicates_in_the_file(tmp_path, store):
    g = frame(standard_rows(4), [plot(-3000, 1000), plot(-3000, 1000),
                                 plot(-1000, 1000), plot(-950, 1000)])
    out = validate_file(write_shp(g, tmp_path / "p.shp"), store, category="afforestation",
                        year=2023)
    assert sorted(codes(out)) == ["duplicate", "overlap"]
    dup = next(p for p in out.report.problems if p.code == "duplicate")
    assert dup.feature == "XB002"
    overlap = next(p for p in out.report.problems if p.code == "overlap")
    # 50 m × 100 m = 5 000 m² = 7.50 mu.
    assert overlap.feature == "XB004" and "7.50 mu" in overlap.message
    assert out.plots["plot_id"].tolist() == ["XB001", "XB003", "XB004"]


def test_overlap_with_stored_plots_of_the_same_category_and_year(tmp_path, store):
    first = write_shp(frame(standard_rows(1), [plot(-3000, 1000)]), tmp_path / "a.shp")
    _, batch = ingest_file(first, store, category="afforestation", year=2023)
    rows = [{"小班号": "NEW1"}]
    second = write_shp(frame(rows, [plot(-3000, 1050)]), tmp_path / "b.shp")
    out = validate_file(second, store, category="afforestation", year=2023)
    assert codes(out) == ["overlaps_stored"]
    # 100 m × 50 m = 5 000 m² = 7.50 mu, in the first batch.
    assert f"batch {batch}" in out.report.problems[0].message
    assert "7.50 mu" in out.report.problems[0].message
    other_year = validate_file(second, store, category="afforestation", year=2022)
    assert other_year.status == "accept"


def test_partly_and_wholly_outside_the_county(tmp_path, store):
    # The county spans y ∈ [Y0, Y0 + 10 000]; the first plot has 40 m in it, 60 m out.
    g = frame(standard_rows(2), [plot(-3000, 9960), plot(-3000, 20_000)])
    out = validate_file(write_shp(g, tmp_path / "p.shp"), store, category="afforestation",
                        year=2023)
    assert codes(out) == ["partly_outside", "outside_county"]
    # 100 m × 60 m = 6 000 m² = 9.00 mu outside.
    assert "9.00 mu" in out.report.problems[0].message
    assert out.plots["plot_id"].tolist() == ["XB001"]


def test_declared_area_and_township_are_checked(tmp_path, store):
    rows = standard_rows(2, township="乙镇")
    rows[0]["面积_亩"] = 20.0  # the shape measures 15 mu
    rows[1]["面积_亩"] = 15.2  # within 5 %
    g = frame(rows, [plot(-3000, 1000, 100, 100), plot(-2000, 1000)])
    out = validate_file(write_shp(g, tmp_path / "p.shp"), store, category="afforestation",
                        year=2023)
    assert sorted(codes(out)) == ["area_mismatch", "township_mismatch", "township_mismatch"]
    mismatch = next(p for p in out.report.problems if p.code == "area_mismatch")
    assert mismatch.field == "面积_亩" and "15.00 mu" in mismatch.message


def test_zm_geometries_with_heights_are_flattened_with_a_note(tmp_path, store):
    g = frame(standard_rows(1), [shapely.force_3d(plot(-3000, 1000), 55.0)])
    out = validate_file(write_shp(g, tmp_path / "p.shp"), store, category="afforestation",
                        year=2023)
    assert "z_dropped" in codes(out) and not shapely.has_z(out.plots.geometry).any()


# --- containers ---------------------------------------------------------------------

def test_nested_zip_with_junk(tmp_path, store):
    shp = write_shp(frame(standard_rows(2), [plot(-3000, 1000), plot(-1000, 1000)]),
                    tmp_path / "src" / "造林小班.shp")
    members = shp_members(shp, "2023年/造林/")
    members.update({"__MACOSX/2023年/._造林小班.shp": b"junk", "2023年/Thumbs.db": b"junk"})
    z = zip_files(tmp_path / "plots.zip", members)
    out = validate_file(z, store, category="afforestation", year=2023)
    assert out.status == "accept", out.report.to_dicts()
    assert out.plots["village"].tolist() == ["石门村", "石门村"]


def test_zip_with_two_layers_asks_for_one(tmp_path, store):
    a = write_shp(frame(standard_rows(1), [plot(-3000, 1000)]), tmp_path / "a" / "造林.shp")
    b = write_shp(frame(standard_rows(1), [plot(-1000, 1000)]), tmp_path / "b" / "抚育.shp")
    z = zip_files(tmp_path / "two.zip", {**shp_members(a), **shp_members(b)})
    out = validate_file(z, store, category="afforestation", year=2023)
    assert out.status == "reject" and "--layer" in out.report.problems[0].message
    assert "造林.shp" in out.report.problems[0].message
    picked = validate_file(z, store, category="afforestation", year=2023, layer="抚育")
    assert picked.status == "accept"


def test_geopackage_with_layers(tmp_path, store):
    gpkg = tmp_path / "plots.gpkg"
    pyogrio_write = __import__("pyogrio").write_dataframe
    pyogrio_write(frame(standard_rows(1), [plot(-3000, 1000)]), gpkg, layer="造林")
    pyogrio_write(frame(standard_rows(1), [plot(-1000, 1000)]), gpkg, layer="抚育")
    out = validate_file(gpkg, store, category="afforestation", year=2023)
    assert out.status == "reject" and "--layer" in out.report.problems[0].message
    assert validate_file(gpkg, store, category="afforestation", year=2023,
                         layer="造林").status == "accept"


def test_kml_with_chinese_names(tmp_path, store):
    ring = transform_geometries([plot(-3000, 1000)], "EPSG:4547", "EPSG:4490")[0]
    kml = write_kml(tmp_path / "外业.kml", [("石门村造林地块", list(ring.exterior.coords))])
    out = validate_file(kml, store, category="afforestation", year=2023)
    assert out.status == "accept", out.report.to_dicts()
    assert json.loads(out.plots["attributes"][0])["Name"] == "石门村造林地块"
    assert out.to_json()["area_mu"] == pytest.approx(10_000 / MU, abs=1e-3)


def test_geojson(tmp_path, store):
    path = tmp_path / "p.geojson"
    frame(standard_rows(1), [plot(-3000, 1000)]).to_crs(4326).to_file(path)
    assert validate_file(path, store, category="afforestation", year=2023).status == "accept"


# --- bad files ----------------------------------------------------------------------

def test_truncated_shapefile(tmp_path, store):
    shp = write_shp(frame(standard_rows(3), [plot(-3000, 1000), plot(-2000, 1000),
                                             plot(-1000, 1000)]), tmp_path / "p.shp")
    data = shp.read_bytes()
    shp.write_bytes(data[: len(data) // 2])
    out = validate_file(shp, store, category="afforestation", year=2023)
    assert out.status == "reject"
    assert "p.shp" in out.report.problems[0].message


def test_missing_shx(tmp_path, store):
    shp = write_shp(frame(standard_rows(1), [plot(-3000, 1000)]), tmp_path / "p.shp")
    shp.with_suffix(".shx").unlink()
    out = validate_file(shp, store, category="afforestation", year=2023)
    assert out.status == "reject" and ".shx" in out.report.problems[0].message


def test_zip_slip_and_zip_bomb(tmp_path, store):
    slip = zip_files(tmp_path / "slip.zip", {"../../evil.shp": b"x", "ok.txt": b"y"})
    out = validate_file(slip, store, category="afforestation", year=2023)
    assert out.status == "reject" and "zip slip" in out.report.problems[0].message
    assert not (tmp_path.parent / "evil.shp").exists()
    bomb = zip_files(tmp_path / "bomb.zip", {"big.shp": b"\0" * 30_000_000})
    from ecomap.settings import Settings

    out = validate_file(bomb, store, category="afforestation", year=2023,
                        settings=Settings(max_unzipped_mb=10))
    assert out.status == "reject" and "zip bomb" in out.report.problems[0].message


def test_unknown_type_and_too_big(tmp_path, store):
    doc = tmp_path / "plots.docx"
    doc.write_bytes(b"PK")
    assert "not accepted" in validate_file(doc, store, category="afforestation",
                                           year=2023).report.problems[0].message
    from ecomap.settings import Settings

    shp = write_shp(frame(standard_rows(1), [plot(-3000, 1000)]), tmp_path / "p.shp")
    out = validate_file(shp, store, category="afforestation", year=2023,
                        settings=Settings(max_upload_mb=0.00001))
    assert out.status == "reject" and "MB" in out.report.problems[0].message


# --- storing ------------------------------------------------------------------------

def test_ingest_stores_one_batch_and_rejections_store_nothing(tmp_path, store):
    good = write_shp(frame(standard_rows(2), [plot(-3000, 1000), bowtie(-1000, 1000)]),
                     tmp_path / "good.shp")
    outcome, batch = ingest_file(good, store, category="afforestation", year=2023)
    assert outcome.status == "warn" and batch is not None
    b = store.batches().set_index("batch_id").loc[batch]
    assert b["source_file"] == "good.shp" and len(b["sha256"]) == 64
    assert b["feature_count"] == 2
    assert b["area_m2"] == pytest.approx(10_000 + 20_000, abs=1)
    before = snapshot(store)
    bad = write_shp(frame(standard_rows(1), [plot(-3000, 1000)]).set_crs(
        None, allow_override=True), tmp_path / "bad.shp", prj=False)
    outcome, batch = ingest_file(bad, store, category="afforestation", year=2023)
    assert outcome.status == "reject" and batch is None
    assert snapshot(store) == before


def test_strict_rejects_on_warnings(tmp_path, store):
    shp = write_shp(frame(standard_rows(1), [bowtie(-1000, 1000)]), tmp_path / "p.shp")
    before = snapshot(store)
    outcome, batch = ingest_file(shp, store, category="afforestation", year=2023, strict=True)
    assert outcome.status == "reject" and batch is None and snapshot(store) == before


def test_splits_from_validation_are_what_is_stored(tmp_path, store):
    # 300 m west and 700 m east of the border: 30 / 70.
    shp = write_shp(frame(standard_rows(1), [box(X0 - 300, Y0 + 100, X0 + 700, Y0 + 1100)]),
                    tmp_path / "p.shp")
    outcome, batch = ingest_file(shp, store, category="afforestation", year=2023)
    assert outcome.to_json()["by_township"] == {"乙镇": pytest.approx(700_000 / MU, abs=1e-3),
                                                "甲镇": pytest.approx(300_000 / MU, abs=1e-3)}
    areas = store.township_areas().set_index("township")["area_m2"]
    assert areas["甲镇"] == pytest.approx(300_000, abs=1)
    assert areas["乙镇"] == pytest.approx(700_000, abs=1)


# --- CLI ----------------------------------------------------------------------------

def test_cli_exit_codes_and_json_report(tmp_path, store, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    ok = write_shp(frame(standard_rows(1), [plot(-3000, 1000)]), tmp_path / "ok.shp")
    warn = write_shp(frame(standard_rows(1), [bowtie(-1000, 1000)]), tmp_path / "warn.shp")
    bad = write_shp(frame(standard_rows(1), [plot(-3000, 1000)]).set_crs(
        None, allow_override=True), tmp_path / "bad.shp", prj=False)
    r = runner.invoke(cli, ["validate", str(ok), "--category", "人工造林", "--year", "2023",
                            "--report", "r.json"])
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert set(report) == {"status", "file", "layer", "features", "accepted_features",
                           "area_mu", "checked_area_mu", "crs", "crs_source", "encoding",
                           "by_township", "problems"}
    assert report["status"] == "accept" and report["crs"] == "EPSG:4547"
    assert report["by_township"] == {"甲镇": pytest.approx(15.0, abs=1e-3)}
    assert len(store.plots()) == 0  # validate is a dry run
    r = runner.invoke(cli, ["ingest", str(warn), "--category", "afforestation", "--year",
                            "2023", "--report", "r.html"])
    assert r.exit_code == 1 and "repaired_geometry" in r.output
    assert "XB001" in (tmp_path / "r.html").read_text(encoding="utf-8")
    r = runner.invoke(cli, ["ingest", str(bad), "--category", "afforestation", "--year",
                            "2023"])
    assert r.exit_code == 2 and "--crs" in r.output
    assert len(store.plots()) == 1


def test_killed_ingest_leaves_the_store_as_it_was(tmp_path, store):
    """SIGKILL in the middle of the write: the store is exactly as before, and sound."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    import numpy as np

    first = write_shp(frame(standard_rows(1), [plot(-9000, 9000)]), tmp_path / "first.shp")
    ingest_file(first, store, category="afforestation", year=2023)
    before = snapshot(store)
    store.close()
    # 40 000 plots of 20 m × 20 m on a grid in 甲镇.
    xs, ys = np.meshgrid(np.arange(200) * 40.0 - 9000, np.arange(200) * 40.0 + 500)
    geoms = [plot(x, y, 20, 20) for x, y in zip(xs.ravel(), ys.ravel(), strict=True)]
    big = write_shp(frame([{"小班号": f"B{i}"} for i in range(len(geoms))], geoms),
                    tmp_path / "big.shp")
    path = tmp_path / "ecomap.gpkg"
    journal = tmp_path / "ecomap.gpkg-journal"
    proc = subprocess.Popen([sys.executable, "-m", "ecomap", "ingest", str(big), "--category",
                             "afforestation", "--year", "2023", "--store", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = False
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if journal.exists():  # a write transaction is open
            time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.002)
    proc.wait()
    assert killed, "the ingest finished before it could be interrupted"
    con = sqlite3.connect(path)  # recovers from the hot journal, as any reader would
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with open_store(path) as again:
        assert snapshot(again) == before
        assert again.plots()["plot_id"].tolist() == ["XB001"]
