"""The briefing as a document a director signs: title block (issuer, date), a data source
named as people know it, restoration totals that agree with ``ecomap summary``, and a PDF
with page numbers, the issuer, and no heading left alone at the foot of a page."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import subprocess
import zipfile
from html.parser import HTMLParser

import pandas as pd
import pytest
from click.testing import CliRunner

from ecomap import api, maps
from ecomap.cli import cli
from ecomap.errors import InputError
from ecomap.maps._briefing_text import date_text, source_text
from ecomap.schema import CATEGORIES, category_label, is_restoration, kind_of
from ecomap.store import Provenance, open_store
from tests.components import need_chromium, need_component
from tests.conftest import gk_frame, known_plots, plot, write_county_and_townships

# ------------------------------------------------------------------------- a small store


def _store(path):
    """测试县: 甲镇 and 乙镇 with plots of every category, one batch per category (2023).

    Each category has one 400 × 500 m plot in 甲镇 (300 亩) and one 300 × 500 m plot in
    乙镇 (225 亩); afforestation also has a plot straddling the border 300/700.  Patrol
    areas are large (4 × 3 km) — they must never reach 修复面积."""
    with open_store(path, create=True) as st:
        write_county_and_townships(st)
        for i, code in enumerate(CATEGORIES):
            recs, geoms = [], []
            if code == "forest_ranger":
                recs += [{"plot_id": "R-甲", "category": code, "year": 2023},
                         {"plot_id": "R-乙", "category": code, "year": 2023}]
                geoms += [plot(-9500, 6000, 4000, 3000), plot(5000, 6000, 4000, 3000)]
            else:
                recs += [{"plot_id": f"{i}-甲", "category": code, "year": 2023},
                         {"plot_id": f"{i}-乙", "category": code, "year": 2023}]
                geoms += [plot(-9500 + i * 800, 1000, 400, 500),
                          plot(500 + i * 800, 1000, 300, 500)]
            if code == "afforestation":
                recs.append({"plot_id": "S-30-70", "category": code, "year": 2023})
                geoms.append(plot(-300, 3000, 1000, 1000))
            st.add_plots(gk_frame(recs, geoms),
                         provenance=Provenance(f"/srv/uploads/{code}_2023.geojson"))
    return path


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    return _store(tmp_path_factory.mktemp("briefing") / "ecomap.gpkg")


def run(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


class _Tables(HTMLParser):
    """Every table of a page as rows of cell texts, under the caption (h4) before it."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._caption, self._text, self._rows, self._cell = "", "", None, None
        self._in_h4 = False

    def handle_starttag(self, tag, attrs):
        if tag == "h4":
            self._in_h4, self._text = True, ""
        elif tag == "table":
            self._rows = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "h4":
            self._in_h4, self._caption = False, self._text.strip()
        elif tag == "table" and self._rows is not None:
            self.tables.setdefault(self._caption, self._rows)
            self._rows = None
        elif tag in ("td", "th") and self._cell is not None:
            self._rows[-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._in_h4:
            self._text += data
        if self._cell is not None:
            self._cell += data


def tables_of(html: str) -> dict[str, list[list[str]]]:
    p = _Tables()
    p.feed(html)
    return p.tables


def number(text: str) -> float:
    return float(text.replace(",", ""))


# ------------------------------------------------------------------------------ the words


def test_dates_are_written_as_a_document_writes_them():
    assert date_text(dt.date(2026, 12, 7)) == "2026年12月7日"
    assert date_text(dt.date(2026, 12, 7), "en") == "7 December 2026"
    assert api.briefing_date("2026-03-05") == dt.date(2026, 3, 5)
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        api.briefing_date("7/12/2026")


def test_the_source_names_the_data_not_a_folder():
    batches = pd.DataFrame([
        (1, "county", "geodata/county.geojson", None, None),
        (2, "plots", "geodata/plots/a.geojson", "afforestation", 2023.0),
        (3, "plots", "geodata/plots/b.geojson", "mine_remediation", 2023.0),
        (4, "plots", "geodata/plots/c.geojson", "forest_inspection_patch", 2023.0),
        (5, "plots", "geodata/plots/d.geojson", "camellia_planting", 2023.0),
        (6, "plots", "geodata/plots/e.geojson", "forest_ranger", 2023.0),
        (7, "plots", "geodata/plots/old.geojson", "afforestation", 2022.0),
        (8, "water", "geodata/water.csv", None, 2023.0),
    ], columns=["batch_id", "kind", "source_file", "category", "year"])
    text = source_text(batches, county="大余县", year=2023)
    assert text == ("大余县2023年生态修复小班数据（入库批次 2–3、5）、2023年森林督查问题图斑（批次 4）、"
                    "生态护林员巡护区（批次 6）、2023年水质监测数据（批次 8）")
    assert "geodata" not in text
    assert source_text(batches, county="大余县", year=2023, short=True) == \
        "大余县2023年生态修复小班数据等"
    assert source_text(batches, county="Dayu County", year=2023, lang="en").startswith(
        "Dayu County restoration plots 2023 (batches 2–3, 5); ")


def test_title_block_has_issuer_and_date_and_none_without_issuer(filled_store):
    page = maps.to_html(api.briefing(filled_store, year=2023, issuer="测试县林业局",
                                     date="2026-12-07"))
    assert "编制单位：测试县林业局" in page and "2026年12月7日" in page
    assert '<template id="ecomap-pdf-footer">' in page and "测试县林业局</span>" in page
    assert 'class="pageNumber"' in page and 'class="totalPages"' in page
    page = maps.to_html(api.briefing(filled_store, year=2023, date="2026-12-07"))
    assert "编制单位" not in page and "2026年12月7日" in page
    page = maps.to_html(api.briefing(filled_store, year=2023, date="2026-12-07", lang="en"))
    assert "7 December 2026" in page and "Page <span" in page


def test_issuer_and_date_from_the_environment_and_the_options(small_store, tmp_path):
    env = {"ECOMAP_ISSUER": "环境林业局", "ECOMAP_DATE": "2026-01-02"}
    r = CliRunner().invoke(cli, ["briefing", "--store", str(small_store), "-o", str(tmp_path)],
                           env=env, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    html = (tmp_path / "briefing.html").read_text(encoding="utf-8")
    assert "编制单位：环境林业局" in html and "2026年1月2日" in html
    r = CliRunner().invoke(cli, ["briefing", "--store", str(small_store), "-o", str(tmp_path),
                                 "--issuer", "", "--date", "2026-02-03"], env=env)
    html = (tmp_path / "briefing.html").read_text(encoding="utf-8")
    assert "编制单位" not in html and "2026年2月3日" in html
    r = CliRunner().invoke(cli, ["briefing", "--store", str(small_store), "-o", str(tmp_path),
                                 "--date", "3.2.2026"], env=env)
    assert r.exit_code != 0 and "YYYY-MM-DD" in r.output


# --------------------------------------------------- 修复面积 agrees with `ecomap summary`


def test_restoration_area_of_every_township_is_the_summary_of_its_restoration_categories(
        small_store, tmp_path, monkeypatch):
    monkeypatch.delenv("ECOMAP_ISSUER", raising=False)
    records = json.loads(run("summary", "--store", small_store, "--format", "json"))
    run("briefing", "--store", small_store, "-o", tmp_path, "--issuer", "测试县林业局",
        "--date", "2026-12-07")
    html = (tmp_path / "briefing.html").read_text(encoding="utf-8")
    tables = tables_of(html)

    # Expected, from the JSON records: restoration categories add up, the rest apart.
    works: dict[str, float] = {}
    patches: dict[str, tuple[int, float]] = {}
    patrols: dict[str, int] = {}
    for r in records:
        town = r["township"]
        if is_restoration(r["category"]):
            works[town] = works.get(town, 0.0) + r["area_mu"]
        elif kind_of(r["category"]) == "inspection":
            n, mu = patches.get(town, (0, 0.0))
            patches[town] = (n + r["count"], mu + r["area_mu"])
        elif kind_of(r["category"]) == "patrol":
            patrols[town] = patrols.get(town, 0) + r["count"]
    assert set(works) == {"甲镇", "乙镇"} and patrols and patches

    table = tables["各乡镇分类别修复面积(亩)"]
    head, body = table[0], {row[0]: row for row in table[1:]}
    assert head[-1] == "修复面积(亩)"
    restoration_names = [category_label(c) for c in CATEGORIES if is_restoration(c)]
    assert head[1:-1] == restoration_names  # no patches, no patrol areas among them
    for town, mu in works.items():
        assert number(body[town][-1]) == pytest.approx(mu, abs=0.06)
        # ... and the township's own section says the same.
        assert f"{town}上图生态修复小班" in html
    assert number(body["全县"][-1]) == pytest.approx(sum(works.values()), abs=0.06)

    apart = tables["各乡镇问题图斑与巡护区(单列，不计入修复面积)"]
    assert apart[0] == ["乡镇", "问题图斑(个)", "问题图斑面积(亩)", "巡护区(片)"]
    rows = {row[0]: row for row in apart[1:]}
    for town, (n, mu) in patches.items():
        assert int(rows[town][1]) == n
        assert number(rows[town][2]) == pytest.approx(mu, abs=0.06)
        assert int(rows[town][3]) == patrols[town]

    # The category table: restoration rows, their total, then the others under a heading.
    cats = tables[""]
    names = [row[0] for row in cats]
    total = names.index("修复面积合计")
    assert names[1:total] == restoration_names
    assert names[total + 1:] == ["单列，不计入修复面积", "森林督查问题图斑", "生态护林员巡护区"]
    assert number(cats[total][2]) == pytest.approx(sum(works.values()), abs=0.06)

    # The source line names the data and the batches, not the upload folder.
    assert "数据来源：测试县2023年生态修复小班数据（入库批次" in html
    assert "/srv/uploads" not in html


# ----------------------------------------------------------------------------- the PDF


def _pdftotext(pdf, *args) -> str:
    return subprocess.run(["pdftotext", *args, str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_pdf_has_page_numbers_the_issuer_and_no_heading_alone_at_a_page_foot(
        small_store, tmp_path, monkeypatch):
    need_chromium()
    if not (shutil.which("pdftotext") and shutil.which("pdfinfo")):
        need_component("pdftotext", "pdftotext/pdfinfo not found (apt install poppler-utils)")
    monkeypatch.delenv("ECOMAP_ISSUER", raising=False)
    run("briefing", "--store", small_store, "-o", tmp_path, "--pdf", "--issuer", "测试县林业局",
        "--date", "2026-12-07")
    pdf = tmp_path / "briefing.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages >= 3  # county pages, then a page per township

    html = (tmp_path / "briefing.html").read_text(encoding="utf-8")
    headings = {re.sub(r"<[^>]+>|\s", "", h)
                for h in re.findall(r"<h[234][^>]*>(.*?)</h[234]>", html)}
    assert {"一、总体情况", "五、各乡镇修复小班图", "甲镇", "乙镇"} <= headings
    for n in range(1, pages + 1):
        text = _pdftotext(pdf, "-f", str(n), "-l", str(n))
        # pdftotext drops the spaces between Chinese words: compare without any.
        lines = [re.sub(r"\s", "", ln) for ln in text.splitlines() if ln.strip()]
        assert f"第{n}页共{pages}页" in lines, (n, lines[-5:])
        assert "测试县林业局" in lines, (n, lines[-5:])
        body = [ln for ln in lines if ln != "测试县林业局" and not ln.startswith("第")]
        assert body[-1] not in headings, f"page {n} ends with the heading {body[-1]!r}"
    first = _pdftotext(pdf, "-f", "1", "-l", "1")
    assert "编制单位：测试县林业局" in first and "2026年12月7日" in first


def test_tables_fit_the_printed_page_width(small_store, tmp_path):
    """Laid out as it prints (print media, 186 mm = A4 portrait less its margins), no
    table of the briefing is wider than the page."""
    need_chromium()
    from ecomap.maps._chromium import Chromium

    with open_store(small_store) as st:
        html = maps.to_html(api.briefing(st, year=2023, date="2026-12-07"))
    path = tmp_path / "briefing.html"
    path.write_text(html, encoding="utf-8")
    width = round(186 / 25.4 * 96)
    with Chromium() as browser:
        page = browser.new_page(offline=True)
        page.call("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": 1100, "deviceScaleFactor": 1, "mobile": False})
        page.call("Emulation.setEmulatedMedia", {"media": "print"})
        page.goto(path.as_uri())
        page.wait_for("document.documentElement.getAttribute('data-ecomap-ready') === '1'",
                      timeout=60)
        rights = page.evaluate("Array.from(document.querySelectorAll('table')).map("
                               "function (t) { return t.getBoundingClientRect().right; })")
        assert len(rights) >= 5  # categories, two township tables, a table per township
        assert max(rights) <= width + 0.5, rights


def test_web_briefing_bundle_carries_the_issuer_setting(tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from ecomap.web import create_app
    from tests.webapp import add_accounts, make_settings, sign_in

    settings = make_settings(tmp_path, issuer="网页林业局", date="2026-12-07")
    with open_store(settings.store) as st:
        st.add_plots(known_plots(), provenance=Provenance("plots.geojson"))
    app = create_app(settings)
    add_accounts(app)
    with TestClient(app) as c:
        sign_in(c, "viewer")
        r = c.get("/downloads/briefing.zip?year=2023")
        assert r.status_code == 200, r.text
    html = zipfile.ZipFile(io.BytesIO(r.content)).read("briefing.html").decode("utf-8")
    assert "编制单位：网页林业局" in html and "2026年12月7日" in html
