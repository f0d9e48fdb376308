"""Write the demo's synthetic NDVI pair: ``geodata/ndvi_2022.tif`` and ``ndvi_2023.tif``.

Synthetic, not satellite data: a smooth vegetation field over Dayu County on a 30 m grid
in EPSG:4547 (CGCS2000 3-degree Gauss-Kruger, CM 114°E), with the 2023 remediated mines
and afforestation plots of ``geodata/plots/`` bare in 2022 and greener in 2023 — except
a few plots chosen to show no gain, so that ``ecomap change`` has something to flag.
Outside the county the pixels are nodata (−9999).

Deterministic: every random draw has a fixed seed and the GeoTIFFs carry no timestamp,
so two runs give byte-identical files (same GDAL, PROJ and numpy).  Run
``.venv/bin/python geodata/make_ndvi.py`` after ``make_geodata.py``; see README.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.features import rasterize
from shapely.geometry import shape

from ecomap.crs import transform_geometries

HERE = Path(__file__).resolve().parent
GK = "EPSG:4547"
PIXEL = 30.0  # metres
NODATA = -9999.0
QUANT = 1024  # NDVI is stored in steps of 1/QUANT
SEED = 2022
SEAT = (114.362, 25.396)  # 南安镇, the county seat (approximate): built-up, low NDVI
# Share of the plots that show no NDVI gain on purpose (failed or late work).
NO_GAIN_FRACTION = 0.15


def read_layer(path: Path) -> tuple[list[dict], np.ndarray]:
    """Properties and geometries (EPSG:4490) of one committed GeoJSON file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    props = [f["properties"] for f in data["features"]]
    geoms = np.array([shape(f["geometry"]) for f in data["features"]], dtype=object)
    return props, geoms


def grid(county_gk) -> tuple[rasterio.Affine, int, int]:
    """A 30 m grid snapped to multiples of 30 m, covering the county with one pixel spare."""
    minx, miny, maxx, maxy = county_gk.bounds
    x0 = np.floor(minx / PIXEL) * PIXEL - PIXEL
    y1 = np.ceil(maxy / PIXEL) * PIXEL + PIXEL
    width = int(np.ceil((maxx - x0) / PIXEL)) + 1
    height = int(np.ceil((y1 - miny) / PIXEL)) + 1
    return rasterio.Affine(PIXEL, 0.0, x0, 0.0, -PIXEL, y1), width, height


def base_field(transform, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Forest-dominated NDVI (≈0.55–0.85), lower towards the county seat and in valleys."""
    cols = np.arange(width) + 0.5
    rows = np.arange(height) + 0.5
    x = transform.c + cols * transform.a
    y = transform.f + rows * transform.e
    X, Y = np.meshgrid(x, y)
    field = np.full((height, width), 0.72)
    for _ in range(6):  # smooth hills: a few long-wave cosines of random direction
        k = rng.uniform(2 * np.pi / 25_000, 2 * np.pi / 6_000)
        theta = rng.uniform(0, np.pi)
        phase = rng.uniform(0, 2 * np.pi)
        field += 0.035 * np.cos(k * (X * np.cos(theta) + Y * np.sin(theta)) + phase)
    seat = transform_geometries(np.array([shapely.Point(SEAT)], dtype=object),
                                "EPSG:4490", GK)[0]
    d2 = (X - seat.x) ** 2 + (Y - seat.y) ** 2
    field -= 0.40 * np.exp(-d2 / (2 * 1_800.0**2))  # the town
    return field


def plot_values(props: list[dict], rng: np.random.Generator, *, before: tuple[float, float],
                gain: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """NDVI of each plot in 2022 and 2023; a share of the plots gains nothing."""
    n = len(props)
    v2022 = rng.uniform(*before, n)
    delta = rng.uniform(*gain, n)
    ids = np.array([p["小班号"] for p in props])
    stalled = rng.choice(n, size=max(1, int(round(n * NO_GAIN_FRACTION))), replace=False)
    delta[stalled] = rng.uniform(-0.04, 0.0, len(stalled))
    print(f"  {len(stalled)} of {n} plots without gain: " + ", ".join(sorted(ids[stalled])))
    return v2022, v2022 + delta


def burn(shape_hw, transform, geoms_gk, values) -> np.ndarray:
    """Plot values on the grid (pixel centres inside a plot), NaN elsewhere."""
    return rasterize(zip(geoms_gk, values, strict=True), out_shape=shape_hw,
                     transform=transform, fill=np.nan, dtype="float64")


def write(path: Path, ndvi: np.ndarray, inside: np.ndarray, transform) -> None:
    # Steps of 1/1024 (≈0.001 NDVI) are exact in binary: the low mantissa bits are zero
    # and compress away, which keeps each file under 2 MB.
    q = np.round(np.clip(ndvi, -0.2, 0.99) * QUANT) / QUANT
    data = np.where(inside, q, NODATA).astype("float32")
    profile = dict(driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                   dtype="float32", crs=GK, transform=transform, nodata=NODATA, tiled=True,
                   blockxsize=256, blockysize=256, compress="deflate", predictor=3, zlevel=9)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(1, name="NDVI", note="synthetic demo data, not satellite imagery")
        dst.set_band_description(1, "NDVI (synthetic)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--geodata", type=Path, default=HERE, help="folder with county.geojson")
    ap.add_argument("--out", type=Path, default=HERE, help="where the GeoTIFFs go")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(SEED)

    _, county = read_layer(args.geodata / "county.geojson")
    county_gk = shapely.union_all(transform_geometries(county, "EPSG:4490", GK))
    transform, width, height = grid(county_gk)
    inside = rasterize([county_gk], out_shape=(height, width), transform=transform, fill=0,
                       dtype="uint8").astype(bool)
    print(f"grid: {width} × {height} pixels of {PIXEL:g} m, {inside.sum()} in the county")

    ndvi22 = base_field(transform, width, height, rng)
    ndvi22 += rng.normal(0.0, 0.02, ndvi22.shape)
    ndvi23 = ndvi22 + 0.005 + rng.normal(0.0, 0.012, ndvi22.shape)  # an ordinary year

    layers = [("mine_remediation", (0.12, 0.25), (0.15, 0.30)),   # bare spoil → grass, shrubs
              ("afforestation", (0.30, 0.42), (0.06, 0.16))]      # cleared land → saplings
    for code, before, gain in layers:
        print(code)
        props, geoms = read_layer(args.geodata / "plots" / f"{code}_2023.geojson")
        geoms_gk = transform_geometries(geoms, "EPSG:4490", GK)
        v22, v23 = plot_values(props, rng, before=before, gain=gain)
        noise22 = rng.normal(0.0, 0.02, (height, width))
        noise23 = rng.normal(0.0, 0.02, (height, width))
        b22 = burn((height, width), transform, geoms_gk, v22)
        b23 = burn((height, width), transform, geoms_gk, v23)
        on = np.isfinite(b22)
        ndvi22 = np.where(on, b22 + noise22, ndvi22)
        ndvi23 = np.where(on, b23 + noise23, ndvi23)

    args.out.mkdir(parents=True, exist_ok=True)
    for year, ndvi in ((2022, ndvi22), (2023, ndvi23)):
        path = args.out / f"ndvi_{year}.tif"
        write(path, ndvi, inside, transform)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
