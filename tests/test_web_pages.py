"""The pages a leader reads, through real HTTP (FastAPI's TestClient): the overview's
figures, township × category table, chart and year selector; a township's page over
every year; the batch list with category names and local times; rollback asked first.

Figures are hand computed: the plots are squares drawn in the Gauss-Kruger zone of the
test townships (tests/conftest: 甲镇 west of x = 0, 乙镇 east), 100 m × 100 m = 1 ha =
15 亩.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from html.parser import HTMLParser

import pytest

from ecomap.store import Provenance, open_store
from ecomap.units import JSON_DECIMALS
from ecomap.web import create_app
from tests.conftest import gk_frame, plot
from tests.webapp import add_accounts, bearer, client, csrf_of, make_settings, sign_in

#: The batches stored, in order: (file, user, category, year, [(plot_id, square)]).
BATCHES = [
    ("造林2023.zip", "编辑甲", "afforestation", 2023,
     # 甲镇 two 100 m squares (30 亩), 乙镇 one (15 亩).
     [("A1", plot(-3000, 1000, 100, 100)), ("A2", plot(-2000, 1000, 100, 100)),
      ("A3", plot(3000, 1000, 100, 100))]),
    ("退化林2023.zip", "编辑甲", "degraded_forest_restoration", 2023,
     [("D1", plot(4000, 2000, 200, 100))]),            # 乙镇 200 m × 100 m: 30 亩
    ("督查2023.zip", "编辑乙", "forest_inspection_patch", 2023,
     [("P1", plot(-5000, 5000, 100, 100))]),           # 甲镇 a patch of 15 亩, not restored
    ("护林2023.zip", "编辑乙", "forest_ranger", 2023,
     [("R1", plot(5000, 5000, 1000, 1000))]),          # 乙镇 one patrol area (1500 亩)
    ("造林2022.zip", "编辑甲", "afforestation", 2022,
     [("OLD1", plot(-4000, 3000, 300, 100))]),          # 甲镇 300 m × 100 m: 45 亩, 2022
]


def _store_batches(store_path) -> list[int]:
    ids = []
    with open_store(store_path) as st:
        for i, (name, user, category, year, plots) in enumerate(BATCHES):
            frame = gk_frame([{"plot_id": pid, "category": category, "year": year}
                              for pid, _ in plots], [g for _, g in plots])
            ids.append(st.add_plots(frame, provenance=Provenance(name, f"{i:064d}", user)))
    return ids


@pytest.fixture
def pages(tmp_path):
    """The app over the five batches above, and their ids."""
    def make(**settings):
        s = make_settings(tmp_path, **settings)
        ids = _store_batches(s.store)
        app = create_app(s, staging_root=tmp_path / "staging")
        add_accounts(app)
        return app, s, ids
    return make


class _Tables(HTMLParser):
    """The cells' text of every table with an id, row by row; and every link."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.links: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parsed(html: str) -> _Tables:
    p = _Tables()
    p.feed(html)
    return p


def rows_by_name(table: list[list[str]]) -> dict[str, list[str]]:
    return {r[0]: r[1:] for r in table[1:]}


# --- the overview ---------------------------------------------------------------------

def test_the_overview_shows_progress_against_the_years_targets(pages):
    app, s, _ = pages()
    import pandas as pd

    with open_store(s.store) as st:
        st.add_targets(pd.DataFrame(
            [("甲镇", "afforestation", 2023, 40.0, "mu"), ("乙镇", "afforestation", 2023, 10.0,
                                                          "mu"),
             (None, "degraded_forest_restoration", 2023, 30.0, "mu")],
            columns=["township", "category", "year", "quantity", "unit"]),
            provenance=Provenance("任务.xlsx", "f" * 64, "admin"))
    with client(app) as c:
        sign_in(c, "viewer")
        home = c.get("/")
        table = parsed(home.text).tables["progress"]
        rows = rows_by_name(table)
        # Afforestation: 甲 30 of 40 亩, 乙 15 of 10; the county 45 of 50 = 90.0 %, 5 short.
        assert rows["人工造林"] == ["亩", "50.0", "45.0", "90.0", "5.0"]
        assert rows["退化林修复"] == ["亩", "30.0", "30.0", "100.0", "0.0"]
        assert "人工造林完成45亩，占任务的90.0%，差5亩（甲镇差10亩）" in home.text
        assert "目标 50.0 亩 · 90.0%" in home.text
        # Another year without targets: no progress section.
        assert 'id="progress"' not in c.get("/?year=2022").text


