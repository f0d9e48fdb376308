"""Classes of real files counties receive: GPS-app KML/KMZ with folders, a dry run without a
year, township names as clerks type them, a .prj contradicting the coordinates and CAD
drawings.  Every file is built here; outcomes and messages asserted exactly."""

from __future__ import annotations

import json

import pytest
import shapely
from click.testing import CliRunner

from ecomap.cli import cli
from ecomap.i18n import use_lang
from ecomap.ingest import ingest_file, validate_file
from ecomap.store import open_store
from ecomap.townnames import match_township
from tests.conftest import two_townships, write_county_and_townships
from tests.uploads import (
    frame,
    kml_folder,
    kml_placemark,
    kml_polygon,
    kml_track,
    kml_waypoint,
    lonlat_ring,
    plot,
    shp_members,
    standard_rows,
    write_dxf,
    write_gps_kml,
    write_shp,
    zip_files,
)

MU = 10000 / 15  # m² per mu: a 100 m × 100 m plot is 15 mu
TOWNS = ["黄龙镇", "内良乡"]  # west of 114°E, east of it (the test townships renamed)


@pytest.fixture
def store(tmp_path):
    """Townships 黄龙镇 | 内良乡 of 大余县 (the county is their union, 20 km × 10 km)."""
    st = open_store(tmp_path / "ecomap.gpkg", create=True)
    write_county_and_townships(st, two_townships().assign(name=TOWNS), county="大余县",
                               adcode="360723")
    yield st
    st.close()


def check(path, store, *, lang="zh", **options):
    """validate_file with its problem messages rendered in ``lang``."""
    options.setdefault("category", "afforestation")
    with use_lang(lang):
        outcome = validate_file(path, store, **options)
        for p in outcome.report.problems:
            p.message = str(p.message)
    return outcome


def codes(outcome) -> list[str]:
    return [p.code for p in outcome.report.problems]


def problem(outcome, code):
    return next(p for p in outcome.report.problems if p.code == code)


# --- 1. KML/KMZ from a handheld GPS app, one folder per township --------------------

def gps_kml_items() -> list[str]:
    """黄龙镇: two plots and a waypoint; 内良乡: a two-part plot (MultiGeometry) and a
    track; 2023年 / 内良乡 (nested): one plot; a photo point outside any folder."""
    multi = ("<MultiGeometry>" + kml_polygon(lonlat_ring(plot(2000, 1000)))
             + kml_polygon(lonlat_ring(plot(2500, 1000))) + "</MultiGeometry>")
    return [
        kml_folder("黄龙镇",
                   kml_placemark("黄龙-01号", kml_polygon(lonlat_ring(plot(-3000, 1000)))),
                   kml_placemark("黄龙-02号", kml_polygon(lonlat_ring(plot(-2000, 1000)))),
                   kml_waypoint("桩点1", 113.97, 25.50)),
        kml_folder("内良乡",
                   kml_placemark("内良-01号", multi),
                   kml_track("巡山轨迹", lonlat_ring(plot(3000, 3000)))),
        kml_folder("2023年", kml_folder(
            "内良乡", kml_placemark("内良-02号", kml_polygon(lonlat_ring(plot(4000, 1000)))))),
        kml_waypoint("拍照点", 114.01, 25.51),
    ]


def test_gps_kml_with_township_folders_is_one_file_of_plots(tmp_path, store):
    kml = write_gps_kml(tmp_path / "外业采集.kml", *gps_kml_items())
    out = check(kml, store, category="afforestation", year=2023)
    assert out.status == "warn", out.report.to_dicts()
    assert codes(out) == ["kml_skipped"]  # folder townships agree with the positions
    assert out.plots["plot_id"].tolist() == ["黄龙-01号", "黄龙-02号", "内良-01号", "内良-02号"]
    assert out.plots["township_reported"].tolist() == ["黄龙镇", "黄龙镇", "内良乡", "内良乡"]
    folders = [json.loads(a)["folder"] for a in out.plots["attributes"]]
    assert folders == ["黄龙镇", "黄龙镇", "内良乡", "2023年/内良乡"]
    # 15 + 15 + (15 + 15) + 15 mu, by hand.
    assert out.to_json()["area_mu"] == pytest.approx(75.0, abs=1e-3)
    assert out.to_json()["by_township"] == pytest.approx({"黄龙镇": 30.0, "内良乡": 45.0},
                                                         abs=1e-3)
    text = problem(out, "kml_skipped").message
    assert text.startswith("外业采集.kml：跳过了 2 个航点（点）和 1 条轨迹（线）")
    assert "黄龙镇：1 个点" in text and "内良乡：1 条线" in text and "（无文件夹）：1 个点" in text
    en = problem(check(kml, store, year=2023, lang="en"), "kml_skipped").message
    assert "skipped 2 waypoint(s) (points) and 1 track(s) (lines)" in en
    assert "黄龙镇: 1 point(s); 内良乡: 1 line(s); (no folder): 1 point(s)" in en


