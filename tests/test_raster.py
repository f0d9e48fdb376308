"""Zonal statistics on generated GeoTIFFs, checked against hand-computed values.

Pixel (row r, col c) of :func:`rasters.row_raster` holds r, so a zone's coverage-weighted
mean is the average row number of the area it covers, weighted by how much of each
pixel it covers (see tests/rasters.py for the grid).
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from shapely.geometry import MultiPolygon

from ecomap.crs import transform_geometries
from ecomap.errors import CRSError, InputError
from ecomap.io.raster import change_from_files, open_raster, zonal_stats_file
from ecomap.raster import (
    ArraySource,
    category_shares,
    change_table,
    coverage_fractions,
    zonal_stats,
)
from tests.components import need_module
from tests.rasters import GK, PIXEL, TOP, X0, dense, px_box, px_polygon, row_raster, write_tif

MOMENTS = "count,sum,mean"  # computed from the outlines alone
ALL = "count,sum,mean,min,max,std,majority,minority,variety,median"  # from pixel lists


def zones(*geoms, crs=GK) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [f"z{i}" for i in range(len(geoms))]},
                            geometry=list(geoms), crs=crs)


def in_4490(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The zones as the store holds them: CGCS2000 lon/lat."""
    geoms = transform_geometries(frame.geometry.values, frame.crs, "EPSG:4490")
    return frame.set_geometry(list(geoms), crs="EPSG:4490")


@pytest.fixture
def rows_tif(tmp_path):
    return write_tif(tmp_path / "rows.tif", row_raster())


@pytest.mark.parametrize("stats", [MOMENTS, ALL])
def test_whole_pixels(rows_tif, stats):
    # Rows 2, 3, 4 × columns 1, 2, 3: nine whole pixels.
    z = zones(px_box(1, 2, 4, 5))
    got = zonal_stats_file(rows_tif, z, stats=stats).iloc[0]
    assert got["count"] == pytest.approx(9.0, abs=1e-9)
    assert got["sum"] == pytest.approx(27.0, abs=1e-9)
    assert got["mean"] == pytest.approx(3.0, abs=1e-12)
    if "min" in stats:
        assert (got["min"], got["max"], got["majority"], got["minority"]) == (2, 4, 4, 2)
        assert got["std"] == pytest.approx(math.sqrt(2 / 3), abs=1e-12)
        assert got["variety"] == 3 and got["median"] == pytest.approx(3.0)


def test_half_covered_pixel(rows_tif):
    z = zones(px_box(5, 5, 5.5, 6))  # the left half of pixel (5, 5)
    with open_raster(rows_tif) as src:
        cov = coverage_fractions(z, src)
        got = zonal_stats(z, src, stats=MOMENTS).iloc[0]
    assert cov[["zone", "row", "col"]].values.tolist() == [[0, 5, 5]]
    assert cov["fraction"].iloc[0] == pytest.approx(0.5, abs=1e-12)
    assert got["count"] == pytest.approx(0.5, abs=1e-12)
    assert got["mean"] == pytest.approx(5.0, abs=1e-12)


@pytest.mark.parametrize("stats", [MOMENTS, ALL])
def test_weighted_means_by_hand(rows_tif, stats):
    z = zones(
        # Row 1 whole and half of row 2, three columns: (3·1 + 1.5·2) / 4.5.
        px_box(0, 1, 3, 2.5),
        # Heights 0.5, 1, 1, 0.25 in rows 0–3, width 2.5: (0·.5 + 1 + 2 + 3·.25) / 2.75.
        px_box(0.25, 0.5, 2.75, 3.25),
        # Triangle x + y ≤ 2 (pixel units): pixel (0, 0) whole, (0, 1) and (1, 0) halves.
        px_polygon([(0, 0), (2, 0), (0, 2)]),
        # 4 × 4 box with a 2 × 2 hole: rows 0 and 3 whole, rows 1 and 2 two pixels each.
        shapely.difference(px_box(10, 10, 14, 14), px_box(11, 11, 13, 13)),
        # Two parts, rows 0 and 10, one pixel each.
        MultiPolygon([px_box(20, 0, 21, 1), px_box(20, 10, 21, 11)]),
    )
    got = zonal_stats_file(rows_tif, z, stats=stats)
    expected_mean = [4 / 3, 3.75 / 2.75, 0.25, 10 + 18 / 12, 5.0]
    expected_count = [4.5, 6.875, 2.0, 12.0, 2.0]
    np.testing.assert_allclose(got["mean"], expected_mean, atol=1e-12)
    np.testing.assert_allclose(got["count"], expected_count, atol=1e-12)
    with open_raster(rows_tif) as src:
        tri = coverage_fractions(z.iloc[[2]], src)
    assert {(r, c): f for r, c, f in tri[["row", "col", "fraction"]].values} == \
        pytest.approx({(0, 0): 1.0, (0, 1): 0.5, (1, 0): 0.5})