def test_the_overview_shows_the_years_figures_table_and_chart(pages):
    app, _, _ = pages()
    with client(app) as c:
        sign_in(c, "viewer")
        home = c.get("/")
        assert home.status_code == 200
        p = parsed(home.text)
        pivot = p.tables["pivot"]
        assert pivot[0] == ["乡镇", "人工造林", "退化林修复", "修复面积(亩)", "问题图斑(个)",
                            "问题图斑面积(亩)", "巡护区(片)"]
        rows = rows_by_name(pivot)
        # 2023, the latest year: restoration adds afforestation and degraded forest only.
        assert rows["甲镇"] == ["30.0", "—", "30.0", "1", "15.0", "—"]
        assert rows["乙镇"] == ["15.0", "30.0", "45.0", "—", "—", "1"]
        assert rows["全县"] == ["45.0", "30.0", "75.0", "1", "15.0", "1"]
        assert list(rows) == ["甲镇", "乙镇", "全县"]
        # Headline figures: 修复面积 first, in the report's words.
        assert '<div class="value">75亩</div>' in home.text
        assert "4 个小班" in home.text
        # The chart: inline SVG, a stacked bar per township with its total.
        assert '<svg class="ecomap-chart"' in home.text
        chart = home.text[home.text.index('<figure class="chart"'):]
        chart = chart[:chart.index("</figure>")]
        assert ">乙镇</text>" in chart and ">甲镇</text>" in chart
        assert chart.index(">乙镇<") < chart.index(">甲镇<")  # largest first
        assert "<title>人工造林: 30.0</title>" in chart
        # The year selector: the stored years, the one shown marked; the map of that year.
        assert "/?year=2022" in p.links and "/?year=2023" in p.links
        assert 'href="/?year=2023" class="current"' in home.text
        assert 'src="/maps/county.html?year=2023"' in home.text

        old = c.get("/?year=2022")
        rows = rows_by_name(parsed(old.text).tables["pivot"])
        assert rows["甲镇"] == ["45.0", "45.0"] and rows["全县"] == ["45.0", "45.0"]
        assert rows["乙镇"] == ["—", "—"]
        assert '<div class="value">45亩</div>' in old.text
        assert 'href="/?year=2022" class="current"' in old.text
        assert 'src="/maps/county.html?year=2022"' in old.text
        # A township's link keeps the year.
        assert "/townships/%E7%94%B2%E9%95%87?year=2022" in parsed(old.text).links

        en = c.get("/?lang=en")
        assert "Restoration area (mu)" in en.text and "County" in en.text


# --- a township -------------------------------------------------------------------------

def test_a_township_page_shows_every_year_unless_one_is_chosen(pages):
    app, _, _ = pages()
    with client(app) as c:
        sign_in(c, "viewer")
        page = c.get("/townships/甲镇")
        assert page.status_code == 200
        p = parsed(page.text)
        table = p.tables["township-table"]
        assert table[0] == ["类别", "年度", "小班数", "面积(亩)", "面积(公顷)"]
        # Each year's restoration rows and the township's own total (never 全县), the
        # total of both years, then the patches apart.
        assert table[1:] == [
            ["人工造林", "2022", "1", "45.0", "3.00"],
            ["甲镇合计(修复面积)", "2022", "1", "45.0", "3.00"],
            ["人工造林", "2023", "2", "30.0", "2.00"],
            ["甲镇合计(修复面积)", "2023", "2", "30.0", "2.00"],
            ["甲镇合计(修复面积)", "2022–2023", "3", "75.0", "5.00"],
            ["森林督查问题图斑", "2023", "1", "15.0", "1.00"]]
        assert "全县" not in page.text
        assert sorted(r[0] for r in p.tables["plots"][1:]) == ["A1", "A2", "OLD1", "P1"]
        assert 'class="current">全部年度' in page.text
        assert 'src="/maps/township/%E7%94%B2%E9%95%87.html"' in page.text
        # The map of every year holds the plots of both years and fills its frame.
        doc = c.get("/maps/township/甲镇.html").text
        assert "OLD1" in doc and "A1" in doc
        assert "2022–2023" in doc
        assert '<div class="ecomap-summary">' not in doc  # its table is on the page

        one = c.get("/townships/甲镇?year=2023")
        p = parsed(one.text)
        assert p.tables["township-table"][1:] == [
            ["人工造林", "2023", "2", "30.0", "2.00"],
            ["甲镇合计(修复面积)", "2023", "2", "30.0", "2.00"],
            ["森林督查问题图斑", "2023", "1", "15.0", "1.00"]]
        assert sorted(r[0] for r in p.tables["plots"][1:]) == ["A1", "A2", "P1"]
        assert "/townships/%E7%94%B2%E9%95%87?year=2023" in p.links
        assert 'src="/maps/township/%E7%94%B2%E9%95%87.html?year=2023"' in one.text
        doc = c.get("/maps/township/甲镇.html?year=2023").text
        assert "A1" in doc and "OLD1" not in doc


