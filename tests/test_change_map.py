"""The NDVI change map: the difference raster over county and township outlines (no
choropleth), the plots outlined on top, one legend per layer that goes with its layer —
in the HTML and, toggled with the mouse, in a real headless Chromium."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from affine import Affine

from ecomap.maps import to_html
from ecomap.maps._raster import nice_ceil, tick_text
from ecomap.raster.service import change, change_map
from ecomap.store import Provenance, open_store
from tests.conftest import known_plots, write_county_and_townships
from tests.rasters import write_tif

# 100 m pixels over the two test townships (x 490 000 – 510 000, y 2 820 000 – 2 830 000).
GRID = Affine(100.0, 0, 490_000.0, 0, -100.0, 2_830_000.0)


@pytest.fixture
def change_html(tmp_path) -> str:
    """The change map of NDVI 0.20 → 0.45 everywhere, on the afforestation plots of 2023
    (S-30-70 and HOLE), over the test county and its two townships."""
    st = open_store(tmp_path / "c.gpkg", create=True)
    write_county_and_townships(st)
    st.add_plots(known_plots(), provenance=Provenance("plots.geojson", "0" * 64, "test"))
    before = np.full((100, 200), 0.2, np.float32)
    write_tif(tmp_path / "ndvi_2022.tif", before, transform=GRID)
    write_tif(tmp_path / "ndvi_2023.tif", before + 0.25, transform=GRID)
    table = change(st, tmp_path / "ndvi_2022.tif", tmp_path / "ndvi_2023.tif",
                   category="afforestation", year=2023)
    m = change_map(st, tmp_path / "ndvi_2022.tif", tmp_path / "ndvi_2023.tif", table,
                   year=2023)
    st.close()
    text = to_html(m)
    (tmp_path / "change.html").write_text(text, encoding="utf-8")
    return text


def overlays(html: str) -> dict[str, str]:
    """The layer control's overlays: name → the layer's JavaScript variable."""
    block = re.search(r"overlays\s*:\s*\{(.*?)\}", html, re.S).group(1)
    return {json.loads(f'"{k}"'): v for k, v in re.findall(r'"([^"]*)"\s*:\s*(\w+)', block)}


def legends(html: str) -> dict[str, str]:
    """Each layer legend's HTML by the JavaScript variable of its layer."""
    found = re.findall(r'd\.innerHTML = ("(?:[^"\\]|\\.)*");\s*'
                       r"d\.setAttribute\('data-ecomap-legend-for', \"(\w+)\"\)", html)
    return {var: json.loads(inner) for inner, var in found}


def test_nice_scale_and_ticks():
    assert [nice_ceil(v) for v in (0.2493, 0.25, 0.31, 0.07, 1.2, 7)] == \
        [0.25, 0.25, 0.4, 0.08, 1.5, 8]
    assert [tick_text(v, signed=True) for v in np.linspace(-0.25, 0.25, 5)] == \
        ["−0.25", "−0.125", "0", "+0.125", "+0.25"]


def test_one_legend_per_layer_and_the_hook_that_hides_it(change_html):
    layers = overlays(change_html)
    assert list(layers) == ["NDVI变化(后期−前期)", "小班NDVI变化", "界线"]
    for var in layers.values():
        # Exactly one legend names each layer, and follows it as it is switched.
        assert change_html.count(f"'data-ecomap-legend-for', {json.dumps(var)}") == 1
        assert f"var layer = {var};" in change_html
    assert change_html.count("data-ecomap-legend-for") == len(layers)
    assert set(legends(change_html)) == set(layers.values())
    assert change_html.count("map.on('layeradd layerremove overlayadd overlayremove'") == 3
    # The county map's legends are not there: no choropleth, no category legend.
    assert "ecomap-legend-choropleth" not in change_html
    assert "ecomap-legend-plots" not in change_html


def test_raster_visible_on_a_diverging_scale_centred_on_zero(change_html):
    # 0.45 − 0.20 = +0.25 in both plots: the scale is ±0.25, ticks at quarters.
    assert re.search(r'"opacity": 0\.8\b', change_html)
    bar = legends(change_html)[overlays(change_html)["NDVI变化(后期−前期)"]]
    ticks = re.search(r'<div class="ticks">(.*?)</div>', bar).group(1)
    assert re.findall(r"<span>(.*?)</span>", ticks) == ["−0.25", "−0.125", "0", "+0.125",
                                                        "+0.25"]
    assert "← 减少" in bar and "增加 →" in bar and "单位: NDVI差值, 无量纲" in bar
    # The townships are outlines: no fill anywhere in the boundary layer.
    assert '"fill": false' in change_html
    # The plots are outlines on top of the raster (their pane above the raster's).
    assert '"fillOpacity": 0.0' in change_html
    assert change_html.index('"ecomap-raster"') < change_html.index('"ecomap-raster-zones"')
    plots = legends(change_html)[overlays(change_html)["小班NDVI变化"]]
    assert "NDVI增加的小班: 2" in plots and "未见增加的小班: 0" in plots
    lines = legends(change_html)[overlays(change_html)["界线"]]
    assert "县界" in lines and "乡镇界(示意)" in lines


def test_a_legend_goes_and_comes_back_with_its_layer_in_chromium(change_html, tmp_path):
    from ecomap.maps._chromium import Chromium
    from tests.chromium import chromium_binary

    layers = overlays(change_html)
    legends = ("Array.from(document.querySelectorAll('.leaflet-control-container "
               "[data-ecomap-legend-for]')).map(function (e) { return "
               "e.getAttribute('data-ecomap-legend-for'); })")
    with Chromium(chromium_binary()) as browser:
        page = browser.new_page()
        page.set_viewport(1200, 800)
        page.goto((tmp_path / "change.html").as_uri())
        page.wait_for("document.documentElement.getAttribute('data-ecomap-ready') === '1'")
        assert sorted(page.evaluate(legends)) == sorted(layers.values())
        # Open the layer control with the mouse and untick the raster.
        toggle = page.bounding_box(".leaflet-control-layers-toggle")
        page.mouse_move(toggle["x"] + toggle["width"] / 2, toggle["y"] + toggle["height"] / 2)
        page.wait_for("!!document.querySelector('.leaflet-control-layers-expanded')")
        raster = ".leaflet-control-layers-overlays label:nth-child(1) input"
        page.click(raster)
        page.wait_for(f"{legends}.length === 2")
        shown = page.evaluate(legends)
        assert layers["NDVI变化(后期−前期)"] not in shown
        assert sorted(shown) == sorted([layers["小班NDVI变化"], layers["界线"]])
        page.click(raster)
        page.wait_for(f"{legends}.length === 3")
        # The boundaries off: their legend goes, the other two stay.
        page.click(".leaflet-control-layers-overlays label:nth-child(3) input")
        page.wait_for(f"{legends}.length === 2")
        assert layers["界线"] not in page.evaluate(legends)
        assert page.errors() == []
