"""Ingest benchmark: `ecomap ingest` of a 200,000-polygon Shapefile against a bare
`pyogrio.read_dataframe` + `to_file(GPKG)` of the same file, in the same run.

Each side runs in a fresh subprocess, timed inside it around the work only, so the
peak memory (ru_maxrss) is its own.  Median of --runs runs.  Usage:

    python benchmarks/ingest_bench.py [--plots 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"


def make_shapefile(n: int, path: Path) -> Path:
    """n irregular 12-gons of 1–30 mu in a jittered grid over the county, GBK, EPSG:4547."""
    import geopandas as gpd
    import numpy as np
    import pyogrio
    import shapely

    if path.exists():
        return path
    county = gpd.read_file(ROOT / "geodata" / "county.geojson").to_crs(4547).geometry.iloc[0]
    minx, miny, maxx, maxy = county.bounds
    rng = np.random.default_rng(42)
    step = 60.0
    xs, ys = np.meshgrid(np.arange(minx, maxx, step), np.arange(miny, maxy, step))
    pts = shapely.points(xs.ravel(), ys.ravel())
    shapely.prepare(county)
    inside = np.flatnonzero(shapely.contains(county, pts))
    pick = rng.choice(inside, size=n, replace=False)
    cx, cy = xs.ravel()[pick], ys.ravel()[pick]
    k = 12
    ang = np.linspace(0, 2 * np.pi, k, endpoint=False)
    radius = rng.uniform(12, 27, size=(n, 1)) * rng.uniform(0.8, 1.0, size=(n, k))
    ring_x = cx[:, None] + radius * np.cos(ang)
    ring_y = cy[:, None] + radius * np.sin(ang)
    coords = np.stack([ring_x, ring_y], axis=-1)
    coords = np.concatenate([coords, coords[:, :1]], axis=1)
    geoms = shapely.polygons(coords)
    frame = gpd.GeoDataFrame({
        "小班号": [f"B{i:06d}" for i in range(n)],
        "村": rng.choice(["石门村", "樟斗村", "新江村", "青龙村"], n),
        "树种": rng.choice(["杉木", "马尾松", "木荷"], n),
        "年度": 2023,
    }, geometry=geoms, crs="EPSG:4547")
    path.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(frame, path, encoding="GBK")
    return path


def make_store(path: Path) -> Path:
    """A store with the demo county and townships and no plots."""
    sys.path.insert(0, str(ROOT / "src"))
    from ecomap.demo import _provenance  # noqa: F401 - same import path as the demo
    from ecomap.io.vector import read_vector
    from ecomap.store import Provenance, open_store

    path.unlink(missing_ok=True)
    with open_store(path, create=True) as st:
        st.write_county(read_vector(ROOT / "geodata" / "county.geojson"),
                        provenance=Provenance("county.geojson"))
        towns = read_vector(ROOT / "geodata" / "townships.geojson").rename(
            columns={"乡镇名称": "name", "name_pinyin": "name_en"})
        st.write_townships(towns, provenance=Provenance("townships.geojson"))
    return path


_ECOMAP = """
import sys, time, resource
from ecomap.ingest import ingest_file
from ecomap.store import open_store
shp, store = sys.argv[1], sys.argv[2]
t = time.perf_counter()
with open_store(store) as st:
    outcome, batch = ingest_file(shp, st, category="afforestation", year=2023)
dt = time.perf_counter() - t
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, outcome.status,
      len(outcome.plots))
"""

_PEER = """
import sys, time, resource
import pyogrio
shp, out = sys.argv[1], sys.argv[2]
t = time.perf_counter()
df = pyogrio.read_dataframe(shp)
df.to_file(out, driver="GPKG", engine="pyogrio")
dt = time.perf_counter() - t
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "ok", len(df))
"""


def _run(code: str, *args: str) -> tuple[float, float, str]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), float(out[1]), " ".join(out[2:])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plots", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    shp = make_shapefile(args.plots, DATA / f"ingest_{args.plots}" / "plots.shp")
    ours, peer = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            store = make_store(Path(tmp) / "store.gpkg")
            ours.append(_run(_ECOMAP, str(shp), str(store)))
            out = Path(tmp) / "peer.gpkg"
            out.unlink(missing_ok=True)
            peer.append(_run(_PEER, str(shp), str(out)))
    e_t = statistics.median(r[0] for r in ours)
    p_t = statistics.median(r[0] for r in peer)
    result = {"plots": args.plots, "ecomap_s": e_t, "peer_s": p_t, "ratio": e_t / p_t,
              "ecomap_peak_mb": max(r[1] for r in ours), "peer_peak_mb": max(r[1] for r in peer),
              "ecomap_status": ours[0][2], "target": "ecomap ≤ 3 × peer",
              "met": e_t <= 3 * p_t, "when": time.strftime("%Y-%m-%d %H:%M")}
    print(f"ingest of {args.plots:,} polygons (median of {args.runs}): ecomap ingest "
          f"{e_t:.2f} s ({result['ecomap_peak_mb']:.0f} MB peak, {ours[0][2]}) vs "
          f"read_dataframe+to_file {p_t:.2f} s ({result['peer_peak_mb']:.0f} MB) → "
          f"{result['ratio']:.2f}× the peer's time (target ≤ 3×: "
          f"{'met' if result['met'] else 'NOT met'})")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "ingest.json").write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
