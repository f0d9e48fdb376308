#!/usr/bin/env python3
"""Map benchmark: ecomap's county map vs ``GeoDataFrame.explore()`` on the same plots.

For 1,000 / 10,000 / 50,000 synthetic plots (``benchmarks/make_data.generate_plots``:
star-shaped polygons of 20–30 vertices over Dayu's townships, with plot IDs, villages,
categories, years and areas) it measures, for both sides:

* **HTML bytes** — ecomap's single file with every asset inlined; explore's file as
  ``save()`` writes it (CDN links, i.e. without the ~0.5 MB of assets, in its favour);
* **write seconds** — from the GeoDataFrame in memory to the file on disk: ecomap's
  ``county_map`` + ``to_html`` + write, vs ``explore()`` + ``save()``; best of runs;
* **draw seconds** — headless Chromium (Debian ``chromium``), 1400×1000 window,
  networking switched off, both pages with **local assets** (explore's CDN links
  inlined from ecomap's vendored copies, so it can draw at all).  The same probe is
  appended to both pages: after the ``load`` event (all scripts run, layers added)
  it waits two animation frames — i.e. until a frame with the polygons has been
  produced — and records ``performance.now()``, whose origin is the start of
  navigation.  So the time covers reading and parsing the file, running the map
  script and drawing the first frame.  The page is driven over the DevTools protocol
  (``ecomap.maps._chromium``); median of runs, a fresh browser each time;
* **features drawn** — ecomap: ``ecomap.stats`` (features drawn in the last frame),
  explore: ``path.leaflet-interactive`` elements: both must equal the plot count;
* **browser memory** — after drawing, the proportional set size (PSS) of every
  Chromium process of the run (browser, renderer, GPU/utility), and the page's JS heap;
* **pan / zoom ms** — ``map.panBy([400, 250])`` and ``setZoom(z + 1)`` without animation,
  until two frames later (the redraw a user waits for).

Run ``python benchmarks/maps_bench.py`` (``--sizes 1000 10000``, ``--runs 3``,
``--quick`` = 1,000 and 10,000 once).  Results go to ``benchmarks/results/maps_latest.json``
and ``maps_latest.md``; the table and the method are explained in ``benchmarks/MAPS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results"

PROBE = (
    "<script>(function () {function mark() {requestAnimationFrame(function () {"
    "requestAnimationFrame(function () {window.__drawn = performance.now();});});}"
    "if (document.readyState === 'complete') mark(); else addEventListener('load', mark);"
    "})();</script>"
)
# The folium map object of a page, whichever side wrote it.
FIND_MAP = ("(window.ecomap && ecomap.maps && ecomap.maps[0]) || window[Object.keys(window)"
            ".find(function (k) { return /^map_[0-9a-f]+$/.test(k); })]")
COUNT = {
    "ecomap": "ecomap.stats(ecomap.maps[0]).drawn",
    "explore": "document.querySelectorAll('path.leaflet-interactive').length",
}
TARGETS = {"size": 1 / 8, "draw": 1 / 3}


# ------------------------------------------------------------------------------ data


def make_plots(n: int):
    """``n`` plots with the attributes a county's plot table has; and the summary."""
    import make_data
    import numpy as np
    import pandas as pd

    from ecomap import crs
    from ecomap.units import mu_from_m2

    towns, county = make_data.read_townships(), make_data.read_county()
    plots = make_data.generate_plots(n, towns, county)
    rng = np.random.default_rng(n)
    plots["area_mu"] = np.round(mu_from_m2(crs.areas_m2(plots.geometry.values, plots.crs)), 2)
    plots["village"] = rng.choice([f"{a}{b}村" for a in "东南西北上下新老大小" for b in
                                   "坑塘岭坪田溪口背垅洞山冲"], n)
    joined = plots.assign(geometry=plots.geometry.representative_point()).sjoin(
        towns[["name", "geometry"]], how="left", predicate="within")
    plots["township"] = joined["name"].to_numpy()
    plots["species"] = rng.choice(["杉木", "马尾松", "木荷", "枫香", "油茶"], n)
    g = plots.groupby(["township", "category", "year"], as_index=False).agg(
        count=("plot_id", "size"), area_mu=("area_mu", "sum"))
    g["area_m2"] = g["area_mu"] * 10_000 / 15
    g["area_ha"] = g["area_m2"] / 10_000
    return county, towns, plots, pd.DataFrame(g)


