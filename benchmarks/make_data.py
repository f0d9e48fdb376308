"""Build the benchmark stores: N synthetic restoration plots over Dayu's townships.

Each store ``benchmarks/data/plots_<N>.gpkg`` holds the county, the township layer
of ``geodata/`` and N plots added through ``Store.add_plots`` in batches of 100 000,
so it carries the township splits computed at store time, as in real use.

The plots are generated with a fixed seed, vectorised (no Python loop per plot):

* star-shaped polygons of 20–30 vertices around a centre (always valid), scaled to
  a log-uniform area of 1–300 mu;
* drawn in EPSG:4547 metres and converted to the store CRS (EPSG:4490);
* centres uniform inside the county shrunk by 400 m, so that every plot lies inside
  the county (no area falls outside every township);
* about 3 % centred on a township border on purpose, so they straddle it (plots
  drawn at random near a border straddle it too);
* categories: every report category but ``forest_ranger``; years 2021–2023.

Plots may overlap one another: the summaries add areas plot by plot either way.

Run ``python benchmarks/make_data.py 10000 100000`` to build (cached: a store whose
plot count is already right is kept).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sqlite3
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import shapely

__all__ = ["build_info", "build_store", "ecomap_file_hashes", "ecomap_fingerprint",
           "generate_plots", "is_complete", "read_county", "read_townships", "store_path"]

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
GEODATA = ROOT / "geodata"
SEED = 20230
CHUNK = 100_000
GK = "EPSG:4547"
STORE_CRS = "EPSG:4490"
MU_M2 = 10_000 / 15  # 1 mu = 666.67 m²
STRADDLE_SHARE = 0.03
INNER_BUFFER_M = 400.0  # > the largest plot radius (300 mu with jagged edges)
YEARS = (2021, 2022, 2023)

log = logging.getLogger("benchmarks.make_data")


class MissingGeodata(RuntimeError):
    """geodata/ lacks the county or township layer the benchmarks need."""


def read_townships() -> gpd.GeoDataFrame:
    """The township layer of ``geodata/``, with the store's column names."""
    path = GEODATA / "townships.geojson"
    if not path.exists():
        raise MissingGeodata(
            f"{path.relative_to(ROOT)} does not exist yet; the benchmarks split plots by "
            "those townships. Build it with 'make geodata' (or wait for it) and run again.")
    towns = gpd.read_file(path, engine="pyogrio")
    towns = towns.rename(columns={"乡镇名称": "name", "name_pinyin": "name_en"})
    keep = [c for c in ("name", "name_en", "kind", "illustrative") if c in towns]
    return towns[[*keep, "geometry"]]


def read_county() -> gpd.GeoDataFrame:
    path = GEODATA / "county.geojson"
    if not path.exists():
        raise MissingGeodata(f"{path.relative_to(ROOT)} does not exist; run 'make geodata'")
    return gpd.read_file(path, engine="pyogrio")


def store_path(n: int) -> Path:
    return DATA / f"plots_{n}.gpkg"


def ecomap_file_hashes() -> dict[str, str]:
    """Hash of each of ecomap's source files, by path inside the package."""
    import ecomap

    src = Path(ecomap.__file__).resolve().parent
    return {str(f.relative_to(src)): hashlib.sha256(f.read_bytes()).hexdigest()[:12]
            for f in sorted(src.rglob("*.py"))}


def ecomap_fingerprint(hashes: dict[str, str] | None = None) -> str:
    """Short hash of ecomap's source files: which code built a store or ran a benchmark."""
    hashes = ecomap_file_hashes() if hashes is None else hashes
    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:12]


