"""ecomap against the plain geopandas overlay: township summaries and re-splits.

``make bench`` (10k, 100k and 1M plots) or ``make bench-quick`` (10k and 100k).
See ``benchmarks/README.md`` for what is measured.  Every measurement runs in a fresh
Python process (``benchmarks/_one.py``), so each path's peak memory is its own; the
median of the repeats is reported.  Results go to ``benchmarks/results/latest.md``
and ``latest.json`` (not committed), copied to ``full.*`` or ``quick.*``.

Exit status: 0 when ecomap's areas agree with the overlay's everywhere (whether the
speed targets are met is reported, not asserted), 1 when they do not, 2 when the
township layer is missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
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
    load = os.getloadavg()[0]
    try:
        proc = subprocess.run(
            [sys.executable, str(ONE), task, path, str(target), str(out)],
            capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    finally:
        if target != store:
            target.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{task}/{path} on {store.name} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load_before"] = load  # other work on the machine skews the timings
    return result


def measure(task: str, path: str, store: Path, repeats: int, workdir: Path) -> dict:
    """Median time, peak memory and the first run's table of ``repeats`` runs."""
    runs = []
    for i in range(repeats):
        out = workdir / f"{task}_{path}_{store.stem}_{i}.csv"
        r = run_once(task, path, store, out)
        log(f"    {store.stem} {task:7s} {path:7s} run {i + 1}/{repeats}: "
            f"{r['seconds']:8.2f} s  peak {r['peak_mb']:7.0f} MB  "
            f"(load before {r['load_before']:.1f})")
        runs.append(r)
    table = pd.read_csv(workdir / f"{task}_{path}_{store.stem}_0.csv")
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_mb": statistics.median(r["peak_mb"] for r in runs),
        "base_mb": statistics.median(r["base_mb"] for r in runs),
        "runs": runs,
        "table": table,
    }


def _overlay_key(task: str, n: int, repeats: int) -> str:
    """What an overlay measurement depends on: the data and the layers, not ecomap's code.

    The generator (make_data) and the official layer (_one) make the inputs, and the
    overlay code measures them; the overlay reads nothing ecomap computes.
    """
    import inspect

    import _one

    h = hashlib.sha256(f"{task} {n} {repeats} {make_data.SEED} {make_data.STRADDLE_SHARE} "
                       f"{make_data.INNER_BUFFER_M}".encode())
    for fn in (make_data.generate_plots, make_data._star_polygons, make_data._points_in,
               make_data._points_on, make_data.categories, make_data.read_townships,
               _one.overlay, _one.official_townships):
        h.update(inspect.getsource(fn).encode())
    return h.hexdigest()[:16]


def overlay_measure(task: str, store: Path, n: int, repeats: int, workdir: Path, *,
                    reuse: bool) -> dict:
    """The overlay path, measured, or taken from the last measurement of the same inputs.

    Every measurement is kept in ``results/overlay_cache``; with ``reuse`` (``--reuse-overlay``)
    a kept one stands in for new runs, to iterate on ecomap's side without the minutes of
    overlays.  Its timings come from another moment: compare loads before relying on it.
    """
    cache = RESULTS / "overlay_cache"
    key = _overlay_key(task, n, repeats)
    meta, csv = cache / f"{task}_{n}.json", cache / f"{task}_{n}.csv"
    if reuse and meta.exists() and csv.exists():
        kept = json.loads(meta.read_text(encoding="utf-8"))
        if kept.get("key") == key:
            log(f"    plots_{n} {task:7s} overlay  reused from {kept['date']} "
                f"({kept['seconds']:.2f} s)")
            return {**kept, "table": pd.read_csv(csv), "reused": True}
    m = measure(task, "overlay", store, repeats, workdir)
    cache.mkdir(parents=True, exist_ok=True)
    m["table"].to_csv(csv, index=False)
    kept = {k: v for k, v in m.items() if k != "table"}
    kept.update(key=key, date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    meta.write_text(json.dumps(kept, indent=2) + "\n", encoding="utf-8")
    return {**m, "reused": False}


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
        "loadavg_at_end": os.getloadavg(),
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


def _load_range(rows: list[dict]) -> str:
    loads = [v for r in rows for v in r.get("load_before", [])]
    return f"{min(loads):.1f}–{max(loads):.1f}" if loads else "n/a"


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
        f"(GDAL {env['gdal']}), pyproj {env['pyproj']} (PROJ {env['proj']}).  "
        f"ecomap source {env['ecomap_fingerprint']}"
        + (f" (changed during the run: {', '.join(env['ecomap_changed_during_run'])})"
           if env["ecomap_changed_during_run"] else "")
        + ".", "",
        "Median seconds of the runs; peak RSS of the measuring process (MB).  The "
        "re-split rows replace the township layer with an 'official' one (same names, borders "
        "moved; _one.official_townships) and compare with an overlay against that layer.  "
        f"1-minute load average before the runs: {_load_range(rows)} "
        f"(on {env['cpus']} CPUs; above 1 other work shared the machine).", "",
        markdown_table(rows), "",
        *(["Overlay figures marked reused come from an earlier run on the same data "
           "(--reuse-overlay): " + ", ".join(f"{r['size']:,} {r['task']}" for r in rows
                                             if r.get("overlay_reused")) + ".", ""]
          if any(r.get("overlay_reused") for r in rows) else []),
        "Targets:", "", *[f"- {line}" for line in target_lines(rows)], "",
    ]
    (RESULTS / "latest.md").write_text("\n".join(md), encoding="utf-8")
    # The last run of each kind is kept too, so a quick run does not hide the full one.
    kind = "quick" if quick else "full"
    for ext in ("md", "json"):
        shutil.copyfile(RESULTS / f"latest.{ext}", RESULTS / f"{kind}.{ext}")


