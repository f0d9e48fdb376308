"""The one place that decides and changes coordinate reference systems.

ecomap stores every geometry in CGCS2000 geographic coordinates (EPSG:4490) and
measures areas in the CGCS2000 3-degree Gauss-Kruger zone of each geometry's
longitude (EPSG:4534–4554; EPSG:4547 for Dayu), where area distortion stays below
0.02 % inside a zone.  Gaode/AMap (高德) tiles use GCJ-02, the obfuscated datum of
Chinese web maps; :func:`gcj02_from_wgs84` shifts data for display on them and
:func:`wgs84_from_gcj02` undoes it.  CGCS2000 and WGS 84 differ by a few
centimetres, far below what matters here, so both are treated as the same datum.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

from ecomap.errors import CRSError

__all__ = [
    "STORE_CRS",
    "area_crs_epsg",
    "areas_m2",
    "gcj02_from_wgs84",
    "geometries_to_gcj02",
    "gk_zone_epsg",
    "guess_crs",
    "is_gauss_kruger",
    "parse_crs",
    "to_area_crs",
    "to_store_crs",
    "transform_geometries",
    "wgs84_from_gcj02",
]

log = logging.getLogger(__name__)

#: CRS of everything in the store: CGCS2000 geographic.
STORE_CRS = "EPSG:4490"
_STORE_EPSG = 4490

# CGCS2000 3-degree Gauss-Kruger zones: central meridians 75°E … 135°E.
_GK3_NO_PREFIX_FIRST = 4534  # "CM 75E" … "CM 135E" (false easting 500 km)
_GK3_PREFIX_FIRST = 4513  # "zone 25" … "zone 45" (zone number in front of the easting)
# CGCS2000 6-degree zones 13–23 (CM 75°E … 135°E).
_GK6_PREFIX_FIRST = 4491
_GK6_NO_PREFIX_FIRST = 4502


def parse_crs(value) -> CRS:
    """A :class:`pyproj.CRS` from ``EPSG:4547``, ``4547``, WKT or a CRS object."""
    if isinstance(value, CRS):
        return value
    text = str(value).strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        return CRS.from_user_input(text)
    except Exception as exc:  # pyproj raises its own CRSError subclasses
        raise CRSError(
            f"unknown coordinate reference system {value!r}; give an EPSG code such as "
            "EPSG:4490 (CGCS2000 lon/lat) or EPSG:4547 (CGCS2000 3-degree Gauss-Kruger, CM 114E)"
        ) from exc


def gk_zone_epsg(lon: float, *, prefix: bool = False, width: int = 3) -> int:
    """EPSG code of the CGCS2000 Gauss-Kruger zone containing longitude ``lon``.

    Parameters
    ----------
    lon
        Longitude in degrees east.
    prefix
        True for the variant whose eastings carry the zone number (e.g. 38 500 000 m).
    width
        Zone width in degrees, 3 (the default, used for county mapping) or 6.
    """
    if width == 3:
        cm = int(round(lon / 3.0)) * 3
        first = _GK3_PREFIX_FIRST if prefix else _GK3_NO_PREFIX_FIRST
    elif width == 6:
        cm = int(np.floor(lon / 6.0)) * 6 + 3
        first = _GK6_PREFIX_FIRST if prefix else _GK6_NO_PREFIX_FIRST
    else:
        raise CRSError(f"Gauss-Kruger zone width must be 3 or 6 degrees, not {width}")
    if not 75 <= cm <= 135:
        raise CRSError(
            f"longitude {lon:.4f} lies outside the CGCS2000 Gauss-Kruger zones of China "
            "(73°E–136°E); check that longitude and latitude are not swapped"
        )
    return first + (cm - 75) // width


def is_gauss_kruger(crs) -> bool:
    """True for a CGCS2000 Gauss-Kruger projected CRS (EPSG:4491–4554)."""
    epsg = parse_crs(crs).to_epsg()
    return epsg is not None and 4491 <= epsg <= 4554


@lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def _crs_key(crs) -> str:
    crs = parse_crs(crs)
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def transform_geometries(geoms, src, dst) -> np.ndarray:
    """Reproject an array of shapely geometries from ``src`` to ``dst`` (vectorised)."""
    src_key, dst_key = _crs_key(src), _crs_key(dst)
    geoms = np.asarray(geoms, dtype=object)
    if src_key == dst_key:
        return geoms
    tr = _transformer(src_key, dst_key)

    def _fn(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, _fn)


def area_crs_epsg(lon: float) -> int:
    """The area-true CRS ecomap uses at longitude ``lon``: its 3-degree GK zone."""
    return gk_zone_epsg(lon, prefix=False, width=3)


def _centre_lons(geoms, crs) -> np.ndarray:
    """Longitude of each geometry's bounding-box centre."""
    bounds = shapely.bounds(np.asarray(geoms, dtype=object))
    cx = (bounds[:, 0] + bounds[:, 2]) / 2
    cy = (bounds[:, 1] + bounds[:, 3]) / 2
    crs = parse_crs(crs)
    if not crs.is_geographic:
        cx, cy = _transformer(_crs_key(crs), STORE_CRS).transform(cx, cy)
    return np.asarray(cx, dtype=float)


