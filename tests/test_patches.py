"""Forest-inspection patches: the province's GBK Shapefile imported by ID, a corrected
layer re-imported, status history on a past date, refused transitions, the township's
XLSX read back all or nothing, the report back re-read, the sentence.

The patches are drawn in Gauss-Kruger metres (conftest) on the two test townships:

- ``TB001``: 100 m × 150 m inside 甲镇 = 15 000 m² = 22.5 亩;
- ``TB002``: 200 m × 300 m inside 乙镇 = 60 000 m² = 90 亩;
- ``TB003``: 100 m × 100 m inside 乙镇 = 10 000 m² = 15 亩.
"""

from __future__ import annotations

import json
import zipfile

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from ecomap.cli import cli
from ecomap.errors import ValidationError
from ecomap.patches import patch_state, patch_table, patches_sentence
from ecomap.patches.export import export_patches
from ecomap.patches.importing import import_patches
from ecomap.patches.service import update_patch
from ecomap.patches.workbook import template_bytes, update_from
from ecomap.store import open_store
from tests import test_store_backends as backends
from tests.conftest import GK, plot, write_county_and_townships

BACKENDS = backends.BACKENDS
location, pg_schema, postgis_url = backends.location, backends.pg_schema, backends.postgis_url

FIELDS = ["图斑编号", "县", "乡镇", "村", "变化类型", "图斑面积", "前时相", "后时相"]
ROWS = [("TB001", "测试县", "甲镇", "甲村", "乔木林地变为建设用地", 22.5, "2021-10-01",
         "2022-09-30"),
        ("TB002", "测试县", "乙镇", "乙村", "乔木林地变为耕地", 90.0, "2021-10-01",
         "2022-09-30"),
        ("TB003", "测试县", "乙镇", "丙村", "灌木林地变为其他", 15.0, "2021-10-01",
         "2022-09-30")]
SHAPES = [plot(-3000, 2000, 100, 150), plot(3000, 2000, 200, 300), plot(5000, 5000, 100, 100)]


def write_patch_zip(path, rows=ROWS, shapes=SHAPES):
    """A zipped Shapefile as the province sends it: GBK names and values, a .cpg."""
    gdf = gpd.GeoDataFrame([dict(zip(FIELDS, r, strict=True)) for r in rows],
                           geometry=list(shapes), crs=GK)
    shp = path.parent / "src" / "patches.shp"
    shp.parent.mkdir(exist_ok=True)
    pyogrio.write_dataframe(gdf, shp, encoding="GBK")
    with zipfile.ZipFile(path, "w") as zf:
        for part in shp.parent.iterdir():
            zf.write(part, part.name)
    return path


@pytest.fixture
def pstore(location):
    st = open_store(location, create=True)
    write_county_and_townships(st)
    yield st
    st.close()


def _imported(st, tmp_path):
    outcome, result = import_patches(write_patch_zip(tmp_path / "p2022.zip"), st, year=2022)
    assert result is not None, outcome.report.to_dicts()
    return result


@backends._parametrize
def test_import_gbk_shapefile_keeps_ids_and_every_field(pstore, tmp_path):
    result = _imported(pstore, tmp_path)
    assert result["new"] == ["TB001", "TB002", "TB003"]
    got = pstore.patches(year=2022)
    assert got["patch_id"].tolist() == ["TB001", "TB002", "TB003"]
    assert got["township"].tolist() == ["甲镇", "乙镇", "乙镇"]
    assert got["village"].tolist() == ["甲村", "乙村", "丙村"]
    assert got["area_mu"].round(2).tolist() == [22.5, 90.0, 15.0]
    assert got["change_type"].tolist()[0] == "乔木林地变为建设用地"
    attrs = json.loads(got["attributes"].iloc[1])
    assert list(attrs) == FIELDS
    assert attrs["图斑编号"] == "TB002" and attrs["变化类型"] == "乔木林地变为耕地"
    assert attrs["图斑面积"] == 90.0


