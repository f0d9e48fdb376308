"""Messages in the user's language: Simplified Chinese by default, English on request
(``--lang en`` on the command or the group, ``ECOMAP_LANG=en``, ``?lang=en`` on the web),
in the CLI table, the JSON and HTML reports and the web review page.  Codes stay
English whatever the language.

The test file holds one plot of 100 m × 100 m (10 000 m² = 15 亩) and one bow-tie of
200 m: two triangles of 200 × 100 / 2 m² each, 20 000 m² = 30 亩 once repaired.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from ecomap.checks import Report, report_html, status_line
from ecomap.cli import cli
from ecomap.errors import ValidationError
from ecomap.i18n import tr, use_lang
from ecomap.ingest import validate_file
from ecomap.web import create_app
from tests.uploads import bowtie, frame, plot, shp_members, standard_rows, write_shp, zip_files
from tests.webapp import add_accounts, make_settings, sign_in


@pytest.fixture(autouse=True)
def default_language(monkeypatch):
    """No language chosen by the environment: the default (Chinese) is in force."""
    monkeypatch.delenv("ECOMAP_LANG", raising=False)


def bowtie_file(tmp_path):
    """XB001: a 100 m square (15 亩); XB002: a 200 m bow-tie (repaired: 30 亩)."""
    return write_shp(frame(standard_rows(2), [plot(-3000, 1000), bowtie(-1000, 1000)]),
                     tmp_path / "造林.shp")


def validate(tmp_path, *args, group=(), env=None):
    """``ecomap [GROUP OPTIONS] validate 造林.shp … ARGS`` on :func:`bowtie_file`, against
    the ``store`` fixture's store."""
    shp = bowtie_file(tmp_path)
    return CliRunner().invoke(cli, [*group, "validate", str(shp), "--store",
                                    str(tmp_path / "test.gpkg"), "--category",
                                    "afforestation", "--year", "2023", *args], env=env)


def no_wrap(text: str) -> str:
    """The CLI table wraps long messages: one line of words again."""
    return re.sub(r"[\s│┃|]+", " ", text)


ZH_REPAIRED = "图形无效 (自相交"
ZH_REPAIRED_AREA = "已自动修复, 修复后面积 30.00 亩"
EN_REPAIRED_AREA = "repaired, area now 30.00 mu"


# --- the command line --------------------------------------------------------------------