@pytest.mark.parametrize("raster_crs", ["EPSG:32650", "EPSG:3857"])
def test_raster_in_another_crs_than_the_zones(tmp_path, raster_crs):
    """Zones in CGCS2000 lon/lat, raster in UTM 50N or Web Mercator: zones are moved."""
    origin = transform_geometries(np.array([shapely.Point(114.35, 25.45)]), "EPSG:4490",
                                  raster_crs)[0]
    ox, oy = round(origin.x, -1), round(origin.y, -1)
    path = write_tif(tmp_path / "rows.tif", row_raster(), crs=raster_crs,
                     transform=Affine(PIXEL, 0, ox, 0, -PIXEL, oy))
    # Rows 2–4 × columns 1–3 and a quarter pixel, drawn in the raster's CRS…
    drawn = gpd.GeoDataFrame(geometry=[
        dense(shapely.box(ox + 10, oy - 50, ox + 40, oy - 20)),
        dense(shapely.box(ox + 50, oy - 65, ox + 55, oy - 60)),
    ], crs=raster_crs)
    z = in_4490(drawn)  # … and handed over in EPSG:4490
    assert z.crs.to_epsg() == 4490
    for stats in (MOMENTS, ALL):
        got = zonal_stats_file(path, z, stats=stats)
        np.testing.assert_allclose(got["mean"], [3.0, 6.0], atol=1e-6)
        np.testing.assert_allclose(got["count"], [9.0, 0.25], atol=1e-6)


@pytest.mark.parametrize("stats", [MOMENTS, ALL])
def test_nodata_and_nan_are_left_out(tmp_path, stats):
    a = row_raster()
    a[2, 1] = -9999  # inside the first zone: its value 2 drops out
    a[20:24, 20:24] = -9999  # the whole second zone
    nodata_tif = write_tif(tmp_path / "nodata.tif", a, nodata=-9999)
    z = zones(px_box(1, 2, 4, 5), px_box(20, 20, 24, 24), px_box(5, 5, 5.5, 6))
    got = zonal_stats_file(nodata_tif, z, stats=stats)
    assert got["count"].tolist() == pytest.approx([8.0, 0.0, 0.5])
    assert got["mean"].iloc[0] == pytest.approx(25 / 8, abs=1e-12)
    assert math.isnan(got["mean"].iloc[1]) and got["sum"].iloc[1] == 0
    b = row_raster()
    b[2, 1] = np.nan  # NaN without a nodata value
    got = zonal_stats_file(write_tif(tmp_path / "nan.tif", b), z.iloc[[0]], stats=stats)
    assert got["mean"].iloc[0] == pytest.approx(25 / 8, abs=1e-12)


def test_categorical_share(tmp_path):
    """Forest (class 1) left of column 3, farmland (2) right of it; 0 is nodata."""
    lc = np.where(np.arange(32)[None, :] < 3, 1, 2).repeat(32, axis=0).astype(np.uint8)
    lc[0, 3] = 0
    path = write_tif(tmp_path / "landcover.tif", lc, nodata=0)
    z = zones(px_box(1.5, 0, 4, 2),  # 1.5 × 2 of forest, 1 × 2 of farmland less one pixel
              px_box(1.5, 1, 4, 2))  # 1.5 × 1 of forest, 1 × 1 of farmland
    got = zonal_stats_file(path, z, categorical=True)
    assert list(got.columns) == ["count", "share_1", "share_2"]
    np.testing.assert_allclose(got["share_1"], [3 / 4, 1.5 / 2.5], atol=1e-12)
    np.testing.assert_allclose(got["share_2"], [1 / 4, 1 / 2.5], atol=1e-12)
    np.testing.assert_allclose(got["count"], [4.0, 2.5], atol=1e-12)
    with open_raster(path) as src:
        forest = category_shares(z, src, classes=[1])
    assert list(forest.columns) == ["count", "share_1"]