@backends._parametrize
def test_reimport_updates_by_id_and_says_what_changed(pstore, tmp_path):
    _imported(pstore, tmp_path)
    update_patch(pstore, "TB003", {"verification": "违法"}, user="张三")
    rows = [ROWS[0], ROWS[1][:3] + ("丁村",) + ROWS[1][4:],
            ("TB004", "测试县", "甲镇", "甲村", "乔木林地变为其他", 15.0, "2021-10-01",
             "2022-09-30")]
    shapes = [plot(-3000, 2000, 100, 300), SHAPES[1], plot(-6000, 6000, 100, 100)]
    zipped = write_patch_zip(tmp_path / "p2022_fixed.zip", rows, shapes)
    _, result = import_patches(zipped, pstore, year=2022)
    assert result["new"] == ["TB004"]
    assert result["changed"]["TB001"][0] == "geometry"
    assert "village" in result["changed"]["TB002"]
    assert result["unchanged"] == []
    assert result["missing"] == ["TB003"]
    got = pstore.patches(year=2022).set_index("patch_id")
    assert sorted(got.index) == ["TB001", "TB002", "TB003", "TB004"]  # TB003 kept
    assert round(got.loc["TB001", "area_mu"], 2) == 45.0  # 100 × 300 m = 30 000 m²
    assert got.loc["TB002", "village"] == "丁村"
    assert pstore.patch_events()["patch_id"].tolist() == ["TB003"]  # events kept


@pytest.mark.parametrize("location", ["gpkg"], indirect=True)
def test_patch_without_id_or_twice_names_the_feature(pstore, tmp_path):
    rows = [ROWS[0], ("",) + ROWS[1][1:], ("TB001",) + ROWS[2][1:]]
    outcome, result = import_patches(write_patch_zip(tmp_path / "bad.zip", rows), pstore,
                                     year=2022)
    assert result is None
    text = " ".join(p["message"] for p in outcome.report.to_dicts("zh"))
    assert "第 2 个要素没有图斑编号" in text
    assert "第 3 个要素的图斑编号 TB001 与第 1 个要素重复" in text
    assert len(pstore.patches()) == 0


@backends._parametrize
def test_state_on_a_past_date(pstore, tmp_path):
    _imported(pstore, tmp_path)
    ev = pd.DataFrame
    pstore.add_patch_events(ev({"patch_id": ["TB001"] * 3, "field": [
        "verification", "unlawful_type", "deadline"], "value": [
        "违法", "违法占用林地", "2023-06-30"]}), user="a", at="2023-02-01T02:00:00Z")
    pstore.add_patch_events(ev({"patch_id": ["TB001"], "field": ["status"],
                                "value": ["整改中"]}), user="b", at="2023-03-01T02:00:00Z")
    pstore.add_patch_events(ev({"patch_id": ["TB001"], "field": ["status"],
                                "value": ["已整改"]}), user="b", at="2023-05-10T02:00:00Z")
    events = pstore.patch_events()
    assert len(events) == 5
    before = patch_state(events, on="2023-01-15", patch_ids=["TB001"]).iloc[0]
    assert (before["verification"], before["status"]) == ("未核实", "未整改")
    mid = patch_state(events, on="2023-03-15").set_index("patch_id").loc["TB001"]
    assert (mid["verification"], mid["status"], mid["deadline"]) == ("违法", "整改中",
                                                                     "2023-06-30")
    now = patch_state(events).set_index("patch_id").loc["TB001"]
    assert now["status"] == "已整改"


@backends._parametrize
def test_backward_transition_refused_naming_patch_and_next(pstore, tmp_path):
    _imported(pstore, tmp_path)
    update_patch(pstore, "TB002", {"verification": "违法", "status": "已整改"}, user="a")
    with pytest.raises(ValidationError) as err:
        update_patch(pstore, "TB002", {"status": "整改中"}, user="a")
    msg = str(err.value)
    assert "TB002" in msg and "已整改" in msg and "整改中" in msg and "已销号" in msg
    with pytest.raises(ValidationError, match="须先整改完成"):
        update_patch(pstore, "TB001", {"verification": "违法", "status": "已销号"}, user="a")
    with pytest.raises(ValidationError, match="只有核实为“合法”"):
        update_patch(pstore, "TB003", {"status": "无需整改"}, user="a")
    # lawful: no rectification, set with the verification
    assert update_patch(pstore, "TB003", {"verification": "合法"}, user="a") == [
        ("verification", "合法"), ("status", "无需整改")]
    fields = pstore.patch_events()[["patch_id", "field", "value"]].values.tolist()
    assert fields == [["TB002", "verification", "违法"], ["TB002", "status", "已整改"],
                      ["TB003", "verification", "合法"], ["TB003", "status", "无需整改"]]


def _fill(path, data, rows):
    """Write a template's bytes to ``path`` and set cells: {(patch_id, header): value}."""
    path.write_bytes(data)
    wb = load_workbook(path)
    ws = wb.active
    header = [c.value for c in ws[3]]
    for r in range(4, ws.max_row + 1):
        pid = ws.cell(r, 1).value
        for (p, h), v in rows.items():
            if p == pid:
                ws.cell(r, header.index(h) + 1).value = v
    wb.save(path)
    return path


