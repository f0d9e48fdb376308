"""GB 3838-2002 classification, checked by hand against Table 1 (gb3838_2002_table1.csv).

Every expected class below was worked out from the published limits, quoted next to
each case, not taken from the code's own output.
"""

from __future__ import annotations

import math
from datetime import datetime

import openpyxl
import pandas as pd
import pytest

from ecomap.errors import InputError, ValidationError
from ecomap.io.tables import read_table
from ecomap.water import (
    PARAMETERS,
    annual_site_classes,
    classify_samples,
    compliance,
    normalize_samples,
)


def normalized(rows: list[dict]) -> pd.DataFrame:
    """A raw all-text table (as read_table returns) normalised without problems."""
    raw = pd.DataFrame(rows).fillna("").astype(str)
    frame, problems = normalize_samples(raw)
    assert problems == []
    return frame


def classify_one(waterbody: str = "river", **cells: str) -> pd.Series:
    return classify_samples(normalized([cells]), waterbody=waterbody).iloc[0]


# ---------------------------------------------------------------- the table itself
def test_parameters_hold_the_published_limits():
    assert PARAMETERS["NH3N"].limits == (0.15, 0.5, 1.0, 1.5, 2.0)
    assert PARAMETERS["DO"].direction == "min"
    assert PARAMETERS["pH"].limits[2] == (6.0, 9.0)
    assert PARAMETERS["TP_lake"].limits == (0.01, 0.025, 0.05, 0.1, 0.2)
    assert PARAMETERS["TP"].label == "总磷" and PARAMETERS["TN"].label == "总氮"


# ---------------------------------------------------------------- single factors
@pytest.mark.parametrize(("header", "value", "expected"), [
    ("氨氮", "0.5", "II"),         # II limit 0.5 met exactly
    ("氨氮", "0.51", "III"),       # over 0.5, within III 1.0
    ("化学需氧量", "15", "I"),      # I and II share 15: the better class
    ("化学需氧量", "15.1", "III"),  # over 15, within III 20
    ("五日生化需氧量", "3", "I"),    # I and II share 3
    ("溶解氧", "7.5", "I"),         # floor of I
    ("溶解氧", "6.0", "II"),        # floor of II is 6
    ("溶解氧", "5.9", "III"),       # below 6, above III floor 5
    ("溶解氧", "1.9", "劣V"),       # below V floor 2
    ("pH", "9.1", "劣V"),           # outside 6-9
    ("pH", "6", "I"),
    ("pH", "5.9", "劣V"),
    ("汞", "0.0001", "III"),        # I/II 0.00005, III 0.0001
    ("粪大肠菌群", "", None),        # blank: not measured
])
def test_single_factor_class(header, value, expected):
    row = classify_one(断面名称="章水大桥", **{header: value})
    assert (row["class"] if isinstance(row["class"], str) else None) == expected


def test_tp_uses_river_or_lake_limits():
    # river: 0.02 < 0.05 <= 0.1 → II.  lake: II 0.025 < 0.05 <= III 0.05 → III
    # (the lake III limit is exactly 0.05), and 0.06 → IV (<= 0.1).
    assert classify_one("river", 总磷="0.05")["class"] == "II"
    assert classify_one("lake", 总磷="0.05")["class"] == "III"
    assert classify_one("lake", 总磷="0.06")["class"] == "IV"


def test_tn_counts_for_lakes_only():
    river = classify_one("river", 总氮="1.2", 氨氮="0.1")
    assert river["class"] == "I" and river["class_TN"] is None   # NH3N 0.1 <= 0.15
    lake = classify_one("lake", 总氮="1.2", 氨氮="0.1")
    assert lake["class"] == "IV" and lake["deciding"] == "总氮"   # 1.0 < 1.2 <= 1.5


def test_fecal_coliform_and_temperature_do_not_count():
    row = classify_one(粪大肠菌群="1000000", 水温="35", 氨氮="0.1")
    assert row["class"] == "I" and row["deciding"] == ""
    # fecal coliforms are classified apart, for reference (> 40000 个/L: 劣V)
    assert row["class_fecal_coliform"] == "劣V" and "class_temp" not in row.index


def test_no_parameter_gives_no_class():
    row = classify_one(断面名称="章水大桥")
    assert pd.isna(row["class"]) and pd.isna(row["class_rank"])


