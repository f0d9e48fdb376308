"""Builders of small GeoTIFFs with known values, for the raster tests.

The grid sits at the test townships' origin (conftest: x 500 000, y 2 820 000 in
EPSG:4547): 10 m pixels, north up, so pixel (row r, col c) spans
x = X0 + 10c … X0 + 10(c + 1) and y = TOP − 10(r + 1) … TOP − 10r.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from shapely import segmentize
from shapely.geometry import Polygon, box

X0, TOP = 500_000.0, 2_830_000.0  # top-left corner, inside the test townships' box
PIXEL = 10.0
GK = "EPSG:4547"


def write_tif(path: Path, array: np.ndarray, *, crs: str | None = GK, transform=None,
              nodata=None, **profile) -> Path:
    """A single-band GeoTIFF of ``array`` (tiled 16 × 16 so windows cross blocks)."""
    array = np.asarray(array)
    transform = transform or Affine(PIXEL, 0, X0, 0, -PIXEL, TOP)
    opts = dict(driver="GTiff", width=array.shape[1], height=array.shape[0], count=1,
                dtype=array.dtype, transform=transform, nodata=nodata, tiled=True,
                blockxsize=16, blockysize=16)
    if crs is not None:
        opts["crs"] = crs
    opts.update(profile)
    with rasterio.open(path, "w", **opts) as dst:
        dst.write(array, 1)
    return path


def row_raster(height: int = 32, width: int = 32) -> np.ndarray:
    """Each pixel holds its row number (0 at the top)."""
    return np.repeat(np.arange(height, dtype=np.float32)[:, None], width, axis=1)


def px_box(c0: float, r0: float, c1: float, r1: float) -> Polygon:
    """A box given in pixel coordinates (columns c0..c1, rows r0..r1), in EPSG:4547 metres."""
    return box(X0 + c0 * PIXEL, TOP - r1 * PIXEL, X0 + c1 * PIXEL, TOP - r0 * PIXEL)


def px_polygon(points) -> Polygon:
    """A polygon from (col, row) pixel coordinates, in EPSG:4547 metres."""
    return Polygon([(X0 + c * PIXEL, TOP - r * PIXEL) for c, r in points])


def dense(geom, step: float = 1.0):
    """Vertices every ``step`` metres, so the edges stay straight in other CRSs."""
    return segmentize(geom, step)
