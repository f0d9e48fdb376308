"""The map of the HTML validation report (``ecomap validate FILE --report r.html``): the
county and township outlines from the store, the plot that passes and the problem
feature, framed to the file with a small margin; without a store's boundaries, the file
alone.

The test file, in degrees (EPSG:4490): XB-A, lon 113.950 – 113.955, lat 25.500 – 25.505,
inside 甲镇; XB-B, lon 114.150 – 114.152, lat 25.520 – 25.522, about 5 km east of the
test county (whose east edge is x = 510 000 m, lon ≈ 114.0995): wholly outside, an
error.  File bounds: 113.950, 25.500 – 114.152, 25.522; the margin is 5 % of the width
(0.202° → 0.0101°) and, the height being small (5 % of 0.022° = 0.0011°), the minimum
of 0.002°: the frame is lon 113.9399 – 114.1621, lat 25.498 – 25.524.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from click.testing import CliRunner

from ecomap.checks import report_html
from ecomap.cli import cli
from ecomap.ingest import validate_file
from ecomap.store import open_store
from tests.conftest import write_county_and_townships

FILE_BOUNDS = (113.950, 25.500, 114.152, 25.522)
FRAME = (113.950 - 0.0101, 25.500 - 0.002, 114.152 + 0.0101, 25.522 + 0.002)


def square(x0, y0, x1, y1) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1],
                                                [x0, y0]]]}


def write_upload(path):
    features = [
        {"type": "Feature", "properties": {"小班号": "XB-A", "年度": 2023},
         "geometry": square(113.950, 25.500, 113.955, 25.505)},
        {"type": "Feature", "properties": {"小班号": "XB-B", "年度": 2023},
         "geometry": square(114.150, 25.520, 114.152, 25.522)},
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}),
                    encoding="utf-8")
    return path


def map_page(report: str) -> str:
    """The map document inside the report's iframe."""
    return html.unescape(re.search(r'srcdoc="([^"]*)"', report).group(1))


def collections(page: str) -> list[dict]:
    """Every GeoJSON FeatureCollection the map draws."""
    return [json.loads(m) for m in re.findall(r"^\s*geo_json_\w+_add\((\{.*\})\);$", page,
                                              re.M)]


def bounds_of(collection: dict) -> tuple[float, float, float, float]:
    xs, ys = [], []

    def walk(c):
        if isinstance(c[0], (int, float)):
            xs.append(c[0])
            ys.append(c[1])
        else:
            for part in c:
                walk(part)

    for f in collection["features"]:
        walk(f["geometry"]["coordinates"])
    return min(xs), min(ys), max(xs), max(ys)


def fit_bounds(page: str) -> list[tuple[float, float, float, float]]:
    """(west, south, east, north) of every ``fitBounds`` of the map's own script."""
    num = r"\s*(-?[\d.]+(?:e-?\d+)?)\s*"
    calls = re.findall(rf"\.fitBounds\(\[\[{num},{num}\],\s*\[{num},{num}\]\],\s*\{{",
                       page)  # with options: not the Leaflet library's own call
    return [(float(w), float(s), float(e), float(n)) for s, w, n, e in calls]


@pytest.fixture
def bounded_store(tmp_path):
    st = open_store(tmp_path / "b.gpkg", create=True)
    write_county_and_townships(st)
    st.close()
    return tmp_path / "b.gpkg"


def test_report_map_shows_county_townships_plot_and_problem(tmp_path, bounded_store):
    upload = write_upload(tmp_path / "造林.geojson")
    r = CliRunner().invoke(cli, ["validate", str(upload), "--store", str(bounded_store),
                                 "--category", "afforestation", "--year", "2023",
                                 "--report", str(tmp_path / "r.html")])
    assert r.exit_code == 1, r.output  # accepted with a problem
    report = (tmp_path / "r.html").read_text("utf-8")
    assert "<td>outside_county</td>" in report
    page = map_page(report)
    drawn = collections(page)

    towns = [c for c in drawn if {f["properties"].get("name") for f in c["features"]}
             == {"甲镇", "乙镇"}]
    assert len(towns) == 1
    county = [c for c in drawn if len(c["features"]) == 1
              and c["features"][0]["properties"] == {}]
    assert len(county) == 1
    # The county is the union of the townships: the same outer bounds.
    assert bounds_of(county[0]) == pytest.approx(bounds_of(towns[0]), abs=1e-6)
    assert bounds_of(county[0])[2] == pytest.approx(114.0995, abs=1e-4)

    passed = [c for c in drawn if [f["properties"].get("plot_id") for f in c["features"]]
              == ["XB-A"]]
    assert len(passed) == 1
    assert bounds_of(passed[0]) == pytest.approx((113.950, 25.500, 113.955, 25.505), abs=1e-6)
    problem = [c for c in drawn if [f["properties"].get("plot_id") for f in c["features"]]
               == ["XB-B"]]
    assert len(problem) == 2  # the feature, and a ring that shows it at any zoom
    polygon = next(c for c in problem if c["features"][0]["geometry"]["type"] == "Polygon")
    assert bounds_of(polygon) == pytest.approx((114.150, 25.520, 114.152, 25.522), abs=1e-6)
    props = polygon["features"][0]["properties"]
    assert props["feature"] == 2 and "完全位于县界之外" in props["problems"]
    assert "XB-A" not in json.dumps([f["properties"] for c in problem for f in c["features"]])
    # In the popup: feature number, 小班号, the problem.
    assert all(json.dumps(w)[1:-1] in page for w in ("要素序号", "小班号", "问题"))
    # The legend names the layers.
    assert json.dumps("通过检查的图斑 (1)")[1:-1] in page
    assert json.dumps("有问题的要素 (1)")[1:-1] in page and json.dumps("县界")[1:-1] in page

    # Framed to the file: every fitBounds is the file's bounds plus the margin.
    fits = fit_bounds(page)
    assert fits and all(f == pytest.approx(FRAME, abs=1e-9) for f in fits)
    for f in fits:
        assert f[0] < FILE_BOUNDS[0] and f[1] < FILE_BOUNDS[1]
        assert f[2] > FILE_BOUNDS[2] and f[3] > FILE_BOUNDS[3]


def test_report_map_without_boundaries_shows_the_file_alone(tmp_path):
    st = open_store(tmp_path / "empty.gpkg", create=True)
    outcome = validate_file(write_upload(tmp_path / "造林.geojson"), st,
                            category="afforestation", year=2023)
    st.close()
    page = map_page(report_html(outcome))
    ids = sorted(f["properties"].get("plot_id", "") for c in collections(page)
                 for f in c["features"])
    assert ids == ["XB-A", "XB-B"]  # no county: nothing is outside; both plots pass
    assert "name" not in json.dumps([f["properties"] for c in collections(page)
                                     for f in c["features"]])
    fits = fit_bounds(page)
    assert fits and all(f == pytest.approx(FRAME, abs=1e-9) for f in fits)
