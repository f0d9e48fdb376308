"""GeoPackages as uploads: only tables are read, never the uploader's SQL.

A GeoPackage is a SQLite database.  A layer in it may be a SQL VIEW (a query written
by whoever made the file, run by whoever reads it: slow on purpose, or different at
every reading) or a virtual table.  Before GDAL opens an uploaded GeoPackage, its
schema is read with Python's :mod:`sqlite3`, opened read-only (``mode=ro``,
``PRAGMA query_only``, untrusted schema), and the file is refused when a layer to be
read — or any other, since GDAL runs them all when it opens the file — is not a
plain table.  Nothing is written to the file, so no trigger in it can run.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from ecomap.errors import InputError
from ecomap.i18n import tr

__all__ = ["check_gpkg_tables"]

#: Tables GDAL reads to open a GeoPackage and list its layers.
_META_PREFIXES = ("gpkg_", "rtree_", "sqlite_")


#: SQLite's own R*-tree module: the spatial index every GeoPackage writer adds
#: (``rtree_<table>_<column>``); it runs no SQL of the file's author.
_RTREE = re.compile(r"^\s*CREATE\s+VIRTUAL\s+TABLE\s+.*?\bUSING\s+rtree(_i32)?\s*\(",
                    re.IGNORECASE | re.DOTALL)


def _kind(obj_type: str, sql: str | None) -> str:
    if obj_type == "view":
        return "view"
    if (sql or "").lstrip()[:20].upper().replace(" ", "").startswith("CREATEVIRTUAL"):
        return "table" if _RTREE.match(sql or "") else "virtual"
    return "table"


def check_gpkg_tables(path: str | Path, layer: str | None, where: str) -> None:
    """Refuse (:class:`InputError`) a GeoPackage that holds a view or a virtual table
    (named after ``layer``, the chosen layer, when that is one), or whose GeoPackage
    tables are missing or not plain tables.

    ``where`` names the file as the user sent it, for the messages.
    """
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    damaged = tr("{file}: 不是可读的 GeoPackage(文件损坏或不是 SQLite 数据库); 请重新导出",
                 "{file}: not a readable GeoPackage (damaged, or not an SQLite database); "
                 "export it again", file=where)
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise InputError(damaged) from exc
    try:
        con.execute("PRAGMA query_only = ON")
        con.execute("PRAGMA trusted_schema = OFF")
        # sqlite_master is read without running anything the file defines.
        objects = {name: _kind(kind, sql) for name, kind, sql in con.execute(
            "SELECT name, type, sql FROM sqlite_master WHERE type IN ('table', 'view')")}
        if objects.get("gpkg_contents") != "table":
            layers = None
        else:
            layers = [str(n) for (n,) in con.execute("SELECT table_name FROM gpkg_contents")]
    except sqlite3.DatabaseError as exc:
        raise InputError(damaged) from exc
    finally:
        con.close()
    meta = sorted(n for n, k in objects.items()
                  if k != "table" and n.lower().startswith(_META_PREFIXES))
    if layers is None or meta:
        raise InputError(tr(
            "{file}: GeoPackage 的元数据表缺失或不是普通表{names}; 请在 QGIS/ArcGIS 中把图层"
            "另存为新的 GeoPackage 后上传",
            "{file}: the GeoPackage's own tables are missing or not plain tables{names}; save "
            "the layer as a new GeoPackage in QGIS/ArcGIS and upload that",
            file=where, names=f" ({', '.join(meta)})" if meta else ""))
    # GDAL runs views when it opens the file (to count and bound every layer it lists,
    # registered or not): any view refuses the file, the chosen layer's first.
    views = sorted(n for n, k in objects.items() if k != "table")
    if views:
        first = layer if layer in views else views[0]
        raise InputError(tr(
            "{file}: 图层 {layer} 是数据库视图(VIEW)或虚拟表, 不是数据表{more}; 上传只读取数据表。"
            "请在 QGIS 中将要上传的图层导出(另存为)新的 GeoPackage 后再上传",
            "{file}: layer {layer} is a database view (VIEW) or virtual table, not a "
            "table{more}; uploads read tables only. Export (save as) the layer to upload "
            "to a new GeoPackage in QGIS and upload that",
            file=where, layer=first,
            more=f" ({', '.join(views)})" if len(views) > 1 else ""))
