"""Builders of the files users send, each case small and made in tmp_path.

Plots are drawn in Gauss-Kruger metres around the test townships of conftest (two
10 km squares meeting on the 114°E meridian), so areas are known by hand.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
from shapely.geometry import Polygon, box

from tests.conftest import X0, Y0

GK = "EPSG:4547"


def plot(x, y, w=100.0, h=100.0) -> Polygon:
    """A w × h rectangle whose lower left corner lies (x, y) metres from the test origin."""
    return box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def bowtie(x, y, size=200.0) -> Polygon:
    """A self-crossing ring: two triangles of size × size/2 / 2 each, together size²/2."""
    ox, oy = X0 + x, Y0 + y
    return Polygon([(ox, oy), (ox + size, oy + size), (ox + size, oy), (ox, oy + size)])


def frame(rows: list[dict], geoms, crs=GK) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=list(geoms), crs=crs)


def standard_rows(n: int, *, township="甲镇") -> list[dict]:
    return [{"小班号": f"XB{i + 1:03d}", "乡镇": township, "村": "石门村", "树种": "杉木",
             "年度": 2023} for i in range(n)]


def write_shp(gdf: gpd.GeoDataFrame, path: Path, *, encoding="GBK", cpg=True, prj=True,
              ldid: int | None = None) -> Path:
    """A Shapefile as Chinese desktop GIS writes it: GBK text, with or without sidecars."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # "crs was not provided": that is the point here
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        pyogrio.write_dataframe(gdf, path, encoding=encoding)
    if not cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    if not prj:
        path.with_suffix(".prj").unlink(missing_ok=True)
    if ldid is not None:
        dbf = path.with_suffix(".dbf")
        data = bytearray(dbf.read_bytes())
        data[29] = ldid
        dbf.write_bytes(bytes(data))
    return path


def zip_files(zip_path: Path, files: dict[str, Path | bytes]) -> Path:
    """A zip with the given members (name → file or raw bytes)."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, src in files.items():
            zf.writestr(name, src if isinstance(src, bytes) else Path(src).read_bytes())
    return zip_path


def shp_members(shp: Path, folder: str = "") -> dict[str, Path]:
    return {f"{folder}{p.name}": p for p in sorted(shp.parent.glob(shp.stem + ".*"))}


def write_kml(path: Path, placemarks: list[tuple[str, list[tuple[float, float]]]]) -> Path:
    """A KML as handheld GPS apps export it: Chinese placemark names, lon,lat rings."""
    marks = "".join(
        f"<Placemark><name>{name}</name><Polygon><outerBoundaryIs><LinearRing><coordinates>"
        + " ".join(f"{x},{y},0" for x, y in ring)
        + "</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>"
        for name, ring in placemarks)
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>'
                    '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
                    f"<name>外业采集</name>{marks}</Document></kml>", encoding="utf-8")
    return path
