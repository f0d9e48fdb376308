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