@backends._parametrize
def test_bulk_update_all_or_nothing(pstore, tmp_path):
    import datetime as dt

    _imported(pstore, tmp_path)
    data = template_bytes(pstore, year=2022, township="乙镇")
    (tmp_path / "t.xlsx").write_bytes(data)
    ws = load_workbook(tmp_path / "t.xlsx").active
    assert "乙镇2022年度森林督查问题图斑" in ws["A1"].value
    assert [ws.cell(r, 1).value for r in range(4, ws.max_row + 1)] == ["TB002", "TB003"]
    assert {str(v.sqref).split(":")[0][0] for v in ws.data_validations.dataValidation} >= {
        "F", "G", "H"}
    bad = _fill(tmp_path / "乙镇_bad.xlsx", data, {
        ("TB002", "核实结果"): "违法", ("TB002", "整改状态"): "已整改",
        ("TB002", "整改日期"): dt.datetime(2023, 5, 20),
        ("TB003", "核实结果"): "违法", ("TB003", "整改期限"): "六月底"})
    with pytest.raises(ValidationError) as err:
        update_from(bad, pstore, user="乙镇林业站")
    problems = err.value.problems
    assert len(problems) == 1
    assert "第 5 行 I 列（整改期限）" in str(problems[0]["message"])
    assert len(pstore.patch_events()) == 0  # nothing stored
    good = _fill(tmp_path / "乙镇.xlsx", data, {
        ("TB002", "核实结果"): "违法", ("TB002", "整改状态"): "已整改",
        ("TB002", "整改日期"): dt.datetime(2023, 5, 20),
        ("TB003", "核实结果"): "违法", ("TB003", "整改期限"): "2023-06-30"})
    batch, events = update_from(good, pstore, user="乙镇林业站")
    assert batch is not None
    stored = pstore.patch_events()
    assert stored[["patch_id", "field", "value"]].values.tolist() == [
        ["TB002", "verification", "违法"], ["TB002", "status", "已整改"],
        ["TB002", "rectified_on", "2023-05-20"], ["TB003", "verification", "违法"],
        ["TB003", "deadline", "2023-06-30"]]
    assert set(stored["batch_id"]) == {batch}
    # The same state sent again (a fresh template, unchanged): no events.
    again = tmp_path / "again.xlsx"
    again.write_bytes(template_bytes(pstore, year=2022, township="乙镇"))
    assert update_from(again, pstore, user="x")[0] is None
    assert len(pstore.patch_events()) == 5


@backends._parametrize
def test_export_zip_reads_back_with_original_fields(pstore, tmp_path):
    _imported(pstore, tmp_path)
    update_patch(pstore, "TB001", {"verification": "违法", "unlawful_type": "违法占用林地",
                                   "status": "整改中", "deadline": "2023-06-30"}, user="a")
    out = export_patches(pstore, year=2022, path=tmp_path / "back.zip")
    names = zipfile.ZipFile(out).namelist()
    assert {"patches_2022.cpg", "patches_2022.prj", "patches_2022.dbf"} <= set(names)
    back = pyogrio.read_dataframe(f"/vsizip/{out}/patches_2022.shp")
    assert list(back.columns[:8]) == FIELDS
    assert list(back.columns[8:16]) == ["核实结果", "违法类型", "整改状态", "整改期限", "整改日期",
                                        "销号日期", "责任乡镇", "备注"]
    row = back.set_index("图斑编号").loc["TB001"]
    assert (row["核实结果"], row["违法类型"], row["整改状态"], row["整改期限"]) == (
        "违法", "违法占用林地", "整改中", "2023-06-30")
    assert back.set_index("图斑编号").loc["TB002", "核实结果"] == "未核实"
    assert back["变化类型"].tolist()[0] == "乔木林地变为建设用地"
    xlsx = export_patches(pstore, year=2022, path=tmp_path / "back.xlsx")
    assert pd.read_excel(xlsx)["图斑编号"].tolist() == ["TB001", "TB002", "TB003"]


def _table(statuses, verification="违法", deadlines=None, towns=None):
    n = len(statuses)
    return pd.DataFrame({
        "patch_id": [f"P{i}" for i in range(n)], "township": towns or ["青龙镇"] * n,
        "verification": verification if isinstance(verification, list) else [verification] * n,
        "status": statuses, "deadline": deadlines or [None] * n,
        "township_in_charge": [None] * n}).pipe(
        lambda t: t.assign(in_charge=t["township"]))


