import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod
from shapely.geometry import box

from ecomap import crs
from ecomap.errors import CRSError


@pytest.mark.parametrize(("lon", "kwargs", "name"), [
    (114.3, {}, "CGCS2000 / 3-degree Gauss-Kruger CM 114E"),
    (114.3, {"prefix": True}, "CGCS2000 / 3-degree Gauss-Kruger zone 38"),
    (115.6, {}, "CGCS2000 / 3-degree Gauss-Kruger CM 117E"),
    (114.3, {"width": 6, "prefix": True}, "CGCS2000 / Gauss-Kruger zone 20"),
    (114.3, {"width": 6}, "CGCS2000 / Gauss-Kruger CM 117E"),
])
def test_gk_zone_matches_epsg_names(lon, kwargs, name):
    # The EPSG registry's own names are the independent truth.
    assert CRS.from_epsg(crs.gk_zone_epsg(lon, **kwargs)).name == name


def test_gk_zone_outside_china_says_swapped(english):
    with pytest.raises(CRSError, match="swapped"):
        crs.gk_zone_epsg(25.4)


def test_gk_zone_outside_china_says_swapped_in_chinese_by_default(monkeypatch):
    monkeypatch.delenv("ECOMAP_LANG", raising=False)
    with pytest.raises(CRSError, match="经纬度是否颠倒"):
        crs.gk_zone_epsg(25.4)


def test_gcj02_published_pair():
    # wandergis/coordTransform README: wgs84togcj02(116.404, 39.915).
    lon, lat = crs.gcj02_from_wgs84(116.404, 39.915)
    assert lon == pytest.approx(116.41024449916938, abs=1e-12)
    assert lat == pytest.approx(39.91640428150164, abs=1e-12)


def test_gcj02_inverse_is_under_a_millimetre():
    rng = np.random.default_rng(1)
    lon = rng.uniform(114.0, 114.8, 500)
    lat = rng.uniform(25.2, 25.7, 500)
    back = crs.wgs84_from_gcj02(*crs.gcj02_from_wgs84(lon, lat))
    # 1e-8 degrees is about 1 mm.
    assert np.abs(back[0] - lon).max() < 1e-8
    assert np.abs(back[1] - lat).max() < 1e-8


def test_gcj02_leaves_points_outside_china():
    lon, lat = crs.gcj02_from_wgs84(2.35, 48.85)
    assert (float(lon), float(lat)) == (2.35, 48.85)


def test_area_of_a_gk_square_and_geodesic_agreement():
    square = box(480_000, 2_810_000, 481_000, 2_811_000)  # 1 km², CM 114E
    lonlat = crs.transform_geometries([square], "EPSG:4547", "EPSG:4490")
    area = crs.areas_m2(lonlat, "EPSG:4490")[0]
    assert area == pytest.approx(1_000_000, abs=0.01)
    # Geodesic area on the CGCS2000 ellipsoid (GRS80 parameters) within 0.1 %.
    geodesic = abs(Geod(ellps="GRS80").geometry_area_perimeter(lonlat[0])[0])
    assert area == pytest.approx(geodesic, rel=1e-3)


def test_areas_use_each_geometrys_own_zone():
    # A square in the zone of 117E measured in its zone, not in the first one's.
    east = crs.transform_geometries([box(500_000, 2_810_000, 501_000, 2_811_000)],
                                    "EPSG:4548", "EPSG:4490")
    west = crs.transform_geometries([box(500_000, 2_810_000, 501_000, 2_811_000)],
                                    "EPSG:4547", "EPSG:4490")
    areas = crs.areas_m2(np.concatenate([west, east]), "EPSG:4490")
    np.testing.assert_allclose(areas, [1e6, 1e6], atol=0.01)


@pytest.mark.parametrize(("bounds", "expected"), [
    ((114.1, 25.3, 114.6, 25.6), "EPSG:4490"),
    ((38_450_000, 2_800_000, 38_520_000, 2_840_000), "EPSG:4526"),
    ((450_000, 2_800_000, 520_000, 2_840_000), "EPSG:4547"),
])
def test_guess_crs(bounds, expected):
    guessed, reason, _ = crs.guess_crs(bounds, near_lon=114.35)
    assert guessed == expected, reason


def test_eastings_without_zone_are_only_a_suggestion():
    guessed, reason, certain = crs.guess_crs((450_000, 2_800_000, 520_000, 2_840_000),
                                             near_lon=114.35)
    assert guessed == "EPSG:4547" and not certain and "zone" in reason


def test_guess_crs_recognises_swapped_axes():
    guessed, reason, certain = crs.guess_crs((25.3, 114.1, 25.6, 114.6))
    assert guessed is None and "swapped" in reason and not certain


def test_transform_roundtrip_keeps_geometry():
    g = box(114.2, 25.3, 114.3, 25.4)
    there = crs.transform_geometries([g], "EPSG:4490", "EPSG:4547")
    back = crs.transform_geometries(there, "EPSG:4547", "EPSG:4490")
    assert shapely.equals_exact(back[0], g, tolerance=1e-9)


# --- a declared CRS (.prj) against the coordinates ---------------------------------
# Bounds of a 100 m plot near Dayu: 38 498 000 m with the zone-38 prefix, 498 000 m
# without it, and the same place in degrees.
_PREFIXED = (38_498_000.0, 2_821_000.0, 38_498_100.0, 2_821_100.0)
_PLAIN = (498_000.0, 2_821_000.0, 498_100.0, 2_821_100.0)
_DEGREES = (113.98, 25.49, 113.99, 25.50)


@pytest.mark.parametrize(("declared", "bounds"), [
    ("EPSG:4526", _PREFIXED), ("EPSG:4547", _PLAIN), ("EPSG:2383", _PLAIN),
    ("EPSG:4490", _DEGREES), ("EPSG:4326", _DEGREES),
])
def test_declared_crs_that_fits_passes(declared, bounds):
    crs.check_declared_crs(declared, bounds, where="p.shp", near_lon=114.0)


@pytest.mark.parametrize(("declared", "bounds", "fit"), [
    ("EPSG:4547", _PREFIXED, "EPSG:4526"),  # CM 114E without prefix, eastings of zone 38
    ("EPSG:4525", _PREFIXED, "EPSG:4526"),  # zone 37, eastings of zone 38
    ("EPSG:4526", _PLAIN, "EPSG:4547"),  # zone 38 with prefix, eastings without
    ("EPSG:4547", _DEGREES, "EPSG:4490"),  # metres declared, degrees given
    ("EPSG:4490", _PREFIXED, "EPSG:4526"),  # degrees declared, metres given
])
def test_declared_crs_contradicting_the_coordinates_names_the_fit(declared, bounds, fit):
    from ecomap.i18n import use_lang

    with pytest.raises(CRSError) as info:
        crs.check_declared_crs(declared, bounds, where="p.shp", near_lon=114.0)
    with use_lang("en"):
        text = str(info.value)
    assert text.startswith(f"p.shp: the .prj declares {declared}")
    assert f"the coordinates fit {fit} ({CRS.from_user_input(fit).name})" in text
    assert f"pass --crs {fit}" in text


def test_declared_crs_with_coordinates_that_fit_nothing_is_left_to_the_checks():
    # Swapped degrees fit no CRS: the county check reports them (as "swapped").
    crs.check_declared_crs("EPSG:4490", (25.49, 113.98, 25.50, 113.99), where="p.shp")
