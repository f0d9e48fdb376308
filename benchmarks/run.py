"""ecomap against the plain geopandas overlay: township summaries and re-splits.

``make bench`` (10k, 100k and 1M plots) or ``make bench-quick`` (10k and 100k).
See ``benchmarks/README.md`` for what is measured.  Every measurement runs in a fresh
Python process (``benchmarks/_one.py``), so each path's peak memory is its own; the
median of the repeats is reported.  Results go to ``benchmarks/results/latest.md``
and ``latest.json`` (not committed).

Exit status: 0 when ecomap's areas agree with the overlay's everywhere (whether the
speed targets are met is reported, not asserted), 1 when they do not, 2 when the
township layer is missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_data  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
ONE = HERE / "_one.py"

SIZES_FULL = (10_000, 100_000, 1_000_000)
SIZES_QUICK = (10_000, 100_000)
RESPLIT_SIZES = (100_000, 1_000_000)
#: Relative tolerance on every township × category × year area (0.01 %).
RTOL = 1e-4
#: Minimum overlay/ecomap time ratios the project aims at, by (task, size).
TARGETS = {("summary", 1_000_000): 20.0, ("resplit", 100_000): 5.0,
           ("resplit", 1_000_000): 5.0}
#: The overlay of 1M plots takes minutes: fewer repeats there (documented in README).
OVERLAY_REPEATS_1M = 2
TIMEOUT_S = 3600
OUTSIDE = "(县界外)"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- one path, several runs -------------------------------------------------------------
def run_once(task: str, path: str, store: Path, out: Path) -> dict:
    """One fresh process; a copy of the store when the run modifies it."""
    target = store
    if task == "resplit" and path == "ecomap":
        target = store.with_name(f".resplit_{store.name}")
        shutil.copyfile(store, target)
    try:
        proc = subprocess.run(
            [sys.executable, str(ONE), task, path, str(target), str(out)],
            capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    finally:
        if target != store:
            target.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{task}/{path} on {store.name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(task: str, path: str, store: Path, repeats: int, workdir: Path) -> dict:
    """Median time, peak memory and the first run's table of ``repeats`` runs."""
    runs = []
    for i in range(repeats):
        out = workdir / f"{task}_{path}_{store.stem}_{i}.csv"
        r = run_once(task, path, store, out)
        log(f"    {store.stem} {task:7s} {path:7s} run {i + 1}/{repeats}: "
            f"{r['seconds']:8.2f} s  peak {r['peak_mb']:7.0f} MB")
        runs.append(r)
    table = pd.read_csv(workdir / f"{task}_{path}_{store.stem}_0.csv")
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_mb": statistics.median(r["peak_mb"] for r in runs),
        "base_mb": statistics.median(r["base_mb"] for r in runs),
        "runs": runs,
        "table": table,
    }


# --- agreement ------------------------------------------------------------------------------
def compare(ecomap: pd.DataFrame, overlay: pd.DataFrame) -> dict:
    """Per township × category × year: relative difference of ecomap's area to the overlay's.

    Area ecomap lists outside every township has no counterpart in the overlay
    (``how="intersection"`` drops it); it is reported apart.
    """
    key = ["township", "category", "year"]
    e = ecomap.copy()
    out_mask = e["township"].isna() | (e["township"] == OUTSIDE)
    outside_m2 = float(e.loc[out_mask, "area_m2"].sum())
    e = e[~out_mask]
    m = e.merge(overlay, on=key, how="outer", suffixes=("_ecomap", "_overlay"),
                indicator=True)
    both = m[m["_merge"] == "both"]
    rel = ((both["area_m2_ecomap"] - both["area_m2_overlay"]).abs()
           / both["area_m2_overlay"].abs())
    only_e = int((m["_merge"] == "left_only").sum())
    only_o = int((m["_merge"] == "right_only").sum())
    max_rel = float(rel.max()) if len(rel) else 0.0
    return {
        "groups": int(len(both)),
        "only_ecomap": only_e,
        "only_overlay": only_o,
        "outside_m2": outside_m2,
        "max_rel_diff": max_rel,
        "total_ecomap_m2": float(e["area_m2"].sum()),
        "total_overlay_m2": float(overlay["area_m2"].sum()),
        "ok": bool(max_rel <= RTOL and only_e == 0 and only_o == 0),
    }


# --- report ---------------------------------------------------------------------------------
def _environment() -> dict:
    import geopandas
    import numpy
    import pyogrio
    import pyproj
    import shapely

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "geopandas": geopandas.__version__,
        "shapely": shapely.__version__,
        "geos": shapely.geos_version_string,
        "pyogrio": pyogrio.__version__,
        "gdal": pyogrio.__gdal_version_string__,
        "pyproj": pyproj.__version__,
        "proj": pyproj.proj_version_str,
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
    }


def _fmt_rows(rows: list[dict]) -> list[list[str]]:
    out = []
    for r in rows:
        out.append([
            f"{r['size']:,}", r["task"], f"{r['ecomap_s']:.3f}", f"{r['overlay_s']:.2f}",
            f"{r['ratio']:.1f}×", f"{r['ecomap_peak_mb']:.0f}", f"{r['overlay_peak_mb']:.0f}",
            f"{r['max_rel_diff']:.1e}", f"{r['ecomap_runs']}/{r['overlay_runs']}",
        ])
    return out