def test_kml_folder_that_is_not_where_the_plot_lies_is_a_township_mismatch(tmp_path, store):
    kml = write_gps_kml(tmp_path / "a.kml", kml_folder(
        "黄龙镇", kml_placemark("错放-01", kml_polygon(lonlat_ring(plot(2000, 1000))))))
    out = check(kml, store, category="afforestation", year=2023)
    mismatch = problem(out, "township_mismatch")
    assert mismatch.field == "folder" and mismatch.feature == "错放-01"
    assert "黄龙镇" in mismatch.message and "内良乡" in mismatch.message


def test_kml_folders_that_are_no_townships_are_kept_but_not_compared(tmp_path, store):
    kml = write_gps_kml(tmp_path / "a.kml", kml_folder(
        "5月12日外业", kml_placemark("A1", kml_polygon(lonlat_ring(plot(2000, 1000))))))
    out = check(kml, store, category="afforestation", year=2023)
    assert out.status == "accept", out.report.to_dicts()
    assert out.plots["township_reported"].tolist() == [None]
    assert json.loads(out.plots["attributes"][0])["folder"] == "5月12日外业"


def test_kmz_with_folders_and_icons(tmp_path, store):
    kml = write_gps_kml(tmp_path / "doc.kml", *gps_kml_items())
    kmz = zip_files(tmp_path / "外业采集.kmz", {"doc.kml": kml, "files/icon.png": b"\x89PNG"})
    out = check(kmz, store, category="afforestation", year=2023)
    assert out.status == "warn" and codes(out) == ["kml_skipped"]
    assert len(out.plots) == 4 and out.to_json()["area_mu"] == pytest.approx(75.0, abs=1e-3)


def test_kml_with_waypoints_only_is_refused_with_the_fix(tmp_path, store):
    kml = write_gps_kml(tmp_path / "航点.kml", kml_folder("黄龙镇", kml_waypoint("P1", 113.97, 25.5),
                                                         kml_waypoint("P2", 113.98, 25.5)))
    out = check(kml, store, category="afforestation", year=2023)
    assert out.status == "reject"
    assert out.report.problems[0].message.startswith("航点.kml：没有面状小班（只有 2 个点、0 条线）")


def test_kml_layer_option_still_reads_one_folder(tmp_path, store):
    kml = write_gps_kml(tmp_path / "a.kml", *gps_kml_items()[:2])
    out = check(kml, store, category="afforestation", year=2023, layer="黄龙镇")
    assert out.status != "reject", out.report.to_dicts()
    assert out.to_json()["area_mu"] == pytest.approx(30.0, abs=1e-3)


def test_gbk_kml_is_read(tmp_path, store):
    utf8 = write_gps_kml(tmp_path / "u.kml", kml_folder(
        "黄龙镇", kml_placemark("黄龙-01号", kml_polygon(lonlat_ring(plot(-3000, 1000))))))
    text = utf8.read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="GBK"')
    gbk = tmp_path / "g.kml"
    gbk.write_bytes(text.encode("gbk"))
    out = check(gbk, store, year=2023)
    assert out.status == "accept", out.report.to_dicts()
    assert out.plots["plot_id"].tolist() == ["黄龙-01号"]
    assert out.plots["township_reported"].tolist() == ["黄龙镇"]


def test_kml_declaring_entities_is_refused(tmp_path, store):
    kml = tmp_path / "e.kml"
    kml.write_text('<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa">]>'
                   '<kml><Document><Placemark><name>&a;</name></Placemark></Document></kml>',
                   encoding="utf-8")
    out = check(kml, store, year=2023)
    assert out.status == "reject"
    assert out.report.problems[0].message.startswith("e.kml：KML 中含有实体声明")


# --- 2. a dry run without a year ---------------------------------------------------------

def test_validate_without_a_year_runs_every_check_and_says_ingest_needs_one(tmp_path, store):
    rows = [{"小班号": f"XB{i}", "乡镇": "内良乡"} for i in (1, 2, 3)]
    # XB1 in 黄龙镇 but says 内良乡; XB2 overlaps XB1 by 50 m × 100 m = 7.5 mu;
    # XB3 has 60 m of its 100 m outside the county (y > Y0 + 10 000).
    g = frame(rows, [plot(-3000, 1000), plot(-2950, 1000), plot(3000, 9960)])
    shp = write_shp(g, tmp_path / "无年度.shp")
    out = check(shp, store, category="afforestation")
    assert out.status == "warn"
    assert sorted(codes(out)) == ["no_year", "overlap", "partly_outside", "township_mismatch",
                                  "township_mismatch"]
    no_year = problem(out, "no_year")
    assert no_year.severity == "warning" and no_year.field == "年度"
    assert no_year.message.startswith("无年度.shp：3 个小班没有年度（如 XB1, XB2, XB3）")
    assert "入库（ecomap ingest）时须填写“年度”字段或加 --year" in no_year.message
    assert "7.50 亩" in problem(out, "overlap").message
    # Storing still needs the year: refused, nothing stored.
    refused, batch = ingest_file(shp, store, category="afforestation", year=None)
    assert refused.status == "reject" and batch is None and len(store.plots()) == 0
    assert problem(refused, "no_year").severity == "error"