def test_partly_off_the_raster(rows_tif):
    z = zones(px_box(-2, 30, 2, 34),  # columns −2…2, rows 30…34: 2 × 2 pixels on it
              px_box(100, 100, 101, 101))  # entirely off it
    got = zonal_stats_file(rows_tif, z, stats="count,mean,max")
    assert got["count"].tolist() == pytest.approx([4.0, 0.0])
    assert got["mean"].iloc[0] == pytest.approx(30.5)
    assert got["max"].iloc[0] == 31 and math.isnan(got["mean"].iloc[1])


def random_zones(rng, n: int, *, width: int, height: int) -> gpd.GeoDataFrame:
    """Irregular polygons, some with holes, some in two parts, some over the edge."""
    geoms = []
    for _ in range(n):
        c, r = rng.uniform(-3, width + 3), rng.uniform(-3, height + 3)
        rad = rng.uniform(0.2, 9)
        k = int(rng.integers(3, 14))
        t = np.sort(rng.uniform(0, 2 * np.pi, k))
        rr = rad * rng.uniform(0.5, 1.0, k)
        g = px_polygon(np.column_stack([c + rr * np.cos(t), r + rr * np.sin(t)]))
        g = shapely.make_valid(g) if not g.is_valid else g
        if rng.random() < 0.2 and rad > 2:
            g = g.difference(px_box(c - rad / 4, r - rad / 4, c + rad / 4, r + rad / 4))
        if rng.random() < 0.1:
            g = g.union(px_box(c + rad + 2, r, c + rad + 3.5, r + 1.3))
        g = shapely.make_valid(g)
        polys = [p for p in getattr(g, "geoms", [g]) if p.geom_type == "Polygon"]
        geoms.append(MultiPolygon(polys) if len(polys) > 1 else polys[0])
    return zones(*geoms)


def test_batches_and_bands_change_nothing():
    """Tiny batches (every zone split into bands of rows) give the same numbers."""
    rng = np.random.default_rng(7)
    values = rng.normal(0.5, 0.2, (60, 80))
    values[rng.random(values.shape) < 0.05] = np.nan
    src = ArraySource(values, Affine(PIXEL, 0, X0, 0, -PIXEL, TOP), GK)
    z = random_zones(rng, 150, width=80, height=60)
    for stats in (MOMENTS, ALL):
        whole = zonal_stats(z, src, stats=stats)
        split = zonal_stats(z, src, stats=stats, max_cells=150)
        np.testing.assert_allclose(split.to_numpy(float), whole.to_numpy(float), rtol=1e-9,
                                   atol=1e-12)
    fast, slow = zonal_stats(z, src, stats=MOMENTS), zonal_stats(z, src, stats="count,mean,min")
    np.testing.assert_allclose(fast["mean"], slow["mean"], rtol=1e-9)
    np.testing.assert_allclose(fast["count"], slow["count"], atol=1e-9)


def test_agrees_with_exactextract():
    exactextract = need_module("exactextract", "exactextract",
                               "the dev extra (exactextract) is not installed")
    from exactextract.raster import NumPyRasterSource

    rng = np.random.default_rng(11)
    h, w = 50, 70
    values = np.round(rng.uniform(0, 20, (h, w)))  # few distinct values: real majorities
    src = ArraySource(values, Affine(PIXEL, 0, X0, 0, -PIXEL, TOP), GK)
    z = random_zones(rng, 200, width=w, height=h)
    ours = zonal_stats(z, src, stats=ALL.replace("std", "stdev"))
    theirs = exactextract.exact_extract(
        NumPyRasterSource(values, xmin=X0, ymin=TOP - h * PIXEL, xmax=X0 + w * PIXEL, ymax=TOP,
                          srs_wkt=z.crs.to_wkt()),
        z, ALL.replace("std", "stdev").split(","), output="pandas")
    for col in ours.columns:
        # exactextract keeps coverage fractions in single precision
        np.testing.assert_allclose(ours[col], theirs[col], rtol=1e-6, atol=1e-6, err_msg=col)
    assert zonal_stats(z, src, stats="mean")["mean"].to_numpy() == pytest.approx(
        theirs["mean"].to_numpy(), rel=1e-6, nan_ok=True)