# ---------------------------------------------------------------- below detection
def test_below_detection_meets_limits_at_or_above_the_dl():
    assert classify_one(铜="<0.01")["class"] == "I"        # DL 0.01 = I limit 0.01
    assert classify_one(汞="ND")["class"] == "I"           # no DL: meets every ceiling
    assert classify_one(汞="0.0001L")["class"] == "III"    # DL 0.0001 > I/II 0.00005
    # DL 0.02 exceeds even the V limit 0.001: nothing is shown to be met → 劣V
    row = classify_one(汞="0.02L")
    assert row["class"] == "劣V" and row["class_rank"] == 6 and row["deciding"] == "汞"
    assert classify_one(溶解氧="<0.2")["class"] == "劣V"   # below-detection DO meets no floor


def test_deciding_parameters_most_exceeding_first():
    # TP 0.3 (river IV: 0.2 < 0.3 <= 0.3) is 1.5× the III limit; NH3N 1.2 (IV: 1.0 < 1.2
    # <= 1.5) is 1.2×; DO 6.5 is II.  Both IV parameters decide, TP first.
    row = classify_one(总磷="0.3", 氨氮="1.2", 溶解氧="6.5")
    assert row["class"] == "IV" and row["class_rank"] == 4
    assert row["deciding"] == "总磷、氨氮" and row["deciding_codes"] == "TP,NH3N"
    assert (row["class_TP"], row["class_NH3N"], row["class_DO"]) == ("IV", "IV", "II")


def test_waterbody_from_site_type_and_name():
    frame = normalized([
        {"断面名称": "油罗口水库", "点位类型": "饮用水源", "总磷": "0.05"},      # name → lake
        {"断面名称": "东山取水点", "点位类型": "饮用水源(湖库)", "总磷": "0.05"},  # type → lake
        {"断面名称": "章水取水口", "点位类型": "饮用水源地", "总磷": "0.05"},     # river
        {"断面名称": "浮江大桥", "点位类型": "河流", "总磷": "0.05"},
        {"断面名称": "东湖", "点位类型": "湖泊", "总磷": "0.05"},
    ])
    assert frame["site_type"].tolist() == ["drinking", "drinking", "drinking", "river", "lake"]
    assert frame["waterbody"].tolist() == ["lake", "lake", "river", "river", "lake"]
    classes = classify_samples(frame)["class"].tolist()
    assert classes == ["III", "III", "II", "II", "III"]


def test_unknown_waterbody_with_tp_needs_a_site_type():
    frame = normalized([{"断面名称": "1号点", "总磷": "0.05"}])
    with pytest.raises(InputError, match="row 2"):
        classify_samples(frame)
    assert classify_samples(frame, waterbody="lake")["class"].iloc[0] == "III"


# ---------------------------------------------------------------- parsing
def test_parse_quirks():
    frame = normalized([
        {"采样日期": "2023/5/6", "经度": "114°21'30\"E", "纬度": "25°24'N",
         "氨氮(mg/L)": "0,12", "汞": "ND", "铜": "0.01L"},
        {"采样日期": "2023-05-06", "经度": "114°21′30″", "纬度": "25.4",
         "氨氮(mg/L)": "<0.025", "汞": "未检出", "铜": "ND(0.005)"},
        {"采样日期": "2023年5月6日", "经度": "114 21 30", "纬度": "25 24 0",
         "氨氮(mg/L)": "", "汞": "-", "铜": "0.5"},
        {"采样日期": "45052", "经度": "114.358333", "纬度": "25.4",
         "氨氮(mg/L)": "1.5", "汞": "", "铜": "/"},
    ])
    assert frame["date"].tolist() == [pd.Timestamp(2023, 5, 6)] * 4   # 45052 = 44927 (1 Jan) + 125
    assert frame["lon"].round(6).tolist() == [114.358333] * 4          # 114 + 21/60 + 30/3600
    assert frame["lat"].round(6).tolist() == [25.4] * 4
    assert frame["NH3N"].tolist()[:2] == [0.12, 0.025] and math.isnan(frame["NH3N"][2])
    assert frame["NH3N_below_dl"].tolist() == [False, True, False, False]
    assert frame["Hg_below_dl"].tolist() == [True, True, False, False]
    assert frame["Hg"].isna().all()                     # ND without a DL: value unknown
    assert frame["Cu"].tolist()[:3] == [0.01, 0.005, 0.5] and math.isnan(frame["Cu"][3])
    assert frame["Cu_below_dl"].tolist() == [True, True, False, False]
    assert frame["source_row"].tolist() == [2, 3, 4, 5]


