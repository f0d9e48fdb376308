"""Run inside a venv holding a plain ``pip install .`` (no extras): ecomap must read,
check and store what a county sends — a zipped GBK Shapefile in EPSG:4547 — and
summarise and map it, without pyarrow or any other extra.

Usage: ``VENV/bin/python scripts/plain_check.py WORKDIR`` (scripts/check_plain.sh does
it).  Exits non-zero, saying why, when anything is off.

The plots are three 100 m × 100 m squares in 甲镇: 10 000 m² = 15 亩 each, 45 亩 in all.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
from shapely import segmentize
from shapely.geometry import box

X0, Y0 = 500_000.0, 2_820_000.0  # on the 114°E central meridian of EPSG:4547
SQUARES = 3
EXPECTED_MU = SQUARES * 15.0
EXTRAS = ("pyarrow", "dask_geopandas", "distributed", "rasterio", "exactextract", "psycopg",
          "fastapi", "uvicorn")


def fail(message: str) -> None:
    sys.exit(f"check-plain: FAILED: {message}")


def build_store(path: Path) -> None:
    from ecomap.store import Provenance, open_store

    towns = gpd.GeoDataFrame(
        [{"name": "甲镇", "name_en": "Jia", "kind": "town"},
         {"name": "乙镇", "name_en": "Yi", "kind": "town"}],
        geometry=[segmentize(box(X0 - 10_000, Y0, X0, Y0 + 10_000), 50),
                  segmentize(box(X0, Y0, X0 + 10_000, Y0 + 10_000), 50)],
        crs="EPSG:4547").to_crs(4490)
    county = towns.dissolve().assign(name="测试县", adcode="000000")[["name", "adcode",
                                                                    "geometry"]]
    with open_store(path, create=True) as st:
        st.write_county(county, provenance=Provenance("county.geojson"))
        st.write_townships(towns, provenance=Provenance("towns.geojson"))


def build_upload(folder: Path) -> Path:
    """A zipped GBK Shapefile with .cpg and .prj, as Chinese desktop GIS writes it."""
    rows = [{"小班号": f"XB{i + 1:03d}", "乡镇": "甲镇", "村": "石门村", "树种": "杉木",
             "年度": 2023} for i in range(SQUARES)]
    geoms = [box(X0 - 3000 + 300 * i, Y0 + 1000, X0 - 2900 + 300 * i, Y0 + 1100)
             for i in range(SQUARES)]
    shp = folder / "造林小班.shp"
    pyogrio.write_dataframe(gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4547"), shp,
                            encoding="GBK")
    sidecars = sorted(folder.glob("造林小班.*"))
    if {p.suffix for p in sidecars} < {".shp", ".shx", ".dbf", ".prj", ".cpg"}:
        fail(f"the test Shapefile lacks a sidecar: {[p.name for p in sidecars]}")
    if "石门村".encode("gbk") not in shp.with_suffix(".dbf").read_bytes():
        fail("the test Shapefile's DBF is not GBK")
    archive = folder / "造林小班.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sidecars:
            zf.write(p, p.name)
    return archive


def ecomap(*args) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("ecomap")
    r = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "ECOMAP_LANG": "zh", "COLUMNS": "200"})
    print(f"$ ecomap {' '.join(map(str, args))}  → exit {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def main(work: Path) -> None:
    present = [m for m in EXTRAS if importlib.util.find_spec(m) is not None]
    if present:
        fail(f"not a plain install: {', '.join(present)} installed")
    work.mkdir(parents=True, exist_ok=True)
    store = work / "ecomap.gpkg"
    build_store(store)
    upload = build_upload(work)

    report = work / "report.json"
    r = ecomap("validate", upload, "--store", store, "--report", report)
    if r.returncode not in (0, 1) or "Traceback" in r.stdout + r.stderr:
        fail(f"validate exited {r.returncode}")
    j = json.loads(report.read_text(encoding="utf-8"))
    if j["status"] not in ("accept", "warn"):
        fail(f"validate status {j['status']}: {j['problems']}")
    if abs(j["area_mu"] - EXPECTED_MU) > 0.01:
        fail(f"area {j['area_mu']} 亩, expected {EXPECTED_MU}")
    if j["encoding"] != "GB18030" or j["crs"] != "EPSG:4547":
        fail(f"encoding {j['encoding']} / CRS {j['crs']}, expected GB18030 / EPSG:4547")

    r = ecomap("ingest", upload, "--store", store, "--category", "afforestation",
               "--year", 2023)
    if r.returncode not in (0, 1):
        fail(f"ingest exited {r.returncode}")
    r = ecomap("summary", "--store", store, "--year", 2023, "--format", "json")
    if r.returncode != 0:
        fail(f"summary exited {r.returncode}")
    jia = [x for x in json.loads(r.stdout) if x["township"] == "甲镇"]
    if len(jia) != 1 or jia[0]["count"] != SQUARES or abs(jia[0]["area_mu"] - EXPECTED_MU) > 0.01:
        fail(f"summary for 甲镇: {jia}, expected {SQUARES} plots, {EXPECTED_MU} 亩")
    page = work / "county.html"
    r = ecomap("map", "county", "--store", store, "--year", 2023, "-o", page)
    if r.returncode != 0 or "XB003" not in page.read_text(encoding="utf-8"):
        fail("map county did not draw the plots")
    print(f"check-plain: OK — a plain install read, checked and stored {SQUARES} plots, "
          f"{EXPECTED_MU:g} 亩, from a zipped GBK Shapefile")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