# --- batches ------------------------------------------------------------------------------

def _set_time(store: str, batch: int, utc: str) -> None:
    with sqlite3.connect(store) as con:
        con.execute("UPDATE batches SET created_at = ? WHERE fid = ?", (utc, batch))


def test_batches_show_category_names_and_local_time(pages):
    app, settings, ids = pages()
    _set_time(settings.store, ids[0], "2026-12-07T13:10:00Z")
    _set_time(settings.store, ids[1], "2026-12-31T17:30:00Z")  # next day, next year in +8
    with client(app) as c:
        sign_in(c, "viewer")
        table = parsed(c.get("/batches").text).tables["batches"]
    assert table[0][6] == "时间 (UTC+8)"
    rows = {r[0]: r for r in table[1:]}
    first, second = rows[str(ids[0])], rows[str(ids[1])]
    assert first[1:7] == ["图斑", "人工造林", "2023", "3", "45.0", "2026-12-07 21:10"]
    assert second[2] == "退化林修复" and second[6] == "2027-01-01 01:30"
    assert not any("afforestation" in cell for r in rows.values() for cell in r)

    # The same store and accounts, served with times in UTC.
    app = create_app(dataclasses.replace(settings, timezone="UTC"))
    with client(app) as c:
        sign_in(c, "viewer")
        table = parsed(c.get("/batches?lang=en").text).tables["batches"]
    assert table[0][6] == "Time (UTC+0)"
    rows = {r[0]: r for r in table[1:]}
    assert rows[str(ids[0])][1:7] == ["plots", "Afforestation", "2023", "3", "45.0",
                                       "2026-12-07 13:10"]


def test_rollback_asks_first_and_only_the_post_removes(pages):
    app, settings, ids = pages()
    batch = ids[0]
    with client(app) as c:
        sign_in(c, "viewer")
        assert c.get(f"/batches/{batch}/rollback").status_code == 403
    with client(app) as c:
        sign_in(c, "编辑乙")  # an editor may roll back only their own plot batches
        assert c.get(f"/batches/{batch}/rollback").status_code == 403
    with client(app) as c:
        sign_in(c, "编辑甲")
        listing = parsed(c.get("/batches").text)
        assert f"/batches/{batch}/rollback" in listing.links
        ask = c.get(f"/batches/{batch}/rollback")
        assert ask.status_code == 200
        shown = rows_by_name(parsed(ask.text).tables["rollback-batch"])
        assert shown["文件"] == ["造林2023.zip"] and shown["类别"] == ["人工造林"]
        assert shown["小班数"] == ["3"] and shown["面积(亩)"] == ["45.0"]
        assert "确认回滚" in ask.text and 'href="/batches"' in ask.text  # 取消
        with open_store(settings.store) as st:  # looking removes nothing
            assert batch in set(st.batches()["batch_id"])
            assert len(st.plots(year=2023)) == 6
        r = c.post(f"/batches/{batch}/rollback", data={"csrf": csrf_of(ask.text)},
                   follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/batches?rolled_back={batch}"
        with open_store(settings.store) as st:
            assert batch not in set(st.batches()["batch_id"])
            assert sorted(st.plots(year=2023)["plot_id"]) == ["D1", "P1", "R1"]
        assert c.get(f"/batches/{batch}/rollback").status_code == 404


def test_json_numbers_are_rounded_as_the_data_carries_them(pages):
    app, _, _ = pages()

    def decimals(v: float) -> int:
        text = repr(v)
        return len(text.split(".")[1]) if "." in text and "e" not in text else 0

    with client(app) as c:
        h = bearer(app, "viewer")
        batches = c.get("/api/batches", headers=h).json()
        summary = c.get("/api/summary", headers=h).json()
    assert {round(b["area_mu"]) for b in batches if b["kind"] == "plots"} == {45, 30, 15,
                                                                              1500}
    assert all(decimals(b["area_mu"]) <= JSON_DECIMALS["mu"] for b in batches
               if b["area_mu"] is not None)
    assert all(decimals(r["area_mu"]) <= JSON_DECIMALS["mu"] and
               decimals(r["area_ha"]) <= JSON_DECIMALS["ha"] for r in summary)


def test_pages_of_an_empty_store_say_there_is_no_data_yet(app):
    with client(app) as c:
        sign_in(c, "viewer")
        home = c.get("/")
        assert home.status_code == 200 and "还没有数据。" in home.text
        assert 'id="pivot"' not in home.text and "ecomap-chart" not in home.text
        town = c.get("/townships/甲镇")
        assert town.status_code == 200 and "还没有数据。" in town.text
        assert c.get("/maps/township/甲镇.html").status_code == 200
