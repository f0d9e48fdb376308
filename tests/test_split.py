"""Township splits checked against areas computed by hand (see conftest.known_plots)."""

import numpy as np
import pytest
from pyproj import Geod
from shapely.geometry.polygon import orient

from ecomap.split import plot_areas_m2, split_by_township
from tests.conftest import gk_frame, known_plots, plot, two_townships


def _split(plots):
    towns = two_townships()
    return split_by_township(plots.geometry.values, towns["name"], towns.geometry.values)


def _areas(df, plot_no):
    rows = df[df["plot"] == plot_no]
    return dict(zip(rows["township"], rows["area_m2"], strict=True))


def test_plot_split_30_70_by_a_border():
    df = _split(known_plots())
    areas = _areas(df, 0)
    assert areas["甲镇"] == pytest.approx(300_000, abs=0.5)
    assert areas["乙镇"] == pytest.approx(700_000, abs=0.5)
    primary = df[(df["plot"] == 0) & df["primary"]]
    assert primary["township"].tolist() == ["乙镇"]


def test_plot_with_a_hole():
    assert _areas(_split(known_plots()), 1) == {"甲镇": pytest.approx(960_000, abs=0.5)}


def test_multipolygon_across_two_townships():
    areas = _areas(_split(known_plots()), 2)
    assert areas["甲镇"] == pytest.approx(40_000, abs=0.5)
    assert areas["乙镇"] == pytest.approx(90_000, abs=0.5)


def test_each_plot_counted_once():
    df = _split(known_plots())
    assert df.groupby("plot")["primary"].sum().tolist() == [1, 1, 1, 1]


def test_area_outside_every_township_is_kept():
    # 1000 × 1000, of which the northern 400 m lie north of both townships.
    plots = gk_frame([{"plot_id": "N"}], [plot(-2000, 9600, 1000, 1000)])
    areas = _areas(_split(plots), 0)
    assert areas["甲镇"] == pytest.approx(400_000, abs=0.5)
    assert areas[None] == pytest.approx(600_000, abs=0.5)


def test_plot_areas_agree_with_geodesic_area():
    plots = known_plots()
    ours = plot_areas_m2(plots.geometry.values)
    geod = Geod(ellps="GRS80")
    # Geod sums rings by orientation: orient exteriors CCW and holes CW first.
    geodesic = np.array([sum(geod.geometry_area_perimeter(orient(p))[0]
                             for p in getattr(g, "geoms", [g])) for g in plots.geometry])
    np.testing.assert_allclose(ours, geodesic, rtol=1e-3)
    np.testing.assert_allclose(ours, [1e6, 960_000, 130_000, 200_000], atol=0.5)


def test_long_straight_border_leaves_no_sliver_between_townships():
    # Two townships of different extents meeting on one straight edge (in longitude and
    # latitude) 48 km long with no vertex between its ends, 40-60 km east of the central
    # meridian; nineteen 1 km² plots across it.  Cut in the Gauss-Kruger plane, each
    # township's own pieces would turn the edge into different chords, leaving slivers.
    import geopandas as gpd
    import shapely

    from ecomap.crs import areas_m2

    a, b = (114.35, 25.30), (114.55, 25.70)
    west = shapely.Polygon([(114.10, 25.30), a, b, (114.10, 25.70)])
    east = shapely.Polygon([a, (114.95, 25.30), (114.95, 25.75), (114.60, 25.75), b])
    on_edge = gpd.GeoSeries([shapely.Point(114.35 + 0.2 * t, 25.30 + 0.4 * t)
                             for t in np.linspace(0.05, 0.95, 19)], crs=4490).to_crs(4547)
    plots = gpd.GeoSeries([shapely.box(p.x - 300, p.y - 500, p.x + 700, p.y + 500)
                           for p in on_edge], crs=4547).to_crs(4490).values
    df = split_by_township(plots, ["西镇", "东镇"], [west, east])
    assert df["township"].notna().all()  # nothing lies outside both townships
    totals = df.groupby("plot")["area_m2"].sum().to_numpy()
    np.testing.assert_allclose(totals, plot_areas_m2(plots), atol=1e-3)
    # Each share agrees with cutting in longitude/latitude first, then measuring.
    west_share = df[df["township"] == "西镇"].set_index("plot")["area_m2"].sort_index()
    np.testing.assert_allclose(west_share.to_numpy(),
                               areas_m2(shapely.intersection(plots, west), "EPSG:4490"),
                               rtol=1e-4)


def test_plots_along_the_county_line_lie_wholly_inside():
    # Patrol areas tile their townships and so share the county line, vertex for vertex,
    # over long straight edges (here 0.4° of latitude, 44 km).  A patrol area in one
    # township, and one across the border of two, lie wholly inside: nothing is left
    # "outside every township" by the densified edges the cut is made with.
    import shapely

    west = shapely.Polygon([(114.10, 25.30), (114.40, 25.30), (114.40, 25.70), (114.10, 25.70)])
    east = shapely.Polygon([(114.40, 25.30), (114.70, 25.30), (114.70, 25.70), (114.40, 25.70)])
    inside_west = shapely.Polygon([(114.10, 25.30), (114.25, 25.30), (114.25, 25.70),
                                   (114.10, 25.70)])
    across = shapely.Polygon([(114.30, 25.30), (114.60, 25.30), (114.60, 25.70),
                              (114.30, 25.70)])
    df = split_by_township([inside_west, across], ["西镇", "东镇"], [west, east])
    assert df["township"].notna().all()
    whole = plot_areas_m2([inside_west, across])
    np.testing.assert_allclose(df.groupby("plot")["area_m2"].sum().to_numpy(), whole,
                               atol=1e-3)
    # The one across the border: a third west of 114.40°, two thirds east — in longitude;
    # Gauss-Kruger areas of 0.1° and 0.2° strips agree with that ratio to 1e-4.
    shares = _areas(df, 1)
    assert shares["西镇"] / whole[1] == pytest.approx(1 / 3, rel=1e-3)
    assert shares["东镇"] / whole[1] == pytest.approx(2 / 3, rel=1e-3)
