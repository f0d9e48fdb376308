"""Raster overlays for the maps: a raster as a small Web Mercator PNG with a colour ramp.

:func:`overlay_from_array` reprojects and downsamples a band to what a screen shows,
:func:`colorize` maps values to RGBA and :func:`png_from_rgba` encodes it; the result,
an :class:`Overlay`, is what :mod:`ecomap.maps._raster` puts on a folium map.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from ecomap.errors import InputError
from ecomap.i18n import tr
from ecomap.raster._coverage import affine_coeffs

__all__ = ["COLORMAPS", "Overlay", "colorize", "overlay_from_array", "png_from_rgba"]

#: Colour ramps (evenly spaced stops, low → high) for overlays and their legends.
COLORMAPS: dict[str, list[str]] = {
    # NDVI: bare soil brown → yellow → dense-vegetation green (ColorBrewer RdYlGn-like).
    "ndvi": ["#8c510a", "#d8b365", "#f6e8c3", "#c7e9b4", "#7fbc41", "#35978f", "#01665e"],
    # change: loss red-brown → no change white → gain green (BrBG, diverging).
    "change": ["#8c510a", "#d8b365", "#f6e8c3", "#f5f5f5", "#c7eae5", "#5ab4ac", "#01665e"],
    "viridis": ["#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725"],
    "terrain": ["#333399", "#0294fa", "#24d36d", "#b6f08a", "#dbd085", "#92735e", "#ffffff"],
    "greys": ["#ffffff", "#000000"],
}


def _stops(colormap: str) -> np.ndarray:
    try:
        hexes = COLORMAPS[colormap]
    except KeyError:
        raise InputError(tr("未知色带 {colormap!r}; 可选: {choices}",
                            "unknown colour map {colormap!r}; choose from {choices}",
                            colormap=colormap, choices=", ".join(COLORMAPS))) from None
    return np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in hexes], dtype=float)


def colorize(array: np.ndarray, *, colormap: str = "ndvi", vmin: float, vmax: float,
             valid: np.ndarray | None = None, fade: float | None = None) -> np.ndarray:
    """RGBA (uint8) of a 2-D array through a colour ramp; invalid pixels transparent.

    ``fade`` makes values near 0 see-through (opaque from ±fade on), so that on a change
    map only real change covers the map below.
    """
    a = np.asarray(array, dtype=np.float64)
    ok = np.isfinite(a) if valid is None else (np.asarray(valid, bool) & np.isfinite(a))
    stops = _stops(colormap)
    span = vmax - vmin if vmax > vmin else 1.0
    t = np.clip((np.where(ok, a, vmin) - vmin) / span, 0.0, 1.0) * (len(stops) - 1)
    i = np.minimum(np.floor(t).astype(int), len(stops) - 2)
    f = (t - i)[..., None]
    rgb = stops[i] * (1 - f) + stops[i + 1] * f
    rgba = np.empty((*a.shape, 4), dtype=np.uint8)
    rgba[..., :3] = np.round(rgb).astype(np.uint8)
    alpha = np.where(ok, 255.0, 0.0)
    if fade:
        alpha *= np.clip(np.abs(np.where(ok, a, 0.0)) / fade, 0.0, 1.0)
    rgba[..., 3] = np.round(alpha).astype(np.uint8)
    return rgba


def png_from_rgba(rgba: np.ndarray) -> bytes:
    """A PNG file (bytes) of an RGBA uint8 image, written with zlib only."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    h, w = rgba.shape[:2]
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgba.reshape(h, w * 4)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 9)) + chunk(b"IEND", b""))


@dataclass(frozen=True)
class Overlay:
    """A colour-mapped raster ready for a Web Mercator map.

    ``png`` is the image in Web Mercator (EPSG:3857), north up; ``bounds`` its
    ``(west, south, east, north)`` in degrees (EPSG:4326), as Leaflet's imageOverlay
    wants them.
    """

    png: bytes
    bounds: tuple[float, float, float, float]
    colormap: str
    vmin: float
    vmax: float
    shape: tuple[int, int]

    def data_uri(self) -> str:
        import base64

        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def overlay_from_array(array: np.ndarray, transform, crs, *, nodata: float | None = None,
                       colormap: str = "ndvi", vmin: float | None = None,
                       vmax: float | None = None, max_size: int = 1024,
                       symmetric: bool = False) -> Overlay:
    """Reproject a raster to Web Mercator, downsample it to at most ``max_size`` pixels
    a side (what a screen shows), colour-map it and encode it as PNG.

    ``vmin``/``vmax`` default to the 2nd and 98th percentiles of the valid pixels
    (``symmetric`` makes them ±the larger, for change maps centred on 0).
    """
    from ecomap.crs import reproject_array

    merc, mt = reproject_array(_with_nan(array, nodata), transform, crs, "EPSG:3857",
                               max_size=max_size)
    return _overlay(merc, mt, colormap=colormap, vmin=vmin, vmax=vmax, symmetric=symmetric)


def _with_nan(array, nodata) -> np.ndarray:
    a = np.asarray(array, dtype=np.float64)
    if nodata is not None and not math.isnan(nodata):
        a = np.where(a == nodata, np.nan, a)
    return a


def _overlay(merc: np.ndarray, mt, *, colormap: str, vmin, vmax, symmetric: bool,
             fade: float | None = None) -> Overlay:
    from ecomap.crs import transform_bounds

    ok = np.isfinite(merc)
    if vmin is None or vmax is None:
        vals = merc[ok]
        lo, hi = (np.percentile(vals, [2, 98]) if vals.size else (0.0, 1.0))
        if symmetric:
            m = max(abs(lo), abs(hi)) or 1.0
            lo, hi = -m, m
        vmin = float(lo) if vmin is None else vmin
        vmax = float(hi) if vmax is None else vmax
    fade_at = fade * max(abs(vmin), abs(vmax)) if fade else None
    png = png_from_rgba(colorize(merc, colormap=colormap, vmin=vmin, vmax=vmax, valid=ok,
                                 fade=fade_at))
    h, w = merc.shape
    a_, _, c_, _, e_, f_ = affine_coeffs(mt)
    west, south, east, north = transform_bounds(
        (c_, f_ + e_ * h, c_ + a_ * w, f_), "EPSG:3857", "EPSG:4326")
    return Overlay(png, (west, south, east, north), colormap, float(vmin), float(vmax), (h, w))