def test_headers_units_and_aliases():
    raw = pd.DataFrame({"Site": ["a"], "NH3-N": ["0.1"], "DO": ["8"], "六价铬": ["0.004"],
                        "铅(μg/L)": ["12"], "Ⅲ类目标": ["x"], "水质目标": ["Ⅲ类"]})
    frame, problems = normalize_samples(raw)
    assert problems == []
    assert frame["site_name"].tolist() == ["a"] and frame["target_class"].tolist() == ["III"]
    assert frame["Pb"].tolist() == [pytest.approx(0.012)]   # 12 μg/L = 0.012 mg/L
    assert frame["Cr6"].tolist() == [0.004] and frame["Ⅲ类目标"].tolist() == ["x"]


def test_bad_cells_are_reported_with_row_and_column():
    raw = pd.DataFrame({"断面名称": ["A", "B", "C"], "氨氮(mg/L)": ["0.1", "abc", ""],
                        "采样日期": ["2023-05-06", "2023-02-30", "2023-05-06"],
                        "经度": ["114.3", "114.3", "25°24'N"], "总磷": ["0.1", "1,234", "-0.1"]})
    frame, problems = normalize_samples(raw)
    found = {(p["feature"], p["field"]) for p in problems}
    # data row 2 is spreadsheet row 3 (header on row 1); blanks are not problems
    assert found == {(3, "氨氮(mg/L)"), (3, "采样日期"), (4, "经度"), (3, "总磷"), (4, "总磷")}
    nh3 = next(p for p in problems if p["field"] == "氨氮(mg/L)")
    assert nh3["severity"] == "error" and nh3["code"] == "bad_value"
    assert "abc" in nh3["message"] and "第3行" in nh3["message"]
    assert math.isnan(frame["NH3N"][1]) and len(frame) == 3   # nothing dropped


def test_duplicate_and_unknown_columns():
    raw = pd.DataFrame({"断面名称": ["A"], "点位名称": ["B"], "备注": ["x"]})
    frame, problems = normalize_samples(raw)
    assert [p["code"] for p in problems] == ["duplicate_column"]
    assert frame["site_name"].tolist() == ["A"] and frame["点位名称"].tolist() == ["B"]
    _, problems = normalize_samples(pd.DataFrame({"标题": ["2023年监测结果"]}))
    assert [p["code"] for p in problems] == ["missing_column"]


# ---------------------------------------------------------------- annual and compliance
def sample_table() -> pd.DataFrame:
    return normalized([
        # 章水大桥, river, target II: NH3N mean (0.4 + 0.7)/2 = 0.55 → III;
        # TP mean (0.02L → 0.01, 0.1)/2 = 0.055 → II.  Misses II: 超标 (0.55-0.5)/0.5 = 0.1
        {"断面名称": "章水大桥", "采样日期": "2023-03-01", "氨氮": "0.4", "总磷": "0.02L"},
        {"断面名称": "章水大桥", "采样日期": "2023-09-01", "氨氮": "0.7", "总磷": "0.1"},
        # 浮江, river, target III: TP 0.1, 0.2, 0.3 → mean 0.2 = III limit (float noise).
        # Hg below 0.0001 in every sample: classified on the DL 0.0001 → III, mean 0.00005
        {"断面名称": "浮江", "采样日期": "2023-03-01", "总磷": "0.1", "汞": "0.0001L"},
        {"断面名称": "浮江", "采样日期": "2023-06-01", "总磷": "0.2", "汞": "0.0001L"},
        {"断面名称": "浮江", "采样日期": "2023-09-01", "总磷": "0.3", "汞": "<0.0001"},
        # 油罗口水库, drinking reservoir, target II: DO 4.5 → IV, fails II (DO: no multiple);
        # TP 0.04 (lake III) fails II 0.025: (0.04-0.025)/0.025 = 0.6
        {"断面名称": "油罗口水库", "采样日期": "2023-05-06", "溶解氧": "4.5", "总磷": "0.04"},
        # a 2022 sample, left out when year=2023
        {"断面名称": "浮江", "采样日期": "2022-05-06", "总磷": "0.4"},
    ])


def site_table() -> pd.DataFrame:
    return pd.DataFrame({
        "点位名称": ["章水大桥", "浮江", "油罗口水库", "新池塘"],
        "点位类型": ["河流", "河流", "饮用水源", "河流"],
        "水质目标": ["II", "Ⅲ类", "II", "III"],
        "乡镇": ["南安镇", "新城镇", "南安镇", "新城镇"],
    })