def test_cli_validate_without_year_warns_and_ingest_requires_it(tmp_path, store):
    shp = write_shp(frame([{"小班号": "XB1", "乡镇": "黄龙镇"}], [plot(-3000, 1000)]),
                    tmp_path / "p.shp")
    path = tmp_path / "ecomap.gpkg"
    report = tmp_path / "r.json"
    r = CliRunner().invoke(cli, ["validate", str(shp), "--store", str(path), "--category",
                                 "afforestation", "--report", str(report)])
    assert r.exit_code == 1, r.output  # warn, not reject
    j = json.loads(report.read_text(encoding="utf-8"))
    assert j["status"] == "warn" and j["accepted_features"] == 1
    assert [(p["severity"], p["code"]) for p in j["problems"]] == [("warning", "no_year")]
    assert "加 --year" in j["problems"][0]["message"]
    r = CliRunner().invoke(cli, ["ingest", str(shp), "--store", str(path), "--category",
                                 "afforestation"])
    assert r.exit_code == 64 and "--year" in r.output  # a usage error (EX_USAGE)


# --- 3. township names as clerks type them ---------------------------------------------

@pytest.mark.parametrize("typed", [
    "黄龙", "黄龙 镇", "黄龙　镇", " 黄龙镇 ", "大余县黄龙镇", "大余黄龙镇", "大余县 黄龙", "黄龙乡",
    "黃龍鎮", "黄龙镇（原石门村）", "黄龙镇(补)", "黄龙镇【补录】", "黄龙镇（补）",
])
def test_township_as_clerks_type_it_is_no_mismatch(tmp_path, store, typed):
    shp = write_shp(frame([{"小班号": "XB1", "乡镇": typed, "年度": 2023}], [plot(-3000, 1000)]),
                    tmp_path / "p.shp")
    out = check(shp, store, category="afforestation", year=2023)
    assert out.status == "accept", out.report.to_dicts()


@pytest.mark.parametrize(("typed", "official"), [
    ("內良鄉", "内良乡"), ("内良镇", "内良乡"), ("内良", "内良乡"), ("黄龙镇石门村", "黄龙镇"),
    ("青龙镇", None), ("大余县", None), ("", None), ("（补）", None),
])
def test_match_township(typed, official):
    assert match_township(typed, TOWNS, "大余县") == official


def test_unknown_township_names_the_value_and_the_valid_names(tmp_path, store):
    rows = [{"小班号": "XB1", "乡镇": "青龙镇", "年度": 2023},
            {"小班号": "XB2", "乡镇": "", "年度": 2023},
            {"小班号": "XB3", "乡镇": "內良鄉", "年度": 2023}]
    g = frame(rows, [plot(-3000, 1000), plot(-2000, 1000), plot(-1000, 1000)])
    out = check(write_shp(g, tmp_path / "p.shp"), store, category="afforestation",
                        year=2023)
    assert codes(out) == ["township_unknown", "township_unknown", "township_mismatch"]
    unknown, blank, mismatch = out.report.problems
    assert unknown.feature == "XB1" and unknown.field == "乡镇"
    assert "乡镇 的值“青龙镇”不是本县的乡镇名（地块位于黄龙镇）" in unknown.message
    assert unknown.message.endswith("请改为以下之一：黄龙镇、内良乡")
    assert blank.feature == "XB2" and "乡镇 为空" in blank.message
    assert "乡镇 写的是 內良鄉（即 内良乡），但地块位于 黄龙镇" in mismatch.message
    en = check(tmp_path / "p.shp", store, year=2023, lang="en").report.problems[0].message
    assert "乡镇 says '青龙镇', which is no township of the county (the plot lies in 黄龙镇)" in en


# --- 4. a .prj contradicting the coordinates -------------------------------------------

