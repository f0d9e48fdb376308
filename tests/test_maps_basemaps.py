"""Basemaps: none is offline; osm/tianditu/gaode say they need the internet; Gaode's
overlay is shifted to GCJ-02 and lands on published coordinate pairs."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon, box

from ecomap import api, maps
from ecomap.errors import InputError
from ecomap.maps._assets import asset_report
from tests.test_maps import feature_collections, plot_layers, text_of

# Published WGS 84 → GCJ-02 pairs (lon, lat), not computed by ecomap:
PAIRS = [
    # wandergis/coordtransform README and test/app.js: wgs84togcj02(116.404, 39.915)
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164), 1e-9),
    # geoToolbox test_wgs84_to_gcj02: (lat 40.0, lng 116.0) -> (40.001213650174, 116.006141221789)
    ((116.0, 40.0), (116.006141221789, 40.001213650174), 1e-6),
]


def _frames(points):
    """One tiny plot with a vertex on each point, one township and one site around them."""
    x0 = min(p[0] for p in points) - 0.05
    y0 = min(p[1] for p in points) - 0.05
    x1 = max(p[0] for p in points) + 0.05
    y1 = max(p[1] for p in points) + 0.05
    plots = gpd.GeoDataFrame(
        {"plot_id": [f"P{i}" for i in range(len(points))], "category": "afforestation",
         "area_mu": 1.0, "year": 2023},
        geometry=[Polygon([p, (p[0] + 0.001, p[1]), (p[0] + 0.001, p[1] + 0.001)])
                  for p in points], crs=4490)
    towns = gpd.GeoDataFrame({"name": ["甲镇"], "illustrative": [0]},
                             geometry=[box(x0, y0, x1, y1)], crs=4490)
    sites = gpd.GeoDataFrame({"site_name": ["W1"], "township": ["甲镇"], "water_class": ["II"]},
                             geometry=[Point(points[0])], crs=4490)
    summary = pd.DataFrame({"township": ["甲镇"], "category": ["afforestation"], "year": [2023],
                            "count": [len(points)], "area_m2": [666.7], "area_mu": [1.0],
                            "area_ha": [0.0667]})
    return towns.iloc[:0], towns, plots, summary, sites


@pytest.mark.parametrize(("wgs", "gcj", "tol"), PAIRS)
def test_gaode_overlay_lands_on_published_gcj02_pairs(wgs, gcj, tol):
    county, towns, plots, summary, sites = _frames([wgs])
    html = maps.to_html(maps.county_map(county, towns, plots, summary, water_sites=sites,
                                        basemap="gaode"))
    layer = plot_layers(html)["人工造林"]
    x, y = layer["geoms"][0].exterior.coords[0]
    grid = 0.5 / 111_320  # the encoding rounds to half a metre
    assert x == pytest.approx(gcj[0], abs=max(tol, grid))
    assert y == pytest.approx(gcj[1], abs=max(tol, grid))
    # ... and the shift (hundreds of metres) really happened.
    assert abs(x - wgs[0]) > 0.002
    # Water sites and townships (folium GeoJSON) are shifted too, to 6 decimals.
    fcs = feature_collections(html)
    site = next(f for fc in fcs for f in fc["features"] if f["geometry"]["type"] == "Point")
    assert site["geometry"]["coordinates"] == pytest.approx(list(gcj), abs=max(tol, 1e-6))


@pytest.mark.parametrize(("wgs", "gcj", "tol"), PAIRS)
def test_other_basemaps_do_not_shift(wgs, gcj, tol):
    county, towns, plots, summary, sites = _frames([wgs])
    for basemap in ("none", "osm"):
        html = maps.to_html(maps.county_map(county, towns, plots, summary, basemap=basemap))
        x, y = plot_layers(html)["人工造林"]["geoms"][0].exterior.coords[0]
        assert (x, y) == pytest.approx(wgs, abs=5e-6)


def test_none_is_offline_and_online_basemaps_say_they_need_the_internet(filled_store):
    offline = maps.to_html(api.county_map(filled_store, year=2023))
    assert asset_report(offline) == [] and "L.tileLayer" not in offline
    assert 'content="none (offline)"' in offline

    html = maps.to_html(api.county_map(filled_store, year=2023, basemap="osm"))
    assert asset_report(html) == ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"]
    page = text_of(html)
    assert "底图：OpenStreetMap(在线，需联网" in page and "无底图(离线)" in page
    assert "ecomap.watchTiles" in page and "底图无法加载(需联网)" in page
    assert 'content="osm (online: needs the internet)"' in page

    html = text_of(maps.to_html(api.county_map(filled_store, year=2023, basemap="gaode")))
    assert "webrd0{s}.is.autonavi.com" in html and "GCJ-02" in html and "高德地图" in html


def test_tianditu_needs_a_key_and_puts_it_in_both_layers(filled_store):
    with pytest.raises(InputError, match="ECOMAP_TIANDITU_KEY"):
        api.county_map(filled_store, year=2023, basemap="tianditu")
    with pytest.raises(InputError, match="32 位十六进制"):
        api.county_map(filled_store, year=2023, basemap="tianditu", tianditu_key="abc")
    key = "0123456789abcdef0123456789abcdef"
    html = maps.to_html(api.county_map(filled_store, year=2023, basemap="tianditu",
                                       tianditu_key=key))
    urls = [u.replace("\\u0026", "&") for u in asset_report(html)]
    assert len(urls) == 2
    assert all(f"tk={key}" in u and "tianditu.gov.cn" in u for u in urls)
    assert any("/vec_w/" in u for u in urls) and any("/cva_w/" in u for u in urls)


def test_unknown_basemap_names_the_choices(filled_store):
    with pytest.raises(InputError, match="none, osm, tianditu, gaode"):
        api.county_map(filled_store, year=2023, basemap="google")
