"""Web benchmark: 20 concurrent clients on loopback against `ecomap serve` on the demo
store, fetching the county map page, the dashboard and the summary (JSON).

The peer is what the bureau can do without ecomap: put the pre-rendered county map
(``maps/county.html`` of ``ecomap demo``) on a plain web server — here Python's
threading ``http.server`` — and let the same 20 clients fetch it.  The ratio says what
the sign-in, the session check, the store query behind the page and the rendering
cache cost against serving a static file.

Each server runs in its own process (one uvicorn worker, as ``ecomap serve`` runs);
the clients run in this process (asyncio + httpx2), so both share the machine's cores
with the server — on 2 cores the figures are a floor.  Usage:

    python benchmarks/web_bench.py [--clients 20] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
BIN = Path(sys.executable).parent
PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    import httpx2

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server stopped (exit {proc.returncode}); see its log")
        try:
            httpx2.get(url, timeout=2)
            return
        except httpx2.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"no answer from {url}")


async def _client(base: str, paths: list[str], headers: dict, until: float,
                  lat: dict[str, list[float]], errors: list[str]) -> None:
    import httpx2

    async with httpx2.AsyncClient(base_url=base, headers=headers, timeout=60) as c:
        i = 0
        while time.perf_counter() < until:
            path = paths[i % len(paths)]
            i += 1
            t = time.perf_counter()
            r = await c.get(path)
            dt = time.perf_counter() - t
            if r.status_code != 200:
                errors.append(f"{path}: {r.status_code}")
                continue
            lat[path].append(dt)


def load(base: str, paths: list[str], *, clients: int, seconds: float, headers=None,
         cookies=None) -> dict:
    """``clients`` clients fetch ``paths`` in turn for ``seconds``; per path: requests
    per second, median and p95 latency (ms)."""
    lat: dict[str, list[float]] = {p: [] for p in paths}
    errors: list[str] = []
    hdrs = dict(headers or {})
    if cookies:
        hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())

    async def run():
        until = time.perf_counter() + seconds
        await asyncio.gather(*(_client(base, paths[k % len(paths):] + paths[:k % len(paths)],
                                       hdrs, until, lat, errors) for k in range(clients)))

    t0 = time.perf_counter()
    asyncio.run(run())
    wall = time.perf_counter() - t0
    out = {}
    for p, xs in lat.items():
        xs.sort()
        out[p] = {"requests": len(xs), "rps": len(xs) / wall,
                  "p50_ms": 1000 * statistics.median(xs) if xs else None,
                  "p95_ms": 1000 * xs[int(0.95 * (len(xs) - 1))] if xs else None}
    out["_total_rps"] = sum(len(x) for x in lat.values()) / wall
    out["_errors"] = errors[:10]
    out["_error_count"] = len(errors)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=15.0)
    args = ap.parse_args(argv)

    import httpx2

    work = Path(tempfile.mkdtemp(prefix="ecomap-webbench-"))
    store, users, maps_dir = work / "ecomap.gpkg", work / "users.sqlite", work / "maps"
    env = {**os.environ, "ECOMAP_STORE": str(store), "ECOMAP_USERS": str(users)}
    print("building the demo store and maps …", flush=True)
    subprocess.run([BIN / "ecomap", "-q", "demo", "--out", str(maps_dir)], env=env, cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([BIN / "ecomap", "user", "add", "bench", "--role", "viewer", "--password",
                    PASSWORD], env=env, check=True, stdout=subprocess.DEVNULL)
    results: dict = {"clients": args.clients, "seconds": args.seconds, "cpus": os.cpu_count(),
                     "load_before": os.getloadavg()[0]}

    # ecomap serve
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(work / "serve.log", "w")  # noqa: SIM115 - closed with the server
    server = subprocess.Popen([BIN / "ecomap", "serve", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_up(base + "/login", server)
        token = httpx2.post(base + "/api/login", data={"username": "bench",
                                                       "password": PASSWORD}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        # Browser pages sign in with the form; the bench uses the cookie of one sign-in.
        with httpx2.Client(base_url=base) as c:
            import re

            page = c.get("/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            c.post("/login", data={"username": "bench", "password": PASSWORD, "csrf": csrf})
            cookies = dict(c.cookies)
            first = time.perf_counter()
            assert c.get("/maps/county.html").status_code == 200
            results["county_map_first_ms"] = 1000 * (time.perf_counter() - first)
        results["ecomap_pages"] = load(base, ["/maps/county.html", "/"], clients=args.clients,
                                       seconds=args.seconds, cookies=cookies)
        results["ecomap_api"] = load(base, ["/api/summary"], clients=args.clients,
                                     seconds=args.seconds, headers=auth)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

    # The peer: the pre-rendered county map on Python's threading http.server.
    port = free_port()
    peer = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                             "127.0.0.1", "--directory", str(maps_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(f"http://127.0.0.1:{port}/county.html", peer)
        results["static_peer"] = load(f"http://127.0.0.1:{port}", ["/county.html"],
                                      clients=args.clients, seconds=args.seconds)
    finally:
        peer.terminate()
        peer.wait(timeout=30)

    size = (maps_dir / "county.html").stat().st_size
    e, s = results["ecomap_pages"]["/maps/county.html"], results["static_peer"]["/county.html"]
    lines = [
        f"Web benchmark: {args.clients} clients, {args.seconds:.0f} s each, {os.cpu_count()} "
        f"CPUs, load before {results['load_before']:.1f}; county map page {size / 1e6:.1f} MB",
        "",
        "| server | path | requests/s | p50 ms | p95 ms |",
        "|---|---|---:|---:|---:|",
    ]
    for key, label in (("ecomap_pages", "ecomap serve"), ("ecomap_api", "ecomap serve"),
                       ("static_peer", "http.server (static file)")):
        for path, r in results[key].items():
            if path.startswith("_"):
                continue
            lines.append(f"| {label} | {path} | {r['rps']:.1f} | {r['p50_ms']:.0f} | "
                         f"{r['p95_ms']:.0f} |")
    lines += ["", f"first county map render (cold cache): {results['county_map_first_ms']:.0f} ms",
              f"county map page: ecomap {e['rps']:.1f} req/s vs static {s['rps']:.1f} req/s "
              f"(ratio {e['rps'] / s['rps']:.2f}); p95 {e['p95_ms']:.0f} ms vs "
              f"{s['p95_ms']:.0f} ms",
              "errors: " + ", ".join(f"{k} {results[k]['_error_count']}" for k in
                                     ("ecomap_pages", "ecomap_api", "static_peer"))]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "web.md").write_text(text + "\n", encoding="utf-8")
    (RESULTS / "web.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    bad = sum(results[k]["_error_count"] for k in ("ecomap_pages", "ecomap_api"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
