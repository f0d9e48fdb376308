"""The Dayu demo end to end, checked against the county's 2023 report."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ecomap import api
from ecomap.store import open_store

ROOT = Path(__file__).resolve().parents[1]


def reported() -> dict[str, tuple[float, str]]:
    with open(ROOT / "geodata" / "report_2023.csv", encoding="utf-8") as f:
        return {r["code"]: (float(r["quantity"]), r["unit"]) for r in csv.DictReader(f)
                if r["unit"] in ("mu", "km2", "patches", "persons")}


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    """`ecomap demo` run once, as a user runs it, in a fresh working directory."""
    work = tmp_path_factory.mktemp("demo")
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(work), "LANG": "C.UTF-8",
           # The ecomap under test, when it is not the installed one (a worktree).
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "ecomap", "demo", "--geodata",
                           str(ROOT / "geodata")], cwd=work, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (work / "demo-stdout.txt").write_text(proc.stdout, encoding="utf-8")
    return work


def test_county_totals_equal_the_report(demo_dir):
    with open_store(demo_dir / "ecomap.gpkg") as st:
        table = api.summary(st, year=2023)
    by_cat = table.groupby("category")[["area_mu", "count"]].sum()
    checked = 0
    for code, (quantity, unit) in reported().items():
        if code not in by_cat.index:
            continue
        checked += 1
        if unit == "mu":
            assert by_cat.loc[code, "area_mu"] == pytest.approx(quantity, abs=0.05), code
        elif unit == "km2":  # 1 km² = 1500 mu
            assert by_cat.loc[code, "area_mu"] / 1500 == pytest.approx(quantity, abs=5e-5)
        else:  # patches, persons: one polygon each
            assert by_cat.loc[code, "count"] == quantity, code
    assert checked == 10


def test_demo_prints_totals_and_writes_every_output(demo_dir):
    out = (demo_dir / "demo-stdout.txt").read_text(encoding="utf-8")
    assert "6,460.0 亩" in out and "✗" not in out
    # The targets of geodata/targets_2023.xlsx equal the report's figures, and the plots
    # meet them: the sentence is computed from the stored targets and plots.
    assert "2023 年任务完成情况" in out and "均已完成上级下达任务" in out
    maps = demo_dir / "maps"
    for name in ("county.html", "summary.csv", "summary.xlsx", "summary.json",
                 "water_sites.csv", "patches_2022.html"):
        assert (maps / name).stat().st_size > 0, name
    assert len(list((maps / "township").glob("*.html"))) == 11
    recs = json.loads((maps / "summary.json").read_text(encoding="utf-8"))
    assert {"township", "category", "year", "count", "area_mu", "area_ha"} <= set(recs[0])


def test_demo_briefing_names_an_example_issuer_and_its_data(demo_dir):
    html = (demo_dir / "maps" / "briefing.html").read_text(encoding="utf-8")
    assert "编制单位：大余县林业局（示例）" in html
    # Batches 1–2 are the county and townships; 3–12 the 2023 plots; 13–28 the illustrative
    # 2021–2022 plots (not of the briefing's year); 29 the targets; 30 the water samples.
    assert ("数据来源：大余县2023年生态修复小班数据（入库批次 3–5、8–12）、2023年森林督查问题图斑"
            "（批次 6）、生态护林员巡护区（批次 7）、2023年水质监测数据（批次 30）。") in html
    assert "数据来源：geodata" not in html


def test_demo_water_sites_meet_their_targets(demo_dir):
    text = (demo_dir / "maps" / "water_sites.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines()))
    assert rows and all(r["是否达标"] == "是" for r in rows)
    # "surface water class II or better" in the 2023 report.
    assert all(r["水质类别"] in ("I", "II") for r in rows)


def test_demo_refuses_to_overwrite_a_users_store(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from ecomap.cli import cli
    from ecomap.store import Provenance
    from tests.conftest import two_townships

    monkeypatch.chdir(tmp_path)
    with open_store(tmp_path / "ecomap.gpkg", create=True) as st:
        st.write_townships(two_townships(), provenance=Provenance("official.shp"))
    r = CliRunner().invoke(cli, ["demo", "--geodata", str(ROOT / "geodata")])
    assert r.exit_code == 2
    assert "--overwrite" in r.output
    with open_store(tmp_path / "ecomap.gpkg") as st:
        assert st.townships()["name"].tolist() == ["甲镇", "乙镇"]


@pytest.mark.browser
def test_county_map_draws_in_headless_chromium(demo_dir):
    """The county map in a real Chromium: county, townships, plots, legend; no requests."""
    from tests.chromium import ERROR_PROBE, chromium_binary, js_errors, load_page, page_requests

    chromium_binary()
    html = (demo_dir / "maps" / "county.html").read_text(encoding="utf-8")
    page = demo_dir / "county-probe.html"
    page.write_text(html.replace("<head>", "<head>" + ERROR_PROBE, 1), encoding="utf-8")
    netlog = demo_dir / "netlog.json"
    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    shot = out / "county.png"
    dom = load_page(page, netlog=netlog, size=(1400, 1000), screenshot=shot,
                    ready="document.documentElement.getAttribute('data-ecomap-ready') === '1'")
    assert page_requests(netlog) == []
    assert js_errors(dom) is None
    with open_store(demo_dir / "ecomap.gpkg") as st:
        plots = st.plots(year=2023)
        n_towns = len(st.townships())
    shown = int((plots["category"] != "forest_ranger").sum())  # patrol areas start hidden
    paths = len(re.findall(r'<path[^>]*class="leaflet-interactive"', dom))
    # Every visible plot and every township drawn, and the county outline — a line that
    # takes no clicks, so not "interactive" — above them.
    assert paths >= shown + n_towns
    assert re.search(r'<path stroke="#212121"[^>]*stroke-width="3"[^>]*fill="none"', dom)
    for css in ("ecomap-legend-choropleth", "ecomap-legend-plots", "ecomap-legend-water",
                "ecomap-title", "leaflet-control-layers", "leaflet-control-scale"):
        assert css in dom, css
    assert "人工造林" in dom and "乡镇界为示意" in dom
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_demo_store_holds_its_qgis_styles_and_project(demo_dir):
    import io
    import sqlite3
    import zipfile

    with sqlite3.connect(demo_dir / "ecomap.gpkg") as con:
        styles = {r[0] for r in con.execute("SELECT f_table_name FROM layer_styles "
                                            "WHERE styleName = 'ecomap' AND useAsDefault")}
        (content,) = con.execute("SELECT content FROM qgis_projects "
                                 "WHERE name = 'ecomap'").fetchone()
    assert styles == {"county", "townships", "water_sites", "plots"}
    archive = zipfile.ZipFile(io.BytesIO(bytes.fromhex(content)))
    xml = archive.read(archive.namelist()[0]).decode("utf-8")
    # The layers are read from the demo store under its final name, not the one it
    # was built under; the plots of the latest year (2023), as on the county map.
    assert '<datasource>./ecomap.gpkg|layername=plots|subset="year" = 2023</datasource>' in xml
    assert "大余县生态修复“落地上图”(2023)" in xml


def test_demo_progress_json_gives_each_categorys_county_target_done_and_rate(demo_dir):
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(demo_dir), "LANG": "C.UTF-8",
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "ecomap", "progress", "--year", "2023",
                           "--by", "county", "--format", "json"], cwd=demo_dir, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = {r["category"]: r for r in json.loads(proc.stdout)}
    # Every restoration category of the report has its county task from the targets
    # table, equal to the report's figure (read here from report_2023.csv), all met.
    for code, (quantity, unit) in reported().items():
        if unit not in ("mu", "km2") or code not in rows:
            continue
        assert rows[code]["township"] is None
        assert rows[code]["target"] == pytest.approx(quantity), code
        assert rows[code]["done"] == pytest.approx(quantity, abs=0.05), code
        assert rows[code]["rate"] == 100.0 and rows[code]["met"] is True, code
    assert set(rows) >= {"afforestation", "soil_erosion_control", "understory_planting"}


def test_demo_reports_the_2022_patches_rectified_from_their_stored_statuses(demo_dir):
    # geodata/patches_2022.zip (35 patches) and patch_events_2022.xlsx (all 违法, 已整改 or
    # 已销号) stored through `patches import` and `update-from`.
    sentence = "2022年度森林督查问题图斑35个，已全部完成整改。"
    assert sentence in (demo_dir / "demo-stdout.txt").read_text(encoding="utf-8")
    assert sentence in (demo_dir / "maps" / "briefing.html").read_text(encoding="utf-8")
    with open_store(demo_dir / "ecomap.gpkg") as st:
        patches = st.patches(year=2022)
        events = st.patch_events(year=2022)
    assert len(patches) == 35 and patches["patch_id"].is_unique
    last = events.drop_duplicates(["patch_id", "field"], keep="last")
    status = last[last["field"] == "status"].set_index("patch_id")["value"]
    assert len(status) == 35 and set(status) == {"已整改", "已销号"}
