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


def test_summary_by_township_keeps_inspection_patches_out_of_restoration(workdir):
    # A 100 m × 100 m inspection patch in 乙镇 (15 mu) beside the known plots.
    from tests.conftest import gk_frame, plot

    patch = gk_frame([{"plot_id": "P1", "category": "forest_inspection_patch", "year": 2023}],
                     [plot(3000, 8000, 100, 100)])
    with open_store(workdir / "ecomap.gpkg") as st:
        st.add_plots(patch, provenance=Provenance("patches.geojson"))
    r = run("summary", "--year", "2023", "--by-township", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = {x["township"]: x for x in json.loads(r.output)}
    # 甲: 300 000 + 960 000 m² afforestation + 40 000 mine = 1 300 000 m² = 1950 mu.
    assert rows["甲镇"]["restoration_mu"] == pytest.approx(1950.0, abs=0.01)
    # 乙: 700 000 afforestation + 90 000 mine = 1185 mu; the patch is apart.
    assert rows["乙镇"]["restoration_mu"] == pytest.approx(1185.0, abs=0.01)
    assert rows["乙镇"]["patches"] == 1
    assert rows["乙镇"]["patch_mu"] == pytest.approx(15.0, abs=0.01)
    assert rows[None]["restoration_mu"] == pytest.approx(3135.0, abs=0.01)
    assert run("summary", "--year", "2023", "--by-township", "-o", "t.xlsx").exit_code == 0
    import openpyxl

    ws = openpyxl.load_workbook(workdir / "t.xlsx").active
    header = [c.value for c in ws[1]]
    assert header == ["乡镇", "人工造林", "历史遗留废弃矿山生态修复", "修复面积(亩)", "问题图斑(个)",
                      "问题图斑面积(亩)"]
    assert [c.value for c in ws[4]][0] == "全县"


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


# --- conventions: standard output, global options, exit codes ---------------------------

def test_csv_and_json_go_to_standard_output(workdir):
    r = run("summary", "--format", "csv")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0] == "乡镇,类别,年度,小班数,面积(亩),面积(公顷)"
    assert not list(workdir.glob("summary.*"))   # nothing written beside the store
    r = run("summary", "--format", "json", "--year", "2023")
    assert json.loads(r.output)[0]["year"] == 2023


def test_output_format_from_the_file_name(workdir):
    r = run("summary", "-o", "s.json")
    assert r.exit_code == 0 and "已写出 s.json" in r.output
    assert json.loads((workdir / "s.json").read_text(encoding="utf-8"))
    r = run("summary", "-o", "s.txt")
    assert r.exit_code == 64 and ".csv、.xlsx 或 .json" in r.output


def test_xlsx_needs_an_output_file(workdir):
    r = run("summary", "--format", "xlsx")
    assert r.exit_code == 64 and "-o 文件.xlsx" in r.output
    assert not list(workdir.glob("*.xlsx"))


@pytest.mark.parametrize("before", [True, False])
def test_global_options_before_or_after_the_command(workdir, tmp_path_factory, before):
    other = tmp_path_factory.mktemp("elsewhere")
    (workdir / "ecomap.gpkg").rename(other / "s.gpkg")
    opts = ["--store", str(other / "s.gpkg"), "--lang", "en", "-q"]
    r = run(*(opts + ["rollback", "2"] if before else ["rollback", "2", *opts]))
    assert r.exit_code == 0 and "rolled back batch 2" in r.output, r.output
    r = run(*(opts + ["batches"] if before else ["batches", *opts]))
    assert r.exit_code == 0 and "towns.geojson" in r.output


def test_the_command_store_wins_over_the_group_store(workdir):
    r = run("--store", "elsewhere.gpkg", "summary", "--store", "ecomap.gpkg")
    assert r.exit_code == 0 and "甲镇" in r.output


def test_usage_errors_are_not_rejected_input(workdir):
    assert run("--no-such-option").exit_code == 64
    assert run("no-such-command").exit_code == 64
    assert run("rollback").exit_code == 64                  # missing argument
    assert run("summary", "--format", "table", "-o", "x.csv").exit_code == 64
    assert run("rollback", "99").exit_code == 2             # rejected by the store
    r = run("--help")
    assert "Exit codes:" in r.output and "64" in r.output


def test_every_command_has_examples_and_a_whole_summary():
    from ecomap.cli import cli as group

    def leaves(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs is None:
            yield path, cmd
        for name, sub in (subs or {}).items():
            yield from leaves(sub, [*path, name])

    for path, cmd in leaves(group, []):
        assert "Example" in (cmd.help or ""), path
    for cmd in [group, *group.commands.values()]:
        for name, sub in getattr(cmd, "commands", {}).items():
            short = sub.get_short_help_str(limit=200)
            assert not short.endswith(("e.g.", "...", "(e.g.")), (name, short)


def test_quick_summary_is_the_store_summary(workdir):
    from ecomap import api
    from ecomap.cli.summary import _LAYERS, _summary
    from ecomap.store import LAYERS

    assert _LAYERS == LAYERS
    with open_store(workdir / "ecomap.gpkg") as st:
        for year in (None, 2023, 1999):
            expected = api.summary(st, year=year)
            got = _summary("ecomap.gpkg", year)
            assert got.dtypes.to_dict() == expected.dtypes.to_dict()
            assert got.equals(expected), year


@pytest.mark.parametrize("args", [["-v", "summary"], ["summary", "-v"]])
def test_verbose_before_or_after_the_command_shows_the_traceback(workdir, monkeypatch, args):
    import ecomap.aggregate

    def broken(*_a, **_k):
        raise RuntimeError("boom")

    monkeypatch.setattr(ecomap.aggregate, "display_table", broken)
    r = run(*args)
    assert r.exit_code == 3 and "boom" in r.output
    assert "Traceback (most recent call last)" in r.output
    quiet = run("summary")
    assert quiet.exit_code == 3 and "Traceback" not in quiet.output


def test_log_level_is_put_back_after_the_run(workdir):
    import logging

    before = logging.getLogger().level
    assert run("summary", "-vv").exit_code == 0
    assert run("-q", "summary").exit_code == 0
    assert logging.getLogger().level == before


def test_json_numbers_carry_no_binary_noise():
    from ecomap.cli._output import jsonable

    # 0.1 + 0.2 is 0.30000000000000004 in binary; 0.0033 stays 0.0033; an area in m²
    # keeps its centimetres; NaN is null.
    assert jsonable([0.1 + 0.2, 0.0011 * 3, 1346156262.4641, float("nan")]) == [
        0.3, 0.0033, 1346156262.46, None]
