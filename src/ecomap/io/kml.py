"""KML/KMZ as handheld GPS apps (奥维互动地图, 两步路 …) export them.

Such a file is one file of plots to its sender, with one ``<Folder>`` per township (or
per survey day), folders inside folders, waypoints and tracks beside the plot areas,
``<MultiGeometry>`` plots and ``lon,lat,alt`` coordinates.  :func:`read_kml` reads the
polygons of every folder into one layer — placemark name as ``Name``, the folder path as
``folder`` — and counts the waypoints (points) and tracks (lines) it skips, by folder.
:func:`apply_kml_names` then makes placemark names the plot IDs and folder names that
are township names the plots' declared townships.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import MultiPolygon, Polygon

from ecomap.errors import InputError
from ecomap.i18n import tr

__all__ = ["apply_kml_names", "read_kml"]

_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*encoding=["']([A-Za-z0-9_\-]+)["']""")
_GEOMETRIES = {"Polygon", "MultiGeometry", "Point", "LineString", "LinearRing", "Track",
               "MultiTrack", "Model"}


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(elem, name: str):
    return next((c for c in elem if _local(c.tag) == name), None)


def _text(elem, name: str) -> str | None:
    c = _child(elem, name)
    return c.text.strip() if c is not None and c.text and c.text.strip() else None


def _parse(path: Path, where: str) -> ET.Element:
    raw = path.read_bytes()
    if b"<!ENTITY" in raw:
        raise InputError(tr("{file}：KML 中含有实体声明（<!ENTITY>），不予读取；请从软件中重新导出",
                            "{file}: the KML declares entities (<!ENTITY>) and is not read; "
                            "export it again from the app", file=where))
    declared = _DECLARED.match(raw)
    try:
        if declared and declared.group(1).lower().startswith(b"gb"):
            # expat knows no GBK: decode here and drop the declaration.
            text = raw.decode("gb18030")
            return ET.fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", text))
        return ET.fromstring(raw)
    except (ET.ParseError, UnicodeDecodeError, LookupError, ValueError) as exc:
        raise InputError(tr("{file}：不是有效的 KML（{why}）；文件可能已损坏，请重新导出",
                            "{file}: not a readable KML ({why}); the file may be damaged — "
                            "export it again", file=where, why=str(exc)[:120])) from exc


def _ring(elem) -> list[tuple[float, ...]] | None:
    coords = _child(elem, "coordinates") if elem is not None else None
    if coords is None or not coords.text:
        return None
    points = []
    for token in coords.text.replace(", ", ",").split():
        parts = token.split(",")
        try:
            values = tuple(float(v) for v in parts if v != "")
        except ValueError:
            return None
        if len(values) >= 2:
            points.append(values[:3])
    if not points:
        return None
    width = min(len(p) for p in points)
    return [p[:width] for p in points]


def _polygon(elem) -> Polygon | None:
    outer = _child(elem, "outerBoundaryIs")
    shell = _ring(_child(outer, "LinearRing")) if outer is not None else None
    if not shell or len(shell) < 3:
        return None
    holes = []
    for inner in (c for c in elem if _local(c.tag) == "innerBoundaryIs"):
        ring = _ring(_child(inner, "LinearRing"))
        if ring and len(ring) >= 3:
            holes.append([q[:len(shell[0])] for q in ring] if len(ring[0]) >= len(shell[0])
                         else [q[:2] for q in ring])
    if holes and any(len(h[0]) != len(shell[0]) for h in holes):
        shell = [q[:2] for q in shell]
        holes = [[q[:2] for q in h] for h in holes]
    return Polygon(shell, holes)


def _geometry(elem, polygons: list, others: Counter) -> None:
    kind = _local(elem.tag)
    if kind == "Polygon":
        poly = _polygon(elem)
        if poly is not None:
            polygons.append(poly)
        else:
            others["empty"] += 1
    elif kind == "MultiGeometry":
        for c in elem:
            if _local(c.tag) in _GEOMETRIES:
                _geometry(c, polygons, others)
    elif kind == "Point":
        others["point"] += 1
    elif kind in ("LineString", "LinearRing", "Track", "MultiTrack"):
        others["line"] += 1
    else:
        others["other"] += 1


def _extended(placemark) -> dict[str, str]:
    out: dict[str, str] = {}
    data = _child(placemark, "ExtendedData")
    if data is None:
        return out
    for elem in data.iter():
        kind = _local(elem.tag)
        if kind == "Data" and elem.get("name"):
            value = _text(elem, "value")
            out[elem.get("name")] = value if value is not None else ""
        elif kind == "SimpleData" and elem.get("name"):
            out[elem.get("name")] = (elem.text or "").strip()
    return out


