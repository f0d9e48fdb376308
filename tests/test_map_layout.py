"""The county map's print layout, measured in a real Chromium by the page's own layout.

The map is built from the demo's files (``geodata/``: eleven townships, ten plot
layers, twelve water sites) and opened at screen sizes, and as the PNG and PDF exports
prepare it (``_export._open``: print media, the paper's size) in A4 landscape and A4
portrait, and inside the briefing.  In each, every township label must be drawn inside
the window and the map frame, and no legend, minimap, note, title, scale bar, control,
water-site dot or other label may overlap it; no township polygon may lie under the
furniture either.  A printed map cannot be panned: what is covered there is lost.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from ecomap import maps
from ecomap.aggregate import summary_table
from ecomap.maps import _export
from ecomap.maps._chromium import Chromium
from ecomap.split import plot_areas_m2, split_by_township
from tests.components import need_chromium

pytestmark = pytest.mark.browser

GEODATA = Path(__file__).resolve().parents[1] / "geodata"
OUT = Path(__file__).resolve().parents[1] / "test-output"
READY = "document.documentElement.getAttribute('data-ecomap-ready') === '1'"
TOWNSHIPS = 11  # geodata/townships.geojson

# Rectangles of the labels, the township polygons and everything that could cover them,
# in window pixels, as the page lays them out.
PROBE = """(function (index) {
  var map = ecomap.maps[index], c = map.getContainer();
  function box(el) {
    var r = el.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom];
  }
  function shown(el) {
    var r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  }
  var out = { window: [window.innerWidth, window.innerHeight], frame: box(c),
              labels: [], towns: [], furniture: [], sites: [] };
  c.querySelectorAll('.ecomap-label').forEach(function (el) {
    out.labels.push({ text: el.textContent, shown: shown(el), box: box(el) });
  });
  map.eachLayer(function (l) {
    if (l instanceof L.Polygon && l.feature && l.feature.properties._area !== undefined) {
      out.towns.push({ text: l.feature.properties.name, box: box(l._path) });
    }
  });
  c.querySelectorAll('.leaflet-control, .ecomap-title, .ecomap-panel-toggle')
    .forEach(function (el) {
      if (shown(el)) out.furniture.push({ what: el.className.split(' ').slice(0, 3).join(' '),
                                          box: box(el) });
    });
  c.querySelectorAll('.ecomap-site').forEach(function (el) {
    if (shown(el)) out.sites.push({ what: 'water site', box: box(el) });
  });
  return out;
})"""


def _overlap(a, b, tol=0.5) -> bool:
    return (min(a[2], b[2]) - max(a[0], b[0]) > tol and
            min(a[3], b[3]) - max(a[1], b[1]) > tol)


def _inside(a, b, tol=0.5) -> bool:
    return (a[0] >= b[0] - tol and a[1] >= b[1] - tol and a[2] <= b[2] + tol and
            a[3] <= b[3] + tol)


def check_layout(page, where: str, index: int = 0) -> dict:
    """Assert the label and furniture rules on ecomap.maps[index] of ``page``."""
    lay = page.evaluate(f"{PROBE}({index})")
    w, h = lay["window"]
    window = [0, 0, w, h] if index == 0 else [-1e9, -1e9, 1e9, 1e9]  # briefing: scrolls
    frame = lay["frame"]
    assert len(lay["labels"]) == TOWNSHIPS, where
    assert len(lay["towns"]) == TOWNSHIPS, where
    problems = []
    for i, lab in enumerate(lay["labels"]):
        name, b = lab["text"], lab["box"]
        if not lab["shown"]:
            problems.append(f"{name}: label not shown")
            continue
        if not (_inside(b, window) and _inside(b, frame)):
            problems.append(f"{name}: label {b} outside window {window} / frame {frame}")
        for other in lay["furniture"] + lay["sites"]:
            if _overlap(b, other["box"]):
                problems.append(f"{name}: label covered by {other['what']} {other['box']}")
        for other in lay["labels"][i + 1:]:
            if _overlap(b, other["box"]):
                problems.append(f"{name}: label overlaps the label of {other['text']}")
    for town in lay["towns"]:
        b = town["box"]
        if not _inside(b, frame):
            problems.append(f"{town['text']}: polygon {b} outside the frame {frame}")
        for other in lay["furniture"]:
            if _overlap(b, other["box"]):
                problems.append(f"{town['text']}: polygon under {other['what']}")
    assert problems == [], f"{where}: " + "; ".join(problems)
    return lay


def _frames():
    county = gpd.read_file(GEODATA / "county.geojson")
    towns = gpd.read_file(GEODATA / "townships.geojson").rename(columns={"乡镇名称": "name"})
    parts = []
    for path in sorted((GEODATA / "plots").glob("*.geojson")):
        category, _, year = path.stem.rpartition("_")
        layer = gpd.read_file(path)
        parts.append(gpd.GeoDataFrame({"plot_id": layer.iloc[:, 0].astype(str),
                                       "category": category, "year": int(year)},
                                      geometry=layer.geometry.values, crs=layer.crs))
    plots = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs)
    areas = plot_areas_m2(plots.geometry.values)
    plots["area_mu"] = areas * 0.0015
    pieces = split_by_township(plots.geometry.values, towns["name"], towns.geometry.values,
                               areas_m2=areas)
    pieces = pieces.join(plots[["category", "year"]], on="plot")
    pieces["count"] = pieces["primary"].astype(int)
    areas_by = (pieces.dropna(subset=["township"])
                .groupby(["township", "category", "year"], as_index=False)[["count", "area_m2"]]
                .sum())
    summary = summary_table(areas_by, townships=list(towns["name"]))
    sites = pd.read_csv(GEODATA / "water_sites.csv")
    water = gpd.GeoDataFrame({"site_name": sites["点位名称"], "water_class": "II"},
                             geometry=gpd.points_from_xy(sites["经度"], sites["纬度"]),
                             crs="EPSG:4490")
    return county, towns, plots, summary, water


@pytest.fixture(scope="module")
def pages():
    need_chromium()
    county, towns, plots, summary, water = _frames()
    assert len(towns) == TOWNSHIPS and len(water) == 12 and np.isclose(
        summary["area_mu"].sum(), plots["area_mu"].sum(), rtol=1e-3)

    def county_map(**kw):
        return maps.to_html(maps.county_map(county, towns, plots, summary, water_sites=water,
                                            year=2023, county_name="大余县",
                                            source="大余县林业局", **kw))

    brief = maps.to_html(maps.briefing(county, towns, plots, summary, water_sites=water,
                                       year=2023, county_name="大余县",
                                       township_names=["河洞乡"]))
    return {"landscape": county_map(), "portrait": county_map(landscape=False),
            "briefing": brief}


@pytest.fixture(scope="module")
def browser():
    need_chromium()
    with Chromium() as b:
        yield b


def _shot(page, name: str) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / f"layout-{name}.png").write_bytes(page.screenshot())


@pytest.mark.parametrize("size", [(1366, 768), (800, 600)])
def test_screen_labels_are_inside_and_uncovered(pages, browser, tmp_path, size):
    path = tmp_path / "county.html"
    path.write_text(pages["landscape"], encoding="utf-8")
    page = browser.new_page(offline=True)
    page.call("Emulation.setDeviceMetricsOverride", {
        "width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False})
    page.goto(path.as_uri())
    page.wait_for(READY, timeout=60)
    lay = check_layout(page, f"screen {size}")
    small = size[0] < 900
    # On a small window the legends fold into a button that opens them; large: docked.
    assert page.evaluate("ecomap.maps[0]._ecoLayout.mode") == ("collapsed" if small
                                                                 else "side")
    legends = [f for f in lay["furniture"] if "ecomap-legend" in f["what"]]
    assert (legends == []) is small
    if small:
        x, y = page.evaluate("(function () { var r = document.querySelector("
                             "'.ecomap-panel-toggle').getBoundingClientRect();"
                             "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        page.click_at(x, y)
        page.wait_for("!!document.querySelector('.ecomap-legend').offsetWidth", timeout=5)
    _shot(page, f"screen-{size[0]}x{size[1]}")
    assert page.errors() == []


@pytest.mark.parametrize("paper, png", [("landscape", True), ("landscape", False),
                                        ("portrait", True)])
def test_export_labels_are_inside_and_uncovered(pages, browser, paper, png):
    """Laid out exactly as the PNG/PDF export lays it out, just before capture."""
    html = pages[paper]
    width, height = _export._page_px(*_export.page_size(html))
    assert (width > height) is (paper == "landscape")
    with tempfile.TemporaryDirectory() as tmp:
        page = _export._open(browser, html, Path(tmp), width=width, height=height,
                             scale=1, png=png, timeout=60)
        if not png:  # what Chromium does when it prints
            page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
        lay = check_layout(page, f"A4 {paper} {'PNG' if png else 'PDF'}")
        # Docked: beside (landscape) or below (portrait) the county, whichever is larger.
        mode = page.evaluate("ecomap.maps[0]._ecoLayout.mode")
        assert mode in ("side", "bottom")
        assert [f for f in lay["furniture"] if "ecomap-legend" in f["what"]]
        _shot(page, f"a4-{paper}-{'png' if png else 'pdf'}")
        assert page.errors() == []


def test_briefing_county_map_is_not_covered(pages, browser):
    html = pages["briefing"]
    width, height = _export._page_px(*_export.page_size(html))
    with tempfile.TemporaryDirectory() as tmp:
        page = _export._open(browser, html, Path(tmp), width=width, height=height,
                             scale=1, png=False, timeout=60)
        page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
        check_layout(page, "briefing PDF", index=0)
        assert page.errors() == []


def test_legend_section_shows_with_its_layer(pages, browser, tmp_path):
    """The choropleth legend hides with the township layer, and comes back with it."""
    path = tmp_path / "county.html"
    path.write_text(pages["landscape"], encoding="utf-8")
    page = browser.new_page(offline=True)
    page.call("Emulation.setDeviceMetricsOverride", {
        "width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": False})
    page.goto(path.as_uri())
    page.wait_for(READY, timeout=60)
    shown = ("(function () { var el = document.querySelector('.ecomap-legend-choropleth');"
             "return !!el.offsetWidth && !!el.closest('.ecomap-box').offsetWidth; })()")
    row = ("(function () { var r = Array.from(document.querySelectorAll("
           "'.ecomap-legend [data-ecomap-row]')).filter(function (e) {"
           "return e.textContent.indexOf('乡镇界') >= 0; })[0].getBoundingClientRect();"
           "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    assert page.evaluate(shown)
    page.click_at(*page.evaluate(row))  # the township boundary row toggles the layer
    page.wait_for(f"!{shown}", timeout=5)
    assert page.evaluate("document.querySelectorAll('.ecomap-label').length") == 0
    page.click_at(*page.evaluate(row))
    page.wait_for(shown, timeout=5)
    assert page.evaluate("document.querySelectorAll('.ecomap-label').length") == TOWNSHIPS
    assert page.errors() == []


def test_class_breaks_fall_on_round_numbers():
    from ecomap.maps._layers import class_labels, classify

    # The demo's spread (0 to 11,832 mu): steps of 2,000, a value on a bound goes below.
    classes, bins = classify([0, 4054, 4000, 5513, 11832])
    assert bins == [2000, 4000, 6000, 8000, 10000, 12000]
    assert classes.tolist() == [0, 2, 1, 2, 5]
    assert class_labels(bins, lang="zh")[:2] == ["0 – 2,000", "2,000 – 4,000"]
    # A few small values: 0 – 10 in fives of 2, not "0 – 0, 0 – 10".
    classes, bins = classify([0, 10])
    assert bins == [2, 4, 6, 8, 10] and classes.tolist() == [0, 4]
    assert class_labels(bins, lang="en") == ["0 – 2", "2 – 4", "4 – 6", "6 – 8", "8 – 10"]
    # Fractions get the decimals their step needs.
    assert class_labels(classify([0.4, 0.1])[1], lang="zh") == [
        "0.0 – 0.1", "0.1 – 0.2", "0.2 – 0.3", "0.3 – 0.4"]
    # Nothing restored anywhere: one class "0"; no township at all: "无数据".
    classes, bins = classify([0, 0, 0])
    assert bins == [0] and classes.tolist() == [0, 0, 0]
    assert class_labels(bins, lang="zh") == ["0"]
    assert class_labels(classify([])[1], lang="zh", empty=True) == ["无数据"]


def test_choropleth_legend_of_a_year_without_plots(filled_store):
    from ecomap import api

    html = maps.to_html(api.township_map(filled_store, "乙镇", year=1999))
    call = next(line for line in html.splitlines()
                if "ecomap.box(" in line and "ecomap-legend-choropleth" in line)
    legend = json.loads(re.findall(r'"(?:[^"\\]|\\.)*"', call)[2])  # position, css, inner
    assert "0 – 0" not in legend and "0 – 10" not in legend
    assert legend.count("ecomap-swatch") == 1 and legend.endswith("</span>0</div></div>")


def test_choropleth_is_grey_and_plots_are_outlined(filled_store):
    """The plots own every hue: the choropleth under them is grey, plots have a darker rim."""
    from ecomap import api
    from ecomap.maps import _style
    from ecomap.schema import CATEGORIES

    html = maps.to_html(api.county_map(filled_store, year=2023))
    fills = set(re.findall(r'"_color": "(#[0-9a-f]{6})"', html))
    assert fills and fills <= set(_style.CHOROPLETH_COLORS)
    for color in _style.CHOROPLETH_COLORS:
        assert color[1:3] == color[3:5] == color[5:7]  # grey: r = g = b
    green = CATEGORIES["afforestation"].color  # "#2e7d32"
    assert _style.darker("#2e7d32") == "#1c4b1e"  # 0.6 × (46, 125, 50) = (28, 75, 30)
    assert f'"style":{{"color":"{_style.darker(green)}","weight":0.8,"fillColor":"{green}"' in html