def test_cli_validate_table_and_json_report_in_chinese_by_default(tmp_path, store,
                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = validate(tmp_path, "--report", "r.json")
    assert r.exit_code == 1, r.output  # accepted with a warning
    out = no_wrap(r.output)
    assert "通过(有警告)" in out and "读取 2 个要素, 接受 2 个, 面积 45.0 亩" in out
    assert ZH_REPAIRED in out and ZH_REPAIRED_AREA in out
    assert "小班 XB002" in out and "警告" in out and "repaired_geometry" in out
    assert "repaired, area" not in out and "warning" not in out
    j = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    [p] = j["problems"]
    assert (p["severity"], p["code"], p["feature"], p["field"]) == (
        "warning", "repaired_geometry", "XB002", None)
    assert p["message"].startswith("造林.shp: 小班 XB002: 图形无效 (自相交")
    assert p["message"].endswith(ZH_REPAIRED_AREA + " — 请核对图形")


@pytest.mark.parametrize("how", ["command", "group", "env"])
def test_cli_in_english_on_request(tmp_path, store, monkeypatch, how):
    monkeypatch.chdir(tmp_path)
    if how == "command":
        r = validate(tmp_path, "--report", "r.json", "--lang", "en")
    elif how == "group":
        r = validate(tmp_path, "--report", "r.json", group=("--lang", "en"))
    else:
        r = validate(tmp_path, "--report", "r.json", env={"ECOMAP_LANG": "en"})
    assert r.exit_code == 1, r.output
    out = no_wrap(r.output)
    assert "accepted with warnings; 2 features read, 2 accepted, 45.0 mu" in out
    assert "plot XB002: invalid (Self-intersection" in out and EN_REPAIRED_AREA in out
    assert "图形无效" not in out and "通过" not in out
    [p] = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["problems"]
    assert (p["severity"], p["code"], p["feature"]) == ("warning", "repaired_geometry", "XB002")
    assert p["message"].endswith(EN_REPAIRED_AREA + " — check the shape")


def test_the_command_language_wins_over_the_environment(tmp_path, store, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = validate(tmp_path, "--lang", "zh", env={"ECOMAP_LANG": "en"})
    assert ZH_REPAIRED_AREA in no_wrap(r.output) and EN_REPAIRED_AREA not in r.output


def test_a_file_problem_is_reported_in_the_command_language(tmp_path, store, monkeypatch):
    monkeypatch.chdir(tmp_path)
    zh = validate(tmp_path, "--crs", "EPSG:nonsense")
    en = validate(tmp_path, "--crs", "EPSG:nonsense", "--lang", "en")
    assert zh.exit_code == en.exit_code == 2
    assert "拒绝(未入库)" in zh.output and "无法识别的坐标系 'EPSG:nonsense'" in no_wrap(zh.output)
    assert "unknown coordinate reference system 'EPSG:nonsense'" in no_wrap(en.output)
    assert "unknown coordinate" not in zh.output


# --- the header of a rejected file -----------------------------------------------------

def test_a_rejected_file_reports_nothing_stored(tmp_path, store):
    """--strict rejects on the bow-tie's warning: both plots passed their own checks
    (15 + 30 = 45 亩) but nothing is stored, and the header says so."""
    out = validate_file(bowtie_file(tmp_path), store, category="afforestation", year=2023,
                        strict=True)
    j = out.to_json()
    assert j["status"] == "reject"
    assert (j["accepted_features"], j["area_mu"], j["by_township"]) == (0, 0.0, {})
    assert j["checked_area_mu"] == pytest.approx(45.0, abs=1e-3)
    zh, en = status_line(out, lang="zh"), status_line(out, lang="en")
    assert "拒绝(未入库); 读取 2 个要素, 入库 0 个, 入库面积 0 亩" in zh
    assert "检查通过的要素共 45.0 亩, 也未入库" in zh and "接受" not in zh
    assert "rejected, nothing stored; 2 features read, 0 stored, 0 mu stored" in en
    assert "45.0 mu, are not stored either" in en


def test_an_accepted_file_counts_what_is_stored(tmp_path, store):
    out = validate_file(bowtie_file(tmp_path), store, category="afforestation", year=2023)
    j = out.to_json()
    assert (j["status"], j["accepted_features"]) == ("warn", 2)
    assert j["area_mu"] == j["checked_area_mu"] == pytest.approx(45.0, abs=1e-3)
    assert j["by_township"] == {"甲镇": pytest.approx(45.0, abs=1e-3)}


# --- the HTML report and errors ------------------------------------------------------------

def test_html_report_in_both_languages(tmp_path, store):
    out = validate_file(bowtie_file(tmp_path), store, category="afforestation", year=2023)
    zh = report_html(out)
    assert '<html lang="zh"' in zh and "数据检查报告" in zh and ZH_REPAIRED_AREA in zh
    assert "<td>警告</td><td>repaired_geometry</td>" in zh and EN_REPAIRED_AREA not in zh
    with use_lang("en"):
        en = report_html(out)
    assert "Validation report" in en and EN_REPAIRED_AREA in en and "图形无效" not in en
    assert "<td>warning</td><td>repaired_geometry</td>" in en


def test_validation_error_renders_in_the_language_in_force():
    report = Report("造林.shp")
    report.add("error", "no_year", tr("{f}: 没有年度", "{f}: no year", f="造林.shp"))
    with pytest.raises(ValidationError) as caught:
        report.raise_if_errors()
    assert str(caught.value) == "造林.shp: 1 个问题, 未入库:\n  - 造林.shp: 没有年度"
    with use_lang("en"):
        assert str(caught.value) == ("造林.shp: 1 problem(s), nothing was stored:\n"
                                     "  - 造林.shp: no year")


def test_languages_do_not_leak_between_commands(tmp_path, store, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert EN_REPAIRED_AREA in no_wrap(validate(tmp_path, "--lang", "en").output)
    assert ZH_REPAIRED_AREA in no_wrap(validate(tmp_path).output)


# --- the web review page -------------------------------------------------------------------

@pytest.fixture
def web(tmp_path):
    app = create_app(make_settings(tmp_path), staging_root=tmp_path / "staging")
    add_accounts(app)
    with TestClient(app, base_url="http://ecomap.local") as c:
        yield c


def upload_bowtie(c, tmp_path) -> str:
    csrf = sign_in(c, "编辑甲")
    zipped = zip_files(tmp_path / "造林小班.zip", shp_members(bowtie_file(tmp_path)))
    with open(zipped, "rb") as f:
        r = c.post(f"/upload?csrf={csrf}", data={"category": "afforestation", "year": "2023",
                                                 "csrf": csrf},
                   files={"file": ("造林小班.zip", f, "application/zip")},
                   follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"]


def test_web_review_shows_chinese_messages_by_default_and_english_on_request(web, tmp_path):
    where = upload_bowtie(web, tmp_path)
    zh = web.get(where).text
    assert "造林小班.zip: 小班 XB002: 图形无效 (自相交" in zh and ZH_REPAIRED_AREA in zh
    assert "<td>警告</td><td>repaired_geometry</td>" in zh and EN_REPAIRED_AREA not in zh
    en = web.get(where + "?lang=en").text
    assert "造林小班.zip: plot XB002: invalid (Self-intersection" in en
    assert EN_REPAIRED_AREA in en and "图形无效" not in en
    # The choice is kept (a cookie) for the next pages; 中文 switches back.
    assert EN_REPAIRED_AREA in web.get(where).text
    assert ZH_REPAIRED_AREA in web.get(where + "?lang=zh").text


def test_web_api_report_follows_the_request_language(web, tmp_path):
    where = upload_bowtie(web, tmp_path)
    token = where.rsplit("/", 1)[-1]
    zh = web.get(f"/api/uploads/{token}").json()
    en = web.get(f"/api/uploads/{token}?lang=en").json()
    assert zh["problems"][0]["message"].endswith(ZH_REPAIRED_AREA + " — 请核对图形")
    assert en["problems"][0]["message"].endswith(EN_REPAIRED_AREA + " — check the shape")
    drop = ("message",)
    assert [{k: v for k, v in p.items() if k not in drop} for p in zh["problems"]] == \
        [{k: v for k, v in p.items() if k not in drop} for p in en["problems"]] == \
        [{"severity": "warning", "code": "repaired_geometry", "feature": "XB002",
          "field": None}]
    assert {k: v for k, v in zh.items() if k != "problems"} == \
        {k: v for k, v in en.items() if k != "problems"}


def test_errors_of_a_command_without_lang_follow_the_group_option(tmp_path, store):
    """'rollback' has no --lang: 'ecomap --lang en rollback …' and ECOMAP_LANG still apply."""
    args = ["rollback", "99", "--store", str(tmp_path / "test.gpkg")]
    zh = CliRunner().invoke(cli, args)
    en = CliRunner().invoke(cli, ["--lang", "en", *args])
    env = CliRunner().invoke(cli, args, env={"ECOMAP_LANG": "en"})
    assert zh.exit_code == en.exit_code == env.exit_code == 2
    assert "中没有批次 99; 'ecomap batches' 列出全部批次" in zh.output
    assert "no batch 99 in" in en.output and "no batch 99 in" in env.output
    assert "批次" not in en.output


# --- command output and errors outside the upload path -------------------------------------

def test_demo_closing_block_in_chinese_by_default_and_english_on_request(tmp_path):
    """The closing block of 'ecomap demo': county totals and the two water statements."""
    from pathlib import Path

    geodata = Path(__file__).resolve().parents[1] / "geodata"
    args = ["demo", "--geodata", str(geodata), "--store", str(tmp_path / "demo.gpkg"),
            "--out", str(tmp_path / "maps")]
    zh = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert zh.exit_code == 0, zh.output
    assert "全县汇总 (按入库小班计算; 方括号内为报告数):" in zh.output
    assert "年水质 (GB 3838-2002, 按入库样品年均值评价; 方括号内为报告表述):" in zh.output
    assert "饮用水源地：" in zh.output and "地表水：" in zh.output and "类或更好]" in zh.output
    assert re.search(r"已写出 \d+ 个文件:", zh.output) and "个图斑" in zh.output
    assert "county totals" not in zh.output and "water quality" not in zh.output
    assert "6,460.0 亩  [6,460.0]  ✓" in zh.output and "✗" not in zh.output

    en = CliRunner().invoke(cli, [*args, "--lang", "en"], catch_exceptions=False)
    assert en.exit_code == 0, en.output
    assert "county totals (computed from the stored plots; reported figure in brackets):" \
        in en.output
    assert re.search(r"water quality \d{4} \(GB 3838-2002, annual means of the stored "
                     r"samples; reported statement in brackets\):", en.output)
    assert "drinking-water sources: " in en.output and "surface water: " in en.output
    assert "or better]" in en.output and " plots " in en.output
    assert "6,460.0 mu  [6,460.0]  ✓" in en.output and "亩" not in en.output
    assert re.search(r"wrote \d+ files:", en.output)
    assert "全县汇总" not in en.output and "饮用水源地" not in en.output
    assert "✗" not in en.output


def test_raster_error_in_chinese_by_default_and_english_on_request(tmp_path, filled_store,
                                                                    store_path):
    args = ["zonal", str(tmp_path / "missing.tif"), "--store", str(store_path)]
    zh = CliRunner().invoke(cli, args)
    en = CliRunner().invoke(cli, [*args, "--lang", "en"])
    assert zh.exit_code == en.exit_code == 2
    assert "missing.tif: 文件不存在" in zh.output and "请检查路径" in zh.output
    assert "missing.tif: no such file" in en.output and "check the path" in en.output
    assert "文件不存在" not in en.output


def test_export_errors_in_chinese_by_default_and_english_on_request(tmp_path, filled_store,
                                                                    store_path, monkeypatch):
    # PNG export without Chromium: the message says how to get it, in the user's language.
    monkeypatch.setenv("ECOMAP_CHROMIUM", str(tmp_path / "no-chromium-here"))
    args = ["map", "county", "--png", "-o", str(tmp_path / "county.png"),
            "--store", str(store_path)]
    zh = CliRunner().invoke(cli, args)
    en = CliRunner().invoke(cli, [*args, "--lang", "en"])
    assert zh.exit_code == en.exit_code == 2
    assert "no-chromium-here 不存在; 请指向 Chromium 或 Chrome 程序" in zh.output
    assert "no-chromium-here does not exist; point it at a Chromium or Chrome binary" \
        in en.output
    assert not (tmp_path / "county.png").exists()
    # A table written under a name that is not .csv, .xlsx or .json.
    import pandas as pd

    from ecomap.errors import InputError
    from ecomap.io.export import write_table

    with pytest.raises(InputError) as exc:
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "summary.txt")
    assert str(exc.value) == "无法把表格写入 summary.txt: 文件名请以 .csv、.xlsx 或 .json 结尾"
    with use_lang("en"):
        assert str(exc.value) == "cannot write a table to summary.txt: use a .csv, .xlsx or " \
                                 ".json name"
    assert not (tmp_path / "summary.txt").exists()
