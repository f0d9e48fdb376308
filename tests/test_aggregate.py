import pandas as pd
import pytest

from ecomap import aggregate


def _areas():
    # 1 mu = 10000/15 m²: 6 000 m² = 9 mu = 0.6 ha.
    return pd.DataFrame({
        "township": ["乙镇", "甲镇", "甲镇", None],
        "category": ["afforestation", "mine_remediation", "afforestation", "afforestation"],
        "year": [2023, 2023, 2023, 2023],
        "count": [1, 2, 3, 0],
        "area_m2": [6000.0, 2000.0, 10000.0 / 15.0, 100.0],
    })


def test_units_and_order():
    t = aggregate.summary_table(_areas(), townships=["甲镇", "乙镇"])
    assert t["township"].tolist() == ["甲镇", "甲镇", "乙镇", aggregate.OUTSIDE]
    # Report order within a township: afforestation before mine remediation.
    assert t["category"].tolist()[:2] == ["afforestation", "mine_remediation"]
    assert t.loc[t["township"] == "乙镇", "area_mu"].item() == pytest.approx(9.0)
    assert t.loc[t["township"] == "乙镇", "area_ha"].item() == pytest.approx(0.6)
    assert t["area_mu"].iloc[0] == pytest.approx(1.0)


def test_county_totals_add_townships_and_outside():
    tot = aggregate.county_totals(aggregate.summary_table(_areas()))
    aff = tot[tot["category"] == "afforestation"].iloc[0]
    assert aff["count"] == 4
    assert aff["area_m2"] == pytest.approx(6000 + 10000 / 15 + 100)


def test_township_totals_list_every_township():
    t = aggregate.township_totals(aggregate.summary_table(_areas()),
                                  townships=["甲镇", "乙镇", "丙镇"])
    assert t["township"].tolist() == ["甲镇", "乙镇", "丙镇"]
    assert t["area_mu"].tolist() == pytest.approx([1.0 + 3.0, 9.0, 0.0])


def test_records_use_codes_and_display_uses_chinese():
    t = aggregate.summary_table(_areas())
    rec = aggregate.summary_records(t)[0]
    assert set(rec) >= {"township", "category", "year", "count", "area_mu", "area_ha"}
    assert rec["category"] in ("afforestation", "mine_remediation")
    shown = aggregate.display_table(t)
    assert list(shown.columns) == ["乡镇", "类别", "年度", "小班数", "面积(亩)", "面积(公顷)"]
    assert "人工造林" in set(shown["类别"])
    assert shown["乡镇"].iloc[-1] == "全县"
    en = aggregate.display_table(t, lang="en")
    assert "Afforestation" in set(en["Category"])


def _kinds():
    # Hand-made: 甲镇 has 15 + 3 mu of restoration, a 30-mu inspection patch and two
    # patrol areas of 1000 mu; 乙镇 has 6 mu of restoration and one patch of 1.5 mu.
    m2 = 10000.0 / 15.0  # one mu
    return aggregate.summary_table(pd.DataFrame({
        "township": ["甲镇", "甲镇", "甲镇", "甲镇", "乙镇", "乙镇"],
        "category": ["afforestation", "mine_remediation", "forest_inspection_patch",
                     "forest_ranger", "afforestation", "forest_inspection_patch"],
        "year": [2023] * 6,
        "count": [2, 1, 1, 2, 1, 1],
        "area_m2": [15 * m2, 3 * m2, 30 * m2, 1000 * m2, 6 * m2, 1.5 * m2],
    }), townships=["甲镇", "乙镇", "丙镇"])


def test_restoration_totals_leave_patches_and_patrol_areas_out():
    t = aggregate.township_totals(_kinds(), townships=["甲镇", "乙镇", "丙镇"])
    assert t["area_mu"].tolist() == pytest.approx([18.0, 6.0, 0.0])
    assert t["count"].tolist() == [3, 1, 0]
    patches = aggregate.township_totals(_kinds(), townships=["甲镇", "乙镇"],
                                        kind="inspection")
    assert patches["area_mu"].tolist() == pytest.approx([30.0, 1.5])


def test_township_pivot_keeps_each_kind_in_its_own_columns():
    p = aggregate.township_pivot(_kinds(), townships=["甲镇", "乙镇", "丙镇"])
    assert list(p.columns) == ["人工造林", "历史遗留废弃矿山生态修复", "修复面积(亩)",
                               "问题图斑(个)", "问题图斑面积(亩)", "巡护区(片)"]
    assert list(p.index) == ["甲镇", "乙镇", "丙镇", "全县"]
    assert p.loc["甲镇", "修复面积(亩)"] == pytest.approx(18.0)
    assert p.loc["全县", "修复面积(亩)"] == pytest.approx(24.0)
    assert p.loc["全县", "问题图斑(个)"] == 2
    assert p.loc["全县", "问题图斑面积(亩)"] == pytest.approx(31.5)
    assert p.loc["甲镇", "巡护区(片)"] == 2
    assert p.loc["丙镇"].sum() == 0
    en = aggregate.township_pivot(_kinds(), townships=["甲镇", "乙镇"], lang="en")
    assert "Restoration area (mu)" in en.columns and en.index[-1] == "County"


def test_display_table_prints_mu_to_one_decimal_and_ha_to_two():
    shown = aggregate.display_table(_kinds(), total=False)
    # 1.5 mu = 1000 m² = 0.1 ha exactly; 15 mu = 1 ha.
    assert shown["面积(亩)"].tolist()[:2] == [15.0, 3.0]
    assert shown.loc[shown["面积(亩)"] == 1.5, "面积(公顷)"].item() == 0.1
    assert shown["面积(公顷)"].iloc[0] == 1.0
    # 1000 mu = 666 666.67 m² = 66.666 7 ha, shown as 66.67.
    assert shown.loc[shown["面积(亩)"] == 1000.0, "面积(公顷)"].item() == 66.67
