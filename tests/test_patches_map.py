"""The map of a year's inspection patches coloured by rectification status.

A hand-made store: the three patches of ``tests/test_patches.py`` with a dated history:

- ``TB001`` (甲镇): verified 违法 on 2023-01-10 with 整改期限 2023-06-30, rectified
  (已整改) on 2023-05-20 → green;
- ``TB002`` (乙镇): verified 违法 on 2023-01-15 with 整改期限 2023-03-31, a note on
  2023-02-01, never rectified → on 2023-06-10 it is 未整改 and 71 days late
  (30 days of April, 31 of May, 10 of June); on 2023-01-12 it is still 未核实;
- ``TB003`` (乙镇): verified 合法 (无需整改) on 2023-01-20.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from ecomap import api, maps
from ecomap.cli import cli
from ecomap.maps import _export
from ecomap.maps._chromium import Chromium
from ecomap.maps._patches import STATUS_CLASSES, history_html
from ecomap.photos.service import add_photos
from ecomap.store import open_store
from tests.components import need_chromium
from tests.conftest import X0, Y0, write_county_and_townships
from tests.test_maps import plot_layers, text_of
from tests.test_patches import _imported
from tests.test_photos import jpeg

COLOR = {key: fill or line for key, _, _, fill, line in STATUS_CLASSES}
LABEL = {key: zh for key, zh, _, _, _ in STATUS_CLASSES}
EVENTS = [  # (patch, at, user, field, value)
    ("TB001", "2023-01-10T02:00:00Z", "甲镇林业站", "verification", "违法"),
    ("TB001", "2023-01-10T02:00:00Z", "甲镇林业站", "unlawful_type", "违法占用林地"),
    ("TB001", "2023-01-10T02:00:00Z", "甲镇林业站", "deadline", "2023-06-30"),
    ("TB001", "2023-05-20T02:00:00Z", "甲镇林业站", "status", "已整改"),
    ("TB001", "2023-05-20T02:00:00Z", "甲镇林业站", "rectified_on", "2023-05-20"),
    ("TB002", "2023-01-15T02:00:00Z", "乙镇林业站", "verification", "违法"),
    ("TB002", "2023-01-15T02:00:00Z", "乙镇林业站", "unlawful_type", "违法采伐林木"),
    ("TB002", "2023-01-15T02:00:00Z", "乙镇林业站", "deadline", "2023-03-31"),
    ("TB002", "2023-02-01T02:00:00Z", "县林业局", "note", "已约谈村委"),
    ("TB003", "2023-01-20T02:00:00Z", "乙镇林业站", "verification", "合法"),
    ("TB003", "2023-01-20T02:00:00Z", "乙镇林业站", "status", "无需整改"),
]
TB002_CENTRE = (X0 + 3100, Y0 + 2150)  # TB002: 200 m × 300 m from (3000, 2000)


@pytest.fixture
def pstore(tmp_path):
    st = open_store(tmp_path / "p.gpkg", create=True)
    write_county_and_townships(st)
    _imported(st, tmp_path)
    frame = pd.DataFrame(EVENTS, columns=["patch_id", "at", "user", "field", "value"])
    for user, part in frame.groupby("user", sort=False):
        st.add_patch_events(part.drop(columns="user"), user=user)
    yield st
    st.close()


def _classes(html: str) -> dict[str, tuple[str, list[str]]]:
    """Status label → (fill colour, patch IDs) of every patch layer of the page."""
    out = {}
    for title, layer in plot_layers(html).items():
        style = layer["options"]["style"]
        out[title] = (style.get("fillColor") or style["color"], layer["cols"]["patch_id"])
    return out


def _legend(html: str) -> list[str]:
    text = text_of(html)
    return [f"{label} ({n})" for label in [*LABEL.values(), "逾期未整改"]
            for n in re.findall(re.escape(label) + r" \((\d+)\)", text)[:1]]


def test_every_patch_in_its_status_colour_with_legend_counts(pstore):
    html = maps.to_html(api.patches_map(pstore, year=2022, on="2023-06-10"))
    assert _classes(html) == {LABEL["open"]: (COLOR["open"], ["TB002"]),
                              LABEL["done"]: (COLOR["done"], ["TB001"]),
                              LABEL["lawful"]: (COLOR["lawful"], ["TB003"])}
    assert _legend(html) == ["未核实 (0)", "未整改 (1)", "整改中 (0)", "已整改 (1)",
                             "已销号 (0)", "无需整改(合法) (1)", "逾期未整改 (1)"]
    layers = plot_layers(html)
    # TB002 is overdue: listed for the thick outline, its deadline with the days late.
    assert re.search(r'"overdue":\[0\]', html)
    assert layers[LABEL["open"]]["cols"]["deadline"] == ["2023-03-31(逾期 71 天)"]
    assert layers[LABEL["done"]]["cols"]["deadline"] == ["2023-06-30"]
    assert layers[LABEL["done"]]["cols"]["rectified_on"] == ["2023-05-20"]
    assert layers[LABEL["open"]]["cols"]["unlawful_type"] == ["违法采伐林木"]
    assert "大余县" not in html and "测试县2022年度森林督查图斑整改状态" in text_of(html)
    assert "截至 2023-06-10" in text_of(html)
    # The search box asks for what the map holds: patch IDs (or villages), not 小班号.
    assert "搜索图斑编号或村名" in html and "搜索小班号或村名" not in html


def test_a_past_date_shows_the_old_colours(pstore):
    html = maps.to_html(api.patches_map(pstore, year=2022, on="2023-01-12"))
    # Only TB001 was verified by then; nothing was rectified, nothing was late.
    assert _classes(html) == {LABEL["unverified"]: (COLOR["unverified"], ["TB002", "TB003"]),
                              LABEL["open"]: (COLOR["open"], ["TB001"])}
    assert _legend(html)[:3] == ["未核实 (2)", "未整改 (1)", "整改中 (0)"]
    assert _legend(html)[-1] == "逾期未整改 (0)"
    assert plot_layers(html)[LABEL["open"]]["cols"]["verification"] == ["违法"]
    assert plot_layers(html)[LABEL["unverified"]]["cols"]["verification"] == ["未核实"] * 2
    # The history stops on that date: TB001's rectification (2023-05-20) is not there.
    assert "2023-05-20" not in text_of(html)


def test_popup_history_latest_first_and_a_thumbnail(pstore):
    got = add_photos([("TB002_现场.jpg", jpeg(at=TB002_CENTRE))], pstore, user="乙镇林业站")
    assert [(r.kind, r.key) for r in got.results] == [("patch", "TB002")]
    html = maps.to_html(api.patches_map(pstore, year=2022, on="2023-06-10"))
    extra = plot_layers(html)[LABEL["open"]]["options"]["photos"]["0"]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", extra)
    assert rows == [("2023-02-01", "县林业局", "备注：已约谈村委"),
                    ("2023-01-15", "乙镇林业站",
                     "核实结果：违法；违法类型：违法采伐林木；整改期限：2023-03-31")]
    assert extra.count("data:image/jpeg;base64,") == 1 and "现场照片 (1)" in extra
    # TB001 has no photo: its popup has its history only.
    other = plot_layers(html)[LABEL["done"]]["options"]["photos"]["0"]
    assert "data:image" not in other and other.count("<tr><td>") == 2


def test_thumbnails_keep_to_the_maps_budget(pstore):
    add_photos([(f"TB002_{i}.jpg", jpeg(at=TB002_CENTRE, colour=(40 * i, 90, 9)))
                for i in range(5)], pstore, user="乙镇林业站")
    html = maps.to_html(api.patches_map(pstore, year=2022, on="2023-06-10"))
    # 3 thumbnails per patch (ecomap.photos.popup.PER_FEATURE), the other 2 counted.
    assert html.count("data:image/jpeg;base64,") == 3
    assert "另有 2 张照片" in text_of(html) and "现场照片 (5)" in text_of(html)


def test_history_shows_eight_rows_then_counts_the_rest():
    events = pd.DataFrame({"patch_id": "X", "at": [f"2023-03-{d:02d}T00:00:00Z"
                                                   for d in range(1, 12)],
                           "user": "u", "field": "note", "value": [f"n{d}" for d in
                                                                    range(1, 12)]})
    out = history_html(events, "zh")
    assert re.findall(r"<td>备注：(n\d+)</td>", out) == [f"n{d}" for d in range(11, 3, -1)]
    assert "另有 3 条" in out
    assert "3 more" in history_html(events, "en")


def test_cli_writes_the_map_of_a_past_date(pstore, tmp_path):
    out = tmp_path / "图斑.html"
    r = CliRunner().invoke(cli, ["patches", "map", "--year", "2022", "--on", "2023-01-12",
                                 "-o", str(out), "--store", pstore.location])
    assert r.exit_code == 0, r.output
    assert str(out) in r.output
    # Drawn with the work left on top: 未整改, then 未核实 last.
    assert list(_classes(out.read_text(encoding="utf-8"))) == [LABEL["open"],
                                                               LABEL["unverified"]]


def test_a_store_without_patches_gets_the_outlines_and_a_note(tmp_path):
    st = open_store(tmp_path / "e.gpkg", create=True)
    write_county_and_townships(st)
    st.close()
    out = tmp_path / "e.html"
    r = CliRunner().invoke(cli, ["patches", "map", "-o", str(out), "--store",
                                 str(tmp_path / "e.gpkg")])
    assert r.exit_code == 0, r.output
    assert "库中没有图斑" in r.output
    html = out.read_text(encoding="utf-8")
    assert _classes(html) == {} and "测试县森林督查图斑整改状态" in text_of(html)
    assert _legend(html)[0] == "未核实 (0)"


def test_english_labels(pstore):
    html = maps.to_html(api.patches_map(pstore, year=2022, on="2023-06-10", lang="en"))
    layers = plot_layers(html)
    assert set(layers) == {"Not started", "Rectified", "No rectification (lawful)"}
    assert layers["Not started"]["cols"]["deadline"] == ["2023-03-31 (71 days late)"]
    assert layers["Not started"]["cols"]["verification"] == ["unlawful"]


# --- in Chromium ------------------------------------------------------------------------
PROBE = """(function () {
  var map = ecomap.maps[0], c = map.getContainer();
  function box(el) { var r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
  function shown(el) { var r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; }
  var out = { frame: box(c), dots: [], furniture: [] };
  c.querySelectorAll('.ecomap-patch-dot').forEach(function (el) { out.dots.push(box(el)); });
  c.querySelectorAll('.leaflet-control, .ecomap-title, .ecomap-panel-toggle')
    .forEach(function (el) { if (shown(el)) out.furniture.push(
      { what: el.className.split(' ').slice(0, 3).join(' '), box: box(el) }); });
  return out;
})()"""


def _overlap(a, b, tol=0.5) -> bool:
    return (min(a[2], b[2]) - max(a[0], b[0]) > tol and
            min(a[3], b[3]) - max(a[1], b[1]) > tol)


@pytest.mark.browser
def test_draws_offline_and_the_legend_covers_no_patch_at_a4(pstore, tmp_path):
    need_chromium()
    add_photos([("TB002_现场.jpg", jpeg(at=TB002_CENTRE))], pstore, user="乙镇林业站")
    html = maps.to_html(api.patches_map(pstore, year=2022, on="2023-06-10"))
    width, height = _export._page_px(*_export.page_size(html))
    with Chromium() as browser:
        page = _export._open(browser, html, tmp_path, width=width, height=height, scale=1,
                             png=True, timeout=60)
        lay = page.evaluate(PROBE)
        assert len(lay["dots"]) == 3
        assert [f for f in lay["furniture"] if "ecomap-legend" in f["what"]]
        problems = [(d, f["what"]) for d in lay["dots"] for f in lay["furniture"]
                    if _overlap(d, f["box"])]
        assert problems == []
        for d in lay["dots"]:
            f = lay["frame"]
            assert f[0] <= d[0] and d[2] <= f[2] and f[1] <= d[1] and d[3] <= f[3]
        assert page.errors() == []

        path = Path(tmp_path) / "screen.html"
        path.write_text(html, encoding="utf-8")
        screen = browser.new_page(offline=True)
        screen.goto(path.as_uri())
        screen.wait_for("document.documentElement.getAttribute('data-ecomap-ready') === '1'",
                        timeout=60)
        # The overdue patch's popup: its state, its history and its photo.
        screen.evaluate("(function () { var m = ecomap.maps[0]; m.eachLayer(function (l) {"
                        " if (l._eco && l._eco.data.cols.patch_id.get(0) === 'TB002')"
                        " ecomap.openFeature(m, l._eco, 0); }); })()")
        screen.wait_for("!!document.querySelector('.leaflet-popup .ecomap-photos img')",
                        timeout=20)
        screen.wait_for("Array.from(document.querySelectorAll('.leaflet-popup img'))"
                        ".every(function (i) { return i.complete && i.naturalWidth > 0; })",
                        timeout=20)
        text = screen.evaluate("document.querySelector('.leaflet-popup').textContent")
        assert "TB002" in text and "逾期 71 天" in text and "已约谈村委" in text
        assert screen.errors() == []
        assert [u for u in screen.requests() if not u.startswith(("file:", "data:"))] == []
        assert [u for u in page.requests() if not u.startswith(("file:", "data:"))] == []

