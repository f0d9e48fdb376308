"""Raster overlays: colour ramps, PNG bytes, Web Mercator placement, folium layers and the
demo's NDVI change outputs."""

from __future__ import annotations

import json
import warnings

import folium
import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

from ecomap.crs import transform_xy
from ecomap.maps import to_html
from ecomap.maps._assets import asset_report
from ecomap.maps._raster import add_change_plots, add_raster_overlay, colorbar_html
from ecomap.raster import (
    COLORMAPS,
    change_overlay,
    change_table,
    colorize,
    overlay_from_array,
    png_from_rgba,
)
from tests.rasters import GK, write_tif


def decode_png(data: bytes) -> np.ndarray:
    """Pixels of a PNG as GDAL's PNG driver reads them (an independent decoder)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a PNG has no CRS
        with MemoryFile(data) as mf, mf.open() as ds:
            return np.moveaxis(ds.read(), 0, -1)


def hex_rgb(h: str) -> list[int]:
    return [int(h[i:i + 2], 16) for i in (1, 3, 5)]


def test_png_round_trip():
    rgba = np.zeros((3, 5, 4), np.uint8)
    rgba[..., 0] = np.arange(5) * 50
    rgba[1, :, 3] = 255
    assert (decode_png(png_from_rgba(rgba)) == rgba).all()


def test_colorize_ends_nan_and_fade():
    a = np.array([[0.0, 1.0, np.nan, 2.0]])
    rgba = colorize(a, colormap="ndvi", vmin=0.0, vmax=1.0)
    assert rgba[0, 0, :3].tolist() == hex_rgb(COLORMAPS["ndvi"][0])
    assert rgba[0, 1, :3].tolist() == hex_rgb(COLORMAPS["ndvi"][-1])
    assert rgba[0, 3, :3].tolist() == hex_rgb(COLORMAPS["ndvi"][-1])  # clipped
    assert rgba[0, :, 3].tolist() == [255, 255, 0, 255]
    faded = colorize(np.array([[0.0, 0.05, 0.2]]), colormap="change", vmin=-1, vmax=1,
                     fade=0.1)
    assert faded[0, :, 3].tolist() == [0, 128, 255]


def test_overlay_is_web_mercator_and_downsampled():
    """A 10 km × 10 km raster in Gauss-Kruger: bounds in degrees, at most max_size pixels."""
    values = np.add.outer(np.arange(1000.0), np.arange(1000.0))
    values[:100, :100] = np.nan
    t = Affine(10.0, 0, 500_000.0, 0, -10.0, 2_830_000.0)
    ov = overlay_from_array(values, t, GK, colormap="viridis", max_size=200)
    assert max(ov.shape) <= 200
    lon, lat = transform_xy([500_000.0, 510_000.0], [2_820_000.0, 2_830_000.0], GK,
                            "EPSG:4326")
    west, south, east, north = ov.bounds
    assert west == pytest.approx(lon[0], abs=1e-3) and east == pytest.approx(lon[1], abs=2e-3)
    assert south == pytest.approx(lat[0], abs=2e-3) and north == pytest.approx(lat[1], abs=1e-3)
    img = decode_png(ov.png)
    assert img.shape[:2] == ov.shape
    assert img[2, 2, 3] == 0 and img[ov.shape[0] // 2, ov.shape[1] // 2, 3] == 255  # NaN corner
    assert ov.vmin < ov.vmax


def test_change_overlay_on_different_grids():
    t10 = Affine(10.0, 0, 500_000.0, 0, -10.0, 2_830_000.0)
    t20 = Affine(20.0, 0, 500_000.0, 0, -20.0, 2_830_000.0)
    ov = change_overlay((np.full((100, 100), 0.3), t10, GK), (np.full((50, 50), 0.5), t20, GK),
                        vmax=0.4, fade=None)
    img = decode_png(ov.png)
    inner = img[5:-5, 5:-5].reshape(-1, 4)
    # +0.2 on a ±0.4 scale: three quarters up the ramp, the same colour everywhere
    assert (ov.vmin, ov.vmax) == (-0.4, 0.4)
    assert len(np.unique(inner, axis=0)) == 1 and inner[0, 3] == 255
    expected = colorize(np.array([[0.2]]), colormap="change", vmin=-0.4, vmax=0.4)[0, 0]
    assert inner[0].tolist() == expected.tolist()


def test_overlay_layer_legend_and_offline_html():
    t = Affine(10.0, 0, 500_000.0, 0, -10.0, 2_830_000.0)
    ov = overlay_from_array(np.linspace(0, 1, 400).reshape(20, 20), t, GK, vmin=0, vmax=1)
    m = folium.Map(location=[25.5, 114.0], zoom_start=12, tiles=None)
    folium.LayerControl().add_to(m)  # added first, as the map builders do
    add_raster_overlay(m, ov, name="NDVI 2023", legend_title="NDVI", lang="en")
    html = to_html(m)
    assert asset_report(html) == []
    assert "data:image/png;base64," in html and "L.imageOverlay" in html
    assert "ecomap-colorbar" in html and "linear-gradient" in html
    assert "ecomap-raster" in html  # its own pane, above the choropleth
    # The layer control is rendered after the overlay, so that it lists it.
    assert html.index("L.imageOverlay") < html.index("L.control.layers")
    assert json.dumps("NDVI 2023")[1:-1] in html


def test_colorbar_ticks():
    html = colorbar_html("变化", "change", -0.3, 0.3, fmt="{:+.1f}")
    assert "-0.3" in html and "+0.0" in html and "+0.3" in html
    assert COLORMAPS["change"][0] in html and COLORMAPS["change"][-1] in html


def test_change_plots_layer_counts_the_flagged():
    import pandas as pd
    from shapely.geometry import box

    plots = gpd.GeoDataFrame({"plot_id": ["A", "B", "C"]},
                             geometry=[box(114.0, 25.0, 114.01, 25.01),
                                       box(114.02, 25.0, 114.03, 25.01),
                                       box(114.04, 25.0, 114.05, 25.01)], crs="EPSG:4490")
    t = change_table(pd.Series([0.2, 0.5, np.nan]), pd.Series([0.45, 0.49, 0.3]))
    m = folium.Map(location=[25.0, 114.0], zoom_start=12, tiles=None)
    add_change_plots(m, plots, t, name="NDVI", lang="en")
    html = to_html(m)
    assert json.dumps("plots with no gain: 1")[1:-1] in html
    assert json.dumps("plots where NDVI rose: 1")[1:-1] in html
    assert json.dumps("plots without data: 1")[1:-1] in html
    assert "#d50000" in html  # the no-gain outline
    assert '"fillOpacity": 0.0' in html  # outlines: the raster shows through


def test_demo_outputs_from_an_ndvi_pair(filled_store, tmp_path):
    """The demo's raster block on the test store, with a pair of small GeoTIFFs."""
    geodata = tmp_path / "geodata"
    geodata.mkdir()
    grid = Affine(100.0, 0, 490_000.0, 0, -100.0, 2_830_000.0)
    before = np.full((100, 200), 0.2, np.float32)
    write_tif(geodata / "ndvi_2022.tif", before, transform=grid)
    write_tif(geodata / "ndvi_2023.tif", before + 0.25, transform=grid)
    from ecomap.demo import write_ndvi_change

    out = tmp_path / "maps"
    written = write_ndvi_change(filled_store, out, geodata=geodata, year=2023)
    assert sorted(p.rsplit("/", 1)[-1] for p in written) == ["ndvi_change.csv",
                                                             "ndvi_change.html"]
    rows = (out / "ndvi_change.csv").read_bytes().decode("utf-8-sig").splitlines()
    assert len(rows) == 1 + 3  # S-30-70 and HOLE (afforestation), MULTI (mine)
    assert all(",增加," in r for r in rows[1:])
    html = (out / "ndvi_change.html").read_text("utf-8")
    assert "data:image/png;base64," in html and asset_report(html) == []
    with rasterio.open(geodata / "ndvi_2022.tif") as ds:
        assert ds.crs.to_epsg() == 4547


