"""Raster files (GeoTIFF, Cloud-Optimised GeoTIFF, anything GDAL reads) as sources for
:mod:`ecomap.raster`, with messages that name the file and the fix.

A :class:`RasterFile` reads one band window by window, so the zonal statistics touch
only the blocks under the zones; a COG on a web server is fetched by HTTP range
requests, tile by tile.  Overlays read a reduced copy, from the file's overviews when
it has them.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ecomap.errors import CRSError, InputError
from ecomap.i18n import tr

__all__ = ["RasterFile", "change_from_files", "open_raster", "read_overlay", "read_overview",
           "zonal_stats_file"]

log = logging.getLogger(__name__)

# GDAL's block cache defaults to 5 % of the RAM: reading a large compressed raster once,
# window by window, would fill it for nothing.  256 MB holds a few rows of blocks, enough
# for the windows' overlaps.
_ENV = {"GDAL_CACHEMAX": 256}
# For remote COGs also: no directory listing, merged range requests.
_REMOTE_ENV = {**_ENV, "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
               "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES", "GDAL_HTTP_MULTIPLEX": "YES",
               "VSI_CACHE": "TRUE"}


def _is_remote(path: str) -> bool:
    return path.startswith(("http://", "https://", "s3://", "gs://", "/vsi"))


def _rasterio():
    try:
        import rasterio
    except ImportError as exc:  # pragma: no cover - the raster extra is in make's venv
        raise InputError(tr("栅格功能需要 rasterio: 请运行 pip install 'ecomap[raster]' 安装",
                            "raster support needs rasterio: pip install 'ecomap[raster]'")
                         ) from exc
    return rasterio


class RasterFile:
    """One band of a raster file, read by windows (a :class:`ecomap.raster.RasterSource`).

    Use :func:`open_raster`.  Scale and offset tags are applied (an int16 NDVI stored
    ×10 000 reads as NDVI); pixels equal to the nodata value, NaN, or masked by the
    file's mask or alpha band are invalid.
    """

    def __init__(self, path: str | os.PathLike, *, band: int = 1, crs=None) -> None:
        rasterio = _rasterio()
        from rasterio.errors import RasterioIOError

        from ecomap.crs import parse_crs

        self.path = str(path)
        self.name = Path(self.path).name if not _is_remote(self.path) else self.path
        if not _is_remote(self.path) and not Path(self.path).exists():
            raise InputError(tr("{name}: 文件不存在 ({path}); 请检查路径",
                                "{name}: no such file ({path}); check the path",
                                name=self.name, path=self.path))
        self._env = rasterio.Env(**(_REMOTE_ENV if _is_remote(self.path) else _ENV))
        self._env.__enter__()
        try:
            self._ds = rasterio.open(self.path)
        except RasterioIOError as exc:
            self._env.__exit__(None, None, None)
            raise InputError(tr(
                "{name}: 无法作为栅格读取 ({detail}); 请提供 GeoTIFF (.tif) 或其他 GDAL "
                "能读取的格式, 并检查文件是否完整",
                "{name}: cannot be read as a raster ({detail}); give a GeoTIFF (.tif) or "
                "another format GDAL reads, and check that the file is complete",
                name=self.name, detail=_short(exc))) from exc
        ds = self._ds
        if not 1 <= band <= ds.count:
            self.close()
            raise InputError(tr("{name} 只有 {count} 个波段; 不存在第 {band} 波段",
                                "{name} has {count} band(s); band {band} does not exist",
                                name=self.name, count=ds.count, band=band))
        self.band = band
        self.width, self.height = ds.width, ds.height
        t = ds.transform
        self.transform = (t.a, t.b, t.c, t.d, t.e, t.f)
        if crs is not None:
            self.crs = parse_crs(crs)
        elif ds.crs is not None:
            self.crs = parse_crs(ds.crs.to_wkt())
        else:
            self.crs = None
        self._raw_nodata = ds.nodatavals[band - 1]
        self.dtype = np.dtype(ds.dtypes[band - 1])
        self.block_shape = tuple(ds.block_shapes[band - 1])
        self._scale = float(ds.scales[band - 1] or 1.0)
        self._offset = float(ds.offsets[band - 1] or 0.0)
        flags = ds.mask_flag_enums[band - 1]
        names = {f.name for f in flags}
        self._masked = bool(names & {"per_dataset", "alpha"})
        # Scaled values come back as float64 with NaN where invalid.
        self.nodata = self._raw_nodata if self._scale == 1.0 and self._offset == 0.0 else None
        if t.is_identity and self.crs is None:
            self.close()
            raise CRSError(tr("{name} 没有地理参考 (既无地理变换参数也无坐标系); "
                              "请带坐标系重新导出为 GeoTIFF",
                              "{name} is not georeferenced (no geotransform and no CRS); "
                              "export it again as a GeoTIFF with its coordinate system",
                              name=self.name))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        b = self._ds.bounds
        return (b.left, b.bottom, b.right, b.top)

    @property
    def overviews(self) -> list[int]:
        return list(self._ds.overviews(self.band))

    def read(self, row: int, col: int, nrows: int, ncols: int):
        from rasterio.windows import Window

        window = Window(col, row, ncols, nrows)
        values = self._ds.read(self.band, window=window)
        valid = None
        if self._masked:
            valid = self._ds.read_masks(self.band, window=window) > 0
        if self._scale != 1.0 or self._offset != 0.0:
            invalid = self._invalid(values)
            values = values.astype(np.float64) * self._scale + self._offset
            values[invalid] = np.nan
        return values, valid

    def _invalid(self, values: np.ndarray) -> np.ndarray:
        bad = np.isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
        if self._raw_nodata is not None and not math.isnan(self._raw_nodata):
            bad |= values == self._raw_nodata
        return bad

    def close(self) -> None:
        ds = getattr(self, "_ds", None)
        if ds is not None and not ds.closed:
            ds.close()
            self._env.__exit__(None, None, None)

    def __enter__(self) -> RasterFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RasterFile({self.name!r}, {self.width}×{self.height}, band {self.band})"


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def open_raster(path: str | os.PathLike, *, band: int = 1, crs=None) -> RasterFile:
    """Open one band of a raster for :func:`ecomap.raster.zonal_stats`.

    ``crs`` overrides (or supplies) the raster's CRS, e.g. ``"EPSG:4547"`` for a file
    that came without one.
    """
    return RasterFile(path, band=band, crs=crs)


def zonal_stats_file(path, zones, *, stats=("mean",), categorical: bool = False,
                     band: int = 1, crs=None, **kwargs) -> pd.DataFrame:
    """:func:`ecomap.raster.zonal_stats` (or :func:`~ecomap.raster.category_shares` when
    ``categorical``) of a raster file."""
    from ecomap.raster.zonal import category_shares, zonal_stats

    with open_raster(path, band=band, crs=crs) as src:
        if categorical:
            return category_shares(zones, src, **kwargs)
        return zonal_stats(zones, src, stats=stats, **kwargs)


def change_from_files(before, after, zones, *, band: int = 1, crs=None,
                      min_gain: float = 0.0) -> pd.DataFrame:
    """Per-zone mean of two rasters (any grids, any CRSs) and its change.

    See :func:`ecomap.raster.change_table`; also ``count_before``/``count_after``
    (valid covered pixels).
    """
    from ecomap.raster.change import change_table

    means = []
    for path in (before, after):
        means.append(zonal_stats_file(path, zones, stats=("mean", "count"), band=band,
                                      crs=crs))
    table = change_table(means[0]["mean"], means[1]["mean"], min_gain=min_gain)
    table["count_before"] = means[0]["count"]
    table["count_after"] = means[1]["count"]
    return table


def read_overview(path, *, max_size: int = 1024, band: int = 1, crs=None):
    """A reduced copy of a band for display: at most ``max_size`` pixels a side.

    Reads from the file's overviews when it has them (a COG does), so a large raster
    costs one small read.  Returns ``(array, transform, crs)``; the array is float64 with
    NaN for nodata.
    """
    from rasterio.enums import Resampling

    with open_raster(path, band=band, crs=crs) as src:
        if src.crs is None:
            raise CRSError(tr("{name} 没有坐标系, 无法放到地图上; 请指定它的坐标系 "
                              "(例如 --raster-crs EPSG:4547)",
                              "{name} has no coordinate reference system and cannot be "
                              "placed on a map; pass its CRS (e.g. --raster-crs EPSG:4547)",
                              name=src.name))
        ds = src._ds
        f = max(1.0, max(src.width, src.height) / max_size)
        h, w = max(1, int(round(src.height / f))), max(1, int(round(src.width / f)))
        masked = ds.read(band, out_shape=(h, w), resampling=Resampling.average, masked=True)
        array = masked.astype(np.float64).filled(np.nan)
        if src._scale != 1.0 or src._offset != 0.0:
            array = array * src._scale + src._offset
        transform = ds.transform @ ds.transform.scale(src.width / w, src.height / h)
        return array, transform, src.crs


def read_overlay(path, *, colormap: str = "ndvi", vmin: float | None = None,
                 vmax: float | None = None, max_size: int = 1024, band: int = 1, crs=None,
                 symmetric: bool = False):
    """A raster file as an :class:`ecomap.raster.Overlay` for the maps."""
    from ecomap.raster.overlay import overlay_from_array

    array, transform, src_crs = read_overview(path, max_size=max_size, band=band, crs=crs)
    return overlay_from_array(array, transform, src_crs, colormap=colormap, vmin=vmin,
                              vmax=vmax, max_size=max_size, symmetric=symmetric)
