"""Where zonal statistics read pixels: one band of a raster, window by window.

:class:`RasterSource` is the protocol; :class:`ArraySource` serves an array in memory and
:class:`ecomap.io.raster.RasterFile` a file (a Cloud-Optimised GeoTIFF tile by tile).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ecomap.errors import InputError
from ecomap.raster._coverage import affine_coeffs

__all__ = ["ArraySource", "RasterSource"]


class RasterSource(Protocol):
    """One band of a raster, read by windows.

    ``read(row, col, nrows, ncols)`` returns the values of that window and a boolean
    array that is True where a pixel is valid (None when every pixel not equal to
    ``nodata`` and not NaN is valid).  :class:`ecomap.io.raster.RasterFile` implements
    it for files; :class:`ArraySource` for arrays in memory.
    """

    name: str
    crs: object | None  # anything ecomap.crs.parse_crs accepts
    transform: tuple[float, float, float, float, float, float]  # affine a, b, c, d, e, f
    width: int
    height: int
    nodata: float | None
    block_shape: tuple[int, int]

    def read(self, row: int, col: int, nrows: int, ncols: int
             ) -> tuple[np.ndarray, np.ndarray | None]: ...


@dataclass
class ArraySource:
    """A 2-D array with its georeferencing, as a :class:`RasterSource`.

    ``transform`` is an ``affine.Affine`` or its first six coefficients
    ``(a, b, c, d, e, f)``: x = a·col + b·row + c, y = d·col + e·row + f.
    """

    array: np.ndarray
    transform: tuple
    crs: object | None
    nodata: float | None = None
    name: str = "array"
    mask: np.ndarray | None = None  # True where valid
    block_shape: tuple[int, int] = (256, 256)
    height: int = field(init=False)
    width: int = field(init=False)

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array)
        if self.array.ndim != 2:
            raise InputError(f"{self.name}: a raster band must be 2-D, not {self.array.shape}")
        self.height, self.width = self.array.shape
        self.transform = affine_coeffs(self.transform)

    def read(self, row, col, nrows, ncols):
        sl = (slice(row, row + nrows), slice(col, col + ncols))
        return self.array[sl], None if self.mask is None else self.mask[sl]
