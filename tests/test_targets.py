"""Targets and progress: bureau tables read and checked, stored as batches on both
backends, progress and year over year against hand-computed figures.

The stores are those of conftest: 甲镇 and 乙镇 with :func:`known_plots`, whose 2023
work is, per township (1 mu = 10000/15 m²):

- afforestation: 甲 300 000 + 960 000 m² = 1 890 亩; 乙 700 000 m² = 1 050 亩; county 2 940;
- mine remediation: 甲 40 000 m² = 60 亩; 乙 90 000 m² = 135 亩; county 195;

and in 2022 afforestation 乙 200 000 m² = 300 亩.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from ecomap.cli import cli
from ecomap.errors import ValidationError
from ecomap.store import Provenance, open_store
from ecomap.targets import (
    progress_records,
    progress_sentence,
    progress_table,
    read_targets,
    store_progress,
    store_year_over_year,
    year_over_year,
)
from tests import test_store_backends as backends
from tests.conftest import known_plots, write_county_and_townships

# The fixtures of both backends (GeoPackage, and PostGIS when ECOMAP_TEST_POSTGIS is set).
BACKENDS = backends.BACKENDS
location, bstore = backends.location, backends.bstore
pg_schema, postgis_url = backends.pg_schema, backends.postgis_url

TOWNS = ["甲镇", "乙镇"]
HEADER = ["乡镇", "任务类别", "年度", "目标任务", "单位"]


def write_xlsx(path, rows, *, title="2023年造林绿化任务分解表", header=HEADER):
    """A workbook as a bureau sends it: a title merged across the columns, a blank row,
    the Chinese header on row 3, data from row 4."""
    wb = Workbook()
    ws = wb.active
    ws.title = "任务分解"
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.append([])
    ws.append(header)
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


@pytest.fixture
def county_store(store_path):
    """The test store with a county (测试县), its two townships and the known plots."""
    st = open_store(store_path, create=True)
    write_county_and_townships(st)
    st.add_plots(known_plots(), provenance=Provenance("plots.geojson", "0" * 64, "test"))
    yield st
    st.close()


# --- reading --------------------------------------------------------------------------
def test_xlsx_with_merged_title_rows_and_chinese_headers(tmp_path):
    path = write_xlsx(tmp_path / "任务.xlsx", [
        ("甲镇", "人工造林", 2023, 2000, "亩"),
        ("乙 镇", "人工造林", "2023年", "0.1", "万亩"),      # 1 000 亩
        ("全县", "油茶新造", 2023, "1,500", "亩"),           # thousands comma
        (None, "小流域水土流失治理", 2023, 3000, "亩"),       # 3 000 / 1 500 = 2 km²
        ("测试县", "历史遗留废弃矿山生态修复", 2023, 10, "公顷"),  # 150 亩
        ("乙镇", "mine_remediation", 2023, 20, None),        # blank unit: the category's
    ])
    got = read_targets(path, townships=TOWNS, county="测试县")
    assert got["source_row"].tolist() == [4, 5, 6, 7, 8, 9]
    assert got["township"].tolist() == ["甲镇", "乙镇", None, None, None, "乙镇"]
    assert got["category"].tolist() == [
        "afforestation", "afforestation", "camellia_planting", "soil_erosion_control",
        "mine_remediation", "mine_remediation"]
    assert got["year"].tolist() == [2023] * 6
    assert got["quantity"].tolist() == pytest.approx([2000, 1000, 1500, 2, 150, 20])
    assert got["unit"].tolist() == ["mu", "mu", "mu", "km2", "mu", "mu"]
    notes = [str(n) for n in got.attrs["notes"]]
    assert len(notes) == 3 and "第5行" in notes[0] and "万亩" in notes[0]


def test_gbk_csv_with_unit_in_header_and_year_option(tmp_path):
    path = tmp_path / "任务.csv"
    path.write_bytes("乡镇名称,类别,任务量（万亩）\n甲镇,人工造林,0.2\n乙镇,退化林修复,0.05\n"
                     .encode("gbk"))
    got = read_targets(path, townships=TOWNS, year=2024)
    assert got["quantity"].tolist() == pytest.approx([2000, 500])
    assert got["year"].tolist() == [2024, 2024]
    assert got["category"].tolist() == ["afforestation", "degraded_forest_restoration"]


def test_every_bad_row_is_named_with_row_and_column(tmp_path):
    path = write_xlsx(tmp_path / "坏.xlsx", [
        ("甲镇", "人工造林", 2023, 100, "个"),        # row 4: a count for an area
        ("青龙镇", "人工造林", 2023, 100, "亩"),      # row 5: unknown township
        ("乙镇", "植树", 2023, 100, "亩"),            # row 6: unknown category
        ("乙镇", "人工造林", 2023, "约100", "亩"),    # row 7: not a number
        ("乙镇", "油茶新造", 2023, -5, "亩"),         # row 8: negative
        ("甲镇", "油茶新造", 2023, 5, "亩"),          # row 9
        ("甲镇", "油茶新造", 2023, 6, "亩"),          # row 10: row 9 again
    ])
    with pytest.raises(ValidationError) as err:
        read_targets(path, townships=TOWNS)
    problems = {(p["feature"], p["code"]): str(p["message"]) for p in err.value.problems}
    assert set(problems) == {(4, "bad_unit"), (5, "unknown_township"),
                             (6, "unknown_category"), (7, "bad_quantity"),
                             (8, "negative_quantity"), (10, "duplicate_target")}
    assert "坏.xlsx 第4行 E列「单位」" in problems[(4, "bad_unit")]
    assert "坏.xlsx 第5行 A列「乡镇」" in problems[(5, "unknown_township")]
    assert "甲镇、乙镇" in problems[(5, "unknown_township")]
    assert "D列「目标任务」" in problems[(7, "bad_quantity")]
    assert "第9行" in problems[(10, "duplicate_target")]


def test_an_area_unit_for_a_count_category_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "图斑.xlsx", [("甲镇", "森林督查问题图斑", 2023, 3, "亩")])
    with pytest.raises(ValidationError) as err:
        read_targets(path, townships=TOWNS)
    assert [p["code"] for p in err.value.problems] == ["bad_unit"]
    ok = write_xlsx(tmp_path / "图斑2.xlsx", [("甲镇", "森林督查问题图斑", 2023, 3, "个")])
    assert read_targets(ok, townships=TOWNS)["unit"].tolist() == ["patches"]


# --- the command line: import, refusal, rollback ----------------------------------------
def test_bad_file_is_refused_by_the_cli_and_nothing_is_stored(county_store, store_path,
                                                               tmp_path):
    path = write_xlsx(tmp_path / "坏.xlsx", [("甲镇", "人工造林", 2023, 100, "亩"),
                                            ("青龙镇", "人工造林", 2023, 100, "亩"),
                                            ("乙镇", "人工造林", 2023, 100, "个")])
    res = run("targets", "import", path, "--store", store_path)
    assert res.exit_code == 2
    assert "第5行 A列「乡镇」" in res.output and "青龙镇" in res.output
    assert "第6行 E列「单位」" in res.output
    assert county_store.targets().empty
    assert "targets" not in county_store.batches()["kind"].tolist()


def test_import_list_refuse_again_and_roll_back(county_store, store_path, tmp_path):
    path = write_xlsx(tmp_path / "任务.xlsx", [("甲镇", "人工造林", 2023, 2000, "亩"),
                                              ("乙镇", "人工造林", 2023, 1000, "亩")])
    res = run("targets", "import", path, "--store", store_path)
    assert res.exit_code == 0, res.output
    batch = int(county_store.batches()["batch_id"].iloc[-1])
    assert f"批次 {batch}" in res.output and "2 项任务" in res.output
    listed = json.loads(run("targets", "list", "--format", "json", "--store",
                            store_path).output)
    assert [(r["township"], r["quantity"], r["batch_id"]) for r in listed] == [
        ("乙镇", 1000.0, batch), ("甲镇", 2000.0, batch)]
    # The same file again, and another file with a target already stored: refused.
    assert run("targets", "import", path, "--store", store_path).exit_code == 2
    other = write_xlsx(tmp_path / "任务2.xlsx", [("甲镇", "人工造林", 2023, 1, "亩")])
    res = run("targets", "import", other, "--store", store_path)
    assert res.exit_code == 2 and f"ecomap rollback {batch}" in res.output
    res = run("rollback", batch, "--store", store_path)
    assert res.exit_code == 0 and "2 targets" in res.output
    assert county_store.targets().empty
    assert batch not in county_store.batches()["batch_id"].tolist()
    assert run("targets", "import", other, "--store", store_path).exit_code == 0


# --- progress -------------------------------------------------------------------------
def _store_targets(store, rows, name="targets.xlsx"):
    frame = pd.DataFrame(rows, columns=["township", "category", "year", "quantity", "unit"])
    return store.add_targets(frame, provenance=Provenance(name, name * 2, "test"))


def test_progress_against_hand_computed_figures(county_store):
    _store_targets(county_store, [("甲镇", "afforestation", 2023, 2000.0, "mu"),
                                  ("乙镇", "afforestation", 2023, 1000.0, "mu")])
    p = store_progress(county_store, year=2023)
    got = {(r.township, r.category): r for r in p.itertuples()}
    jia, yi, county = (got[("甲镇", "afforestation")], got[("乙镇", "afforestation")],
                       got[(None, "afforestation")])
    assert (jia.target, jia.done, jia.rate, jia.remaining, jia.met) == pytest.approx(
        (2000, 1890, 94.5, 110, False))
    assert (yi.target, yi.done, yi.rate, yi.remaining, yi.met) == pytest.approx(
        (1000, 1050, 105.0, 0, True))
    # The county target is the sum of the townships': 3 000; 2 940 / 3 000 = 98.0 %.
    assert (county.target, county.done, county.rate, county.remaining) == pytest.approx(
        (3000, 2940, 98.0, 60))
    # Mine remediation has no target: shown as such, never as 0 %.
    mine = got[(None, "mine_remediation")]
    assert math.isnan(mine.target) and math.isnan(mine.rate) and mine.met is None
    assert mine.done == pytest.approx(195)
    # One township short: the other sentence, naming it and the shortfall.
    assert progress_sentence(p) == "人工造林完成2,940亩，占任务的98.0%，差60亩（甲镇差110亩）。"
    assert progress_sentence(p, lang="en") == (
        "Afforestation: 2,940 mu done, 98.0% of the target, 60 mu short (甲镇 110 mu short).")


def test_every_target_met_gives_the_report_sentence(county_store):
    _store_targets(county_store, [("甲镇", "afforestation", 2023, 1800.0, "mu"),
                                  (None, "mine_remediation", 2023, 195.0, "mu")])
    p = store_progress(county_store, year=2023)
    assert progress_sentence(p) == "均已完成上级下达任务。"
    county = p[p["township"].isna()].set_index("category")
    # No county row for afforestation: the townships' 1 800 (乙镇 has none of its own).
    assert county.loc["afforestation", "target"] == 1800
    assert county.loc["afforestation", "rate"] == pytest.approx(163.3)  # 2940/1800
    assert county.loc["mine_remediation", "rate"] == 100.0


def test_county_met_but_a_township_short_names_it():
    targets = pd.DataFrame([(None, "afforestation", 2023, 2000.0, "mu"),
                            ("甲镇", "afforestation", 2023, 2000.0, "mu")],
                           columns=["township", "category", "year", "quantity", "unit"])
    areas = pd.DataFrame([("甲镇", "afforestation", 2023, 3, 1_200_000.0),   # 1 800 亩
                          ("乙镇", "afforestation", 2023, 1, 600_000.0)],   # 900 亩
                         columns=["township", "category", "year", "count", "area_m2"])
    p = progress_table(targets, areas, year=2023, townships=["甲镇", "乙镇"])
    assert progress_sentence(p) == ("人工造林全县完成2,700亩，占任务的135.0%，但甲镇差200亩。")


def test_soil_erosion_in_km2_and_json_records():
    targets = pd.DataFrame([(None, "soil_erosion_control", 2023, 2.0, "km2")],
                           columns=["township", "category", "year", "quantity", "unit"])
    areas = pd.DataFrame([("甲镇", "soil_erosion_control", 2023, 2, 1_500_000.0)],
                         columns=["township", "category", "year", "count", "area_m2"])
    p = progress_table(targets, areas, year=2023, by="county")
    assert progress_records(p) == [
        {"township": None, "category": "soil_erosion_control", "year": 2023, "unit": "km2",
         "target": 2.0, "done": 1.5, "rate": 75.0, "remaining": 0.5, "met": False}]
    assert progress_sentence(p) == "小流域水土流失治理完成1.5平方公里，占任务的75.0%，差0.5平方公里。"


def test_progress_json_from_the_cli(county_store, store_path):
    _store_targets(county_store, [("甲镇", "afforestation", 2023, 2000.0, "mu"),
                                  ("乙镇", "afforestation", 2023, 1000.0, "mu")])
    res = run("progress", "--year", "2023", "--format", "json", "--store", store_path)
    assert res.exit_code == 0, res.output
    got = {r["category"]: r for r in json.loads(res.output)}
    assert got["afforestation"] == {"township": None, "category": "afforestation",
                                    "year": 2023, "unit": "mu", "target": 3000.0,
                                    "done": 2940.0, "rate": 98.0, "remaining": 60.0,
                                    "met": False}
    assert got["mine_remediation"]["target"] is None
    assert got["mine_remediation"]["rate"] is None
    table = run("progress", "--store", store_path, "--by", "township")  # latest: 2023
    assert table.exit_code == 0
    assert "无任务" in table.output and "甲镇差110亩" in table.output


# --- year over year -------------------------------------------------------------------
def test_year_over_year_of_the_store(county_store):
    y = store_year_over_year(county_store)
    got = {(r.township, r.category, r.year): (r.done, r.change, r.change_pct)
           for r in y.itertuples()}
    nan = float("nan")

    def same(a, b):
        return all((math.isnan(x) and math.isnan(z)) or x == pytest.approx(z)
                   for x, z in zip(a, b, strict=True))

    assert same(got[("乙镇", "afforestation", 2022)], (300, nan, nan))
    assert same(got[("乙镇", "afforestation", 2023)], (1050, 750, 250.0))
    assert same(got[("甲镇", "afforestation", 2023)], (1890, 1890, nan))  # from 0: no %
    assert same(got[(None, "afforestation", 2023)], (2940, 2640, 880.0))
    assert same(got[(None, "mine_remediation", 2022)], (0, nan, nan))
    assert same(got[(None, "mine_remediation", 2023)], (195, 195, nan))
    assert len(y) == 2 * 2 * 2 + 2 * 2  # towns × categories × years, and the county's


def test_year_over_year_compares_with_the_previous_stored_year():
    areas = pd.DataFrame([
        ("甲镇", "afforestation", 2020, 1, 400_000.0),   # 600 亩
        ("甲镇", "afforestation", 2022, 1, 300_000.0),   # 450 亩
        ("甲镇", "afforestation", 2023, 1, 360_000.0),   # 540 亩
        ("甲镇", "forest_inspection_patch", 2023, 4, 1000.0),  # not restoration: left out
    ], columns=["township", "category", "year", "count", "area_m2"])
    y = year_over_year(areas, by="county")
    assert y["year"].tolist() == [2020, 2022, 2023]
    assert y["done"].tolist() == pytest.approx([600, 450, 540])
    assert y["change"].tolist()[1:] == pytest.approx([-150, 90])
    assert y["change_pct"].tolist()[1:] == pytest.approx([-25.0, 20.0])


# --- the store, on both backends --------------------------------------------------------
@pytest.mark.parametrize("location", BACKENDS, indirect=True)
def test_store_targets_on_both_backends(bstore):
    rows = [("甲镇", "afforestation", 2023, 2000.0, "mu"),
            (None, "camellia_planting", 2023, 50.0, "mu")]
    batch = _store_targets(bstore, rows, "a.xlsx")
    got = bstore.targets(year=2023)
    assert got["township"].tolist() == [None, "甲镇"]  # the county first
    assert got["quantity"].tolist() == [50.0, 2000.0]
    assert got["batch_id"].tolist() == [batch, batch]
    assert bstore.targets(year=2022).empty
    with pytest.raises(ValidationError, match="a.xlsx"):  # the same file again
        _store_targets(bstore, rows[:1], "a.xlsx")
    with pytest.raises(ValidationError) as err:  # the same target from another file
        _store_targets(bstore, [(None, "camellia_planting", 2023, 60.0, "mu")], "b.xlsx")
    assert f"rollback {batch}" in str(err.value.problems[0]["message"])
    assert bstore.rollback(batch)["removed"] == {"targets": 2}
    assert bstore.targets().empty
    _store_targets(bstore, [(None, "camellia_planting", 2023, 60.0, "mu")], "b.xlsx")
    assert bstore.targets()["quantity"].tolist() == [60.0]


@pytest.mark.parametrize("location", BACKENDS, indirect=True)
def test_a_store_made_before_targets_gets_the_table_when_written(location, bstore):
    bstore.close()
    if location.startswith("postgresql"):
        import psycopg

        from ecomap.store.postgis import split_url
        conninfo, schema = split_url(location)
        with psycopg.connect(conninfo, autocommit=True) as con:
            con.execute(f'DROP TABLE "{schema}".targets')
    else:
        import sqlite3

        con = sqlite3.connect(location)
        con.execute("DROP TABLE targets")
        con.execute("DELETE FROM gpkg_contents WHERE table_name = 'targets'")
        con.execute("DELETE FROM gpkg_ogr_contents WHERE table_name = 'targets'")
        con.commit()
        con.close()
    with open_store(location) as st:  # opens, and reads no targets
        assert st.targets().empty
        assert st.townships()["name"].tolist() == TOWNS
    with open_store(location) as st:  # the first write creates the table
        batch = _store_targets(st, [("乙镇", "afforestation", 2023, 10.0, "mu")])
        assert st.targets()["batch_id"].tolist() == [batch]
    with open_store(location) as st:
        assert st.targets()["quantity"].tolist() == [10.0]
        st.rollback(batch)
        assert st.targets().empty


def test_met_as_the_report_prints_it_and_the_largest_shortfall_first():
    # 6.2499999 km² prints as 6.25: the 6.25 km² target is met.  甲 is 0.5 亩 short of
    # 10 000 亩 (99.995 % would print as 100.0 %: shown as 99.9 %), 乙 20 亩 short of 100.
    targets = pd.DataFrame([(None, "soil_erosion_control", 2023, 6.25, "km2"),
                            ("甲镇", "afforestation", 2023, 10_000.0, "mu"),
                            ("乙镇", "afforestation", 2023, 100.0, "mu")],
                           columns=["township", "category", "year", "quantity", "unit"])
    areas = pd.DataFrame([("甲镇", "soil_erosion_control", 2023, 1, 6_249_999.9),
                          ("甲镇", "afforestation", 2023, 1, 9_999.5 * 10_000 / 15),
                          ("乙镇", "afforestation", 2023, 1, 80.0 * 10_000 / 15)],
                         columns=["township", "category", "year", "count", "area_m2"])
    p = progress_table(targets, areas, year=2023, townships=["甲镇", "乙镇"])
    got = {(r.township, r.category): r for r in p.itertuples()}
    soil = got[(None, "soil_erosion_control")]
    assert soil.met and soil.remaining == 0 and soil.rate == 100.0
    jia = got[("甲镇", "afforestation")]
    assert not jia.met and jia.rate == 99.9 and jia.remaining == pytest.approx(0.5)
    assert progress_sentence(p) == (
        "人工造林完成10,079.5亩，占任务的99.8%，差20.5亩（乙镇差20亩、甲镇差0.5亩）；"
        "其余任务均已完成。")


def test_store_copy_keeps_the_targets(county_store, store_path, tmp_path):
    from ecomap.store.copy import copy_store

    batch = _store_targets(county_store, [("甲镇", "afforestation", 2023, 2000.0, "mu"),
                                          (None, "camellia_planting", 2023, 50.0, "mu")])
    counts = copy_store(store_path, tmp_path / "copy.gpkg")
    assert counts["targets"] == 2
    with open_store(tmp_path / "copy.gpkg") as st:
        got = st.targets()
        assert got["township"].tolist() == [None, "甲镇"]
        assert got["batch_id"].tolist() == [batch, batch]
        assert st.rollback(batch)["removed"] == {"targets": 2}


def test_briefing_carries_the_targets_section(county_store):
    from ecomap import api, maps

    _store_targets(county_store, [("甲镇", "afforestation", 2023, 2000.0, "mu"),
                                  ("乙镇", "afforestation", 2023, 1000.0, "mu")])
    page = maps.to_html(api.briefing(county_store, year=2023))
    # Figures as in test_progress_against_hand_computed_figures: 甲 1 890 of 2 000 亩
    # (94.5 %), 乙 1 050 of 1 000 (105.0 %), the county 2 940 of 3 000 (98.0 %).
    assert "五、任务完成情况" in page and "六、各乡镇修复小班图" in page
    assert "人工造林完成2,940亩，占任务的98.0%，差60亩（甲镇差110亩）。" in page
    assert "<td>3,000.0</td><td>2,940.0</td><td>98.0</td><td>60.0</td>" in page
    assert "<td>甲镇</td><td>94.5</td>" in page and "<td>乙镇</td><td>105.0</td>" in page
    # Without targets the section is left out and the township maps stay section five.
    county_store.rollback(int(county_store.batches()["batch_id"].iloc[-1]))
    page = maps.to_html(api.briefing(county_store, year=2023))
    assert "任务完成情况" not in page and "五、各乡镇修复小班图" in page


def test_county_map_has_a_completion_layer_off_at_first(county_store):
    from ecomap import api, maps
    from ecomap.maps._completion import township_rates

    # 甲镇: afforestation 1 890 of 2 000 亩 and mine remediation 60 of 50 亩 (40 000 m²):
    # (1890 + 60) / (2000 + 50) = 95.1 %; 乙镇: 1 050 of 1 000 = 105.0 %.
    _store_targets(county_store, [("甲镇", "afforestation", 2023, 2000.0, "mu"),
                                  ("甲镇", "mine_remediation", 2023, 50.0, "mu"),
                                  ("乙镇", "afforestation", 2023, 1000.0, "mu")])
    rates = township_rates(store_progress(county_store, year=2023)).set_index("township")
    assert rates.loc["甲镇", "rate"] == pytest.approx(95.1)
    assert rates.loc["乙镇", "rate"] == pytest.approx(105.0)
    page = maps.to_html(api.county_map(county_store, year=2023))
    assert "任务完成率(%)" in page and "100 – 110" in page and "90 – 100" in page
    # Each township's fill: 95.1 % in the 90–100 class, 105.0 % in 100–110.
    assert '"_rate": "95.1%"' in page and '"_color": "#fee08b"' in page
    assert '"_rate": "105.0%"' in page and '"_color": "#91cf60"' in page
    # A layer of the layer control, off at first: never added to the map by the page.
    import re

    var = re.search(r'"\\u4efb\\u52a1\\u5b8c\\u6210\\u7387" : (feature_group_\w+)', page)
    assert var, "the completion layer is not in the layer control"
    assert f"{var.group(1)}.addTo(map_" not in page
