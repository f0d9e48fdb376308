"""Rasters over plots and townships: zonal statistics, change between two dates, overlays.

* :mod:`~ecomap.raster.zonal` — coverage-weighted statistics per zone
  (:func:`zonal_stats`, :func:`category_shares`, :func:`coverage_fractions`), on the
  vectorised coverage engine in :mod:`~ecomap.raster._coverage`;
* :mod:`~ecomap.raster.source` — what the statistics read pixels from
  (:class:`RasterSource`, :class:`ArraySource`);
* :mod:`~ecomap.raster.change` — per-zone change of a mean and the difference overlay;
* :mod:`~ecomap.raster.overlay` — colour ramps and Web Mercator PNGs for the maps;
* :mod:`~ecomap.raster.service` — the questions the CLI asks of a store.

Files are opened by :mod:`ecomap.io.raster`; overlays are drawn by
:mod:`ecomap.maps._raster`.  Names below load their module on first use, so importing
this package loads neither numpy nor rasterio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecomap._lazy import lazy_exports

if TYPE_CHECKING:
    from ecomap.raster._coverage import affine_coeffs
    from ecomap.raster.change import change_overlay, change_table
    from ecomap.raster.overlay import COLORMAPS, Overlay, colorize, overlay_from_array, png_from_rgba
    from ecomap.raster.source import ArraySource, RasterSource
    from ecomap.raster.zonal import (
        CATEGORICAL_STATS,
        MAX_CELLS,
        STATS,
        category_shares,
        coverage_fractions,
        zonal_stats,
    )

#: Public name → the module that holds it.
_EXPORTS = {
    "CATEGORICAL_STATS": "zonal",
    "MAX_CELLS": "zonal",
    "STATS": "zonal",
    "category_shares": "zonal",
    "coverage_fractions": "zonal",
    "zonal_stats": "zonal",
    "ArraySource": "source",
    "RasterSource": "source",
    "affine_coeffs": "_coverage",
    "change_overlay": "change",
    "change_table": "change",
    "COLORMAPS": "overlay",
    "Overlay": "overlay",
    "colorize": "overlay",
    "overlay_from_array": "overlay",
    "png_from_rgba": "overlay",
}

__all__ = [
    "CATEGORICAL_STATS",
    "COLORMAPS",
    "MAX_CELLS",
    "STATS",
    "ArraySource",
    "Overlay",
    "RasterSource",
    "affine_coeffs",
    "category_shares",
    "change_overlay",
    "change_table",
    "colorize",
    "coverage_fractions",
    "overlay_from_array",
    "png_from_rgba",
    "zonal_stats",
]


__getattr__, __dir__ = lazy_exports(__name__, {n: f".{m}" for n, m in _EXPORTS.items()},
                                   __all__)