def test_sentence_all_rectified_and_not():
    done = _table(["已整改"] * 33 + ["已销号"] * 2)
    assert patches_sentence(done, 2022, "zh") == "2022年度森林督查问题图斑35个，已全部完成整改。"
    lawful = _table(["已整改"] * 30 + ["无需整改"] * 5, ["违法"] * 30 + ["合法"] * 5)
    assert patches_sentence(lawful, 2022, "zh") == \
        "2022年度森林督查问题图斑35个，其中合法5个，其余已全部完成整改。"
    towns = ["南安镇"] * 30 + ["青龙镇"] * 5
    late = _table(["已整改"] * 30 + ["整改中"] * 3 + ["未整改"] * 2,
                  deadlines=[None] * 33 + ["2023-06-30"] * 2, towns=towns)
    assert patches_sentence(late, 2022, "zh", on="2023-07-10") == (
        "2022年度森林督查问题图斑35个，已整改30个，整改中3个，未整改2个；逾期未整改：青龙镇2个。")
    assert patches_sentence(late, 2022, "en", on="2023-07-10") == (
        "35 forest-inspection patches of 2022: rectified 30, in progress 3, not started 2; "
        "overdue: 青龙镇 2.")


def test_patch_table_defaults_without_events():
    patches = pd.DataFrame({"patch_id": ["A"], "year": [2022], "township": ["甲镇"]})
    t = patch_table(patches, pd.DataFrame(columns=["event_id", "patch_id", "at", "user",
                                                   "field", "value", "batch_id"]))
    assert t[["verification", "status", "in_charge"]].values.tolist() == [
        ["未核实", "未整改", "甲镇"]]


def test_cli_import_update_status(tmp_path):
    path = tmp_path / "s.gpkg"
    with open_store(path, create=True) as st:
        write_county_and_townships(st)
    zipped = write_patch_zip(tmp_path / "p.zip")
    run = CliRunner().invoke
    base = ["--store", str(path)]
    r = run(cli, ["patches", "import", str(zipped), "--year", "2022", *base])
    assert r.exit_code == 0, r.output
    assert "新增 3 个" in r.output
    r = run(cli, ["patches", "update", "TB001", "--verification", "违法", "--deadline",
                  "2023-06-30", "--user", "张三", *base])
    assert r.exit_code == 0, r.output
    r = run(cli, ["patches", "update", "TB001", "--status", "已整改", *base])
    assert r.exit_code == 0, r.output
    r = run(cli, ["patches", "update", "TB001", "--status", "整改中", *base])
    assert r.exit_code != 0 and "不能改回" in r.output
    r = run(cli, ["patches", "status", "--year", "2022", "--format", "json", *base])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)[0]
    county = data["progress"][-1]
    assert (county["patches"], county["rectified"], county["unverified"]) == (3, 1, 2)
    r = run(cli, ["patches", "status", "--year", "2022", *base])
    assert "2022年度森林督查问题图斑3个，已整改1个，未核实2个。" in r.output


@backends._parametrize
def test_a_store_made_before_patches_gets_the_layers_when_written(location, tmp_path):
    with open_store(location, create=True) as st:
        write_county_and_townships(st)
    if location.startswith("postgresql"):
        import psycopg

        from ecomap.store.postgis import split_url
        conninfo, schema = split_url(location)
        with psycopg.connect(conninfo, autocommit=True) as con:
            con.execute(f'DROP TABLE "{schema}".patches, "{schema}".patch_events')
    else:
        import sqlite3

        con = sqlite3.connect(location)
        for t in ("patches", "patch_events"):
            con.execute(f"DROP TABLE {t}")
            for meta in ("gpkg_contents", "gpkg_ogr_contents", "gpkg_geometry_columns",
                         "gpkg_extensions"):
                con.execute(f"DELETE FROM {meta} WHERE table_name = ?", (t,))
        con.execute("DROP TABLE rtree_patches_geom")
        con.commit()
        con.close()
    with open_store(location) as st:  # opens, and reads no patches
        assert st.patches().empty and st.patch_events().empty
        _imported(st, tmp_path)
        update_patch(st, "TB001", {"verification": "违法"}, user="a")
    with open_store(location) as st:
        assert st.patches()["patch_id"].tolist() == ["TB001", "TB002", "TB003"]
        assert len(st.patch_events()) == 1
    if not location.startswith("postgresql"):  # GDAL reads the added layer as a layer
        back = pyogrio.read_dataframe(location, layer="patches")
        assert back["patch_id"].tolist() == ["TB001", "TB002", "TB003"]
        assert back.crs.to_epsg() == 4490


