"""Maps rendered to HTML and checked for their layers, features, legends and escaping.

Plot layers travel in ecomap's compact encoding (``<script type="application/json">``
blocks, see ``ecomap.maps._vector``); :func:`plot_layers` decodes them back, so the
checks here are on what the browser will draw.  Small layers (townships, water sites)
are ordinary folium GeoJSON.
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pytest
import shapely

from ecomap import api, maps
from ecomap.maps._assets import asset_report
from ecomap.maps._vector import decode_columns, decode_polygons
from ecomap.store import Provenance
from tests.conftest import GK, gk_frame, plot

_DATA = re.compile(r'<script type="application/json" id="(\w+)_data">(.*?)</script>', re.S)
_LAYER = re.compile(r"var (\w+) = ecomap\.plotLayer\(\w+, JSON\.parse\([^;]*?\), (\{.*?\})\);\n")


def plot_layers(html: str) -> dict[str, dict]:
    """``{title: {"name", "options", "n", "geoms", "cols"}}`` of every plot layer."""
    options = {m.group(1): json.loads(m.group(2)) for m in _LAYER.finditer(html)}
    out = {}
    for m in _DATA.finditer(html):
        data = json.loads(m.group(2))
        opts = options[m.group(1)]
        out[opts["title"]] = {"name": opts["name"], "options": opts, "n": data["n"],
                              "geoms": decode_polygons(data["geom"], data["n"]),
                              "cols": decode_columns(data["cols"], data["n"])}
    return out


def feature_collections(html: str) -> list[dict]:
    """Every GeoJSON FeatureCollection folium embedded in the page."""
    dec = json.JSONDecoder()
    found = []
    for m in re.finditer(r"geo_json_\w+_add\(\{", html):
        obj, _ = dec.raw_decode(html, m.end() - 1)
        if obj.get("type") == "FeatureCollection":
            found.append(obj)
    return found


def text_of(html: str) -> str:
    """The page with JSON \\uXXXX escapes decoded, as the browser will show it."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), html)


@pytest.fixture
def county_html(filled_store):
    return maps.to_html(api.county_map(filled_store, year=2023))


def test_county_map_layers_and_feature_counts(county_html):
    layers = plot_layers(county_html)
    assert sorted(layers) == ["人工造林", "历史遗留废弃矿山生态修复"]
    assert sorted(layers["人工造林"]["cols"]["plot_id"]) == ["HOLE", "S-30-70"]
    assert layers["历史遗留废弃矿山生态修复"]["cols"]["plot_id"] == ["MULTI"]
    assert "OLD" not in county_html  # a 2022 plot is not on the 2023 map
    assert layers["人工造林"]["name"] == "人工造林 (2)"
    assert "历史遗留废弃矿山生态修复 (1)" in text_of(county_html)
    assert layers["人工造林"]["options"]["mode"] == "svg"  # a small map prints as vectors


def test_plots_come_back_as_drawn_to_half_a_metre(filled_store, county_html):
    """Decoded geometry equals the stored plots within the 0.5 m grid; holes and parts kept."""
    stored = filled_store.plots(year=2023).set_index("plot_id").to_crs(GK)
    for layer in plot_layers(county_html).values():
        for pid, geom in zip(layer["cols"]["plot_id"], layer["geoms"], strict=True):
            drawn = gpd.GeoSeries([geom], crs=4490).to_crs(GK).iloc[0]
            truth = stored.geometry[pid]
            assert drawn.hausdorff_distance(truth) < 0.5
            assert drawn.area == pytest.approx(truth.area, rel=2e-3)
            assert len(shapely.get_parts(drawn)) == len(shapely.get_parts(truth))
    hole = plot_layers(county_html)["人工造林"]
    i = hole["cols"]["plot_id"].index("HOLE")
    assert len(hole["geoms"][i].interiors) == 1


def test_popup_fields_have_chinese_labels(county_html):
    cols = {c["key"]: c for c in json.loads(_DATA.search(county_html).group(2))["cols"]}
    assert cols["plot_id"]["label"] == "小班号" and cols["area_mu"]["label"] == "计算面积(亩)"
    assert cols["year"].get("g") == 0  # 2023, not 2,023


def test_county_map_legends_title_and_notes(county_html):
    page = text_of(county_html)
    for css in ("ecomap-legend-choropleth", "ecomap-legend-plots", "ecomap.northArrow",
                "L.control.scale", "L.control.layers", "ecomap.search", "L.Control.MiniMap",
                "L.Control.Measure", "L.control.fullscreen", "ecomap.title"):
        assert css in page, css
    assert "修复面积(亩)" in page and "修复小班" in page and "县界" not in page  # no county
    assert "乡镇界为示意" in page and "数据来源" in page
    assert "<title>生态修复“落地上图”(2023)</title>" in page
    assert "@page{size:A4 landscape" in page


