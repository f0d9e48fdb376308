"""``ecomap water ingest / classify / compliance`` through the CLI runner, on files built here.

The quirk file holds every spelling the county's spreadsheets use; the values the
store must hold are written out by hand next to it.  Townships are the two test
townships of conftest (甲镇 west of 114°E, 乙镇 east of it, 25.49–25.58°N).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from ecomap.cli import cli
from ecomap.errors import StoreError, ValidationError
from ecomap.store import Provenance, open_store
from tests.conftest import two_townships

ROOT = Path(__file__).resolve().parents[1]

HEADER = ["断面名称", "点位类型", "水质目标", "经度", "纬度", "采样日期", "水温(℃)", "pH", "溶解氧",
          "氨氮(mg/L)", "总磷", "总氮", "汞", "铜", "镉", "粪大肠菌群"]
# Sites and samples in one table, every quirk: DMS and decimal coordinates, three date
# forms, decimal commas, <DL, DL+L, ND, 未检出, ND(DL), blanks and dashes, thousands in
# fecal coliforms, a full-width target "Ⅰ类".
QUIRKS = [
    ["甲河断面", "河流", "II", "113°57'00\"E", "25°32'00\"N", "2023/5/6", "18.5", "7,2", "6.8",
     "0,12", "0.05L", "", "ND", "<0.01", "未检出", "1,200"],
    ["甲河断面", "河流", "II", "113°57'00\"E", "25°32'00\"N", "2023-06-06", "20", "7.5", "5.5",
     "0.6", "0.15", "1.5", "<0.00005", "0.02", "0.0006", ""],
    ["丙水库", "饮用水源", "II", "114°03'30\"E", "25°31'30\"N", "2023年5月6日", "", "7.1", "8.0",
     "0.10", "0.02", "0.30", "0.00003L", "", "ND(0.0001)", "—"],
    ["乙江断面", "河流", "Ⅰ类", "114.05", "25.53", "2023年5月7日", "19", "6.9", "7.6", "<0.025",
     "0,08", "", "", "0.001L", "", "24000"],
]
# What the store must hold: (site, date, param, value, below_dl).
STORED_SAMPLES = sorted([
    ("甲河断面", "2023-05-06", "temp", 18.5, 0), ("甲河断面", "2023-05-06", "pH", 7.2, 0),
    ("甲河断面", "2023-05-06", "DO", 6.8, 0), ("甲河断面", "2023-05-06", "NH3N", 0.12, 0),
    ("甲河断面", "2023-05-06", "TP", 0.05, 1), ("甲河断面", "2023-05-06", "Hg", None, 1),
    ("甲河断面", "2023-05-06", "Cu", 0.01, 1), ("甲河断面", "2023-05-06", "Cd", None, 1),
    ("甲河断面", "2023-05-06", "fecal_coliform", 1200.0, 0),
    ("甲河断面", "2023-06-06", "temp", 20.0, 0), ("甲河断面", "2023-06-06", "pH", 7.5, 0),
    ("甲河断面", "2023-06-06", "DO", 5.5, 0), ("甲河断面", "2023-06-06", "NH3N", 0.6, 0),
    ("甲河断面", "2023-06-06", "TP", 0.15, 0), ("甲河断面", "2023-06-06", "TN", 1.5, 0),
    ("甲河断面", "2023-06-06", "Hg", 0.00005, 1), ("甲河断面", "2023-06-06", "Cu", 0.02, 0),
    ("甲河断面", "2023-06-06", "Cd", 0.0006, 0),
    ("丙水库", "2023-05-06", "pH", 7.1, 0), ("丙水库", "2023-05-06", "DO", 8.0, 0),
    ("丙水库", "2023-05-06", "NH3N", 0.1, 0), ("丙水库", "2023-05-06", "TP", 0.02, 0),
    ("丙水库", "2023-05-06", "TN", 0.3, 0), ("丙水库", "2023-05-06", "Hg", 0.00003, 1),
    ("丙水库", "2023-05-06", "Cd", 0.0001, 1),
    ("乙江断面", "2023-05-07", "temp", 19.0, 0), ("乙江断面", "2023-05-07", "pH", 6.9, 0),
    ("乙江断面", "2023-05-07", "DO", 7.6, 0), ("乙江断面", "2023-05-07", "NH3N", 0.025, 1),
    ("乙江断面", "2023-05-07", "TP", 0.08, 0), ("乙江断面", "2023-05-07", "Cu", 0.001, 1),
    ("乙江断面", "2023-05-07", "fecal_coliform", 24000.0, 0),
], key=str)
# (site, type, waterbody, target, township, lon, lat): 113°57'00" = 113.95,
# 25°32'00" = 25 + 32/60, 114°03'30" = 114 + 3.5/60, 25°31'30" = 25.525.
STORED_SITES = [
    ("甲河断面", "river", "river", "II", "甲镇", 113.95, 25 + 32 / 60),
    ("丙水库", "drinking", "lake", "II", "乙镇", 114 + 3.5 / 60, 25.525),
    ("乙江断面", "river", "river", "I", "乙镇", 114.05, 25.53),
]


def write_csv(path: Path, rows: list[list[str]], *, header=HEADER, encoding="gbk",
              blank_line_after: int | None = None) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for i, row in enumerate(rows):
        w.writerow(row)
        if i == blank_line_after:
            buf.write("\n")
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def quirks_xlsx_rows() -> list[list]:
    """The quirk rows as Excel holds them: real numbers and a real date where Excel would."""
    rows = [list(r) for r in QUIRKS]
    rows[0][5] = datetime(2023, 5, 6)
    rows[1][7:12] = [7.5, 5.5, 0.6, 0.15, 1.5]
    rows[2][7] = 7.1
    rows[3][3:5] = [114.05, 25.53]
    rows[3][-1] = 24000
    return rows


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("water") / "empty.gpkg"
    with open_store(path, create=True) as st:
        st.write_townships(two_townships(), provenance=Provenance("towns.geojson"))
    return path


@pytest.fixture
def store_file(empty_store, tmp_path):
    """A store with the two test townships and no water data (a copy: GDAL is slow to
    create one)."""
    return Path(shutil.copy(empty_store, tmp_path / "w.gpkg"))


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def stored(path: Path):
    with open_store(path) as st:
        samples = st.water_samples()
        sites = st.water_sites()
        batches = st.batches()
    rows = sorted(((r.site_name, r.date, r.param, None if pd.isna(r.value) else r.value,
                    int(r.below_dl)) for r in samples.itertuples()), key=str)
    site_rows = [(r.site_name, r.site_type, r.waterbody, r.target_class, r.township,
                  r.geometry.x, r.geometry.y) for r in sites.itertuples()]
    return rows, site_rows, batches


def assert_quirks_stored(path: Path):
    samples, sites, batches = stored(path)
    assert len(samples) == len(STORED_SAMPLES)
    for got, want in zip(samples, STORED_SAMPLES, strict=True):
        assert got[:3] == want[:3] and got[4] == want[4], (got, want)
        assert (got[3] is None) == (want[3] is None), (got, want)
        if want[3] is not None:
            assert got[3] == pytest.approx(want[3], rel=1e-12), (got, want)
    for got, want in zip(sites, STORED_SITES, strict=True):
        assert got[:5] == want[:5]
        assert got[5:] == pytest.approx(want[5:], abs=1e-9)
    assert batches["kind"].tolist()[-1] == "water"
    assert batches["feature_count"].tolist()[-1] == len(STORED_SITES) + len(STORED_SAMPLES)


# ---------------------------------------------------------------- ingest
def test_quirk_file_in_gbk_csv_ingests_with_exact_values(store_file, tmp_path):
    path = write_csv(tmp_path / "监测数据.csv", QUIRKS)
    r = run("water", "ingest", path, "--store", store_file)
    assert r.exit_code == 0, r.output
    assert "新点位 3 个, 样品 4 个 (32 个监测值) 已入库为批次" in r.output
    assert_quirks_stored(store_file)


def test_quirk_file_as_xlsx_ingests_with_the_same_values(store_file, tmp_path):
    path = write_xlsx(tmp_path / "监测数据.xlsx", quirks_xlsx_rows())
    r = run("water", "ingest", path, "--store", store_file)
    assert r.exit_code == 0, r.output
    assert_quirks_stored(store_file)


def test_sites_and_samples_from_two_files_in_one_batch(store_file, tmp_path):
    sites = write_csv(tmp_path / "点位.csv", [r[:5] for r in QUIRKS[::-1]],
                      header=HEADER[:5], encoding="utf-8-sig")
    samples = write_csv(tmp_path / "样品.csv", [[r[0], *r[5:]] for r in QUIRKS],
                        header=[HEADER[0], *HEADER[5:]])
    r = run("water", "ingest", samples, "--sites", sites, "--store", store_file)
    assert r.exit_code == 0, r.output
    got_samples, got_sites, batches = stored(store_file)
    assert [s[0] for s in got_sites] == ["乙江断面", "丙水库", "甲河断面"]
    assert len(got_samples) == len(STORED_SAMPLES) and len(batches) == 2   # towns + water
    assert batches["source_file"].iloc[-1] == "样品.csv + 点位.csv"


def test_unreadable_cells_are_listed_and_nothing_is_stored(store_file, tmp_path):
    run("water", "ingest", write_csv(tmp_path / "ok.csv", QUIRKS[:1]), "--store", store_file)
    before = stored(store_file)
    bad = [list(r) for r in QUIRKS]
    bad[1][9] = "abc"            # 氨氮, spreadsheet row 3
    bad[2][5] = "2023-02-30"     # 采样日期, row 5: a blank line follows row 3
    bad[3][3] = "25°24'N"        # a latitude in the 经度 column, row 6
    path = write_csv(tmp_path / "bad.csv", bad, blank_line_after=1)
    r = run("water", "ingest", path, "--store", store_file)
    assert r.exit_code == 2
    assert "bad.csv: 4 个问题, 未入库" in r.output
    assert "第3行「氨氮(mg/L)」" in r.output and "abc" in r.output
    assert "第5行「采样日期」" in r.output and "2023-02-30" in r.output
    assert "第6行「经度」" in r.output and "是纬度" in r.output
    en = run("--lang", "en", "water", "ingest", path, "--store", store_file)
    assert en.exit_code == 2
    assert "bad.csv: 4 problem(s), nothing was stored; fix them" in en.output
    assert "row 3, column “氨氮(mg/L)”" in en.output and "abc" in en.output
    after = stored(store_file)
    assert after[0] == before[0] and after[1] == before[1]
    pd.testing.assert_frame_equal(after[2], before[2])


def test_samples_of_an_unknown_site_are_refused_with_the_fix(store_file, tmp_path):
    run("water", "ingest", write_csv(tmp_path / "a.csv", QUIRKS[:1]), "--store", store_file)
    before = stored(store_file)
    samples = write_csv(tmp_path / "b.csv", [["甲河段面", "2023-07-01", "7.0"],
                                            ["新断面", "2023-07-01", "7.1"]],
                        header=["断面名称", "采样日期", "pH"])
    r = run("water", "ingest", samples, "--store", store_file)
    assert r.exit_code == 2
    assert "断面「新断面」（第3行）不在点位库中" in r.output and "--sites" in r.output
    assert "是否应为「甲河断面」" in r.output     # a near miss is named
    assert stored(store_file)[0] == before[0]


def test_a_stored_value_is_refused_until_its_batch_is_rolled_back(store_file, tmp_path):
    path = write_csv(tmp_path / "a.csv", QUIRKS)
    assert run("water", "ingest", path, "--store", store_file).exit_code == 0
    before = stored(store_file)
    again = run("water", "ingest", path, "--store", store_file)
    assert again.exit_code == 2
    batch = int(before[2]["batch_id"].iloc[-1])
    assert "第2–5行（4 个样品）的 水温、pH值" in again.output
    assert f"已在批次 {batch} 中入库" in again.output
    assert f"ecomap rollback {batch}" in again.output
    assert stored(store_file)[0] == before[0]
    # Other parameters of a stored site and date are added (a second laboratory report).
    metals = write_csv(tmp_path / "metals.csv", [["甲河断面", "2023/5/6", "0.004"]],
                       header=["断面名称", "采样日期", "铅"])
    r = run("water", "ingest", metals, "--store", store_file)
    assert r.exit_code == 0, r.output
    assert ("甲河断面", "2023-05-06", "Pb", 0.004, 0) in stored(store_file)[0]
    # Rolling the sites' batch back first is refused: the metals batch refers to them.
    r = run("rollback", batch, "--store", store_file)
    assert r.exit_code == 2 and f"请先撤销批次 {batch + 1}" in r.output, r.output
    assert run("rollback", batch + 1, "--store", store_file).exit_code == 0
    assert run("rollback", batch, "--store", store_file).exit_code == 0
    assert stored(store_file)[0] == [] and stored(store_file)[1] == []
    assert run("water", "ingest", path, "--store", store_file).exit_code == 0


def test_duplicate_rows_in_one_file_are_refused(store_file, tmp_path):
    rows = [QUIRKS[0], QUIRKS[0]]
    r = run("water", "ingest", write_csv(tmp_path / "d.csv", rows), "--store", store_file)
    assert r.exit_code == 2 and "第2–3行是断面「甲河断面」2023-05-06 的同一项目" in r.output
    assert stored(store_file)[0] == []


def test_a_stored_site_listed_again_must_agree(store_file, tmp_path):
    run("water", "ingest", write_csv(tmp_path / "a.csv", QUIRKS[:1]), "--store", store_file)
    moved = [list(QUIRKS[1])]
    moved[0][2] = "III"
    r = run("water", "ingest", write_csv(tmp_path / "b.csv", moved), "--store", store_file)
    assert r.exit_code == 2 and "水质目标为 II，本表为 III" in r.output
    same = run("water", "ingest", write_csv(tmp_path / "c.csv", QUIRKS[1:2]), "--store",
               store_file)
    assert same.exit_code == 0 and "新点位 0 个, 样品 1 个" in same.output


def test_warnings_are_shown_and_strict_refuses_them(store_file, tmp_path):
    rows = [["无名点", "", "114.05", "25.53"], ["东湖", "", "114.5", "26.5"]]
    path = write_csv(tmp_path / "s.csv", rows, header=["点位名称", "水质目标", "经度", "纬度"])
    r = run("water", "ingest", path, "--store", store_file, "--strict")
    assert r.exit_code == 2
    # 无名点: no type and a name that tells nothing → error; 东湖: a lake by its name,
    # no target (warning) and outside every township (warning).
    assert "点位「无名点」无法判断是河流还是湖库" in r.output
    assert "点位「东湖」没有点位类型，按名称记为湖库" in r.output
    assert "不在任何乡镇内" in r.output


def test_store_refuses_what_the_checks_refuse(store_file):
    from tests.conftest import X0, Y0, gk_frame

    sites = gk_frame([{"site_name": "甲", "site_type": "river", "waterbody": "river"}],
                     [__import__("shapely").Point(X0 - 5000, Y0 + 5000)])
    long = pd.DataFrame({"site_name": ["甲", "乙"], "date": ["2023-05-06"] * 2,
                         "param": ["pH"] * 2, "value": [7.0, 7.0], "below_dl": [0, 0]})
    with open_store(store_file) as st:
        with pytest.raises(ValidationError) as info:
            st.add_water(sites, long, provenance=Provenance("x.csv"))
        assert "'乙', which is not stored" in info.value.problems[0]["message"]
        batch = st.add_water(sites, long.iloc[:1], provenance=Provenance("x.csv"))
        assert st.water_sites()["township"].tolist() == ["甲镇"]
        with pytest.raises(ValidationError) as info:
            st.add_water(sites, long.iloc[:1], provenance=Provenance("x.csv"))
        messages = " ".join(str(p["message"]) for p in info.value.problems)
        assert "已在库中 (批次" in messages and f"批次 {batch}" in messages
        assert len(st.water_samples()) == 1 and len(st.water_sites()) == 1
        st.add_water(None, long.iloc[:1].assign(param="DO"), provenance=Provenance("y.csv"))
        with pytest.raises(StoreError, match="请先撤销批次"):
            st.rollback(batch)


# ---------------------------------------------------------------- classify a file
def test_classify_file_one_row_per_input_row_in_order(tmp_path):
    path = write_csv(tmp_path / "q.csv", QUIRKS, blank_line_after=0)
    r = run("water", "classify", path, "--format", "json", "--store", tmp_path / "none.gpkg")
    assert r.exit_code == 0, r.output
    recs = json.loads(r.stdout)
    # Row 2 (river): DO 6.8 II, TP 0.05L II (DL 0.05 > I 0.02, <= II 0.1) → II; TP is
    #   2.5× the I limit, DO 7.5/6.8 = 1.10× → TP first.  Target II met.
    # Row 4 (row 3 is blank): DO 5.5 III, NH3N 0.6 III, TP 0.15 III (TN not for rivers);
    #   TP 1.5× the II limit, NH3N 1.2×, DO 6/5.5 = 1.09× → III; target II missed:
    #   超标 TP (0.15-0.1)/0.1 = 0.5, NH3N (0.6-0.5)/0.5 = 0.2, DO no multiple.
    # Row 5 (丙水库, a lake by name): TP 0.02 lake II, TN 0.30 lake II (TP 2×, TN 1.5×).
    # Row 6: TP 0.08 river II; fecal coliforms 24000 → class V for reference only.
    assert [x["source_row"] for x in recs] == [2, 4, 5, 6]
    assert [x["class"] for x in recs] == ["II", "III", "II", "II"]
    assert [x["deciding"] for x in recs] == [["TP", "DO"], ["TP", "NH3N", "DO"],
                                              ["TP", "TN"], ["TP"]]
    assert [x["meets_target"] for x in recs] == [True, False, True, False]
    assert recs[1]["exceedances"] == {"TP": pytest.approx(0.5), "NH3N": pytest.approx(0.2),
                                      "DO": None}
    assert recs[0]["date"] == "2023-05-06" and recs[2]["waterbody"] == "lake"
    out = tmp_path / "classes.csv"
    r = run("water", "classify", path, "--format", "csv", "-o", out, "--store",
            tmp_path / "none.gpkg")
    table = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert table["水质类别"].tolist() == ["II", "III", "II", "II"]
    assert table["定类因子"].tolist() == ["总磷、溶解氧", "总磷、氨氮、溶解氧", "总磷、总氮",
                                      "总磷"]
    assert table["主要超标项目(超标倍数)"].tolist()[1] == "总磷(0.50)、氨氮(0.20)、溶解氧"
    assert table["点位名称"].tolist()[0] == "甲河断面" and table["行号"].tolist()[0] == "2"


def test_classify_file_takes_site_types_from_the_store(store_file, tmp_path):
    assert run("water", "ingest", write_csv(tmp_path / "a.csv", QUIRKS), "--store",
               store_file).exit_code == 0
    # No 点位类型 in the file: 丙水库 is a lake in the store, 甲河断面 a river.  TP 0.05 is
    # river II, lake III (0.025 < 0.05 <= 0.05).  A bad cell leaves its row classified
    # without it, and says so.
    path = write_csv(tmp_path / "s.csv", [["丙水库", "2023-08-01", "0.05", "x"],
                                          ["甲河断面", "2023-08-01", "0.05", "0.1"]],
                     header=["断面名称", "采样日期", "总磷", "氨氮"])
    r = run("water", "classify", path, "--store", store_file, "--format", "csv", "-o",
            tmp_path / "o.csv")
    assert r.exit_code == 0 and "1 行有无法读取的单元格" in r.output
    table = pd.read_csv(tmp_path / "o.csv", encoding="utf-8-sig", dtype=str,
                        keep_default_na=False)
    assert table["水质类别"].tolist() == ["III", "II"]
    assert table["水质目标"].tolist() == ["II", "II"]
    assert "第2行「氨氮」" in table["问题"].iloc[0] and table["问题"].iloc[1] == ""


def test_json_records_carry_values_without_float_noise():
    from ecomap import water

    # 0.1 + 0.2 is 0.30000000000000004 in binary floating point, 0.7 - 0.5 is
    # 0.19999999999999996: JSON carries 0.3 and 0.2, as the samples do.
    frame = pd.DataFrame({"site_name": ["甲", "乙"], "TP": [0.1 + 0.2, 0.7 - 0.5]})
    assert frame["TP"].tolist() != [0.3, 0.2]
    recs = water.classified_records(frame)
    assert [r["values"]["TP"] for r in recs] == [0.3, 0.2]
    assert '"TP": 0.3}' in json.dumps(recs)


# ---------------------------------------------------------------- store: annual, compliance
def test_classify_and_compliance_from_the_store(store_file, tmp_path):
    assert run("water", "ingest", write_csv(tmp_path / "a.csv", QUIRKS), "--store",
               store_file).exit_code == 0
    r = run("water", "classify", "--year", "2023", "--format", "json", "--store", store_file)
    assert r.exit_code == 0, r.output
    sites = {x["site_name"]: x for x in json.loads(r.stdout)}
    jh = sites["甲河断面"]
    # Annual means: DO (6.8+5.5)/2 = 6.15 II; NH3N (0.12+0.6)/2 = 0.36 II; TP (0.05L at
    # half, 0.025, and 0.15)/2 = 0.0875 II; Cu (0.005+0.02)/2 = 0.0125 II; Hg below DL in
    # both → its largest DL 0.00005 → I.  Class II meets II.
    assert jh["n_samples"] == 2 and jh["class"] == "II" and jh["meets_target"] is True
    assert jh["values"]["TP"] == pytest.approx(0.0875)
    assert jh["values"]["DO"] == pytest.approx(6.15) and "Hg" in jh["below_dl"]
    assert jh["deciding"] == ["TP", "NH3N", "Cu", "DO"]   # 4.375×, 2.4×, 1.25×, 1.22×
    yj = sites["乙江断面"]
    # TP 0.08 → II, target I: 超标 (0.08 - 0.02)/0.02 = 3.
    assert yj["class"] == "II" and yj["meets_target"] is False
    assert yj["exceedances"] == {"TP": pytest.approx(3.0)}
    assert sites["丙水库"]["class"] == "II" and sites["丙水库"]["waterbody"] == "lake"
    r = run("water", "compliance", "--year", "2023", "--format", "json", "--store", store_file)
    got = {(x["scope"], x["township"]): (x["sites"], x["compliant"], x["compliance_pct"])
           for x in json.loads(r.stdout)}
    assert got == {("surface", "甲镇"): (1, 1, 100.0), ("surface", "乙镇"): (1, 0, 0.0),
                   ("surface", "全县"): (2, 1, 50.0), ("drinking", "乙镇"): (1, 1, 100.0),
                   ("drinking", "全县"): (1, 1, 100.0)}
    r = run("water", "compliance", "--year", "2023", "--store", store_file)
    assert "饮用水源地：1 个评价，1 个达标，达标率 100.0%" in r.output
    assert "地表水：2 个断面，均为 II 类或更好（II 2）" in r.output
    r = run("water", "classify", "--year", "2023", "--format", "xlsx", "-o",
            tmp_path / "y.xlsx", "--store", store_file)
    sheet = openpyxl.load_workbook(tmp_path / "y.xlsx").active
    head = [c.value for c in sheet[1]]
    assert {"点位名称", "水质目标", "水质类别", "是否达标", "主要超标项目(超标倍数)"} <= set(head)
    row = {h: c.value for h, c in zip(head, sheet[2], strict=True)}
    assert row["点位名称"] == "丙水库" and row["汞(mg/L)"] == "3e-05L"


def test_a_year_without_samples_lists_the_sites_unassessed(store_file, tmp_path):
    run("water", "ingest", write_csv(tmp_path / "a.csv", QUIRKS), "--store", store_file)
    r = run("water", "classify", "--year", "2022", "--format", "json", "--store", store_file)
    assert r.exit_code == 0, r.output
    recs = json.loads(r.stdout)
    assert {x["n_samples"] for x in recs} == {0} and {x["class"] for x in recs} == {None}
    r = run("water", "compliance", "--year", "2022", "--store", store_file)
    assert r.exit_code == 0 and "地表水：无可定类的断面" in r.output


def test_commands_without_water_data_say_what_to_do(store_file):
    r = run("water", "classify", "--store", store_file)
    assert r.exit_code == 2 and "ecomap water ingest" in r.output


@pytest.mark.parametrize("cmd", [["water"], ["water", "ingest"], ["water", "classify"],
                                 ["water", "compliance"]])
def test_help(cmd):
    r = run(*cmd, "--help")
    assert r.exit_code == 0 and "Usage:" in r.output


# ---------------------------------------------------------------- the demo's statements
def test_demo_samples_reproduce_the_report(store_file, capsys):
    """Drinking-water sources 100 % compliant, surface water class II or better."""
    from ecomap.cli.demo import _echo_water

    path = store_file
    geodata = ROOT / "geodata"
    r = run("water", "ingest", geodata / "water_samples_2023.csv", "--sites",
            geodata / "water_sites.csv", "--store", path)
    assert r.exit_code == 0, r.output
    _echo_water(str(path), str(geodata), "en")
    out = capsys.readouterr().out
    assert "drinking-water sources: 3 of 3 meet their target = 100.0%  [100%]  ✓" in out
    assert "surface water: 9 sections, all class II or better (" in out
    assert "[class II or better]  ✓" in out
    _echo_water(str(path), str(geodata), "zh")  # what 'ecomap demo' prints by default
    out = capsys.readouterr().out
    assert "饮用水源地：3 个评价，3 个达标，达标率 100.0%  [100%]  ✓" in out
    assert "地表水：9 个断面，均为 II 类或更好（" in out and "[II 类或更好]  ✓" in out


# ---------------------------------------------------------------- units row and notes
UNITS_HEADER = ["断面名称", "点位类型", "水质目标", "经度", "纬度", "采样日期", "pH", "溶解氧", "氨氮",
                "总磷", "汞"]
UNITS_ROW = ["", "", "", "度", "度", "", "无量纲", "mg/L", "mg/L", "mg/L", "μg/L"]
UNITS_DATA = [
    ["甲河断面", "河流", "II", 113.95, 25.53, datetime(2023, 5, 6), 7.2, 6.8, 0.12, 0.05, 0.03],
    ["甲河断面", "河流", "II", 113.95, 25.53, datetime(2023, 6, 6), 7.5, 5.5, 0.6, 0.15, 0.2],
]
UNITS_NOTES = [["注：L表示低于检出限；汞的单位为μg/L"], ["数据来源：大余县环境监测站"]]


def write_units_workbook(path: Path) -> Path:
    """A monitoring station's workbook: units under the header, notes after the data
    (rows 1 header, 2 units, 3–4 samples, 5–6 notes)."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in [UNITS_HEADER, UNITS_ROW, *UNITS_DATA, *UNITS_NOTES]:
        sheet.append(row)
    sheet.merge_cells("A5:K5")
    sheet.merge_cells("A6:K6")
    book.save(path)
    return path