@pytest.mark.parametrize("declared", ["EPSG:4547", "EPSG:4525"])
def test_prj_contradicting_zone_prefixed_eastings_names_the_crs_they_fit(tmp_path, store,
                                                                          declared):
    g = frame(standard_rows(1, township="黄龙镇"), [plot(-2000, 1000)])
    # Eastings of zone 38 (38 498 000 m) under a .prj of another CRS.
    g = g.set_geometry(shapely.transform(g.geometry.values, lambda c: c + [38_000_000, 0]))
    shp = write_shp(g.set_crs(declared, allow_override=True), tmp_path / "p.shp")
    out = check(shp, store, category="afforestation", year=2023)
    assert out.status == "reject" and codes(out) == ["crs"]
    message = out.report.problems[0].message
    assert message.startswith(f"p.shp：.prj 声明的坐标系是 {declared}")
    assert "东坐标（如 38,498,000.0）前面带有 3 度带带号 38" in message
    assert "坐标符合 EPSG:4526（CGCS2000 / 3-degree Gauss-Kruger zone 38）" in message
    assert "请加 --crs EPSG:4526" in message
    en = check(shp, store, year=2023, lang="en").report.problems[0].message
    assert "the coordinates fit EPSG:4526" in en and "pass --crs EPSG:4526" in en
    fixed = check(shp, store, category="afforestation", year=2023, crs="EPSG:4526")
    assert fixed.status == "warn" and codes(fixed) == ["crs_overridden"]
    assert fixed.to_json()["area_mu"] == pytest.approx(15.0, abs=1e-4)


def test_prj_of_a_zone_over_eastings_without_zone_suggests_the_countys_zone(tmp_path, store):
    g = frame(standard_rows(1, township="黄龙镇"), [plot(-2000, 1000)])
    g = g.set_crs("EPSG:4526", allow_override=True)  # zone 38's .prj over 498 000 m eastings
    out = check(write_shp(g, tmp_path / "p.shp"), store, year=2023)
    assert out.status == "reject"
    assert "东坐标（如 498,000.0）不带带号" in out.report.problems[0].message
    assert "请加 --crs EPSG:4547" in out.report.problems[0].message


# --- 5. CAD drawings -------------------------------------------------------------------

def assert_cad_refusal(path, store, name):
    out = check(path, store, year=2023)
    assert out.status == "reject" and codes(out) == ["input"]
    message = out.report.problems[0].message
    assert message.startswith(f"{name}：这是 CAD 图纸（DXF/DWG），不能直接导入")
    assert "导出为 Shapefile" in message and "CGCS2000" in message and ".prj" in message
    en = check(path, store, year=2023, lang="en").report.problems[0].message
    assert en.startswith(f"{name}: this is a CAD drawing (DXF/DWG), which is not accepted")
    assert "export the plot boundaries as a Shapefile" in en


def test_dxf_is_refused_with_what_to_export(tmp_path, store):
    dxf = write_dxf(tmp_path / "测绘成果.dxf")
    assert_cad_refusal(dxf, store, "测绘成果.dxf")


def test_dwg_is_refused_with_what_to_export(tmp_path, store):
    dwg = tmp_path / "地形图.dwg"
    dwg.write_bytes(b"AC1032" + bytes(200))
    assert_cad_refusal(dwg, store, "地形图.dwg")


def test_dxf_inside_a_zip_is_refused_naming_it(tmp_path, store):
    dxf = write_dxf(tmp_path / "小班.dxf")
    zipped = zip_files(tmp_path / "测绘.zip", {"成果/小班.dxf": dxf, "成果/说明.txt": b"CGCS2000"})
    assert_cad_refusal(zipped, store, "测绘.zip: 成果/小班.dxf")


def test_zip_with_a_shapefile_and_a_dxf_reads_the_shapefile(tmp_path, store):
    shp = write_shp(frame(standard_rows(1, township="黄龙镇"), [plot(-2000, 1000)]),
                    tmp_path / "s" / "p.shp")
    zipped = zip_files(tmp_path / "z.zip", {**shp_members(shp),
                                            "p.dxf": write_dxf(tmp_path / "p.dxf")})
    out = check(zipped, store, category="afforestation", year=2023)
    assert out.status == "accept", out.report.to_dicts()


# --- two columns standing for one field ---------------------------------------------------

def test_two_columns_for_one_field_warn_and_keep_both(store, tmp_path):
    from tests.conftest import gk_frame, plot

    path = tmp_path / "两个编号.geojson"
    gk_frame([{"小班号": "XB-1", "plot_id": "GIS-7", "年度": 2023}],
             [plot(-5000, 1000, 100, 100)]).to_crs(4490).to_file(path)
    outcome = check(path, store, year=2023)
    assert outcome.status == "warn"
    msg = problem(outcome, "duplicate_field").message
    assert "'小班号'" in msg and "'plot_id'" in msg and "两个编号.geojson" in msg
    # The column named as the field itself is used; the other is kept as an attribute.
    assert outcome.plots["plot_id"].tolist() == ["GIS-7"]
    assert "XB-1" in outcome.plots["attributes"].iloc[0]
