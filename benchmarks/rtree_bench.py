"""R-tree benchmark: filling a GeoPackage layer's spatial index when a batch of plots is
stored — ecomap's packed tree written byte by byte (``ecomap.store._rtree``) against
SQLite's own ``INSERT INTO rtree …`` and GDAL's per-row triggers.

For each batch size, a fresh store (county and the townships of ``geodata/``), then
``Store.add_plots`` of the batch, timed around the call; and the same into a store
already holding ``--stored`` plots.  Three ways to fill the R-tree:

- ``byte``: the bulk path (triggers dropped), the tree packed and written page by page
  (unless the tree holds over four times the batch);
- ``insert``: the bulk path, the boxes given to SQLite with one ``INSERT`` each;
- ``triggers``: GDAL's per-row triggers, as for a batch below ``BULK_ROWS``.

Usage::

    python benchmarks/rtree_bench.py [--sizes 1000 10000 200000] [--stored 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_data  # noqa: E402

from ecomap.store import Provenance, _sqlite, gpkg, open_store  # noqa: E402

WAYS = ("byte", "insert", "triggers")
FILL_SECONDS: list[float] = []


@contextmanager
def way(name: str):
    """Store batches the way ``name`` (module attributes patched for the block)."""
    saved = gpkg.BULK_ROWS, _sqlite.PACK_ROWS, _sqlite._fill_rtree

    def timed(*args):
        t0 = time.perf_counter()
        saved[2](*args)
        FILL_SECONDS.append(time.perf_counter() - t0)

    _sqlite._fill_rtree = timed
    gpkg.BULK_ROWS = 10**12 if name == "triggers" else 0
    _sqlite.PACK_ROWS = 0 if name == "byte" else 10**12
    try:
        yield
    finally:
        gpkg.BULK_ROWS, _sqlite.PACK_ROWS, _sqlite._fill_rtree = saved


def empty_store(folder: Path, towns, county) -> Path:
    path = folder / "base.gpkg"
    if not path.exists():
        with open_store(path, create=True) as st:
            prov = Provenance("bench", user="bench")
            st.write_county(county, provenance=prov)
            st.write_townships(towns, provenance=prov)
    return path


def measure(base: Path, plots, name: str, folder: Path) -> tuple[float, float]:
    """Seconds of ``add_plots`` and of its R-tree fill, on a copy of ``base``."""
    path = folder / f"run_{name}.gpkg"
    shutil.copy(base, path)
    FILL_SECONDS.clear()
    with open_store(path) as st, way(name):
        t0 = time.perf_counter()
        st.add_plots(plots, provenance=Provenance(f"{name}.shp", user="bench"))
        total = time.perf_counter() - t0
    path.unlink()
    return total, sum(FILL_SECONDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 200000])
    parser.add_argument("--stored", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    towns, county = make_data.read_townships(), make_data.read_county()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        empty = empty_store(folder, towns, county)
        held = folder / "held.gpkg"
        shutil.copy(empty, held)
        with open_store(held) as st:
            st.add_plots(make_data.generate_plots(args.stored, towns, county, seed=1),
                         provenance=Provenance("held.shp", user="bench"))
        print("| batch | into | way | add_plots s | R-tree fill s |")
        print("|---:|---|---|---:|---:|")
        for n in args.sizes:
            plots = make_data.generate_plots(n, towns, county)
            runs = args.runs if n <= 20000 else 1
            for base, label in ((empty, "empty store"), (held, f"{args.stored:,} plots")):
                for name in WAYS:
                    if name == "triggers" and n > 20000:
                        continue  # ~15 µs a box and a Python callback per row: minutes
                    got = [measure(base, plots, name, folder) for _ in range(runs)]
                    total = statistics.median(g[0] for g in got)
                    fill = statistics.median(g[1] for g in got)
                    fill_text = "—" if name == "triggers" else f"{fill:.3f}"
                    print(f"| {n:,} | {label} | {name} | {total:.2f} | {fill_text} |",
                          flush=True)


if __name__ == "__main__":
    main()