# --- main -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k plots only")
    parser.add_argument("--sizes", type=int, nargs="+", help="plot counts (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per path (default 3)")
    parser.add_argument("--rebuild-stale", action="store_true",
                        help="rebuild stores built by another version of ecomap's source")
    parser.add_argument("--reuse-overlay", action="store_true",
                        help="take the overlay figures from the last run on the same data "
                             "(results/overlay_cache) instead of measuring them again")
    args = parser.parse_args(argv)
    sizes = args.sizes or (SIZES_QUICK if args.quick else SIZES_FULL)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    make_data.log.setLevel(logging.INFO)  # progress of the (one-off) store builds

    files = make_data.ecomap_file_hashes()
    code = make_data.ecomap_fingerprint(files)
    try:
        for n in sizes:
            stale = make_data.build_info(n).get("ecomap_fingerprint") != code
            make_data.build_store(n, force=args.rebuild_stale and stale)
    except make_data.MissingGeodata as exc:
        log(f"bench: {exc}")
        return 2
    stores = {n: make_data.build_info(n) for n in sizes}
    for n, info in stores.items():
        if info.get("ecomap_fingerprint") != code:
            log(f"note: plots_{n}.gpkg was built by other ecomap source "
                f"({info.get('ecomap_fingerprint', 'unknown')}, now {code}); its stored splits "
                "come from that code. --rebuild-stale rebuilds it.")

    rows: list[dict] = []
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="ecomap-bench-") as tmp:
        work = Path(tmp)
        for n in sizes:
            store = make_data.store_path(n)
            log(f"== {n:,} plots ({store.stat().st_size / 2**20:.0f} MB store)")
            o_rep = OVERLAY_REPEATS_1M if n >= 1_000_000 else args.repeat
            tasks = ["summary", *(["resplit"] if n in RESPLIT_SIZES else [])]
            for task in tasks:
                # The re-split replaces the township layer with the "official" one
                # (_one.official_townships), so its overlay runs against that layer.
                ov = overlay_measure(task, store, n, o_rep, work, reuse=args.reuse_overlay)
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
                    "load_before": [r["load_before"] for r in (*ec["runs"], *ov["runs"])],
                    "overlay_reused": ov["reused"],
                })
                state = "agree" if cmp["ok"] else "DISAGREE"
                log(f"  {task}: {state} over {cmp['groups']} groups, max rel diff "
                    f"{cmp['max_rel_diff']:.2e} (only ecomap {cmp['only_ecomap']}, only "
                    f"overlay {cmp['only_overlay']}, outside {cmp['outside_m2']:.1f} m²)")

    env = _environment()
    env["ecomap_fingerprint"] = code
    now = make_data.ecomap_file_hashes()
    changed = sorted(f for f in {*files, *now} if files.get(f) != now.get(f))
    env["ecomap_changed_during_run"] = changed
    env["stores"] = stores
    if changed:
        log("WARNING: ecomap's source changed while the benchmarks ran (" + ", ".join(changed)
            + "); figures may mix versions")
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
