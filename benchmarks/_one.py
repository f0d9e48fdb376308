"""One measurement in a fresh process: ``python benchmarks/_one.py TASK PATH STORE OUT``.

TASK is ``summary`` or ``resplit``; PATH is ``ecomap`` or ``overlay``.  Libraries are
imported before the clock starts; the clock covers the operation only, reading from
the GeoPackage included.  The township × category × year areas are written to OUT
(CSV: ``township, category, year, area_m2``) and one JSON line goes to stdout:
``seconds``, ``peak_mb`` (this process's peak RSS, see ``_peak_mb``) and ``base_mb``
(peak RSS after the imports, before the operation).

``resplit`` with ``ecomap`` modifies STORE: run.py hands it a copy.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import pandas as pd

sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parent))

GK = 4547  # CGCS2000 3-degree Gauss-Kruger zone of Dayu (CM 114E)


def _peak_mb() -> float:
    """Peak RSS of this process image, MB.

    ``getrusage(RUSAGE_SELF).ru_maxrss`` is the figure, but Linux carries it over
    ``fork`` + ``exec``: a child of a 600 MB parent reports at least 600 MB.  The
    kernel's high-water mark of the current image (``VmHWM``) starts afresh at
    ``exec``; it is used where available, ``ru_maxrss`` elsewhere.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, kB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def _ru_maxrss_mb() -> float:
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def ecomap_summary(store: str) -> pd.DataFrame:
    """What ``ecomap summary`` computes: sums of the splits stored with the plots."""
    from ecomap import api
    from ecomap.store import open_store

    with open_store(store) as st:
        return api.summary(st)


def official_townships():
    """The "official" 乡镇界 that replaces the illustrative layer in the re-split task.

    Same eleven names, different borders: the Voronoi cells of each illustrative
    township's inner point moved 1.5 km (a fixed direction per township), clipped to the
    county.  About a fifth of the county changes township, so the re-split has real
    work to do; both paths use this same layer.
    """
    import geopandas as gpd
    import numpy as np
    import shapely
    from make_data import read_county, read_townships

    towns = read_townships().to_crs(GK)
    county = read_county().to_crs(GK).geometry.union_all()
    pts = towns.geometry.representative_point()
    angle = np.arange(len(towns)) * 2.399963  # golden angle: spread the moves
    moved = shapely.points(pts.x + 1500 * np.cos(angle), pts.y + 1500 * np.sin(angle))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(moved),
                                                       extend_to=county))
    tree = shapely.STRtree(cells)
    order = [tree.query(p, predicate="within")[0] for p in moved]
    geoms = shapely.intersection(cells[order], county)
    official = towns.assign(geometry=gpd.GeoSeries(geoms, crs=GK, index=towns.index))
    return official.assign(illustrative=0).to_crs(4490)


def ecomap_resplit(store: str) -> pd.DataFrame:
    """What replacing the township layer costs: the official layer written, every plot
    split again (inside the same transaction), then the sums."""
    from ecomap.store import Provenance, open_store

    official = _OFFICIAL
    with open_store(store) as st:
        st.write_townships(official, provenance=Provenance("official_townships.shp"))
        return st.township_areas()


def overlay(store: str, towns=None) -> pd.DataFrame:
    """The plain geopandas path: read everything, overlay, project, measure, group."""
    import geopandas as gpd

    plots = gpd.read_file(store, layer="plots", engine="pyogrio")
    if towns is None:
        towns = gpd.read_file(store, layer="townships", engine="pyogrio")
    pieces = gpd.overlay(plots, towns[["name", "geometry"]], how="intersection")
    pieces["area_m2"] = pieces.to_crs(GK).area
    out = pieces.groupby(["name", "category", "year"], as_index=False)["area_m2"].sum()
    return out.rename(columns={"name": "township"})


_RUNS = {
    ("summary", "ecomap"): ecomap_summary,
    ("resplit", "ecomap"): ecomap_resplit,
    ("summary", "overlay"): overlay,
    ("resplit", "overlay"): lambda store: overlay(store, _OFFICIAL),
}
_OFFICIAL = None


def main(argv: list[str]) -> int:
    if len(argv) != 4 or tuple(argv[:2]) not in _RUNS:
        print(__doc__, file=sys.stderr)
        return 2
    task, path, store, out = argv
    # Import before timing: both paths pay geopandas; ecomap also pays its own imports.
    import geopandas  # noqa: F401
    import pyogrio  # noqa: F401

    if path == "ecomap":
        import ecomap.api  # noqa: F401
        import ecomap.store.gpkg  # noqa: F401
    if task == "resplit":  # the new layer is an input, prepared before the clock starts
        global _OFFICIAL
        _OFFICIAL = official_townships()
    base = _peak_mb()
    fn = _RUNS[task, path]
    t0 = time.perf_counter()
    table = fn(store)
    seconds = time.perf_counter() - t0
    peak = _peak_mb()
    table[["township", "category", "year", "area_m2"]].to_csv(out, index=False)
    print(json.dumps({"task": task, "path": path, "rows": len(table), "seconds": seconds,
                      "peak_mb": peak, "base_mb": base, "ru_maxrss_mb": _ru_maxrss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
