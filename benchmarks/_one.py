"""One measurement in a fresh process: ``python benchmarks/_one.py TASK PATH STORE OUT``.

TASK is ``summary`` or ``resplit``; PATH is ``ecomap`` or ``overlay``.  Libraries are
imported before the clock starts; the clock covers the operation only, reading from
the GeoPackage included.  The township × category × year areas are written to OUT
(CSV: ``township, category, year, area_m2``) and one JSON line goes to stdout:
``seconds``, ``peak_mb`` (this process's peak RSS) and ``base_mb`` (peak RSS after
the imports, before the operation).

``resplit`` with ``ecomap`` modifies STORE: run.py hands it a copy.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import pandas as pd

GK = 4547  # CGCS2000 3-degree Gauss-Kruger zone of Dayu (CM 114E)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def ecomap_summary(store: str) -> pd.DataFrame:
    """What ``ecomap summary`` computes: sums of the splits stored with the plots."""
    from ecomap import api
    from ecomap.store import open_store

    with open_store(store) as st:
        return api.summary(st)


def ecomap_resplit(store: str) -> pd.DataFrame:
    """What replacing the township layer costs: every plot split again, then the sums."""
    from ecomap.store import open_store

    with open_store(store) as st:
        st.resplit()
        return st.township_areas()


def overlay(store: str) -> pd.DataFrame:
    """The plain geopandas path: read everything, overlay, project, measure, group."""
    import geopandas as gpd

    plots = gpd.read_file(store, layer="plots", engine="pyogrio")
    towns = gpd.read_file(store, layer="townships", engine="pyogrio")
    pieces = gpd.overlay(plots, towns[["name", "geometry"]], how="intersection")
    pieces["area_m2"] = pieces.to_crs(GK).area
    out = pieces.groupby(["name", "category", "year"], as_index=False)["area_m2"].sum()
    return out.rename(columns={"name": "township"})


_RUNS = {
    ("summary", "ecomap"): ecomap_summary,
    ("resplit", "ecomap"): ecomap_resplit,
    ("summary", "overlay"): overlay,
    ("resplit", "overlay"): overlay,
}


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
    base = _peak_mb()
    fn = _RUNS[task, path]
    t0 = time.perf_counter()
    table = fn(store)
    seconds = time.perf_counter() - t0
    peak = _peak_mb()
    table[["township", "category", "year", "area_m2"]].to_csv(out, index=False)
    print(json.dumps({"task": task, "path": path, "rows": len(table), "seconds": seconds,
                      "peak_mb": peak, "base_mb": base}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