def test_annual_site_classes():
    sites = annual_site_classes(sample_table(), site_table(), year=2023).set_index("site_name")
    zs = sites.loc["章水大桥"]
    assert zs["n_samples"] == 2 and zs["NH3N"] == pytest.approx(0.55)
    assert zs["TP"] == pytest.approx(0.055) and zs["class_TP"] == "II"
    assert zs["class"] == "III" and zs["deciding"] == "氨氮" and not zs["meets_target"]
    assert zs["exceedances"] == {"NH3N": pytest.approx(0.1)}
    assert zs["exceedance_text"] == "氨氮(0.10)"

    fj = sites.loc["浮江"]
    assert fj["n_samples"] == 3 and fj["class_TP"] == "III" and fj["class"] == "III"
    assert fj["Hg"] == pytest.approx(0.00005) and fj["Hg_below_dl"]
    assert fj["class_Hg"] == "III" and fj["meets_target"] and fj["exceedances"] == {}

    yl = sites.loc["油罗口水库"]
    assert (yl["site_type"], yl["waterbody"], yl["class"]) == ("drinking", "lake", "IV")
    assert yl["class_TP"] == "III" and yl["deciding"] == "溶解氧"
    assert yl["exceedances"] == {"TP": pytest.approx(0.6), "DO": None}
    assert yl["exceedance_text"] == "总磷(0.60)、溶解氧"

    empty = sites.loc["新池塘"]   # in the site table, never sampled
    assert empty["n_samples"] == 0 and pd.isna(empty["class"]) and pd.isna(empty["meets_target"])
    assert empty["year"] == 2023


def test_annual_without_year_keeps_years_apart():
    sites = annual_site_classes(sample_table(), site_table())
    fj = sites[sites["site_name"] == "浮江"].set_index("year")
    assert fj.loc[2022, "class"] == "V" and fj.loc[2023, "class"] == "III"   # TP 0.4 → V


def test_annual_rejects_samples_without_site():
    frame = normalized([{"断面名称": "", "采样日期": "2023-01-01", "氨氮": "0.1"}])
    with pytest.raises(ValidationError) as info:
        annual_site_classes(frame)
    assert info.value.problems[0]["feature"] == 2


def test_compliance_by_township_and_county():
    table = compliance(annual_site_classes(sample_table(), site_table(), year=2023))
    got = {(r.scope, r.township): (r.sites, r.compliant, r.not_assessed, r.compliance_pct)
           for r in table.itertuples()}
    # surface: 南安镇 章水大桥 fails; 新城镇 浮江 meets, 新池塘 not assessed
    assert got[("surface", "南安镇")] == (1, 0, 0, 0.0)
    assert got[("surface", "新城镇")] == (1, 1, 1, 100.0)
    assert got[("surface", "全县")] == (2, 1, 1, 50.0)
    # drinking sources apart: 油罗口水库 fails
    assert got[("drinking", "南安镇")] == (1, 0, 0, 0.0)
    assert got[("drinking", "全县")] == (1, 0, 0, 0.0)
    assert table["township"].tolist()[-1] == "全县" and table["scope"].iloc[0] == "surface"
    with pytest.raises(InputError, match="river"):
        compliance(annual_site_classes(sample_table(), site_table()), by="river")


# ---------------------------------------------------------------- reading tables
HEADERS = ["断面名称", "点位类型", "采样日期", "氨氮", "总磷"]