def test_classify_workbook_with_units_row_and_notes_classifies_the_samples_only(tmp_path):
    path = write_units_workbook(tmp_path / "2023年水质监测.xlsx")
    r = run("water", "classify", path, "--format", "json", "--store", tmp_path / "none.gpkg")
    assert r.exit_code == 0, r.output
    recs = json.loads(r.stdout)
    # Row 3: DO 6.8 II, TP 0.05 II, Hg 0.03 μg/L = 0.00003 mg/L I → II (target met).
    # Row 4: DO 5.5 III, NH3N 0.6 III, TP 0.15 III, Hg 0.2 μg/L = 0.0002 mg/L: above III's
    #   0.0001, within IV's 0.001 → IV.  Read as mg/L, Hg would make both rows 劣V.
    assert [x["source_row"] for x in recs] == [3, 4]
    assert [x["class"] for x in recs] == ["II", "IV"]
    assert "Hg" in recs[1]["deciding"] and "Hg" not in recs[0]["deciding"]
    assert [x["meets_target"] for x in recs] == [True, False]
    assert "第2行是单位行（度、无量纲、mg/L、μg/L），不是样品；已略去" in r.stderr
    assert "第5、6行是表注（“注：L表示低于检出限；汞的单位为μg/L”），不是样品；已略去" in r.stderr