def to_area_crs(geoms, crs) -> tuple[np.ndarray, np.ndarray]:
    """Project geometries into the Gauss-Kruger zone of each one's longitude.

    Returns the projected geometries and the EPSG code used for each.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.empty(len(geoms), dtype=object)
    zones = np.zeros(len(geoms), dtype=np.int32)
    if len(geoms) == 0:
        return out, zones
    lons = _centre_lons(geoms, crs)
    valid = np.isfinite(lons)
    zones[valid] = [area_crs_epsg(v) for v in np.round(lons[valid] / 3.0) * 3.0]
    for zone in np.unique(zones[valid]):
        sel = zones == zone
        out[sel] = transform_geometries(geoms[sel], crs, f"EPSG:{zone}")
    out[~valid] = geoms[~valid]
    return out, zones


def areas_m2(geoms, crs) -> np.ndarray:
    """Area of each geometry in m², measured in its Gauss-Kruger zone."""
    projected, _ = to_area_crs(geoms, crs)
    return np.asarray(shapely.area(projected), dtype=float)


def to_store_crs(gdf):
    """Return ``gdf`` in the store CRS (EPSG:4490); it must have a CRS."""
    if gdf.crs is None:
        raise CRSError("the layer has no coordinate reference system; pass --crs EPSG:…")
    if gdf.crs.to_epsg() == _STORE_EPSG:
        return gdf
    out = gdf.copy()
    out.geometry = transform_geometries(gdf.geometry.values, gdf.crs, STORE_CRS)
    return out.set_crs(STORE_CRS, allow_override=True)


def guess_crs(bounds, *, near_lon: float | None = None) -> tuple[str | None, str]:
    """Guess the CRS of coordinates with no .prj from their bounds.

    Parameters
    ----------
    bounds
        ``(minx, miny, maxx, maxy)`` of the data.
    near_lon
        Longitude of the county, used to pick the zone of Gauss-Kruger eastings
        written without the zone prefix.

    Returns
    -------
    (crs, reason)
        ``crs`` is ``"EPSG:…"`` or None when nothing fits; ``reason`` says why, in words.
    """
    minx, miny, maxx, maxy = bounds
    if 73 <= miny and maxy <= 136 and 3 <= minx and maxx <= 54:
        return None, ("coordinates look like latitude/longitude with the two columns "
                      "swapped (x holds values of 3–54, y of 73–136); swap them")
    if -180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90:
        if 73 <= minx and maxx <= 136 and 3 <= miny and maxy <= 54:
            return STORE_CRS, "coordinates look like CGCS2000 longitude/latitude in degrees"
        return None, "coordinates are in degrees but outside China"
    if not (2_000_000 <= miny and maxy <= 6_100_000):
        return None, "coordinates fit neither degrees nor Gauss-Kruger metres in China"
    if 13_000_000 <= minx and maxx < 24_000_000 and int(minx // 1e6) == int(maxx // 1e6):
        zone = int(minx // 1_000_000)
        return _GK6_PREFIX_FIRST + zone - 13, (
            f"eastings carry the 6-degree zone number {zone}")
    if 25_000_000 <= minx and maxx < 46_000_000 and int(minx // 1e6) == int(maxx // 1e6):
        zone = int(minx // 1_000_000)
        epsg = _GK3_PREFIX_FIRST + zone - 25
        return f"EPSG:{epsg}", f"eastings carry the 3-degree zone number {zone}"
    if 100_000 <= minx and maxx <= 900_000:
        if near_lon is None:
            return None, ("coordinates look like Gauss-Kruger metres without a zone number; "
                          "the zone cannot be told from them")
        epsg = area_crs_epsg(near_lon)
        return f"EPSG:{epsg}", (
            "coordinates look like CGCS2000 Gauss-Kruger metres without a zone number; "
            f"assumed the 3-degree zone of the county (EPSG:{epsg})")
    return None, "coordinates fit no CGCS2000 Gauss-Kruger zone"


# --- GCJ-02 ---------------------------------------------------------------------------
# The published forward algorithm (Krasovsky 1940 ellipsoid), vectorised.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    sq = np.sqrt(np.abs(x))
    s6x = np.sin(6.0 * x * np.pi)
    s2x = np.sin(2.0 * x * np.pi)
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sq
            + (20.0 * s6x + 20.0 * s2x) * 2.0 / 3.0
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sq
            + (20.0 * s6x + 20.0 * s2x) * 2.0 / 3.0
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * np.pi
    magic = 1 - _GCJ_EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1 - _GCJ_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def gcj02_from_wgs84(lon, lat):
    """Shift WGS 84 / CGCS2000 lon/lat to GCJ-02 (outside China: unchanged)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_delta(lon, lat)
    inside = _in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def wgs84_from_gcj02(lon, lat, *, tol_deg: float = 1e-10, max_iter: int = 30):
    """Invert :func:`gcj02_from_wgs84` by fixed-point iteration.

    ``tol_deg`` of 1e-10° is about 0.01 mm; convergence takes 3–5 iterations.
    """
    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = gcj02_from_wgs84(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon, wlat = wlon - elon, wlat - elat
        if np.all(np.abs(elon) < tol_deg) and np.all(np.abs(elat) < tol_deg):
            break
    return wlon, wlat


def geometries_to_gcj02(geoms) -> np.ndarray:
    """Shift lon/lat geometries (EPSG:4490/4326) to GCJ-02 for Gaode basemaps."""

    def _fn(coords: np.ndarray) -> np.ndarray:
        x, y = gcj02_from_wgs84(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms, dtype=object), _fn)


def geometries_from_gcj02(geoms) -> np.ndarray:
    """Undo the GCJ-02 shift of lon/lat geometries (e.g. AMap boundaries)."""

    def _fn(coords: np.ndarray) -> np.ndarray:
        x, y = wgs84_from_gcj02(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms, dtype=object), _fn)