def read_kml(path: Path, shown: str, where: str) -> tuple[gpd.GeoDataFrame, list]:
    """Every polygon placemark of a KML, from all its folders, as one layer (EPSG:4326).

    Returns the layer (``Name``, ``Description``, ExtendedData fields, ``folder``: the
    folder path such as ``黄龙镇`` or ``2023年/黄龙镇``, "" outside folders) and the notes
    (severity, code, text) of :class:`ecomap.io.vector.ReadResult`.
    """
    root = _parse(path, where)
    rows: list[dict] = []
    geoms: list = []
    skipped: dict[str, Counter] = {}

    def visit(elem, folders: tuple[str, ...]) -> None:
        for child in elem:
            kind = _local(child.tag)
            if kind == "Folder":
                visit(child, (*folders, _text(child, "name") or "(未命名文件夹)"))
            elif kind in ("Document", "kml"):
                visit(child, folders)
            elif kind == "Placemark":
                polygons: list = []
                others: Counter = Counter()
                for g in child:
                    if _local(g.tag) in _GEOMETRIES:
                        _geometry(g, polygons, others)
                folder = "/".join(folders)
                if not polygons:
                    skipped.setdefault(folder, Counter()).update(
                        {"point": others["point"], "line": others["line"]}
                        if others["point"] or others["line"] else {"other": 1})
                    continue
                geoms.append(polygons[0] if len(polygons) == 1 else MultiPolygon(polygons))
                rows.append({"Name": _text(child, "name") or "",
                             "Description": _text(child, "description") or "",
                             **_extended(child), "folder": folder})

    visit(root, ())
    notes = []
    points = sum(c["point"] for c in skipped.values())
    lines = sum(c["line"] for c in skipped.values())
    if points or lines:
        by_folder = "；".join(
            f"{f or '（无文件夹）'}：" + "、".join(
                p for p in (f"{c['point']} 个点" if c["point"] else "",
                            f"{c['line']} 条线" if c["line"] else "") if p)
            for f, c in skipped.items() if c["point"] or c["line"])
        by_folder_en = "; ".join(
            f"{f or '(no folder)'}: " + ", ".join(
                p for p in (f"{c['point']} point(s)" if c["point"] else "",
                            f"{c['line']} line(s)" if c["line"] else "") if p)
            for f, c in skipped.items() if c["point"] or c["line"])
        notes.append(("warning", "kml_skipped", tr(
            "{file}：跳过了 {points} 个航点（点）和 {lines} 条轨迹（线），只读取面状小班（{where}）；"
            "如其中有小班，请在软件中把它画成面再导出",
            "{file}: skipped {points} waypoint(s) (points) and {lines} track(s) (lines); only "
            "areas are read as plots ({where_en}); if a plot is among them, draw it as an "
            "area in the app and export again",
            file=where, points=points, lines=lines, where=by_folder, where_en=by_folder_en)))
    unreadable = sum(c["other"] for c in skipped.values())
    if unreadable:
        notes.append(("warning", "kml_skipped", tr(
            "{file}：{n} 个地标没有可读的面坐标（坐标为空或不是数字），已跳过；请在软件中检查后重新导出",
            "{file}: {n} placemark(s) without readable polygon coordinates (empty or not "
            "numbers) skipped; check them in the app and export again", file=where,
            n=unreadable)))
    if not geoms:
        raise InputError(tr(
            "{file}：没有面状小班（只有 {points} 个点、{lines} 条线）；请在软件中把小班画成面"
            "（多边形）再导出 KML/KMZ",
            "{file}: no areas (polygons), only {points} point(s) and {lines} line(s); draw "
            "the plots as areas (polygons) in the app and export the KML/KMZ again",
            file=where, points=points, lines=lines))
    frame = gpd.GeoDataFrame(pd.DataFrame(rows).fillna(""), geometry=geoms, crs="EPSG:4326")
    return frame, notes


def apply_kml_names(frame: pd.DataFrame, plots: gpd.GeoDataFrame, township_names,
                    county: str | None = None) -> None:
    """Placemark names as plot IDs and township folders as declared townships, in place.

    ``frame`` is the layer :func:`read_kml` read, ``plots`` the same features prepared
    by :func:`ecomap.checks.prepare_plots`.  Only what the file does not give in fields
    of its own is filled in.
    """
    from ecomap.townnames import match_township

    names = plots.attrs.setdefault("field_names", {})
    if "Name" in frame and "plot_id" not in names:
        ids = frame["Name"].astype(str).str.strip().to_numpy(dtype=object)
        plots["plot_id"] = [v if v else None for v in ids]
        names["plot_id"] = "Name"
    official = [str(n) for n in township_names if n is not None]
    if "folder" not in frame or "township_reported" in names or not official:
        return
    declared = []
    for path in frame["folder"].astype(str):
        parts = [p for p in path.split("/") if p][::-1]  # innermost first
        declared.append(next((p for p in parts if match_township(p, official, county)), None))
    if any(d is not None for d in declared):
        plots["township_reported"] = declared
        names["township_reported"] = "folder"