def test_ingest_workbook_with_units_row_and_notes_stores_the_samples_converted(store_file,
                                                                            tmp_path):
    path = write_units_workbook(tmp_path / "2023年水质监测.xlsx")
    r = run("water", "ingest", path, "--store", store_file, "--strict")
    assert r.exit_code == 0, r.output  # notes, not warnings: --strict still stores
    assert "新点位 1 个, 样品 2 个 (10 个监测值) 已入库" in r.output
    assert "单位行" in r.stderr and "表注" in r.stderr
    samples, sites, _ = stored(store_file)
    assert [s[:2] for s in sites] == [("甲河断面", "river")]
    hg = {date: value for site, date, param, value, _ in samples if param == "Hg"}
    assert hg == {"2023-05-06": pytest.approx(0.00003, rel=1e-12),
                  "2023-06-06": pytest.approx(0.0002, rel=1e-12)}
    assert {p for _, _, p, _, _ in samples} == {"pH", "DO", "NH3N", "TP", "Hg"}


def test_units_row_does_not_convert_twice_a_header_with_its_unit(tmp_path):
    from ecomap import water

    table = pd.DataFrame([["", "μg/L"], ["甲河断面", "0.2"]], columns=["断面名称", "汞(μg/L)"])
    frame, problems = water.normalize_samples(table)
    assert frame["Hg"].tolist() == [pytest.approx(0.0002)]
    assert [p["code"] for p in problems] == ["units_row"]


def test_a_row_of_a_site_without_values_is_no_footnote(tmp_path):
    from ecomap import water

    table = pd.DataFrame([["甲河断面", "2023-05-06", "6.8"], ["乙江断面", "", ""]],
                         columns=["断面名称", "采样日期", "溶解氧"])
    frame, problems = water.normalize_samples(table)
    assert frame["site_name"].tolist() == ["甲河断面", "乙江断面"] and problems == []
