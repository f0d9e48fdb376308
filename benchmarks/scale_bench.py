"""Province scale: township summary of 1M → 10M generated plots with the dask path.

    python benchmarks/scale_bench.py                        # 1M, 2M, 5M, 10M; single path to 2M
    python benchmarks/scale_bench.py --sizes 1e6 --single-max 1e6
    python benchmarks/scale_bench.py --scheduler tcp://host:8786

Plots are generated straight into spatially partitioned GeoParquet (one tile of a
Jiangxi-sized extent per partition, by the cluster itself) over ~1,500 generated
townships (:func:`ecomap.scale.synthetic_townships`), then summarised by township ×
category × year with :func:`ecomap.scale.township_areas` on a ``dask.distributed``
cluster (a LocalCluster of ``--workers`` single-threaded worker processes unless
``--scheduler`` is given).  Reported per size: generation and summary wall time, peak
memory of each worker (its ``ru_maxrss``, workers restarted before each size) and the
peak of the whole process tree (client + scheduler + nannies + workers, sampled every
0.2 s).  The single-machine geopandas path (:func:`ecomap.scale.township_areas_in_memory`
on the whole frame) runs in a fresh process up to ``--single-max`` plots; where both
run, counts must be equal and areas agree to 1e-9 (exit status 1 otherwise).

Results: ``benchmarks/results/scale.md`` and ``scale.json``; data in
``benchmarks/data/scale/`` (both ignored by git).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "scale"
RESULTS = HERE / "results"


def _rss_tree() -> int:
    """Resident memory of this process and all its descendants, in bytes."""
    import psutil

    me = psutil.Process()
    total = 0
    for p in [me, *me.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


class _PeakSampler:
    def __init__(self, every: float = 0.2) -> None:
        self.every, self.peak, self._stop = every, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_tree())
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _plots_dir(n: int, rows: int) -> Path:
    return DATA / f"plots_{n}_{rows}"


def _single(path: str, towns: str, out: str) -> None:
    """The single-machine path in this (fresh) process: every plot in one GeoDataFrame."""
    import geopandas as gpd

    from ecomap import scale

    t0 = time.perf_counter()
    plots = pd.concat([gpd.read_parquet(f) for f in sorted(Path(path).glob("*.parquet"))],
                      ignore_index=True)
    t1 = time.perf_counter()
    result = scale.township_areas_in_memory(plots, gpd.read_parquet(towns))
    t2 = time.perf_counter()
    result.to_pickle(out)
    print(json.dumps({"read_s": t1 - t0, "summary_s": t2 - t1, "wall_s": t2 - t0,
                      "peak_bytes": _maxrss(), "plots": len(plots)}))


def _compare(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Largest relative area difference; raises when the keys or counts differ."""
    keys = ["township", "category", "year"]
    m = a.merge(b, on=keys, how="outer", suffixes=("_a", "_b"), indicator=True)
    if (m["_merge"] != "both").any() or (m["count_a"] != m["count_b"]).any():
        raise AssertionError("dask and single-machine summaries differ in rows or counts")
    return float(((m["area_m2_a"] - m["area_m2_b"]).abs() / m["area_m2_b"].abs()).max())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1e6,2e6,5e6,1e7",
                    help="plot counts, comma-separated (default 1e6,2e6,5e6,1e7)")
    ap.add_argument("--single-max", type=float, default=2e6,
                    help="largest size also run on the single-machine path (default 2e6)")
    ap.add_argument("--townships", type=int, default=1500)
    ap.add_argument("--rows-per-partition", type=int, default=250_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="6GB", help="per worker (LocalCluster)")
    ap.add_argument("--scheduler", default=None, help="a running scheduler's address")
    ap.add_argument("--single", nargs=3, metavar=("PLOTS", "TOWNS", "OUT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.single:
        _single(*args.single)
        return 0

    import geopandas as gpd

    from ecomap import scale

    sizes = [int(float(s)) for s in args.sizes.split(",")]
    rows = args.rows_per_partition
    DATA.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    towns_path = DATA / f"townships_{args.townships}.parquet"
    if not towns_path.exists():
        scale.synthetic_townships(args.townships).to_parquet(towns_path)
    towns = gpd.read_parquet(towns_path)
    report = {"machine": f"{platform.node()} {os.cpu_count()} cores, "
                         f"{platform.python_version()}",
              "townships": len(towns), "rows_per_partition": rows, "workers": args.workers,
              "memory_limit": args.memory_limit, "scheduler": args.scheduler or "LocalCluster",
              "runs": []}
    ok = True
    with scale.connect(args.scheduler, n_workers=args.workers,
                       memory_limit=args.memory_limit) as client:
        for n in sizes:
            path = _plots_dir(n, rows)
            t0 = time.perf_counter()
            if not (path / "_done").exists():
                scale.write_synthetic_plots(n, path, rows_per_partition=rows, client=client)
                (path / "_done").touch()
            gen_s = time.perf_counter() - t0
            client.restart()  # fresh workers: their ru_maxrss is this size's alone
            with _PeakSampler() as sampler:
                t0 = time.perf_counter()
                result = scale.township_areas(path, towns, client=client)
                wall = time.perf_counter() - t0
            per_worker = client.run(_maxrss)
            run = {"plots": int(result["count"].sum()), "partitions": len(
                list(path.glob("*.parquet"))), "generate_s": round(gen_s, 1),
                "dask_s": round(wall, 1),
                "worker_peak_mb": round(max(per_worker.values()) / 2**20),
                "tree_peak_mb": round(sampler.peak / 2**20), "rows": len(result)}
            result.to_pickle(path / "dask_result.pkl")
            if n <= args.single_max:
                out = path / "single_result.pkl"
                t0 = time.perf_counter()
                proc = subprocess.run([sys.executable, __file__, "--single", str(path),
                                       str(towns_path), str(out)], capture_output=True,
                                      text=True)
                if proc.returncode:
                    run["single"] = f"failed: {proc.stderr.strip().splitlines()[-1:]}"
                else:
                    single = json.loads(proc.stdout.strip().splitlines()[-1])
                    run["single_s"] = round(single["wall_s"], 1)
                    run["single_peak_mb"] = round(single["peak_bytes"] / 2**20)
                    try:
                        run["max_rel_diff"] = _compare(result, pd.read_pickle(out))
                    except AssertionError as exc:
                        run["max_rel_diff"] = str(exc)
                        ok = False
                    else:
                        ok &= run["max_rel_diff"] < 1e-9
            report["runs"].append(run)
            print(json.dumps(run), flush=True)
    (RESULTS / "scale.json").write_text(json.dumps(report, indent=1))
    lines = [f"# Province scale ({report['machine']}; {report['scheduler']}, "
             f"{args.workers} workers × 1 thread, {args.memory_limit} each)", "",
             f"{len(towns)} townships, {rows:,} plots per partition.", "",
             "| plots | partitions | dask s | worker peak MB | total peak MB | single s | "
             "single peak MB | max rel. diff |", "|---|---|---|---|---|---|---|---|"]
    for r in report["runs"]:
        lines.append(f"| {r['plots']:,} | {r['partitions']} | {r['dask_s']} | "
                     f"{r['worker_peak_mb']} | {r['tree_peak_mb']} | {r.get('single_s', '–')} | "
                     f"{r.get('single_peak_mb', '–')} | {r.get('max_rel_diff', '–')} |")
    (RESULTS / "scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
