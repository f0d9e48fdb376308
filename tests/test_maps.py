"""Maps rendered to HTML and checked for their layers, features, legends and escaping."""

import json
import re

import pytest

from ecomap import api, maps
from ecomap.maps._assets import asset_report
from ecomap.store import Provenance
from tests.conftest import gk_frame, plot


def feature_collections(html: str) -> list[dict]:
    """Every GeoJSON FeatureCollection embedded in the page."""
    dec = json.JSONDecoder()
    out = []
    for m in re.finditer(r"geo_json_\w+_add\(\{", html):
        obj, _ = dec.raw_decode(html, m.end() - 1)
        if obj.get("type") == "FeatureCollection":
            out.append(obj)
    return out


def text_of(html: str) -> str:
    """The page with JSON \\uXXXX escapes decoded, as the browser will show it."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), html)


@pytest.fixture
def county_html(filled_store):
    return text_of(maps.to_html(api.county_map(filled_store, year=2023)))


def test_county_map_layers_and_feature_counts(county_html):
    fcs = feature_collections(county_html)
    ids = sorted(sorted(f["properties"].get("plot_id", "") for f in fc["features"])
                 for fc in fcs)
    # Townships (2 features, no plot_id), afforestation (2), mine remediation (1).
    assert ["HOLE", "S-30-70"] in ids
    assert ["MULTI"] in ids
    assert ["", ""] in ids
    assert "OLD" not in county_html  # a 2022 plot is not on the 2023 map
    assert "人工造林 (2)" in county_html and "历史遗留废弃矿山生态修复 (1)" in county_html


def test_county_map_legends_title_and_notes(county_html):
    assert "ecomap-legend-choropleth" in county_html
    assert "修复面积(亩)" in county_html
    assert "ecomap-legend-plots" in county_html
    assert "乡镇界为示意" in county_html
    assert "leaflet-control-layers" in county_html or "L.control.layers" in county_html


def test_choropleth_values_are_township_areas(county_html):
    towns = [fc for fc in feature_collections(county_html)
             if fc["features"] and "_area" in fc["features"][0]["properties"]][0]
    area = {f["properties"]["name"]: f["properties"]["_area"] for f in towns["features"]}
    # 甲: 300 000 + 960 000 + 40 000 m² = 1950 mu; 乙: 700 000 + 90 000 = 1185 mu.
    assert area == {"甲镇": pytest.approx(1950.0, abs=0.1), "乙镇": pytest.approx(1185.0, abs=0.1)}


def test_the_map_is_self_contained(county_html):
    assert asset_report(county_html) == []
    assert "cdn.jsdelivr.net" not in county_html


def test_attribute_values_are_escaped(store):
    evil = gk_frame([{"plot_id": "X1", "category": "afforestation", "year": 2023,
                      "village": "<script>alert('x')</script>"}], [plot(-900, 900, 100, 100)])
    store.add_plots(evil, provenance=Provenance("evil.geojson"))
    html = text_of(maps.to_html(api.county_map(store, year=2023)))
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(" in html


def test_township_map_has_its_plots_and_table(filled_store):
    html = text_of(maps.to_html(api.township_map(filled_store, "乙镇", year=2023)))
    ids = {f["properties"].get("plot_id") for fc in feature_collections(html)
           for f in fc["features"]}
    # S-30-70 and MULTI reach into 乙镇; HOLE lies wholly in 甲镇.
    assert {"S-30-70", "MULTI"} <= ids and "HOLE" not in ids
    assert "乙镇汇总" in html
    assert "<table" in html and "面积(亩)" in html


def test_english_maps(filled_store):
    html = text_of(maps.to_html(api.county_map(filled_store, year=2023, lang="en")))
    assert "Afforestation (2)" in html and "Restoration area (mu)" in html