class Recording:
    """An ArraySource that records the windows read."""

    def __init__(self, src: ArraySource) -> None:
        self.src, self.windows = src, []

    def __getattr__(self, name):
        return getattr(self.src, name)

    def read(self, row, col, nrows, ncols):
        self.windows.append((row, col, nrows, ncols))
        return self.src.read(row, col, nrows, ncols)


def test_reads_windows_under_the_zones_only():
    """A 4000 × 4000 raster with zones in one corner: only small windows are read."""
    big = np.broadcast_to(np.float32(1.0), (4000, 4000))  # no memory behind it
    rec = Recording(ArraySource(big, Affine(PIXEL, 0, X0, 0, -PIXEL, TOP), GK,
                                block_shape=(256, 256)))
    z = zones(*[px_box(10 + 7 * i, 20 + 3 * i, 14 + 7 * i, 26 + 3 * i) for i in range(40)],
              px_box(0, 0, 1500, 40))  # and one long zone
    got = zonal_stats(z, rec, stats="mean,min", max_cells=20_000)
    assert got["mean"].tolist() == pytest.approx([1.0] * 41)
    read = sum(r * c for _, _, r, c in rec.windows)
    assert max(r * c for _, _, r, c in rec.windows) <= 2 * 20_000 + 1500 * 40
    assert read < 0.02 * big.size


def test_rotated_raster():
    """A rotated grid: the footprint of one pixel covers exactly that pixel."""
    t = Affine.translation(X0, TOP) @ Affine.rotation(30) @ Affine.scale(PIXEL, -PIXEL)
    src = ArraySource(row_raster(), t, GK)
    corners = [t @ (c, r) for c, r in [(3, 4), (4, 4), (4, 5), (3, 5)]]
    z = zones(shapely.Polygon(corners))
    got = zonal_stats(z, src, stats="count,mean,max").iloc[0]
    assert got["count"] == pytest.approx(1.0, abs=1e-9)
    assert got["mean"] == pytest.approx(4.0, abs=1e-9) and got["max"] == 4


def test_scale_and_offset_are_applied(tmp_path):
    ndvi = np.full((32, 32), 6500, dtype=np.int16)
    ndvi[0, 0] = -32768
    path = write_tif(tmp_path / "ndvi_int16.tif", ndvi, nodata=-32768)
    import rasterio

    with rasterio.open(path, "r+") as ds:
        ds.scales, ds.offsets = (0.0001,), (0.0,)
    got = zonal_stats_file(path, zones(px_box(0, 0, 2, 2)), stats="count,mean,max").iloc[0]
    assert got["mean"] == pytest.approx(0.65) and got["max"] == pytest.approx(0.65)
    assert got["count"] == pytest.approx(3.0)


def test_change_table_by_hand():
    before = pd.Series([0.2, 0.5, np.nan, 0.4], index=[10, 11, 12, 13])
    after = pd.Series([0.45, 0.49, 0.3, 0.42], index=[10, 11, 12, 13])
    t = change_table(before, after, min_gain=0.05)
    assert t["change"].tolist()[:2] == pytest.approx([0.25, -0.01])
    assert t["status"].tolist() == ["gain", "no_gain", "no_data", "no_gain"]