def test_read_xlsx_written_with_openpyxl(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "监测数据"
    sheet.append(HEADERS)
    sheet.append(["章水大桥", "河流", datetime(2023, 5, 6), 0.5, "0.02L"])
    sheet.append(["东湖", "湖库", "2023年5月7日", None, 0.05])
    path = tmp_path / "水质.xlsx"
    book.save(path)
    raw = read_table(path)
    assert list(raw.columns) == HEADERS
    assert raw["氨氮"].tolist() == ["0.5", ""] and raw["总磷"].tolist() == ["0.02L", "0.05"]
    frame, problems = normalize_samples(raw)
    assert problems == []
    assert frame["date"].tolist() == [pd.Timestamp(2023, 5, 6), pd.Timestamp(2023, 5, 7)]
    assert classify_samples(frame)["class"].tolist() == ["II", "III"]
    assert read_table(path, sheet="监测数据").shape == (2, 5)
    with pytest.raises(InputError, match="监测数据"):
        read_table(path, sheet="Sheet9")


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8"])
def test_read_csv_in_chinese_encodings(tmp_path, encoding):
    path = tmp_path / "水质.csv"
    text = ",".join(HEADERS) + "\n章水大桥,河流,2023/5/6,\"0,12\",<0.01\n"
    path.write_bytes(text.encode(encoding))
    raw = read_table(path)
    assert list(raw.columns) == HEADERS
    assert raw.iloc[0].tolist() == ["章水大桥", "河流", "2023/5/6", "0,12", "<0.01"]


def test_read_csv_forced_encoding(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("断面名称\n东湖\n".encode("gbk"))
    assert read_table(path, encoding="gb18030")["断面名称"].tolist() == ["东湖"]
    with pytest.raises(InputError, match="utf-8"):
        read_table(path, encoding="utf-8")


@pytest.mark.parametrize(("name", "content", "message"), [
    ("data.xls", b"x", "save it as .xlsx"),
    ("data.shp", b"x", "upload a .csv or .xlsx"),
    ("broken.xlsx", b"not a zip", "broken.xlsx"),
    ("empty.csv", b"", "empty"),
])
def test_read_table_errors_name_the_file_and_the_fix(tmp_path, name, content, message,
                                                      english):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_table(path)


def test_read_table_missing_file(tmp_path, english):
    with pytest.raises(InputError, match="not found"):
        read_table(tmp_path / "nope.csv")


def test_read_table_missing_file_in_chinese_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("ECOMAP_LANG", raising=False)
    with pytest.raises(InputError, match="nope.csv: 文件不存在; 请检查路径和文件名"):
        read_table(tmp_path / "nope.csv")


# ---------------------------------------------------------------- more spellings
def test_title_row_above_the_header_and_blank_rows_keep_row_numbers(tmp_path):
    path = tmp_path / "报表.csv"
    path.write_bytes("大余县2023年地表水监测结果,,\n断面名称,采样日期,氨氮\n章水大桥,2023-05-06,0.1\n"
                     "\n,,\n章水大桥,2023-06-06,x\n".encode("gbk"))
    frame, problems = normalize_samples(read_table(path))
    # the header is on line 2, data on lines 3 and 6 (lines 4 and 5 are blank)
    assert frame["source_row"].tolist() == [3, 6]
    assert frame["NH3N"].tolist()[0] == 0.1
    assert [(p["feature"], p["field"]) for p in problems] == [(6, "氨氮")]


def test_english_headers_and_units():
    raw = pd.DataFrame({"Station name": ["a"], "Sampling date": ["2023-05-06"],
                        "Dissolved oxygen (mg/L)": ["8"], "NH3_N": ["0.1"],
                        "Total phosphorus": ["0.01"], "Hg (μg/L)": ["0.03"],
                        "Fecal coliforms (MPN/100mL)": ["150"], "Site type": ["river"],
                        "Target class": ["II"]})
    frame, problems = normalize_samples(raw)
    assert problems == []
    assert frame["site_name"].tolist() == ["a"] and frame["site_type"].tolist() == ["river"]
    assert frame["DO"].tolist() == [8.0] and frame["NH3N"].tolist() == [0.1]
    assert frame["Hg"].tolist() == [pytest.approx(0.00003)]          # 0.03 μg/L
    assert frame["fecal_coliform"].tolist() == [1500.0]              # 150 per 100 mL
    assert frame["target_class"].tolist() == ["II"]


def test_every_alias_names_one_column_and_every_parameter_has_a_header():
    from ecomap.water import COLUMN_ALIASES
    from ecomap.water.columns import _key
    from ecomap.water.gb3838 import MEASURES

    codes: dict[str, set] = {}
    for code, names in COLUMN_ALIASES.items():
        for alias in (code, *names):
            codes.setdefault(_key(alias), set()).add(code)
    assert {k: v for k, v in codes.items() if len(v) > 1} == {}
    assert set(MEASURES) == {"temp", *PARAMETERS} - {"TP_lake"}
    assert set(MEASURES) <= set(COLUMN_ALIASES)


def test_annual_mean_of_a_parameter_nd_in_every_sample():
    # Cd ND in both samples (no DL): means 0, classified I by rule 4; not lost.
    frame = normalized([{"断面名称": "a", "采样日期": "2023-01-01", "镉": "ND", "点位类型": "河流"},
                        {"断面名称": "a", "采样日期": "2023-02-01", "镉": "未检出",
                         "点位类型": "河流"}])
    row = annual_site_classes(frame).iloc[0]
    assert row["Cd_below_dl"] and row["Cd"] == 0 and row["class_Cd"] == "I"


def test_the_water_package_loads_its_public_names_on_first_use():
    import subprocess
    import sys

    import ecomap.water as water

    for name in water.__all__:
        assert getattr(water, name) is not None, name
    assert set(water.__all__) <= set(dir(water))
    with pytest.raises(AttributeError):
        water.no_such_name  # noqa: B018
    # The GB 3838 table alone does not need pandas (the package itself imports nothing).
    code = ("import sys; import ecomap.water.gb3838 as g; assert len(g.CLASSES) == 6; "
            "import ecomap.water; print(sorted(m for m in sys.modules "
            "if m.startswith('ecomap.water')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['ecomap.water', 'ecomap.water.gb3838']"
