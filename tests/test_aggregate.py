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
