"""CAD drawings (DXF/DWG) from surveyors: refused with what to export instead.

A CAD drawing holds lines on layers, often without a coordinate system, with text for
plot numbers and closed and open polylines mixed; turning it into plots needs a person
who knows the drawing.  So ecomap refuses it and says how to export the plot boundaries.
"""

from __future__ import annotations

from pathlib import Path

from ecomap.errors import InputError
from ecomap.i18n import tr
from ecomap.io.archive import is_junk

__all__ = ["CAD_SUFFIXES", "cad_error", "cad_members"]

CAD_SUFFIXES = (".dxf", ".dwg")


def cad_error(shown: str, member: str | None = None) -> InputError:
    """The refusal of a CAD drawing ``shown`` (or of ``member`` inside the archive)."""
    what = f"{shown}: {member}" if member else shown
    return InputError(tr(
        "{file}：这是 CAD 图纸（DXF/DWG），不能直接导入。请在 CAD 或 QGIS 中把小班边界"
        "导出为 Shapefile（连同 .shp、.shx、.dbf、.prj 一起压缩成 zip）或 GeoPackage，"
        "坐标系用 CGCS2000（如 EPSG:4547 3度带 中央经线114°E），并带上 .prj 文件，"
        "然后上传导出的文件",
        "{file}: this is a CAD drawing (DXF/DWG), which is not accepted. In CAD or QGIS "
        "export the plot boundaries as a Shapefile (zip the .shp, .shx, .dbf and .prj "
        "together) or a GeoPackage, in CGCS2000 coordinates (e.g. EPSG:4547, 3-degree "
        "zone CM 114E) with the .prj, and send that instead", file=what))


def cad_members(folder: Path) -> list[str]:
    """CAD drawings in an unpacked archive, as paths relative to it."""
    return [p.relative_to(folder).as_posix() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix.lower() in CAD_SUFFIXES
            and not is_junk(p.relative_to(folder).as_posix())]
