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


def lonlat_ring(geom) -> list[tuple[float, float]]:
    """The outer ring of a Gauss-Kruger test polygon in CGCS2000 lon/lat degrees."""
    from ecomap.crs import transform_geometries

    return list(transform_geometries([geom], GK, "EPSG:4490")[0].exterior.coords)


def kml_polygon(ring: list[tuple[float, float]]) -> str:
    """A KML <Polygon> as GPS apps write it: ``lon,lat,0`` tuples."""
    coords = " ".join(f"{x:.8f},{y:.8f},0" for x, y in ring)
    return ("<Polygon><outerBoundaryIs><LinearRing><coordinates>" + coords
            + "</coordinates></LinearRing></outerBoundaryIs></Polygon>")


def kml_placemark(name: str, geometry: str) -> str:
    return f"<Placemark><name>{name}</name><styleUrl>#area</styleUrl>{geometry}</Placemark>"


def kml_folder(name: str, *items: str) -> str:
    return f"<Folder><name>{name}</name><open>1</open>{''.join(items)}</Folder>"


def write_gps_kml(path: Path, *items: str, doc_name: str = "奥维互动地图导出") -> Path:
    """A KML as 奥维互动地图 / 两步路 export it: a Document of folders (one per township),
    styles, waypoints and tracks beside the plot areas."""
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">'
        f"<Document><name>{doc_name}</name>"
        '<Style id="area"><LineStyle><color>ff0000ff</color><width>2</width></LineStyle>'
        "<PolyStyle><color>4d0000ff</color></PolyStyle></Style>"
        f"{''.join(items)}</Document></kml>", encoding="utf-8")
    return path


def kml_waypoint(name: str, lon: float, lat: float) -> str:
    return kml_placemark(name, f"<Point><coordinates>{lon:.8f},{lat:.8f},312.5"
                               "</coordinates></Point>")


def kml_track(name: str, ring: list[tuple[float, float]]) -> str:
    coords = " ".join(f"{x:.8f},{y:.8f},0" for x, y in ring)
    return kml_placemark(name, f"<LineString><tessellate>1</tessellate><coordinates>{coords}"
                               "</coordinates></LineString>")


def write_dxf(path: Path) -> Path:
    """A minimal text DXF as a surveyor's CAD saves it: one closed LWPOLYLINE."""
    pairs = ["0", "SECTION", "2", "ENTITIES", "0", "LWPOLYLINE", "8", "小班界", "90", "4",
             "70", "1"]
    for x, y in ((38_498_000, 2_821_000), (38_498_100, 2_821_000), (38_498_100, 2_821_100),
                 (38_498_000, 2_821_100)):
        pairs += ["10", f"{x:.3f}", "20", f"{y:.3f}"]
    pairs += ["0", "ENDSEC", "0", "EOF"]
    path.write_text("\n".join(pairs) + "\n", encoding="gbk")  # ANSI_936, as CAD saves it
    return path