# ----------------------------------------------------------------------------- write


def write_ecomap(county, towns, plots, summary, path: Path) -> float:
    from ecomap import maps

    t0 = time.perf_counter()
    m = maps.county_map(county, towns, plots, summary, year="2021–2023", county_name="大余县",
                        source="benchmark")
    path.write_text(maps.to_html(m), encoding="utf-8")
    return time.perf_counter() - t0


def write_explore(plots, path: Path) -> float:
    import warnings

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = plots.explore(tiles=None)
    m.save(str(path))
    return time.perf_counter() - t0


def localise_explore(path: Path, out: Path) -> None:
    """explore's page with its CDN scripts and styles inlined from ecomap's vendored copies.

    folium's default Bootstrap/Font Awesome links are dropped when unused (the inliner
    decides), so explore draws offline exactly as it would online.
    """
    from ecomap.maps._assets import inline_assets

    out.write_text(inline_assets(path.read_text(encoding="utf-8")), encoding="utf-8")


# --------------------------------------------------------------------------- browser


def _pss_mb(root_pid: int) -> float:
    """Summed PSS of ``root_pid`` and all its descendants (MB)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def browse(path: Path, side: str, *, timeout: float = 600.0) -> dict:
    """Open ``path`` (already holding the probe) once; times, counts and memory."""
    from ecomap.maps._chromium import Chromium

    with Chromium(timeout=timeout) as browser:
        page = browser.new_page(offline=True)
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        page.goto(path.as_uri(), timeout=timeout)
        drawn_ms = page.wait_for("window.__drawn", timeout=timeout, interval=0.05)
        count = page.evaluate(COUNT[side])
        time.sleep(0.5)
        pss = _pss_mb(browser.proc.pid)
        heap = page.metrics().get("JSHeapUsedSize", 0) / 2**20
        frame = ("new Promise(function (done) {var m = " + FIND_MAP + ", t = performance.now();"
                 "%s; requestAnimationFrame(function () {requestAnimationFrame(function () {"
                 "done(performance.now() - t);});});})")
        pan = page.evaluate(frame % "m.panBy([400, 250], {animate: false})")
        zoom = page.evaluate(frame % "m.setZoom(m.getZoom() + 1, {animate: false})")
        requests = page.requests()
        errors = page.errors()
    return {"draw_s": drawn_ms / 1000, "drawn": count, "pss_mb": pss, "heap_mb": heap,
            "pan_ms": pan, "zoom_ms": zoom,
            "requests": [u for u in requests if not u.startswith("file:")], "errors": errors}


# ------------------------------------------------------------------------------ main


def measure(n: int, runs: int, work: Path) -> dict:
    county, towns, plots, summary = make_plots(n)
    vertices = int(plots.geometry.count_coordinates().sum())
    print(f"{n:,} plots, {vertices:,} vertices", flush=True)
    eco, exp, exp_local = work / f"ecomap_{n}.html", work / f"explore_{n}.html", \
        work / f"explore_{n}_local.html"
    w_eco = min(write_ecomap(county, towns, plots, summary, eco) for _ in range(runs))
    w_exp = min(write_explore(plots, exp) for _ in range(runs))
    localise_explore(exp, exp_local)
    sizes = {"ecomap": eco.stat().st_size, "explore": exp.stat().st_size,
             "explore_local": exp_local.stat().st_size}
    print(f"  write: ecomap {w_eco:.2f} s, explore {w_exp:.2f} s; "
          f"bytes: {sizes['ecomap']:,} vs {sizes['explore']:,}", flush=True)
    out = {"plots": n, "vertices": vertices, "bytes": sizes,
           "write_s": {"ecomap": w_eco, "explore": w_exp}, "browser": {}}
    for side, path in (("ecomap", eco), ("explore", exp_local)):
        probe = path.with_name(path.stem + "_probe.html")
        probe.write_text(path.read_text(encoding="utf-8") + PROBE, encoding="utf-8")
        results = [browse(probe, side) for _ in range(runs)]
        med = {k: statistics.median(r[k] for r in results)
               for k in ("draw_s", "pss_mb", "heap_mb", "pan_ms", "zoom_ms")}
        med["drawn"] = min(r["drawn"] for r in results)
        med["requests"] = sorted({u for r in results for u in r["requests"]})
        med["errors"] = sorted({e for r in results for e in r["errors"]})
        out["browser"][side] = med
        print(f"  {side}: drawn {med['drawn']:,} in {med['draw_s']:.2f} s, "
              f"{med['pss_mb']:.0f} MB, pan {med['pan_ms']:.0f} ms, "
              f"zoom {med['zoom_ms']:.0f} ms", flush=True)
    return out


def table(results: list[dict]) -> str:
    rows = ["| plots | vertices | HTML ecomap | HTML explore | size ratio | write ecomap s | "
            "write explore s | draw ecomap s | draw explore s | draw ratio | memory ecomap MB | "
            "memory explore MB | JS heap ecomap / explore MB | pan ms ecomap / explore | "
            "zoom ms ecomap / explore | drawn ecomap / explore |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        b, e = r["browser"]["ecomap"], r["browser"]["explore"]
        rows.append(
            f"| {r['plots']:,} | {r['vertices']:,} | {r['bytes']['ecomap'] / 1e6:.2f} MB | "
            f"{r['bytes']['explore'] / 1e6:.2f} MB | "
            f"1/{r['bytes']['explore'] / r['bytes']['ecomap']:.1f} | "
            f"{r['write_s']['ecomap']:.2f} | {r['write_s']['explore']:.2f} | "
            f"{b['draw_s']:.2f} | {e['draw_s']:.2f} | 1/{e['draw_s'] / b['draw_s']:.1f} | "
            f"{b['pss_mb']:.0f} | {e['pss_mb']:.0f} | {b['heap_mb']:.0f} / {e['heap_mb']:.0f} | "
            f"{b['pan_ms']:.0f} / {e['pan_ms']:.0f} | {b['zoom_ms']:.0f} / {e['zoom_ms']:.0f} | "
            f"{b['drawn']:,} / {e['drawn']:,} |")
    return "\n".join(rows)


def verdicts(results: list[dict]) -> list[str]:
    out = []
    for r in results:
        if r["plots"] != 50_000:
            continue
        b, e = r["browser"]["ecomap"], r["browser"]["explore"]
        size = r["bytes"]["ecomap"] / r["bytes"]["explore"]
        draw = b["draw_s"] / e["draw_s"]
        out += [
            f"- size at 50,000 ≤ 1/8 of explore: {'met' if size <= TARGETS['size'] else 'NOT met'}"
            f" (1/{1 / size:.1f})",
            f"- draw time at 50,000 ≤ 1/3 of explore: "
            f"{'met' if draw <= TARGETS['draw'] else 'NOT met'} (1/{1 / draw:.1f})",
            f"- written faster than explore() + save(): "
            f"{'met' if r['write_s']['ecomap'] < r['write_s']['explore'] else 'NOT met'} "
            f"({r['write_s']['ecomap']:.1f} s vs {r['write_s']['explore']:.1f} s)",
            f"- every plot drawn on both sides: "
            f"{'yes' if b['drawn'] == e['drawn'] == r['plots'] else 'NO'}",
            f"- no network request, no script error: "
            f"{'yes' if not (b['requests'] or e['requests'] or b['errors'] or e['errors']) else 'NO'}",
        ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", type=int, default=[1_000, 10_000, 50_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 plots, one run")
    parser.add_argument("--keep", metavar="DIR", help="keep the HTML files in DIR")
    args = parser.parse_args(argv)
    sizes, runs = ([1_000, 10_000], 1) if args.quick else (args.sizes, args.runs)
    from ecomap.maps._chromium import find_chromium

    binary = find_chromium()
    with tempfile.TemporaryDirectory(prefix="ecomap-maps-bench-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = [measure(n, runs, work) for n in sizes]
    import folium
    import geopandas

    from ecomap import __version__

    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(), "python": platform.python_version(), "ecomap": __version__,
        "folium": folium.__version__, "geopandas": geopandas.__version__,
        "chromium": os.popen(f"{binary} --version").read().strip(), "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "maps_latest.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8")
    text = "\n".join([
        f"# Map benchmark ({meta['date']})", "",
        f"{meta['cpus']} CPUs, Python {meta['python']}, folium {meta['folium']}, geopandas "
        f"{meta['geopandas']}, {meta['chromium']}; {runs} run(s), median (write: best).", "",
        table(results), "", "Targets:", "", *verdicts(results), ""])
    (RESULTS / "maps_latest.md").write_text(text, encoding="utf-8")
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
