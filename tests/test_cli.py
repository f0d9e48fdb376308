"""The CLI through click's runner, from a temporary working directory."""

import json

import pytest
from click.testing import CliRunner

from ecomap.cli import cli
from ecomap.store import Provenance, open_store
from tests.conftest import known_plots, two_townships


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A working directory holding ecomap.gpkg with the known plots."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ECOMAP_STORE", raising=False)
    monkeypatch.delenv("ECOMAP_LANG", raising=False)
    with open_store(tmp_path / "ecomap.gpkg", create=True) as st:
        st.write_townships(two_townships(), provenance=Provenance("towns.geojson"))
        st.add_plots(known_plots(), provenance=Provenance("plots.geojson"))
    return tmp_path


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("cmd", [[], ["demo"], ["summary"], ["map"], ["map", "county"],
                                 ["map", "township"], ["batches"], ["rollback"]])
def test_help_on_every_command(cmd):
    r = run(*cmd, "--help")
    assert r.exit_code == 0
    assert "Usage:" in r.output


def test_summary_json_from_the_default_store(workdir):
    r = run("summary", "--year", "2023", "--format", "json")
    assert r.exit_code == 0, r.output
    recs = json.loads(r.output)
    jia = {x["category"]: x for x in recs if x["township"] == "甲镇"}
    # 300 000 + 960 000 m² = 1890 mu = 126 ha.
    assert jia["afforestation"]["area_mu"] == pytest.approx(1890.0, abs=0.01)
    assert jia["afforestation"]["area_ha"] == pytest.approx(126.0, abs=1e-4)
    assert {x["year"] for x in recs} == {2023}


def test_summary_table_csv_and_xlsx(workdir):
    r = run("summary")
    assert "甲镇" in r.output and "人工造林" in r.output and "全县" in r.output
    assert run("summary", "--format", "csv", "-o", "out.csv").exit_code == 0
    text = (workdir / "out.csv").read_bytes().decode("utf-8-sig")
    assert text.splitlines()[0] == "乡镇,类别,年度,小班数,面积(亩),面积(公顷)"
    assert run("summary", "--format", "xlsx", "-o", "out.xlsx").exit_code == 0
    import openpyxl

    ws = openpyxl.load_workbook(workdir / "out.xlsx").active
    assert ws.cell(1, 1).value == "乡镇"


def test_maps_are_written(workdir):
    r = run("map", "county")
    assert r.exit_code == 0, r.output
    html = (workdir / "maps" / "county.html").read_text(encoding="utf-8")
    assert "S-30-70" in html
    r = run("map", "township", "甲镇", "-o", "jia.html")
    assert r.exit_code == 0
    assert "甲镇" in (workdir / "jia.html").read_text(encoding="utf-8")


def test_unknown_township_names_the_choices(workdir):
    r = run("map", "township", "丙镇")
    assert r.exit_code == 2
    assert "丙镇" in r.output and "甲镇" in r.output


def test_missing_store_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ECOMAP_STORE", raising=False)
    r = run("summary")
    assert r.exit_code == 2
    assert "ecomap demo" in r.output


def test_store_from_environment(workdir, monkeypatch, tmp_path_factory):
    other = tmp_path_factory.mktemp("elsewhere")
    (workdir / "ecomap.gpkg").rename(other / "s.gpkg")
    monkeypatch.setenv("ECOMAP_STORE", str(other / "s.gpkg"))
    assert run("summary", "--format", "json").exit_code == 0


def test_batches_and_rollback(workdir):
    r = run("batches")
    assert "plots.geojson" in r.output
    r = run("rollback", "2")
    assert r.exit_code == 0 and "4 plots" in r.output
    assert json.loads(run("summary", "--format", "json").output) == []
    assert run("rollback", "2").exit_code == 2
