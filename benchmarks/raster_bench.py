"""ecomap zonal against exactextract and rasterstats (see benchmarks/RASTER.md).

``python benchmarks/raster_bench.py`` measures, each in a fresh Python process:

* 100,000 synthetic plots (``make_data.generate_plots``, EPSG:4490) on a 10,000 × 10,000
  float32 raster of 10 m pixels in EPSG:4547 (tiled 512 × 512, DEFLATE, 1 % nodata),
  coverage-weighted mean per plot: ``ecomap`` (``open_raster`` + ``zonal_stats``, the
  work of ``ecomap zonal``), exactextract with each strategy (``feature-sequential`` and
  ``raster-sequential`` on the file, and ``feature-sequential`` on the raster read whole
  into a ``NumPyRasterSource``), and ``rasterstats.zonal_stats`` on a sample of the
  plots, extrapolated;
* peak memory of ``ecomap`` on a 40,000 × 40,000 float32 raster (2.5 m pixels, 6.4 GB
  as an array, mostly constant so that it is small on disk), with the plots, the 11
  townships and the county as zones.

Every path starts from the same plots in EPSG:4490 and includes moving them to the
raster's CRS.  Libraries and plots are loaded before the clock starts; the clock covers
reading the raster and computing.  Peak memory is the process's high-water mark (VmHWM)
reset after the plots are loaded, so it counts the computation; the total is given too.

Inputs are cached in ``benchmarks/data/raster/`` (several GB with --big), results go to
``benchmarks/results/raster.md`` and ``raster.json``.  Exit status 1 when ecomap's means
differ from exactextract's by more than 1e-6.  ``--quick``: 10,000 plots, a 4,000 ×
4,000 raster, no big raster.  rasterstats is not an ecomap dependency: ``pip install
rasterstats`` (it is skipped when missing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "raster"
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

GK = "EPSG:4547"
NODATA = -9999.0
TOL = 1e-6
SEED = 6


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- inputs


def county_centre() -> tuple[float, float]:
    import make_data

    from ecomap.crs import transform_geometries

    county = make_data.read_county()
    c = transform_geometries(county.geometry.values, "EPSG:4490", GK)[0].envelope.centroid
    return round(c.x, -3), round(c.y, -3)


def plots_path(n: int) -> Path:
    return DATA / f"plots_{n}.gpkg"


def build_plots(n: int) -> Path:
    import make_data

    path = plots_path(n)
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    plots = make_data.generate_plots(n, make_data.read_townships(), make_data.read_county())
    tmp = path.with_suffix(".tmp.gpkg")
    plots.to_file(tmp, layer="plots", engine="pyogrio")
    os.replace(tmp, path)
    log(f"wrote {path.name}")
    return path


def raster_path(size: int, pixel: float) -> Path:
    return DATA / f"values_{size}_{pixel:g}m.tif"


def build_raster(size: int, pixel: float, *, constant: bool = False) -> Path:
    """A size × size float32 GeoTIFF centred on the county, written strip by strip.

    ``constant``: 1.0 everywhere but a ramp in every 8th tile row (compresses to MBs).
    Else a smooth field plus noise with 1 % nodata pixels (incompressible, as real
    imagery is).
    """
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    path = raster_path(size, pixel)
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    cx, cy = county_centre()
    half = size * pixel / 2
    transform = Affine(pixel, 0.0, cx - half, 0.0, -pixel, cy + half)
    profile = dict(driver="GTiff", width=size, height=size, count=1, dtype="float32",
                   crs=GK, transform=transform, nodata=NODATA, tiled=True, blockxsize=512,
                   blockysize=512, compress="deflate", predictor=3, BIGTIFF="YES")
    rng = np.random.default_rng([SEED, size])
    tmp = path.with_suffix(".tmp.tif")
    t0 = time.perf_counter()
    with rasterio.open(tmp, "w", **profile) as dst:
        cols = np.arange(size)[None, :]
        for r0 in range(0, size, 512):
            n = min(512, size - r0)
            rows = np.arange(r0, r0 + n)[:, None]
            if constant:
                block = np.ones((n, size), np.float32)
                if (r0 // 512) % 8 == 0:
                    block += (cols / size).astype(np.float32)
            else:
                block = (0.6 + 0.2 * np.sin(rows / 700.0) * np.cos(cols / 900.0)
                         + rng.normal(0.0, 0.05, (n, size))).astype(np.float32)
                block[rng.random((n, size)) < 0.01] = NODATA
            dst.write(block, 1, window=Window(0, r0, size, n))
    os.replace(tmp, path)
    log(f"wrote {path.name} ({path.stat().st_size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - t0:.0f} s")
    return path


# --------------------------------------------------------------------------- one run


def _vmhwm_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    """Reset the high-water mark to the current RSS (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run_one(engine: str, raster: str, plots: str, out: str, sample: int, extra: str) -> dict:
    """One measurement; called in a fresh process by ``--one``."""
    import geopandas as gpd
    import rasterio

    from ecomap.crs import transform_geometries
    from ecomap.io.raster import open_raster
    from ecomap.raster import zonal_stats

    zones = gpd.read_file(plots, layer="plots", engine="pyogrio", columns=["plot_id"])
    if extra == "towns":
        import make_data

        towns = make_data.read_townships()[["geometry"]].to_crs(4490)
        county = make_data.read_county()[["geometry"]].to_crs(4490)
        zones = gpd.GeoDataFrame(geometry=[*zones.geometry, *towns.geometry,
                                           *county.geometry], crs=4490)
    if engine == "rasterstats":
        zones = zones.iloc[:: max(1, len(zones) // sample)].iloc[:sample]
    if engine.startswith("exactextract"):
        import exactextract  # noqa: F401 - imported before the clock
        from exactextract.raster import NumPyRasterSource  # noqa: F401
    if engine == "rasterstats":
        import rasterstats  # noqa: F401
    geoms = zones.geometry.values
    base_mb = _vmhwm_mb()
    reset = _reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    if engine.startswith("ecomap"):
        stats = "mean,min,max" if engine == "ecomap-minmax" else "mean"
        with open_raster(raster) as src:
            means = zonal_stats(zones, src, stats=stats)["mean"].to_numpy()
    elif engine.startswith("exactextract"):
        from exactextract import exact_extract
        from exactextract.raster import NumPyRasterSource

        moved = gpd.GeoDataFrame(geometry=transform_geometries(geoms, 4490, GK), crs=GK)
        with rasterio.open(raster) as ds:
            if engine == "exactextract-memory":
                b = ds.bounds
                rast = NumPyRasterSource(ds.read(1), xmin=b.left, ymin=b.bottom, xmax=b.right,
                                         ymax=b.top, nodata=NODATA, srs_wkt=ds.crs.to_wkt())
                strategy = "feature-sequential"
            else:
                rast, strategy = ds, engine.split("-", 1)[1]
            res = exact_extract(rast, moved, ["mean"], strategy=strategy, output="pandas")
        means = res["mean"].to_numpy(dtype=float)
    elif engine == "rasterstats":
        from rasterstats import zonal_stats as rs_zonal

        moved = transform_geometries(geoms, 4490, GK)
        res = rs_zonal(list(moved), raster, stats=["mean"], nodata=NODATA)
        means = np.array([np.nan if r["mean"] is None else r["mean"] for r in res])
    else:
        raise SystemExit(f"unknown engine {engine}")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    np.save(out, means)
    return {"seconds": seconds, "cpu": cpu, "zones": len(zones), "base_mb": base_mb,
            "peak_mb": _vmhwm_mb(), "peak_is_reset": reset}


def measure(engine: str, raster: Path, plots: Path, *, sample: int = 0, extra: str = "",
            tag: str = "") -> dict:
    out = DATA / f"means_{engine}{tag}.npy"
    cmd = [sys.executable, __file__, "--one", engine, str(raster), str(plots), str(out),
           str(sample), extra]
    log(f"  {engine}{tag} …")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=7200)
    if proc.returncode:
        log(proc.stderr[-3000:])
        raise SystemExit(f"{engine} failed")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["means"] = str(out)
    log(f"    {res['seconds']:.2f} s (cpu {res['cpu']:.2f} s), peak {res['peak_mb']:.0f} MB")
    return res


# --------------------------------------------------------------------------- report


def compare(ours: np.ndarray, theirs: np.ndarray) -> dict:
    both = np.isfinite(ours) & np.isfinite(theirs)
    diff = np.abs(ours[both] - theirs[both])
    return {"max_abs_diff": float(diff.max()) if diff.size else 0.0,
            "nan_mismatch": int((np.isfinite(ours) != np.isfinite(theirs)).sum())}


def versions() -> str:
    import exactextract
    import rasterio
    import shapely

    try:
        import rasterstats

        rs = f", rasterstats {rasterstats.__version__}"
    except ImportError:
        rs = ""
    return (f"{os.cpu_count()} CPUs, Python {platform.python_version()}, rasterio "
            f"{rasterio.__version__} (GDAL {rasterio.__gdal_version__}), exactextract "
            f"{exactextract.__version__}, shapely {shapely.__version__}, numpy "
            f"{np.__version__}{rs}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plots", type=int, default=100_000)
    ap.add_argument("--size", type=int, default=10_000, help="raster side, pixels (10 m)")
    ap.add_argument("--big", type=int, default=40_000, help="side of the big raster; 0: skip")
    ap.add_argument("--sample", type=int, default=5_000, help="plots given to rasterstats")
    ap.add_argument("--repeats", type=int, default=3, help="runs of ecomap (median)")
    ap.add_argument("--exactextract-repeats", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--one", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        engine, raster, plots, out, sample, extra = args.one
        print(json.dumps(run_one(engine, raster, plots, out, int(sample), extra)))
        return 0
    if args.quick:
        args.plots, args.size, args.big, args.sample, args.repeats = 10_000, 4_000, 0, 2_000, 1

    plots = build_plots(args.plots)
    raster = build_raster(args.size, 10.0)
    log(f"{args.plots:,} plots on {args.size:,} × {args.size:,} (load average "
        f"{os.getloadavg()[0]:.1f})")
    runs: dict[str, list[dict]] = {"ecomap": []}
    engines = ["exactextract-feature-sequential", "exactextract-raster-sequential",
               "exactextract-memory"]
    try:
        import rasterstats  # noqa: F401

        has_rs = True
    except ImportError:
        has_rs = False
        log("rasterstats is not installed: skipped (pip install rasterstats)")
    # Interleave the runs so that a busy machine slows every path alike.
    for i in range(max(args.repeats, args.exactextract_repeats)):
        if i < args.repeats:
            runs["ecomap"].append(measure("ecomap", raster, plots))
        if i < args.exactextract_repeats:
            for e in engines:
                runs.setdefault(e, []).append(measure(e, raster, plots))
            if has_rs:
                runs.setdefault("rasterstats", []).append(
                    measure("rasterstats", raster, plots, sample=args.sample))
    ours = np.load(runs["ecomap"][0]["means"])
    rows = []
    for name, rr in runs.items():
        med = statistics.median(r["seconds"] for r in rr)
        cpu = statistics.median(r["cpu"] for r in rr)
        zones = rr[0]["zones"]
        scale = args.plots / zones
        row = {"path": name, "runs": len(rr), "zones_measured": zones, "seconds": med * scale,
               "cpu": cpu * scale, "ms_per_plot": 1000 * med / zones,
               "peak_mb": max(r["peak_mb"] for r in rr), "base_mb": rr[0]["base_mb"],
               "extrapolated": zones < args.plots}
        theirs = np.load(rr[0]["means"])
        if name == "rasterstats":
            sel = np.arange(0, args.plots, max(1, args.plots // args.sample))[:zones]
            row.update(compare(ours[sel], theirs))
        else:
            row.update(compare(ours, theirs))
        rows.append(row)
    eco = rows[0]
    for row in rows:
        row["ratio"] = row["seconds"] / eco["seconds"]
        row["cpu_ratio"] = row["cpu"] / eco["cpu"]
    best_ee = min((r for r in rows if r["path"].startswith("exactextract")),
                  key=lambda r: r["seconds"])
    agree = all(r["max_abs_diff"] <= TOL and r["nan_mismatch"] == 0 for r in rows
                if r["path"].startswith("exactextract"))

    big = []
    if args.big:
        big_raster = build_raster(args.big, 2.5, constant=True)
        log(f"big raster {args.big:,} × {args.big:,}: plots, townships and county as zones")
        for engine in ("ecomap", "ecomap-minmax"):
            res = measure(engine, big_raster, plots, extra="towns", tag="-big")
            res["path"] = engine
            big.append(res)
        got = np.load(big[0]["means"])
        big_ok = bool(np.nanmax(np.abs(got[np.isfinite(got)] - 1.0)) < 1.0 + 1e-9)
        big[0]["plausible"] = big_ok

    report = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="minutes"),
              "versions": versions(), "load_average": os.getloadavg(),
              "plots": args.plots, "size": args.size, "rows": rows, "big": big,
              "big_size": args.big, "means_agree": agree,
              "targets": {
                  "faster_than_rasterstats_10x": next(
                      (r["ratio"] >= 10 for r in rows if r["path"] == "rasterstats"), None),
                  "at_least_as_fast_as_exactextract_best": best_ee["ratio"] >= 1.0,
                  "same_means_as_exactextract_1e-6": agree}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "raster.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    md = markdown(report, best_ee["path"])
    (RESULTS / "raster.md").write_text(md, encoding="utf-8")
    print(md)
    return 0 if agree else 1


def markdown(rep: dict, best: str) -> str:
    lines = [f"# Raster zonal statistics ({rep['date']})", "", rep["versions"] + ".",
             f"Load average at the end: {rep['load_average'][0]:.1f}.", "",
             f"{rep['plots']:,} plots, {rep['size']:,} × {rep['size']:,} float32 raster, "
             "coverage-weighted mean per plot.  Seconds: median wall time (rasterstats: "
             "extrapolated from the sample); CPU: process time; peak: high-water mark of the "
             "computation (MB), total process peak in brackets.", "",
             "| path | s | CPU s | ms/plot | × ecomap (wall) | × ecomap (CPU) | peak MB "
             "| max abs Δ mean vs ecomap | runs |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rep["rows"]:
        name = r["path"] + (f" ({r['zones_measured']:,} plots)" if r["extrapolated"] else "")
        lines.append(
            f"| {name} | {r['seconds']:.1f} | {r['cpu']:.1f} | {r['ms_per_plot']:.3f} "
            f"| {r['ratio']:.1f}× | {r['cpu_ratio']:.1f}× | {r['peak_mb'] - r['base_mb']:.0f} "
            f"({r['peak_mb']:.0f}) | {r['max_abs_diff']:.1e} | {r['runs']} |")
    lines += ["", f"exactextract's best strategy here: {best}.", ""]
    if rep["big"]:
        n = rep["big_size"]
        lines += [f"Big raster: {n:,} × {n:,} float32 (2.5 m; {n * n * 4 / 1e9:.1f} GB as an "
                  "array), zones: the plots, 11 townships and the county.", "",
                  "| stats | s | peak MB (computation) | process peak MB |",
                  "|---|---:|---:|---:|"]
        for b in rep["big"]:
            stats = "mean,min,max" if b["path"] == "ecomap-minmax" else "mean"
            lines.append(f"| {stats} | {b['seconds']:.1f} | {b['peak_mb'] - b['base_mb']:.0f} "
                         f"| {b['peak_mb']:.0f} |")
        lines.append("")
    t = rep["targets"]

    def mark(v):
        return "not measured" if v is None else ("met" if v else "NOT met")

    lines += ["Targets:", "",
              f"- same means as exactextract (≤ {TOL:g}): {mark(t['same_means_as_exactextract_1e-6'])}",
              f"- ≥ 10× faster than rasterstats: {mark(t['faster_than_rasterstats_10x'])}",
              f"- at least as fast as exactextract's best strategy: "
              f"{mark(t['at_least_as_fast_as_exactextract_best'])}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