def test_change_from_two_grids(tmp_path):
    """Before on 10 m pixels, after on 20 m pixels in UTM: means compare per zone."""
    before = write_tif(tmp_path / "before.tif", row_raster())
    after_values = np.repeat(np.arange(16, dtype=np.float32)[:, None], 16, axis=1)
    after = write_tif(tmp_path / "after.tif", 2 * after_values + 1.5,
                      transform=Affine(2 * PIXEL, 0, X0, 0, -2 * PIXEL, TOP))
    # Rows 2–3 of the 10 m grid = row 1 of the 20 m grid: before 2.5, after 2·1 + 1.5.
    t = change_from_files(before, after, in_4490(zones(dense(px_box(0, 2, 2, 4)))))
    assert t["before"].iloc[0] == pytest.approx(2.5, abs=1e-6)
    assert t["after"].iloc[0] == pytest.approx(3.5, abs=1e-6)
    assert t["status"].iloc[0] == "gain" and t["count_after"].iloc[0] == pytest.approx(1.0)


# --- errors: each names the file and the fix ------------------------------------------


def test_raster_that_misses_every_zone(tmp_path, english):
    far = write_tif(tmp_path / "elsewhere.tif", row_raster(),
                    transform=Affine(PIXEL, 0, 300_000, 0, -PIXEL, 3_500_000))
    with pytest.raises(InputError, match=r"elsewhere\.tif covers .* none of the 1 zones"):
        zonal_stats_file(far, zones(px_box(1, 1, 2, 2)))


def test_raster_without_crs(tmp_path, english):
    path = write_tif(tmp_path / "nocrs.tif", row_raster(), crs=None)
    with pytest.raises(CRSError, match=r"nocrs\.tif has no coordinate reference system.*"
                                       r"--raster-crs"):
        zonal_stats_file(path, zones(px_box(1, 2, 4, 5)))
    got = zonal_stats_file(path, zones(px_box(1, 2, 4, 5)), crs="EPSG:4547")
    assert got["mean"].iloc[0] == pytest.approx(3.0)


def test_unreadable_and_missing_files(tmp_path, english):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00 this is not really a TIFF")
    with pytest.raises(InputError, match=r"broken\.tif: cannot be read as a raster"):
        open_raster(bad)
    with pytest.raises(InputError, match=r"missing\.tif: no such file"):
        open_raster(tmp_path / "missing.tif")


def test_zones_must_be_polygons(rows_tif, english):
    with pytest.raises(InputError, match="need polygons.*Point"):
        zonal_stats_file(rows_tif, zones(shapely.Point(X0 + 5, TOP - 5)))
    with pytest.raises(InputError, match="unknown statistic.*mode"):
        zonal_stats_file(rows_tif, zones(px_box(1, 1, 2, 2)), stats="mean,mode")


def test_demo_ndvi_pair_flags_the_plots_made_without_gain():
    """geodata/ndvi_2022.tif → 2023: the plots make_ndvi.py left without gain, no others."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "geodata"
    plots = gpd.GeoDataFrame(pd.concat([
        gpd.read_file(root / "plots" / f"{c}_2023.geojson", engine="pyogrio")
        for c in ("mine_remediation", "afforestation")], ignore_index=True))
    t = change_from_files(root / "ndvi_2022.tif", root / "ndvi_2023.tif", plots)
    flagged = sorted(plots.loc[t["status"] == "no_gain", "小班号"])
    assert flagged == ["DY2023-KS-0006", "DY2023-KS-0014"] + [
        f"DY2023-ZL-{i:04d}" for i in (15, 20, 26, 29, 41, 43, 50, 51, 52)]
    assert (t["status"] != "no_data").all()
    assert t.loc[t["status"] == "gain", "change"].min() > 0.03


def test_the_package_loads_its_modules_on_first_use():
    """``import ecomap.raster`` loads none of its modules; each public name then resolves
    to the object its module defines."""
    import importlib
    import subprocess
    import sys

    code = ("import sys, ecomap.raster; "
            "print(sorted(m for m in sys.modules if m.startswith('ecomap.raster.')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": ":".join(sys.path)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    raster = importlib.import_module("ecomap.raster")
    for name in raster.__all__:
        module = importlib.import_module(f"ecomap.raster.{raster._EXPORTS[name]}")
        assert getattr(raster, name) is getattr(module, name), name
    assert set(raster.__all__) == set(raster._EXPORTS) <= set(dir(raster))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        raster.nothing  # noqa: B018
