"""Shared fixtures: small stores and layers built in tmp_path from known geometry.

Geometry is drawn in EPSG:4547 (CGCS2000 3-degree Gauss-Kruger, CM 114E), where
areas are hand-computable, then converted to the store CRS.  The border between the
two test townships is x = 500 000 m, the central meridian: a straight line in both
CRSs, so a plot split across it splits exactly.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely import segmentize
from shapely.geometry import MultiPolygon, Polygon, box

from ecomap.store import Provenance, open_store

GK = "EPSG:4547"
X0, Y0 = 500_000.0, 2_820_000.0  # on the CM 114E, ~25.5N: Dayu


def gk_frame(records: list[dict], geoms) -> gpd.GeoDataFrame:
    """A frame drawn in Gauss-Kruger metres, returned in EPSG:4490."""
    return gpd.GeoDataFrame(records, geometry=list(geoms), crs=GK).to_crs(4490)


def two_townships() -> gpd.GeoDataFrame:
    """West 甲镇 and east 乙镇, 10 km × 10 km each, meeting on x = 500 000."""
    return gk_frame(
        [{"name": "甲镇", "name_en": "Jia", "kind": "town", "illustrative": 1},
         {"name": "乙镇", "name_en": "Yi", "kind": "town", "illustrative": 1}],
        # Densified like real boundaries, so edges stay straight in both CRSs.
        [segmentize(box(X0 - 10_000, Y0, X0, Y0 + 10_000), 50),
         segmentize(box(X0, Y0, X0 + 10_000, Y0 + 10_000), 50)])


def write_county_and_townships(store, towns: gpd.GeoDataFrame | None = None, *,
                               county: str = "测试县", adcode: str = "000000") -> None:
    """Store ``towns`` (default :func:`two_townships`) and the county as their union."""
    towns = two_townships() if towns is None else towns
    outline = towns.dissolve().assign(name=county, adcode=adcode)[["name", "adcode",
                                                                   "geometry"]]
    store.write_county(outline, provenance=Provenance("county.geojson"))
    store.write_townships(towns, provenance=Provenance("towns.geojson"))


def plot(x, y, w, h) -> Polygon:
    return box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def known_plots() -> gpd.GeoDataFrame:
    """Plots whose township areas are known by hand (see each comment)."""
    holed = Polygon(plot(-5000, 1000, 1000, 1000).exterior.coords,
                    [plot(-4600, 1400, 200, 200).exterior.coords])
    multi = MultiPolygon([plot(-3000, 5000, 200, 200), plot(2000, 5000, 300, 300)])
    return gk_frame(
        [
            # 1000 m × 1000 m straddling the border 300/700: 甲 300 000 m², 乙 700 000 m².
            {"plot_id": "S-30-70", "category": "afforestation", "year": 2023, "village": "甲村"},
            # 1000 × 1000 with a 200 × 200 hole, inside 甲: 960 000 m².
            {"plot_id": "HOLE", "category": "afforestation", "year": 2023, "village": "甲村"},
            # Two parts: 200 × 200 in 甲 (40 000), 300 × 300 in 乙 (90 000).
            {"plot_id": "MULTI", "category": "mine_remediation", "year": 2023, "village": "乙村"},
            # 500 × 400 inside 乙: 200 000 m², year 2022.
            {"plot_id": "OLD", "category": "afforestation", "year": 2022, "village": "乙村"},
        ],
        [plot(-300, 3000, 1000, 1000), holed, multi, plot(6000, 6000, 500, 400)],
    )


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "test.gpkg"


@pytest.fixture
def store(store_path):
    """An empty store with the two test townships."""
    st = open_store(store_path, create=True)
    st.write_townships(two_townships(), provenance=Provenance("towns.geojson", user="test"))
    yield st
    st.close()


@pytest.fixture
def filled_store(store):
    """The test store with :func:`known_plots` stored as one batch."""
    store.add_plots(known_plots(), provenance=Provenance("plots.geojson", "0" * 64, "test"))
    return store


@pytest.fixture
def english(monkeypatch):
    """Messages rendered in English (ECOMAP_LANG=en), for tests that check English words;
    Simplified Chinese is the default."""
    monkeypatch.setenv("ECOMAP_LANG", "en")


# --- the web app of a test store, with its accounts (tests/webapp.py) -----------------------
@pytest.fixture
def settings(tmp_path):
    """Settings of a fresh test store and accounts file under ``tmp_path``."""
    from tests.webapp import make_settings

    return make_settings(tmp_path)


@pytest.fixture
def app(settings, tmp_path):
    """The web app on that store, with the test accounts."""
    from ecomap.web import create_app
    from tests.webapp import add_accounts

    app = create_app(settings, staging_root=tmp_path / "staging")
    add_accounts(app)
    return app
