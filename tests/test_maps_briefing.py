"""The briefing page and the map commands of the CLI (formats, basemaps, errors)."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from ecomap import api, maps
from ecomap.cli import cli
from ecomap.maps._assets import asset_report
from ecomap.maps._briefing import area_text, report_sentences
from ecomap.store import Provenance, open_store
from tests.conftest import known_plots, two_townships
from tests.test_maps import plot_layers, text_of


@pytest.mark.parametrize(("mu", "text"), [(6460.02, "6460亩"), (14_700.0, "1.47万亩"),
                                          (29_100.4, "2.91万亩"), (5312.3, "5312.3亩"),
                                          (362.0, "362亩"), (0.0, "0亩")])
def test_areas_are_written_as_the_report_writes_them(mu, text):
    assert area_text(mu) == text


def test_report_sentences_fill_in_the_figures():
    summary = pd.DataFrame([
        # township, category, year, count, area_m2 (mu = m2 * 0.0015)
        ("甲镇", "afforestation", 2023, 40, 4_000_000.0),
        ("乙镇", "afforestation", 2023, 22, 306_666.67),
        ("甲镇", "soil_erosion_control", 2023, 9, 6_250_000.0),
        ("乙镇", "forest_inspection_patch", 2023, 35, 211_933.5),
        ("乙镇", "forest_ranger", 2023, 376, 9.0e8),
    ], columns=["township", "category", "year", "count", "area_m2"])
    summary["area_mu"] = summary["area_m2"] * 0.0015
    summary["area_ha"] = summary["area_m2"] / 1e4
    lead, done, apart, rank = report_sentences(summary, county="大余县", year=2023,
                                               townships=["甲镇", "乙镇"])
    # Restoration plots only: 40 + 22 + 9, and 6000 + 460 + 9375 = 15 835 mu of them;
    # patches and patrol areas are not works.
    assert lead == "2023年，大余县共上图生态修复小班71个，修复面积1.58万亩。"
    assert done == "完成人工造林6460亩、小流域水土流失治理6.25平方公里。"
    # 211 933.5 m² of patches = 317.9 mu, named apart.
    assert apart == ("另有森林督查问题图斑35个(317.9亩)、生态护林员巡护区376片，单列统计，"
                     "不计入修复面积。")
    # Only restoration work is ranked: 甲 has 6000 + 9375 mu, 乙 460 (its 317.9 mu of
    # inspection patches and the patrol areas are not restoration).
    assert rank == "按乡镇统计，修复面积最大的是甲镇(1.54万亩)，其次是乙镇(460亩)。"


def test_briefing_holds_sentences_tables_charts_and_every_map(filled_store):
    page = api.briefing(filled_store, year=2023)
    html = maps.to_html(page)
    assert asset_report(html) == []
    text = text_of(html)
    assert html.count('data-ecomap-asset="leaflet@1.9.3/dist/leaflet.js"') == 1
    assert text.count("ecomap.finish(") == 3  # county + 甲镇 + 乙镇
    # S-30-70 1 000 000 m² + HOLE 960 000 m² = 2940 mu; MULTI 130 000 m² = 195 mu.
    assert "生态修复“落地上图”简报" in text
    assert "完成人工造林2940亩、历史遗留废弃矿山生态修复195亩。" in text
    assert text.count('<svg class="ecomap-chart"') == 2
    assert "甲镇汇总" in text and "乙镇汇总" in text and "四、分乡镇统计" in text
    assert "@page { size: A4 portrait" in text and "break-before: page" in text
    layers = plot_layers(html)  # last layer of each title wins: the 乙镇 map
    assert set(layers["人工造林"]["cols"]["plot_id"]) == {"S-30-70"}


# -------------------------------------------------------------------------------- CLI


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("ECOMAP_STORE", "ECOMAP_LANG", "ECOMAP_TIANDITU_KEY"):
        monkeypatch.delenv(var, raising=False)
    with open_store(tmp_path / "ecomap.gpkg", create=True) as st:
        st.write_townships(two_townships(), provenance=Provenance("towns.geojson"))
        st.add_plots(known_plots(), provenance=Provenance("plots.geojson"))
    return tmp_path


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)


@pytest.mark.parametrize("cmd", [["briefing"], ["map", "county"], ["map", "township"]])
def test_help(cmd):
    r = run(*cmd, "--help")
    assert r.exit_code == 0 and "--basemap" in r.output


def test_embed_and_basemaps_from_the_cli(workdir):
    r = run("map", "county", "--embed")
    assert r.exit_code == 0, r.output
    snippet = (workdir / "maps" / "county.embed.html").read_text(encoding="utf-8")
    assert snippet.startswith("<iframe")
    r = run("map", "township", "甲镇", "--basemap", "gaode", "-o", "g.html")
    assert r.exit_code == 0, r.output
    assert "autonavi" in (workdir / "g.html").read_text(encoding="utf-8")
    r = run("map", "county", "--basemap", "tianditu")
    assert r.exit_code == 2 and "ECOMAP_TIANDITU_KEY" in r.output
    r = run("map", "county", "--basemap", "tianditu", "-o", "t.html",
            env={"ECOMAP_TIANDITU_KEY": "0123456789abcdef0123456789abcdef"})
    assert r.exit_code == 0, r.output
    assert "tk=0123456789abcdef0123456789abcdef" in text_of(
        (workdir / "t.html").read_text(encoding="utf-8"))


def test_one_format_at_a_time(workdir):
    r = run("map", "county", "--png", "--pdf")
    assert r.exit_code == 64 and "只能选一种输出格式" in r.output  # EX_USAGE
    r = run("map", "county", "--png", "--pdf", "--lang", "en")
    assert r.exit_code == 64 and "choose one output format, not png and pdf" in r.output


def test_briefing_command(workdir):
    r = run("briefing", "--year", "2023", "-o", "out")
    assert r.exit_code == 0, r.output
    html = (workdir / "out" / "briefing.html").read_text(encoding="utf-8")
    assert "简报" in text_of(html) and asset_report(html) == []