@pytest.mark.usefixtures("postgis_url")
def test_store_copy_carries_patches_and_events_both_ways(tmp_path, pg_schema):
    from ecomap.store.copy import copy_store

    src = tmp_path / "a.gpkg"
    with open_store(src, create=True) as st:
        write_county_and_townships(st)
        _imported(st, tmp_path)
        update_patch(st, "TB002", {"verification": "违法", "status": "整改中"}, user="a")
    copy_store(src, pg_schema)
    copy_store(pg_schema, tmp_path / "b.gpkg")
    for where in (pg_schema, tmp_path / "b.gpkg"):
        with open_store(where) as st:
            got = st.patches()
            assert got["patch_id"].tolist() == ["TB001", "TB002", "TB003"]
            assert got["area_mu"].round(2).tolist() == [22.5, 90.0, 15.0]
            ev = st.patch_events()
            assert ev[["patch_id", "field", "value"]].values.tolist() == [
                ["TB002", "verification", "违法"], ["TB002", "status", "整改中"]]
            assert ev["batch_id"].tolist() == [None, None]


def test_same_layer_again_records_nothing_and_a_bulk_update_rolls_back(tmp_path):
    import datetime as dt

    with open_store(tmp_path / "s.gpkg", create=True) as st:
        write_county_and_townships(st)
        _imported(st, tmp_path)
        n = len(st.batches())
        _, again = import_patches(tmp_path / "p2022.zip", st, year=2022)
        assert again["batch_id"] is None and again["unchanged"] == ["TB001", "TB002", "TB003"]
        assert len(st.batches()) == n
        data = template_bytes(st, year=2022)
        filled = _fill(tmp_path / "全县.xlsx", data, {
            ("TB001", "核实结果"): "违法", ("TB001", "整改期限"): dt.datetime(2023, 6, 30)})
        batch, _ = update_from(filled, st, user="a")
        assert len(st.patch_events()) == 2
        assert st.rollback(batch)["removed"] == {"patch_events": 2}
        assert st.patch_events().empty


def test_a_dated_table_builds_a_history_answered_at_past_dates(tmp_path):
    # Verified on 变更日期 2023-01-15, rectified on its 整改日期 2023-05-20, closed on its
    # 销号日期 2023-06-19 — entered in one table, read back as three moments in time.
    import datetime as dt

    from ecomap.patches.status import patch_state

    st = open_store(tmp_path / "s.gpkg", create=True)
    try:
        write_county_and_townships(st)
        _imported(st, tmp_path)
        data = template_bytes(st, year=2022, township="乙镇")
        filled = _fill(tmp_path / "乙镇.xlsx", data, {
            ("TB002", "核实结果"): "违法", ("TB002", "整改状态"): "已销号",
            ("TB002", "整改日期"): dt.datetime(2023, 5, 20),
            ("TB002", "销号日期"): dt.datetime(2023, 6, 19),
            ("TB002", "变更日期"): dt.datetime(2023, 1, 15)})
        update_from(filled, st, user="乙镇林业站")
        events = st.patch_events()

        def state(day):
            return patch_state(events, on=day, patch_ids=["TB002"]).set_index(
                "patch_id").loc["TB002", ["verification", "status"]].tolist()

        assert state("2023-01-14") == ["未核实", "未整改"]
        assert state("2023-01-15") == ["违法", "未整改"]
        assert state("2023-05-20") == ["违法", "已整改"]
        assert state("2023-06-19") == ["违法", "已销号"]
        # History is only added to: a change dated before the latest one is refused.
        late = _fill(tmp_path / "晚.xlsx", template_bytes(st, year=2022, township="乙镇"), {
            ("TB002", "备注"): "补记", ("TB002", "变更日期"): dt.datetime(2023, 3, 1)})
        with pytest.raises(ValidationError) as err:
            update_from(late, st, user="x")
        assert "变更日期" in str(err.value.problems[0]["message"])
        assert "2023-06-19" in str(err.value.problems[0]["message"])
    finally:
        st.close()


def test_patch_table_of_no_patches_is_empty_not_an_error():
    import geopandas as gpd

    empty = gpd.GeoDataFrame({"patch_id": pd.Series([], dtype=object),
                              "township": pd.Series([], dtype=object)}, geometry=[], crs=4490)
    events = pd.DataFrame(columns=["event_id", "patch_id", "at", "user", "field", "value",
                                   "batch_id"])
    table = patch_table(empty, events)
    assert len(table) == 0 and {"status", "verification", "in_charge"} <= set(table.columns)