def build_info(n: int) -> dict:
    """What ``build_store`` recorded next to the store (empty when nothing was)."""
    try:
        return json.loads(store_path(n).with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def categories() -> list[str]:
    from ecomap.schema import CATEGORIES

    return [c for c in CATEGORIES if c != "forest_ranger"]


# --- geometry --------------------------------------------------------------------------
def _star_polygons(cx: np.ndarray, cy: np.ndarray, area_m2: np.ndarray,
                   rng: np.random.Generator, to_store) -> np.ndarray:
    """Irregular star-shaped polygons (20–30 vertices) of the given areas.

    Drawn around centres in metres, their vertices converted by ``to_store(x, y)``.
    """
    n = len(cx)
    kmax = 30
    k = rng.integers(20, kmax + 1, size=n)
    # Increasing angles: equal steps jittered by up to ±40 % of a step.
    step = 2 * np.pi / k
    j = np.arange(kmax + 1)  # column k of each row will repeat vertex 0 (ring closure)
    theta = (j[None, :] + rng.uniform(-0.4, 0.4, size=(n, kmax + 1))) * step[:, None]
    theta += rng.uniform(0, 2 * np.pi, size=n)[:, None]
    # Radii: a smooth lobe (elongation) plus vertex noise, always > 0.
    lobe = rng.uniform(0.0, 0.35, size=n)[:, None] * np.cos(
        2 * (theta - rng.uniform(0, np.pi, size=n)[:, None]))
    r = 1.0 + lobe + rng.uniform(-0.25, 0.25, size=(n, kmax + 1))
    rows = np.arange(n)
    theta[rows, k] = theta[:, 0] + 2 * np.pi
    r[rows, k] = r[:, 0]
    ring = j[None, :] <= k[:, None]
    # Area of the unit star: ½ Σ r_i r_{i+1} sin(θ_{i+1} − θ_i) over its k edges.
    tri = r[:, :-1] * r[:, 1:] * np.sin(theta[:, 1:] - theta[:, :-1])
    unit_area = 0.5 * np.where(ring[:, 1:], tri, 0.0).sum(axis=1)
    scale = np.sqrt(area_m2 / unit_area)[:, None]
    x = cx[:, None] + scale * r * np.cos(theta)
    y = cy[:, None] + scale * r * np.sin(theta)
    x[rows, k], y[rows, k] = x[:, 0], y[:, 0]  # closed exactly, not to the last bit
    x, y = x[ring], y[ring]
    x, y = to_store(x, y)
    rings = shapely.linearrings(x, y, indices=np.repeat(rows, k + 1))
    return shapely.polygons(rings)


def _points_in(poly, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform inside ``poly`` (rejection sampling in its bounding box)."""
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    xs, ys, have = [], [], 0
    while have < n:
        m = int((n - have) * 1.6) + 100
        x = rng.uniform(minx, maxx, m)
        y = rng.uniform(miny, maxy, m)
        ok = shapely.contains_xy(poly, x, y)
        xs.append(x[ok])
        ys.append(y[ok])
        have += int(ok.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _points_on(lines, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform along ``lines``."""
    pts = shapely.line_interpolate_point(lines, rng.uniform(0, lines.length, n))
    return shapely.get_x(pts), shapely.get_y(pts)


def generate_plots(n: int, towns: gpd.GeoDataFrame, county: gpd.GeoDataFrame, *,
                   seed: int = SEED) -> gpd.GeoDataFrame:
    """``n`` synthetic plots (``plot_id, category, year``, geometry in EPSG:4490)."""
    rng = np.random.default_rng([seed, n])
    county_gk = shapely.union_all(county.to_crs(GK).geometry.values)
    inner = county_gk.buffer(-INNER_BUFFER_M)
    # Internal borders: township outlines minus the county line (cut off by ``inner``).
    borders = shapely.intersection(
        shapely.union_all(shapely.boundary(towns.to_crs(GK).geometry.values)), inner)
    borders = shapely.line_merge(borders)

    n_border = int(round(n * STRADDLE_SHARE))
    cx_in, cy_in = _points_in(inner, n - n_border, rng)
    cx_b, cy_b = _points_on(borders, n_border, rng)
    cx, cy = np.concatenate([cx_in, cx_b]), np.concatenate([cy_in, cy_b])
    perm = rng.permutation(n)
    cx, cy = cx[perm], cy[perm]

    area_mu = np.exp(rng.uniform(np.log(1.0), np.log(300.0), n))
    tr = pyproj.Transformer.from_crs(GK, STORE_CRS, always_xy=True)
    geoms = _star_polygons(cx, cy, area_mu * MU_M2, rng, tr.transform)
    cats = np.array(categories(), dtype=object)
    return gpd.GeoDataFrame(
        {
            "plot_id": [f"BENCH-{n}-{i:07d}" for i in range(n)],
            "category": cats[rng.integers(0, len(cats), n)],
            "year": rng.choice(np.array(YEARS, dtype=np.int64), n),
        },
        geometry=gpd.GeoSeries(geoms, crs=STORE_CRS),
    )


# --- stores ----------------------------------------------------------------------------
def plot_count(path: Path) -> int | None:
    """Plots in a store file, or None when it is no readable store."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(con.execute("SELECT COUNT(*) FROM plots").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return None


def is_complete(n: int) -> bool:
    """The store exists, holds n plots and the installed ecomap still opens it."""
    from ecomap.errors import EcomapError
    from ecomap.store import open_store

    path = store_path(n)
    if not path.exists() or plot_count(path) != n:
        return False
    try:
        open_store(path).close()
    except EcomapError as exc:
        log.info("%s no longer opens (%s): rebuilt", path.name, exc)
        return False
    return True


def build_store(n: int, *, force: bool = False) -> Path:
    """Build ``benchmarks/data/plots_<n>.gpkg`` unless it is already complete."""
    from ecomap.store import Provenance, open_store

    path = store_path(n)
    if not force and is_complete(n):
        log.info("%s is complete (%d plots): kept", path.name, n)
        return path
    towns, county = read_townships(), read_county()
    t0 = time.perf_counter()
    plots = generate_plots(n, towns, county)
    log.info("generated %d plots in %.1f s", n, time.perf_counter() - t0)

    DATA.mkdir(parents=True, exist_ok=True)
    tmp = DATA / f".plots_{n}.building.gpkg"
    for p in (tmp, *tmp.parent.glob(tmp.name + "-*")):
        p.unlink(missing_ok=True)
    prov = Provenance(f"benchmarks/make_data.py n={n} seed={SEED}", user="bench")
    t0 = time.perf_counter()
    with open_store(tmp, create=True) as st:
        st.write_county(county, provenance=prov)
        st.write_townships(towns, provenance=prov)
        for start in range(0, n, CHUNK):
            st.add_plots(plots.iloc[start:start + CHUNK], provenance=prov)
            log.info("  %s: %d / %d plots stored (%.0f s)", path.name,
                     min(start + CHUNK, n), n, time.perf_counter() - t0)
    seconds = time.perf_counter() - t0
    os.replace(tmp, path)  # complete or absent
    info = {"plots": n, "seed": SEED, "ecomap_fingerprint": ecomap_fingerprint(),
            "built": time.strftime("%Y-%m-%d %H:%M:%S"), "add_plots_seconds": seconds}
    path.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    log.info("built %s in %.1f s (%.0f MB)", path.relative_to(ROOT), seconds,
             path.stat().st_size / 2**20)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--force", action="store_true", help="rebuild even when complete")
    parser.add_argument("--rebuild-stale", action="store_true",
                        help="rebuild stores built by another version of ecomap's source")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    try:
        for n in args.sizes:
            stale = build_info(n).get("ecomap_fingerprint") != ecomap_fingerprint()
            build_store(n, force=args.force or (args.rebuild_stale and stale))
    except MissingGeodata as exc:
        print(f"make_data: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

