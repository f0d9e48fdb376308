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
from ecomap.i18n import Text, tr

__all__ = [
    "STORE_CRS",
    "area_crs_epsg",
    "areas_m2",
    "check_declared_crs",
    "gcj02_from_wgs84",
    "geometries_to_gcj02",
    "datum_name",
    "epsg_of",
    "gk_zone_epsg",
    "guess_crs",
    "is_gauss_kruger",
    "parse_crs",
    "reproject_array",
    "to_area_crs",
    "to_store_crs",
    "transform_bounds",
    "transform_geometries",
    "transform_xy",
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
        raise CRSError(tr(
            "无法识别的坐标系 {value!r}; 请给出 EPSG 代码, 如 EPSG:4490 (CGCS2000 经纬度) 或 "
            "EPSG:4547 (CGCS2000 3度带高斯-克吕格, 中央经线 114°E)",
            "unknown coordinate reference system {value!r}; give an EPSG code such as "
            "EPSG:4490 (CGCS2000 lon/lat) or EPSG:4547 (CGCS2000 3-degree Gauss-Kruger, CM 114E)",
            value=value)) from exc


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
        raise CRSError(tr("高斯-克吕格分带宽度应为 3 度或 6 度, 而不是 {width}",
                          "Gauss-Kruger zone width must be 3 or 6 degrees, not {width}",
                          width=width))
    if not 75 <= cm <= 135:
        raise CRSError(tr(
            "经度 {lon:.4f} 不在中国的 CGCS2000 高斯-克吕格分带范围内 (73°E–136°E); "
            "请检查经纬度是否颠倒",
            "longitude {lon:.4f} lies outside the CGCS2000 Gauss-Kruger zones of China "
            "(73°E–136°E); check that longitude and latitude are not swapped", lon=lon))
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
    """The area-true CRS ecomap uses at longitude ``lon``: its 3-degree GK zone.

    Longitudes beyond China's zones take the nearest zone, so that misplaced data can
    still be measured and reported rather than fail.
    """
    return gk_zone_epsg(min(max(lon, 75.0), 135.0), prefix=False, width=3)


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
    cms, inverse = np.unique(np.round(lons[valid] / 3.0) * 3.0, return_inverse=True)
    zones[valid] = np.array([area_crs_epsg(v) for v in cms], dtype=np.int32)[inverse]
    for zone in np.unique(zones[valid]):
        sel = zones == zone
        out[sel] = transform_geometries(geoms[sel], crs, f"EPSG:{zone}")
    out[~valid] = geoms[~valid]
    return out, zones


def _gk3_no_prefix(crs) -> int | None:
    """The no-prefix EPSG code of a CGCS2000 3-degree Gauss-Kruger CRS, else None."""
    epsg = parse_crs(crs).to_epsg()
    if epsg is None:
        return None
    if _GK3_NO_PREFIX_FIRST <= epsg <= _GK3_NO_PREFIX_FIRST + 20:
        return epsg
    if _GK3_PREFIX_FIRST <= epsg <= _GK3_PREFIX_FIRST + 20:
        return epsg - _GK3_PREFIX_FIRST + _GK3_NO_PREFIX_FIRST
    return None


def areas_m2(geoms, crs) -> np.ndarray:
    """Area of each geometry in m², measured in its Gauss-Kruger zone.

    Geometries already in their own 3-degree zone (with or without the zone prefix,
    which shifts eastings only) are measured as they are, without reprojecting.
    """
    geoms = np.asarray(geoms, dtype=object)
    own = _gk3_no_prefix(crs)
    if own is not None and len(geoms):
        lons = _centre_lons(geoms, crs)
        cms = np.round(lons / 3.0) * 3.0
        here = np.isfinite(lons) & (cms == 75 + 3 * (own - _GK3_NO_PREFIX_FIRST))
        out = np.empty(len(geoms), dtype=float)
        out[here] = shapely.area(geoms[here])
        if (~here).any():
            out[~here] = areas_m2(transform_geometries(geoms[~here], crs, STORE_CRS),
                                  STORE_CRS)
        return out
    projected, _ = to_area_crs(geoms, crs)
    with np.errstate(invalid="ignore"):  # impossible coordinates (lat > 90) give NaN
        return np.asarray(shapely.area(projected), dtype=float)


def to_store_crs(gdf):
    """Return ``gdf`` in the store CRS (EPSG:4490); it must have a CRS."""
    if gdf.crs is None:
        raise CRSError(tr("图层没有坐标系; 请用 --crs EPSG:… 指定",
                          "the layer has no coordinate reference system; pass --crs EPSG:…"))
    if gdf.crs.to_epsg() == _STORE_EPSG:
        return gdf
    out = gdf.copy()
    out.geometry = transform_geometries(gdf.geometry.values, gdf.crs, STORE_CRS)
    return out.set_crs(STORE_CRS, allow_override=True)


def epsg_of(crs) -> int | None:
    """EPSG code of a CRS, also for ESRI WKT (ArcGIS' ``Gauss_Kruger`` .prj files)."""
    crs = parse_crs(crs)
    return crs.to_epsg() or crs.to_epsg(min_confidence=70)


def datum_name(crs) -> str:
    """Name of the geodetic datum family: ``CGCS2000``, ``Xian 1980``, ``Beijing 1954`` …"""
    name = parse_crs(crs).geodetic_crs.name if crs is not None else ""
    low = name.lower().replace("_", " ")
    for key, canonical in (("xian", "Xian 1980"), ("beijing", "Beijing 1954"),
                           ("cgcs", "CGCS2000"), ("china geodetic", "CGCS2000"),
                           ("wgs 84", "WGS 84"), ("wgs84", "WGS 84")):
        if key in low:
            return canonical
    return name


def guess_crs(bounds, *, near_lon: float | None = None, near=None
              ) -> tuple[str | None, Text, bool]:
    """Guess the CRS of coordinates with no .prj from their bounds.

    Parameters
    ----------
    bounds
        ``(minx, miny, maxx, maxy)`` of the data.
    near_lon
        Longitude of the county, used to suggest the zone of Gauss-Kruger eastings
        written without the zone prefix.
    near
        County bounds (lon/lat), to say whether degrees fall in the county.

    Returns
    -------
    (crs, reason, certain)
        ``crs`` is ``"EPSG:…"`` or None when nothing fits; ``reason`` says why, in words
        (a :class:`~ecomap.i18n.Text`);
        ``certain`` is False where the coordinates fit but do not prove the CRS
        (Gauss-Kruger eastings without the zone number), so ``crs`` is only a suggestion.
    """
    minx, miny, maxx, maxy = bounds
    if 73 <= miny and maxy <= 136 and 3 <= minx and maxx <= 54:
        return None, tr("坐标疑似经纬度颠倒 (x 列为 3–54, y 列为 73–136); 请对调经纬度两列",
                        "coordinates look like latitude/longitude with the two columns "
                        "swapped (x holds values of 3–54, y of 73–136); swap them"), False
    if -180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90:
        if 73 <= minx and maxx <= 136 and 3 <= miny and maxy <= 54:
            where = ""
            if near is not None:
                inside = (near[0] - 0.5 <= minx and maxx <= near[2] + 0.5
                          and near[1] - 0.5 <= miny and maxy <= near[3] + 0.5)
                where = tr(", 位于本县", " in the county") if inside else \
                    tr(", 位于中国境内 (但不在本县)", " in China (not in the county)")
            return STORE_CRS, tr("坐标为经纬度 (度){where}",
                                 "coordinates are longitude/latitude in degrees{where}",
                                 where=where), True
        return None, tr("坐标为经纬度 (度), 但不在中国境内",
                        "coordinates are in degrees but outside China"), False
    if not (2_000_000 <= miny and maxy <= 6_100_000):
        return None, tr("坐标既不像中国的经纬度, 也不像高斯-克吕格米制坐标",
                        "coordinates fit neither degrees nor Gauss-Kruger metres in China"), \
            False
    if 13_000_000 <= minx and maxx < 24_000_000 and int(minx // 1e6) == int(maxx // 1e6):
        zone = int(minx // 1_000_000)
        return (f"EPSG:{_GK6_PREFIX_FIRST + zone - 13}",
                tr("横坐标带有 6 度带高斯-克吕格带号 {zone}",
                   "eastings carry the 6-degree Gauss-Kruger zone number {zone}", zone=zone),
                True)
    if 25_000_000 <= minx and maxx < 46_000_000 and int(minx // 1e6) == int(maxx // 1e6):
        zone = int(minx // 1_000_000)
        return (f"EPSG:{_GK3_PREFIX_FIRST + zone - 25}",
                tr("横坐标带有 3 度带高斯-克吕格带号 {zone}",
                   "eastings carry the 3-degree Gauss-Kruger zone number {zone}", zone=zone),
                True)
    if 100_000 <= minx and maxx <= 900_000:
        if near_lon is None:
            return None, tr("坐标像不带带号的高斯-克吕格米制坐标, 无法从坐标判断分带",
                            "coordinates look like Gauss-Kruger metres without a zone number; "
                            "the zone cannot be told from them"), False
        epsg = area_crs_epsg(near_lon)
        return f"EPSG:{epsg}", tr(
            "坐标像不带带号的 CGCS2000 高斯-克吕格米制坐标, 仅凭坐标无法确定; 本县位于 "
            "EPSG:{epsg} 所在的 3 度带",
            "coordinates look like CGCS2000 Gauss-Kruger metres without a zone number, which "
            "the coordinates alone cannot prove; the county lies in the 3-degree zone of "
            "EPSG:{epsg}", epsg=epsg), False
    return None, tr("坐标不属于任何 CGCS2000 高斯-克吕格分带",
                    "coordinates fit no CGCS2000 Gauss-Kruger zone"), False


def _false_easting(crs: CRS) -> float | None:
    op = crs.coordinate_operation
    if op is None:
        return None
    return next((float(p.value) for p in op.params if "easting" in p.name.lower()
                 and "false" in p.name.lower()), None)


def _fits(crs: CRS, bounds) -> bool | None:
    """Whether coordinates with ``bounds`` can be in ``crs`` (None: cannot tell)."""
    minx, miny, maxx, maxy = bounds
    if crs.is_geographic:
        return -180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90
    fe = _false_easting(crs)
    if fe is None or not crs.is_projected:
        return None
    if -180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90:
        return False  # degrees: metres this small would lie on the equator
    # A transverse Mercator zone reaches at most some 500 km either side of its meridian;
    # the zone number in front of eastings (38 500 000) is part of the false easting.
    return fe - 500_000 <= minx and maxx <= fe + 500_000


def _looks_like(bounds):
    """What the coordinates themselves look like, in words (a Text)."""
    from ecomap.i18n import tr

    minx, miny, maxx, maxy = bounds
    if -180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90:
        return tr("坐标是经纬度（度）", "the coordinates are longitude/latitude in degrees")
    zone = int(minx // 1_000_000)
    if minx >= 1_000_000 and zone == int(maxx // 1_000_000):
        width = 6 if 13 <= zone <= 23 else 3
        return tr("东坐标（如 {x:,.1f}）前面带有 {w} 度带带号 {zone}",
                  "the eastings (e.g. {x:,.1f}) carry the {w}-degree zone number {zone} in front",
                  x=minx, w=width, zone=zone)
    return tr("东坐标（如 {x:,.1f}）不带带号", "the eastings (e.g. {x:,.1f}) carry no zone number",
              x=minx)


def check_declared_crs(declared, bounds, *, where: str, near_lon: float | None = None) -> None:
    """Refuse a .prj that contradicts the coordinates, naming the CRS they fit.

    A Gauss-Kruger .prj of one zone (EPSG:4547, CM 114E, no zone number) over eastings
    that carry another zone's number (38 xxx xxx.x m) cannot be right; neither can degrees
    under a projected CRS, or metres under a geographic one.  When the coordinates fit
    another CRS (:func:`guess_crs`) the message names it and ``--crs EPSG:NNNN``.

    Raises
    ------
    CRSError
        When the coordinates cannot be in ``declared`` but fit another CRS.
    """
    from ecomap.i18n import tr

    crs = parse_crs(declared)
    bounds = tuple(float(v) for v in bounds)
    if _fits(crs, bounds) is not False:
        return
    guessed, _, certain = guess_crs(bounds, near_lon=near_lon)
    if guessed is None or parse_crs(guessed).equals(crs):
        return
    epsg = epsg_of(crs)
    said = f"EPSG:{epsg} ({crs.name})" if epsg else crs.name
    fit_name = parse_crs(guessed).name
    sure = tr("", "") if certain else tr(
        "（坐标本身不带带号，按本县所在的 3 度带推断）",
        " (the eastings carry no zone number; the zone is the county's)")
    raise CRSError(tr(
        "{file}：.prj 声明的坐标系是 {said}，但{looks}，与之不符；坐标符合 {fit}（{fit_name}）"
        "{sure}。如果确实如此，请加 --crs {fit} 重新导入（或改正 .prj 后再发）",
        "{file}: the .prj declares {said}, but {looks}, which cannot be in it; the "
        "coordinates fit {fit} ({fit_name}){sure}. If that is right, pass --crs {fit} (or "
        "correct the .prj and send the file again)",
        file=where, said=said, looks=_looks_like(bounds), fit=guessed, fit_name=fit_name,
        sure=sure))


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


# --- rasters --------------------------------------------------------------------------
# Zonal statistics never resample a raster (the zones go to the raster's CRS through
# transform_geometries); only map overlays are reprojected, to Web Mercator.


def transform_bounds(bounds, src, dst, *, densify: int = 21) -> tuple[float, float, float, float]:
    """``(minx, miny, maxx, maxy)`` of ``bounds`` reprojected, edges densified."""
    src_key, dst_key = _crs_key(src), _crs_key(dst)
    if src_key == dst_key:
        return tuple(float(v) for v in bounds)  # type: ignore[return-value]
    out = _transformer(src_key, dst_key).transform_bounds(*bounds, densify_pts=densify)
    return tuple(float(v) for v in out)  # type: ignore[return-value]


def reproject_array(array: np.ndarray, transform, src, dst, *, max_size: int | None = None,
                    resampling: str = "average", nodata: float = np.nan,
                    dst_grid: tuple | None = None):
    """Warp a 2-D array to ``dst`` (e.g. EPSG:3857 for a map overlay), at most
    ``max_size`` pixels a side, or onto ``dst_grid = (transform, (height, width))``.

    Returns the warped float64 array (NaN where there is no data) and its transform.
    For display only: statistics are computed on the raster as it is.
    """
    from affine import Affine
    from rasterio.crs import CRS as RioCRS
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    src_crs = RioCRS.from_wkt(parse_crs(src).to_wkt())
    dst_crs = RioCRS.from_wkt(parse_crs(dst).to_wkt())
    a = np.asarray(array, dtype=np.float64)
    h, w = a.shape
    t = transform if isinstance(transform, Affine) else Affine(*list(transform)[:6])
    if dst_grid is not None:
        dt, (dh, dw) = dst_grid
    else:
        # Square pixels over the reprojected bounds, about as many as the source has.
        corners = [t @ (c, r) for c, r in ((0, 0), (w, 0), (w, h), (0, h))]
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        left, bottom, right, top = transform_bounds((min(xs), min(ys), max(xs), max(ys)),
                                                    src, dst)
        res = max((right - left) / w, (top - bottom) / h)
        if max_size:
            res = max(res, (right - left) / max_size, (top - bottom) / max_size)
        dw = max(1, int(np.ceil((right - left) / res)))
        dh = max(1, int(np.ceil((top - bottom) / res)))
        dt = Affine(res, 0.0, left, 0.0, -res, top)
    out = np.full((dh, dw), np.nan)
    reproject(a, out, src_transform=t, src_crs=src_crs, dst_transform=dt, dst_crs=dst_crs,
              src_nodata=nodata, dst_nodata=np.nan, resampling=getattr(Resampling, resampling))
    return out, dt


def transform_xy(x, y, src, dst) -> tuple[np.ndarray, np.ndarray]:
    """Reproject coordinate arrays from ``src`` to ``dst`` (x = east/lon, y = north/lat)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    src_key, dst_key = _crs_key(src), _crs_key(dst)
    if src_key == dst_key:
        return x, y
    tx, ty = _transformer(src_key, dst_key).transform(x, y)
    return np.asarray(tx, dtype=float), np.asarray(ty, dtype=float)
