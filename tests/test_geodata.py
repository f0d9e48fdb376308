"""The committed demo data in ``geodata/`` against independent truth.

Reads the files as they are (nothing is regenerated) and checks them against the
figures of the county's 2023 report and the limits of GB 3838-2002, both written out
here, plus geometric facts: plots inside the county, no overlaps within a category,
townships and patrol areas tiling their parent, some plots straddling township borders.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from ecomap.crs import areas_m2
from ecomap.schema import CATEGORIES
from ecomap.units import mu_from_m2

ROOT = Path(__file__).resolve().parents[1]
GEODATA = ROOT / "geodata"
LL = "EPSG:4490"

# 大余县 2023 report: category → (quantity, unit).
REPORT = {
    "afforestation": (6460, "mu"),
    "degraded_forest_restoration": (14700, "mu"),
    "low_quality_forest_improvement": (29100, "mu"),
    "ganjiang_source_restoration": (5000, "mu"),
    "mine_remediation": (362, "mu"),
    "soil_erosion_control": (6.25, "km2"),
    "camellia_planting": (5312.3, "mu"),
    "understory_planting": (600, "mu"),
    "forest_inspection_patch": (35, "patches"),
    "forest_ranger": (376, "persons"),
}
AREA_CODES = [c for c, (_, unit) in REPORT.items() if unit in ("mu", "km2")]
STRADDLING = [c for c in REPORT if c not in ("forest_ranger", "soil_erosion_control")]
TOWNSHIPS = ["南安镇", "新城镇", "池江镇", "青龙镇", "吉村镇", "左拔镇", "黄龙镇", "樟斗镇",
             "浮江乡", "河洞乡", "内良乡"]
PLOT_COLUMNS = ["小班号", "乡镇", "村", "树种", "面积_亩", "年度", "实施单位"]

# GB 3838-2002 table 1, class I and II limits (max, unless noted).
CLASS_LIMITS = {
    "高锰酸盐指数": (2, 4), "化学需氧量": (15, 15), "五日生化需氧量": (3, 3),
    "氨氮": (0.15, 0.5), "总磷": (0.02, 0.1), "铜": (0.01, 1.0), "锌": (0.05, 1.0),
    "氟化物": (1.0, 1.0), "砷": (0.05, 0.05), "汞": (0.00005, 0.00005),
    "镉": (0.001, 0.005), "六价铬": (0.01, 0.05), "铅": (0.01, 0.01),
}
LAKE_LIMITS = {"总磷": (0.01, 0.025), "总氮": (0.2, 0.5)}
DO_MIN = (7.5, 6.0)
SAMPLE_COLUMNS = ["点位名称", "采样日期", "水温", "pH", "溶解氧", "高锰酸盐指数", "化学需氧量",
                  "五日生化需氧量", "氨氮", "总磷", "总氮", "铜", "锌", "氟化物", "砷", "汞", "镉",
                  "六价铬", "铅", "粪大肠菌群"]


def _read(path: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(path)


@pytest.fixture(scope="module")
def county():
    gdf = _read(GEODATA / "county.geojson")
    assert len(gdf) == 1
    return gdf


@pytest.fixture(scope="module")
def towns():
    return _read(GEODATA / "townships.geojson")


@pytest.fixture(scope="module")
def plots():
    return {code: _read(GEODATA / "plots" / f"{code}_2023.geojson") for code in REPORT}


def _total_overlap_m2(geoms) -> float:
    geoms = np.asarray(geoms, dtype=object)
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = i < j
    if not keep.any():
        return 0.0
    return float(areas_m2(shapely.intersection(geoms[i[keep]], geoms[j[keep]]), LL).sum())


def _shares(geom, towns) -> np.ndarray:
    return shapely.area(shapely.intersection(towns.geometry.values, geom)) / geom.area


def test_report_copies_agree_with_the_figures_here():
    for path in (GEODATA / "report_2023.csv", ROOT.parent / "shared/domain/report_2023.csv"):
        if path.exists():
            with open(path, encoding="utf-8") as f:
                rows = {r["code"]: r for r in csv.DictReader(f)}
            for code, (qty, unit) in REPORT.items():
                assert float(rows[code]["quantity"]) == qty and rows[code]["unit"] == unit


def test_every_category_has_a_file():
    assert set(REPORT) == set(CATEGORIES)
    assert sorted(p.name for p in (GEODATA / "plots").glob("*.geojson")) == sorted(
        f"{c}_2023.geojson" for c in REPORT)


def test_county(county):
    assert county.crs.to_epsg() == 4490
    row = county.iloc[0]
    assert row["name"] == "大余县" and int(row["adcode"]) == 360723
    geom = row.geometry
    assert geom.is_valid
    area_km2 = areas_m2([geom], LL)[0] / 1e6
    assert 1300 < area_km2 < 1400  # 大余县: about 1368 km²
    minx, miny, maxx, maxy = geom.bounds
    assert 113.9 < minx < maxx < 114.8 and 25.2 < miny < maxy < 25.7


def test_townships_tile_the_county(county, towns):
    assert towns["乡镇名称"].tolist() == TOWNSHIPS
    assert (towns["illustrative"] == 1).all()
    assert towns["note"].str.contains("示意").all()
    assert towns.geometry.is_valid.all()
    whole = areas_m2(county.geometry.values, LL)[0]
    assert abs(areas_m2(towns.geometry.values, LL).sum() - whole) < 1.0
    union = shapely.union_all(towns.geometry.values)
    assert abs(areas_m2([union], LL)[0] - whole) < 1.0
    assert _total_overlap_m2(towns.geometry.values) < 1e-3


@pytest.mark.parametrize("code", AREA_CODES)
def test_category_total_matches_the_report(plots, code):
    qty, unit = REPORT[code]
    expected_mu = qty * 1500 if unit == "km2" else qty  # 1 km² = 1500 mu
    total_mu = mu_from_m2(areas_m2(plots[code].geometry.values, LL).sum())
    assert abs(total_mu - expected_mu) <= 0.01, (code, total_mu)


def test_erosion_control_is_6_25_km2_in_huanglong(plots, towns):
    gdf = plots["soil_erosion_control"]
    assert abs(areas_m2(gdf.geometry.values, LL).sum() / 1e6 - 6.25) < 0.01 / 1500
    huanglong = towns.set_index("乡镇名称").geometry["黄龙镇"]
    assert shapely.within(gdf.geometry.values, huanglong).all()


def test_inspection_patches(plots):
    gdf = plots["forest_inspection_patch"]
    assert len(gdf) == 35
    assert (gdf["整改状态"] == "已整改").all()
    dates = pd.to_datetime(gdf["整改日期"], format="%Y-%m-%d")
    assert (dates.dt.year == 2023).all()
    mu = mu_from_m2(areas_m2(gdf.geometry.values, LL))
    assert ((mu >= 1) & (mu <= 30)).all()


def test_ranger_patrol_areas_tile_each_township(plots, towns):
    gdf = plots["forest_ranger"]
    assert len(gdf) == 376
    assert gdf["护林员"].is_unique and gdf["巡护区编号"].is_unique
    for name, group in gdf.groupby("乡镇"):
        town = towns.set_index("乡镇名称").geometry[name]
        assert shapely.within(group.geometry.values, town).all(), name
        total = areas_m2(group.geometry.values, LL).sum()
        assert abs(total - areas_m2([town], LL)[0]) < 1.0, name


@pytest.mark.parametrize("code", list(REPORT))
def test_no_overlaps_within_a_category(plots, code):
    assert _total_overlap_m2(plots[code].geometry.values) < 1e-3


@pytest.mark.parametrize("code", list(REPORT))
def test_plots_are_valid_and_inside_the_county(plots, county, code):
    geoms = plots[code].geometry.values
    assert shapely.is_valid(geoms).all()
    outside = areas_m2(shapely.difference(geoms, county.geometry.values[0]), LL)
    assert outside.max() <= 1.0, code


@pytest.mark.parametrize("code", STRADDLING)
def test_some_plots_straddle_township_borders(plots, towns, code):
    gdf = plots[code]
    top = np.array([_shares(g, towns).max() for g in gdf.geometry.values])
    straddling = int((top < 0.99).sum())
    assert 1 <= straddling <= max(1, 0.08 * len(gdf)), (code, straddling, len(gdf))
    # the rest lie wholly inside one township
    assert (top[top >= 0.99] > 1 - 1e-9).all()


@pytest.mark.parametrize("code", list(REPORT))
def test_plot_attributes(plots, towns, code):
    gdf = plots[code]
    method = "造林方式" if "造林方式" in gdf.columns else "作业类型"
    cols = [c for c in gdf.columns if c != "geometry"]
    assert cols[:8] == PLOT_COLUMNS[:3] + [method] + PLOT_COLUMNS[3:]
    assert gdf["小班号"].is_unique
    assert (gdf["年度"] == 2023).all()
    assert gdf["村"].str.endswith("村").all()
    mu = mu_from_m2(areas_m2(gdf.geometry.values, LL))
    assert np.abs(gdf["面积_亩"].to_numpy() - mu).max() <= 0.0051
    major = [TOWNSHIPS[int(np.argmax(_shares(g, towns)))] for g in gdf.geometry.values]
    assert gdf["乡镇"].tolist() == major


@pytest.mark.parametrize("name", ["county.geojson", "townships.geojson",
                                  "plots/afforestation_2023.geojson"])
def test_geojson_coordinates_have_7_decimals(name):
    doc = json.loads((GEODATA / name).read_text(encoding="utf-8"))
    coords = shapely.get_coordinates(
        [shapely.geometry.shape(f["geometry"]) for f in doc["features"]])
    assert np.array_equal(coords, np.round(coords, 7))


@pytest.fixture(scope="module")
def sites():
    return pd.read_csv(GEODATA / "water_sites.csv", encoding="utf-8-sig")


def test_water_sites(sites, county):
    assert list(sites.columns) == ["点位名称", "点位类型", "河流", "水质目标", "经度", "纬度"]
    assert 10 <= len(sites) <= 15 and sites["点位名称"].is_unique
    assert set(sites["点位类型"]) == {"河流", "湖库", "饮用水源"}
    assert set(sites["水质目标"]) <= {"II", "III"}
    assert (sites.loc[sites["点位类型"] == "饮用水源", "水质目标"] == "II").all()
    assert {"章江", "新安河", "荡坪河"} <= set(sites["河流"])
    pts = shapely.points(sites[["经度", "纬度"]].to_numpy())
    assert shapely.contains(county.geometry.values[0], pts).all()


def _value(text: str) -> float:
    """A measured value; below detection ("ND", "<0.01") counts as zero."""
    text = str(text)
    return 0.0 if text == "ND" or text.startswith("<") else float(text)


def _class(row: pd.Series, lake: bool) -> int:
    """GB 3838-2002 class of one sample: 1, 2 or 3 meaning "worse than II"."""
    limits = {**CLASS_LIMITS, **(LAKE_LIMITS if lake else {})}
    cls = 1
    for col, (one, two) in limits.items():
        v = _value(row[col])
        cls = max(cls, 1 if v <= one else 2 if v <= two else 3)
    do = _value(row["溶解氧"])
    cls = max(cls, 1 if do >= DO_MIN[0] else 2 if do >= DO_MIN[1] else 3)
    return cls if 6 <= _value(row["pH"]) <= 9 else 3


def test_water_samples_are_class_ii_or_better(sites):
    samples = pd.read_csv(GEODATA / "water_samples_2023.csv", encoding="utf-8-sig", dtype=str)
    assert list(samples.columns) == SAMPLE_COLUMNS
    assert len(samples) == 12 * len(sites)
    assert set(samples["点位名称"]) == set(sites["点位名称"])
    for name, group in samples.groupby("点位名称"):
        assert sorted(group["采样日期"]) == [f"2023-{m:02d}-15" for m in range(1, 13)], name
    lake = dict(zip(sites["点位名称"], sites["点位类型"] != "河流", strict=True))
    classes = samples.apply(lambda r: _class(r, lake[r["点位名称"]]), axis=1)
    assert classes.max() == 2
    assert 0 < (classes == 1).sum() < len(samples) / 2  # mostly class II, a few class I
    below = samples.isin(["ND"]) | samples.apply(lambda c: c.str.startswith("<"))
    assert 0 < below.to_numpy().sum() < 0.05 * samples.size
    # annual means within each site's target (II for every site here)
    values = samples.drop(columns=["点位名称", "采样日期"]).map(_value)
    means = values.groupby(samples["点位名称"]).mean()
    for name, row in means.iterrows():
        assert _class(row, lake[name]) <= 2, name


# --- targets of 2023 and the illustrative earlier years ---------------------------------

TARGETS = GEODATA / "targets_2023.xlsx"
RESTORATION_CODES = AREA_CODES  # the report's area categories: the restoration ones
PRIOR_YEARS = (2021, 2022)
MU_PER_M2 = 15 / 10_000  # 1 亩 = 10000/15 m²


def _report_rows() -> dict[str, dict]:
    with open(GEODATA / "report_2023.csv", encoding="utf-8") as f:
        return {r["code"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def targets() -> pd.DataFrame:
    """The rows of the targets sheet below its title and header."""
    from openpyxl import load_workbook

    ws = load_workbook(TARGETS).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    return pd.DataFrame(rows[3:], columns=list(rows[2]))


def _done_mu_by_township(plots: gpd.GeoDataFrame, towns: gpd.GeoDataFrame) -> pd.Series:
    """亩 of the plots in each township: the plots cut by the townships in EPSG:4547,
    each piece counting where it lies."""
    pieces = gpd.overlay(plots[["geometry"]].to_crs(4547),
                         towns[["乡镇名称", "geometry"]].to_crs(4547), how="intersection")
    return (pieces.geometry.area * MU_PER_M2).groupby(pieces["乡镇名称"]).sum()


def test_targets_sheet_is_laid_out_like_a_bureau_table():
    from openpyxl import load_workbook

    ws = load_workbook(TARGETS).worksheets[0]
    assert ws["A1"].value == "大余县2023年造林绿化和生态修复任务分解表（示例）"
    assert [str(r) for r in ws.merged_cells.ranges] == ["A1:G1"]
    assert all(c.value is None for c in ws[2])
    assert [c.value for c in ws[3]] == ["序号", "乡镇", "任务类别", "年度", "任务量", "单位", "备注"]
    numbers = [ws.cell(r, 1).value for r in range(4, ws.max_row + 1)]
    assert numbers == list(range(1, len(numbers) + 1))


def test_targets_workbook_carries_no_clock_time():
    """Two runs of the generator give the same bytes: fixed document dates and zip times."""
    import zipfile

    with zipfile.ZipFile(TARGETS) as z:
        assert {i.date_time for i in z.infolist()} == {(2023, 1, 10, 9, 0, 0)}
        core = z.read("docProps/core.xml").decode("utf-8")
    assert core.count("2023-01-10T09:00:00Z") == 2  # created and modified


def test_targets_add_up_to_the_report(targets):
    report = _report_rows()
    code_of = {r["name_zh"]: code for code, r in report.items()}
    assert (targets["年度"] == 2023).all()
    assert set(targets["任务类别"].map(code_of)) == set(RESTORATION_CODES)
    assert set(targets["乡镇"]) <= {*TOWNSHIPS, "全县"}
    unit_of = {"亩": "mu", "平方公里": "km2"}
    for code in RESTORATION_CODES:
        rows = targets[targets["任务类别"] == report[code]["name_zh"]]
        assert set(rows["单位"].map(unit_of)) == {report[code]["unit"]}, code
        assert rows["乡镇"].is_unique, code
        # the county's task: its 全县 row, the report's figure exactly
        county = rows.loc[rows["乡镇"] == "全县", "任务量"]
        assert county.tolist() == [float(report[code]["quantity"])], code
        # the townships' split stays within it
        assert rows.loc[rows["乡镇"] != "全县", "任务量"].sum() <= county.iloc[0], code
    # mines and erosion control are kept whole by the county, the rest split by township
    for code in ("mine_remediation", "soil_erosion_control"):
        assert targets.loc[targets["任务类别"] == report[code]["name_zh"], "乡镇"].tolist() == ["全县"]


def test_each_township_target_is_at_most_its_2023_done(targets, plots, towns):
    report = _report_rows()
    split = targets[targets["乡镇"].isin(TOWNSHIPS)]
    assert len(split) >= 40
    for zh, rows in split.groupby("任务类别"):
        code = next(c for c, r in report.items() if r["name_zh"] == zh)
        done = _done_mu_by_township(plots[code], towns)
        assert done.sum() == pytest.approx(float(report[code]["quantity"]), abs=0.01)
        for town, target in zip(rows["乡镇"], rows["任务量"], strict=True):
            assert target <= done[town], (code, town, target, done[town])
            assert done[town] - target < 10, (code, town)  # targets: done rounded down
        # nearly all of the county's task is split among the townships
        county = targets[(targets["任务类别"] == zh) & (targets["乡镇"] == "全县")]["任务量"]
        assert 0 <= county.iloc[0] - rows["任务量"].sum() < 10 * len(TOWNSHIPS), code


@pytest.fixture(scope="module")
def prior_plots():
    return {(code, year): _read(GEODATA / "plots" / "illustrative" / f"{code}_{year}.geojson")
            for code in RESTORATION_CODES for year in PRIOR_YEARS}


def test_illustrative_years_have_a_file_per_restoration_category():
    assert sorted(p.name for p in (GEODATA / "plots" / "illustrative").iterdir()) == sorted(
        f"{c}_{y}.geojson" for c in RESTORATION_CODES for y in PRIOR_YEARS)


@pytest.mark.parametrize("year", PRIOR_YEARS)
@pytest.mark.parametrize("code", RESTORATION_CODES)
def test_illustrative_plots(prior_plots, county, code, year):
    gdf = prior_plots[code, year]
    assert gdf.crs.to_epsg() == 4490 and len(gdf) >= 3
    assert (gdf["illustrative"] == 1).all()
    assert gdf["note"].str.contains(f"{year}年示意数据").all()
    assert (gdf["年度"] == year).all()
    assert gdf["小班号"].is_unique and gdf["小班号"].str.startswith(f"DY{year}-").all()
    assert set(gdf["乡镇"]) <= set(TOWNSHIPS)
    geoms = gdf.geometry.values
    assert shapely.is_valid(geoms).all()
    assert areas_m2(shapely.difference(geoms, county.geometry.values[0]), LL).max() <= 1.0
    assert _total_overlap_m2(geoms) < 1e-3
    qty, unit = REPORT[code]
    share = mu_from_m2(areas_m2(geoms, LL).sum()) / (qty * 1500 if unit == "km2" else qty)
    assert 0.69 <= share <= 1.11, (code, year, share)  # 70–110 % of 2023