def test_choropleth_values_are_township_areas(county_html):
    towns = [fc for fc in feature_collections(county_html)
             if fc["features"] and "_area" in fc["features"][0]["properties"]][0]
    area = {f["properties"]["name"]: f["properties"]["_area"] for f in towns["features"]}
    # 甲: 300 000 + 960 000 + 40 000 m² = 1950 mu; 乙: 700 000 + 90 000 = 1185 mu.
    assert area == {"甲镇": pytest.approx(1950.0, abs=0.1), "乙镇": pytest.approx(1185.0, abs=0.1)}


def test_the_map_is_self_contained(county_html):
    assert asset_report(county_html) == []
    assert "cdn.jsdelivr.net" not in county_html
    assert 'data-ecomap-asset="ecomap.js"' in county_html
    assert "jQuery v" not in county_html  # nothing calls $, so jQuery is not inlined


def test_attribute_values_are_data_not_html(store):
    """Plot attributes stay raw data in the page and cannot end the script block;
    ecomap.js escapes them where it writes HTML (see the browser tests)."""
    evil = "<script>alert('x')</script>"
    store.add_plots(gk_frame([{"plot_id": "X1", "category": "afforestation", "year": 2023,
                               "village": evil}], [plot(-900, 900, 100, 100)]),
                    provenance=Provenance("evil.geojson"))
    html = maps.to_html(api.county_map(store, year=2023))
    assert "<script>alert(" not in html and "</script>alert" not in html
    assert plot_layers(html)["人工造林"]["cols"]["village"] == [evil]


def test_template_syntax_in_data_is_not_evaluated(store):
    """folium renders a second time with Jinja: ``{{7*7}}`` in data must not become 49."""
    towns = store.townships()
    towns.loc[0, "name"] = "{{7*7}}镇"
    store.write_townships(towns.drop(columns=["fid", "batch_id", "area_m2"], errors="ignore"),
                          provenance=Provenance("towns2.geojson"))
    store.add_plots(gk_frame([{"plot_id": "{{7*7}}", "category": "afforestation", "year": 2023,
                               "village": "{% if 1 %}x{% endif %}"}],
                             [plot(-900, 900, 100, 100)]), provenance=Provenance("p.geojson"))
    html = maps.to_html(api.county_map(store, year=2023))
    cols = plot_layers(html)["人工造林"]["cols"]
    assert cols["plot_id"] == ["{{7*7}}"] and cols["village"] == ["{% if 1 %}x{% endif %}"]
    assert "&#123;&#123;7*7&#125;&#125;镇" in text_of(html)  # township label and GeoJSON
    assert ">49镇<" not in text_of(html)


def test_township_map_has_its_plots_and_table(filled_store):
    html = maps.to_html(api.township_map(filled_store, "乙镇", year=2023))
    ids = {pid for layer in plot_layers(html).values() for pid in layer["cols"]["plot_id"]}
    # S-30-70 and MULTI reach into 乙镇; HOLE lies wholly in 甲镇.
    assert {"S-30-70", "MULTI"} <= ids and "HOLE" not in ids
    page = text_of(html)
    assert "乙镇汇总" in page and "<table" in page and "面积(亩)" in page
    assert "乙镇生态修复小班图(2023)" in page


def test_english_maps(filled_store):
    html = text_of(maps.to_html(api.county_map(filled_store, year=2023, lang="en")))
    assert "Afforestation (2)" in html and "Restoration area (mu)" in html
    assert '"label":"Plot ID"' in html and "Plot ID or village" in html


def test_canvas_renderer_above_the_threshold(filled_store, monkeypatch):
    from ecomap.maps import _layers

    monkeypatch.setattr(_layers, "CANVAS_THRESHOLD", 1)
    html = maps.to_html(api.county_map(filled_store, year=2023))
    assert all(layer["options"]["mode"] == "canvas" for layer in plot_layers(html).values())
    assert '"preferCanvas": true' in html
    html = maps.to_html(api.county_map(filled_store, year=2023, renderer="svg"))
    assert {layer["options"]["mode"] for layer in plot_layers(html).values()} == {"svg"}


def test_embed_snippet_holds_the_whole_map(county_html, filled_store):
    snippet = maps.to_embed(api.county_map(filled_store, year=2023), height="500px",
                            title="县图")
    assert snippet.startswith('<iframe title="县图"') and 'sandbox="allow-scripts' in snippet
    doc = re.search(r'srcdoc="([^"]*)"', snippet).group(1)
    import html as _html

    inner = _html.unescape(doc)
    assert inner.startswith("<!DOCTYPE html>") and asset_report(inner) == []
    assert plot_layers(inner).keys() == plot_layers(county_html).keys()