def test_add_raster_file_as_ecomap_map_raster_does(tmp_path):
    """What `ecomap map --raster FILE` runs; with a Gaode basemap the image moves too."""
    from ecomap.crs import gcj02_from_wgs84
    from ecomap.raster.service import add_raster_file

    grid = Affine(100.0, 0, 490_000.0, 0, -100.0, 2_830_000.0)
    path = write_tif(tmp_path / "ndvi_2023.tif", np.linspace(0.2, 0.9, 5000, dtype="float32")
                     .reshape(50, 100), transform=grid)
    m = folium.Map(location=[25.5, 114.0], zoom_start=11, tiles=None)
    plain = add_raster_file(m, path, vmin=0.0, vmax=1.0)
    shifted = add_raster_file(m, path, vmin=0.0, vmax=1.0, gcj02=True, show=False)
    html = to_html(m)
    assert json.dumps("ndvi_2023")[1:-1] in html and asset_report(html) == []
    (s0, w0), (n0, e0) = plain.bounds
    (s1, w1), (n1, e1) = shifted.bounds
    lon, lat = gcj02_from_wgs84([w0], [s0])
    assert (w1, s1) == pytest.approx((float(lon[0]), float(lat[0])), abs=1e-9)
    assert 0.001 < abs(w1 - w0) < 0.01  # a few hundred metres, as GCJ-02 shifts


def test_demo_layers_on_a_given_map(filled_store, tmp_path):
    """write_ndvi_change(add_to=county map): the layers join that map, hidden at first."""
    from ecomap import api
    from ecomap.demo import write_ndvi_change

    geodata = tmp_path / "geodata"
    geodata.mkdir()
    grid = Affine(100.0, 0, 490_000.0, 0, -100.0, 2_830_000.0)
    for year, value in ((2022, 0.2), (2023, 0.3)):
        write_tif(geodata / f"ndvi_{year}.tif", np.full((100, 200), value, np.float32),
                  transform=grid)
    m = api.county_map(filled_store, year=2023)
    written = write_ndvi_change(filled_store, tmp_path / "maps", geodata=geodata, add_to=m)
    assert [p.rsplit("/", 1)[-1] for p in written] == ["ndvi_change.csv"]
    html = to_html(m)
    assert "L.imageOverlay" in html and json.dumps("NDVI变化(后期−前期)")[1:-1] in html
    assert html.index("L.imageOverlay") < html.index("L.control.layers")
