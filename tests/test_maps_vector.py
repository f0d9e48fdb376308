"""The compact layer encoding: exact round trips, the 0.5 m grid, shared borders, safety."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from ecomap.maps._vector import (
    Field,
    Grid,
    _b64,
    _unb64,
    _unzigzag,
    _zigzag,
    decode_columns,
    decode_polygons,
    encode_columns,
    encode_polygons,
    script_json,
    simplify_layer,
)

GRID = Grid.for_bounds((114.0, 25.2, 114.8, 25.7))


def test_grid_is_half_a_metre_both_ways():
    assert GRID.metres == pytest.approx(0.5)
    # At 25.45N a degree of longitude is 111.32 km × cos(25.45°) ≈ 100.5 km.
    assert GRID.qx * 111_320 * np.cos(np.radians(25.45)) == pytest.approx(0.5, rel=1e-3)


@pytest.mark.parametrize("values", [[0, 1, 127, 128, 16_383, 16_384, 2**31, 2**40],
                                    list(range(0, 300_000, 7))])
def test_varints_round_trip(values):
    arr = np.array(values, dtype=np.uint64)
    assert (_unb64(_b64(arr)) == arr).all()


def test_zigzag_round_trip():
    v = np.array([0, -1, 1, -2, 2, -(2**40), 2**40])
    assert (_zigzag(v) == [0, 1, 2, 3, 4, 2**41 - 1, 2**41]).all()
    assert (_unzigzag(_zigzag(v)) == v).all()


def _square(x, y, d, *, cw=False):
    ring = [(x, y), (x + d, y), (x + d, y + d), (x, y + d)]
    return Polygon(ring[::-1] if cw else ring)


def test_polygons_round_trip_with_holes_parts_and_empties():
    holed = Polygon(_square(114.1, 25.3, 0.01).exterior.coords,
                    [_square(114.103, 25.303, 0.002).exterior.coords])
    multi = MultiPolygon([_square(114.2, 25.3, 0.005), _square(114.3, 25.3, 0.004)])
    geoms = [holed, None, multi, Polygon(), _square(114.4, 25.4, 0.003, cw=True)]
    enc = encode_polygons(geoms, GRID)
    back = decode_polygons(enc, len(geoms))
    for a, b in zip(geoms, back, strict=True):
        if a is None or a.is_empty:
            assert b.is_empty
            continue
        assert b.geom_type == a.geom_type
        assert a.hausdorff_distance(b) <= max(GRID.qx, GRID.qy)
        assert b.area == pytest.approx(a.area, rel=1e-3)
    assert len(back[0].interiors) == 1


def test_orientation_rings_closure_and_repeats():
    """Exteriors come out counter-clockwise (holes clockwise), without the closing vertex
    and without vertices the 0.5 m rounding made repeat."""
    cw = _square(114.4, 25.4, 0.003, cw=True)
    dup = Polygon([(114.5, 25.5), (114.5 + 1e-7, 25.5), (114.51, 25.5), (114.51, 25.51),
                   (114.5, 25.51)])
    enc = encode_polygons([cw, dup], GRID)
    assert list(_unb64(enc["nv"])) == [4, 4]
    assert enc["nr"] is None  # one ring each
    back = decode_polygons(enc, 2)
    assert all(g.exterior.is_ccw for g in back)


def test_neighbours_keep_their_shared_border():
    """Two plots sharing an edge share it exactly after rounding (same grid)."""
    a, b = box(114.1, 25.3, 114.1123456, 25.31), box(114.1123456, 25.3, 114.13, 25.31)
    back = decode_polygons(encode_polygons([a, b], GRID), 2)
    shared = back[0].intersection(back[1])
    assert shared.geom_type in ("LineString", "MultiLineString")
    assert shared.length == pytest.approx(0.01, rel=1e-3)
    assert back[0].intersection(back[1]).area == 0


def test_about_four_bytes_a_vertex():
    rng = np.random.default_rng(1)
    polys = [shapely.Point(114 + rng.uniform(0, 0.7), 25.3 + rng.uniform(0, 0.3))
             .buffer(0.0005, quad_segs=6) for _ in range(2000)]
    enc = encode_polygons(polys, GRID)
    n_vertices = sum(len(p.exterior.coords) for p in polys)
    assert len(json.dumps(enc)) / n_vertices < 5


def test_columns_round_trip():
    n = 300
    df = pd.DataFrame({
        "plot_id": [f"DY2023-ZL-{i:04d}" if i % 50 else None for i in range(n)],
        "village": [["水南村", "黄坑村", "<b>村</b>"][i % 3] if i % 7 else None for i in range(n)],
        "area_mu": [1.234 * i if i % 11 else np.nan for i in range(n)],
        "year": [2023] * n,
    })
    fields = [Field("plot_id", "小班号"), Field("village", "村"), Field("area_mu", "面积", 2),
              Field("year", "年度", 0, grouping=False)]
    cols = encode_columns(df, fields)
    assert [c["k"] for c in cols] == ["front", "dict", "num", "num"]
    assert cols[3]["g"] == 0
    back = decode_columns(cols, n)
    assert back["plot_id"] == [v if isinstance(v, str) else None for v in df["plot_id"]]
    assert back["village"] == [v if isinstance(v, str) else None for v in df["village"]]
    assert back["area_mu"] == [None if np.isnan(v) else round(v, 2) for v in df["area_mu"]]
    assert back["year"] == [2023.0] * n


def test_script_json_cannot_close_the_script_or_break_js():
    text = script_json({"v": "</script><script>alert(1)</script>\u2028&"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"v": "</script><script>alert(1)</script>\u2028&"}


def test_simplification_only_where_it_pays_and_keeps_shared_borders():
    # Sparse vertices (every ~100 m): left as they are.
    sparse = [box(114.1, 25.3, 114.11, 25.31)]
    assert simplify_layer(sparse, GRID.qy)[0] is sparse[0]
    # Densely digitised neighbours (a vertex every ~0.1 m) with one common border
    # (a wiggly line, the same vertices in both): simplified as a coverage.
    t = np.linspace(0, 1, 2001)
    border = [(114.101 + 2e-5 * np.sin(40 * v), 25.3 + 0.001 * v) for v in t]
    a = Polygon([(114.1, 25.3), *border, (114.1, 25.301)])
    b = Polygon([*border, (114.102, 25.301), (114.102, 25.3)])
    assert shapely.coverage_is_valid([a, b])
    out = simplify_layer([a, b], GRID.qy, coverage=True)
    assert sum(shapely.get_num_coordinates(out)) < 0.2 * sum(shapely.get_num_coordinates([a, b]))
    assert shapely.coverage_is_valid(out)  # no gap, no overlap: still one common border
    assert out[0].intersection(out[1]).area == 0
    assert shapely.union_all(out).area == pytest.approx(a.area + b.area, rel=1e-4)