HEADER = ["size", "task", "ecomap s", "overlay s", "ratio (overlay/ecomap)",
          "ecomap peak MB", "overlay peak MB", "max rel diff", "runs (ecomap/overlay)"]


def text_table(rows: list[dict]) -> str:
    cells = [HEADER, *_fmt_rows(rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |",
             "|" + "|".join("---:" if i != 1 else "---" for i in range(len(HEADER))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in _fmt_rows(rows)]
    return "\n".join(lines)


def target_lines(rows: list[dict]) -> list[str]:
    by = {(r["task"], r["size"]): r for r in rows}
    out = []
    for (task, size), want in TARGETS.items():
        r = by.get((task, size))
        if r is None:
            out.append(f"{task} at {size:,}: ≥ {want:.0f}× — not measured in this run")
        else:
            verdict = "met" if r["ratio"] >= want else "NOT met"
            out.append(f"{task} at {size:,}: ≥ {want:.0f}× — {verdict} ({r['ratio']:.1f}×)")
    return out


def write_results(rows: list[dict], env: dict, *, quick: bool) -> None:
    RESULTS.mkdir(exist_ok=True)
    doc = {"quick": quick, "environment": env, "rtol": RTOL,
           "targets": [{"task": t, "size": s, "min_ratio": v} for (t, s), v in TARGETS.items()],
           "verdicts": target_lines(rows), "rows": rows}
    (RESULTS / "latest.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    md = [
        f"# Benchmark results ({'quick' if quick else 'full'} run, {env['date']})", "",
        f"{env['cpus']} CPUs, Python {env['python']}, geopandas {env['geopandas']}, "
        f"shapely {env['shapely']} (GEOS {env['geos']}), pyogrio {env['pyogrio']} "
        f"(GDAL {env['gdal']}), pyproj {env['pyproj']} (PROJ {env['proj']}).", "",
        "Median seconds of the runs; peak RSS of the measuring process (MB).  The re-split "
        "rows' overlay column is the summary rows' overlay measurement (the same work).", "",
        markdown_table(rows), "",
        "Targets:", "", *[f"- {line}" for line in target_lines(rows)], "",
    ]
    (RESULTS / "latest.md").write_text("\n".join(md), encoding="utf-8")


# --- main -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k plots only")
    parser.add_argument("--sizes", type=int, nargs="+", help="plot counts (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per path (default 3)")
    args = parser.parse_args(argv)
    sizes = args.sizes or (SIZES_QUICK if args.quick else SIZES_FULL)

    try:
        for n in sizes:
            make_data.build_store(n)
    except make_data.MissingGeodata as exc:
        log(f"bench: {exc}")
        return 2

    rows: list[dict] = []
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="ecomap-bench-") as tmp:
        work = Path(tmp)
        for n in sizes:
            store = make_data.store_path(n)
            log(f"== {n:,} plots ({store.stat().st_size / 2**20:.0f} MB store)")
            o_rep = OVERLAY_REPEATS_1M if n >= 1_000_000 else args.repeat
            ov = measure("summary", "overlay", store, o_rep, work)
            tasks = ["summary", *(["resplit"] if n in RESPLIT_SIZES else [])]
            for task in tasks:
                ec = measure(task, "ecomap", store, args.repeat, work)
                cmp = compare(ec["table"], ov["table"])
                all_ok &= cmp["ok"]
                rows.append({
                    "size": n, "task": task,
                    "ecomap_s": ec["seconds"], "overlay_s": ov["seconds"],
                    "ratio": ov["seconds"] / ec["seconds"],
                    "ecomap_peak_mb": ec["peak_mb"], "overlay_peak_mb": ov["peak_mb"],
                    "ecomap_base_mb": ec["base_mb"], "overlay_base_mb": ov["base_mb"],
                    "max_rel_diff": cmp["max_rel_diff"], "agreement": cmp,
                    "ecomap_runs": len(ec["runs"]), "overlay_runs": len(ov["runs"]),
                    "ecomap_all_s": [r["seconds"] for r in ec["runs"]],
                    "overlay_all_s": [r["seconds"] for r in ov["runs"]],
                })
                state = "agree" if cmp["ok"] else "DISAGREE"
                log(f"  {task}: {state} over {cmp['groups']} groups, max rel diff "
                    f"{cmp['max_rel_diff']:.2e} (only ecomap {cmp['only_ecomap']}, only "
                    f"overlay {cmp['only_overlay']}, outside {cmp['outside_m2']:.1f} m²)")

    env = _environment()
    write_results(rows, env, quick=args.quick)
    print(text_table(rows))
    print()
    for line in target_lines(rows):
        print(line)
    print(f"\nareas {'agree' if all_ok else 'DO NOT agree'} within {RTOL:.2%}; "
          f"written to {RESULTS.relative_to(HERE.parent)}/latest.md and latest.json")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
