"""ecomap's QGIS styles and project written into a GeoPackage store with plain SQLite.

``layer_styles`` is created and registered as QGIS 3.22 (through GDAL) creates it: an
``attributes`` table in ``gpkg_contents`` (with ``gpkg_ogr_contents`` and its
feature-count triggers when the file has that table); ``qgis_projects`` is the table
QGIS's GeoPackage project storage creates, whose ``content`` is the hex text of the
zipped project and ``metadata`` a small JSON text.  Rows ecomap did not write (styles
and projects saved under other names) are left alone.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import sqlite3
from pathlib import Path

from ecomap.qgis import _project, _qml

__all__ = ["PROJECT_NAME", "STYLE_NAME", "read_store", "write_tables"]

#: Name of ecomap's own style of each layer, and of its project.
STYLE_NAME = "ecomap"
PROJECT_NAME = "ecomap"

_LAYER_STYLES_SQL = (
    'CREATE TABLE IF NOT EXISTS "layer_styles" ( "id" INTEGER PRIMARY KEY AUTOINCREMENT '
    'NOT NULL, "f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), "f_table_name" '
    'TEXT(256), "f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT, '
    '"styleSLD" TEXT, "useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" '
    'TEXT(30), "update_time" DATETIME DEFAULT (strftime(\'%Y-%m-%dT%H:%M:%fZ\',\'now\')))')
_COUNT_TRIGGERS = (
    'CREATE TRIGGER "trigger_insert_feature_count_layer_styles" AFTER INSERT ON '
    '"layer_styles" BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count + 1 '
    "WHERE lower(table_name) = lower('layer_styles'); END",
    'CREATE TRIGGER "trigger_delete_feature_count_layer_styles" AFTER DELETE ON '
    '"layer_styles" BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count - 1 '
    "WHERE lower(table_name) = lower('layer_styles'); END",
)
_PROJECTS_SQL = ("CREATE TABLE IF NOT EXISTS qgis_projects(name TEXT PRIMARY KEY, "
                 "metadata BLOB, content BLOB)")

_DESCRIPTION = ("ecomap 默认样式(由 ecomap store qgis 写入)",
                "ecomap default style (written by ecomap store qgis)")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _has_table(con, name: str) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                       (name,)).fetchone() is not None


def _ensure_layer_styles(con) -> None:
    if _has_table(con, "layer_styles"):
        return
    con.execute(_LAYER_STYLES_SQL)
    con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
                "last_change, srs_id) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                "'', ?, 0)", (_now(),))
    if _has_table(con, "gpkg_ogr_contents"):
        con.execute("INSERT OR REPLACE INTO gpkg_ogr_contents (table_name, feature_count) "
                    "VALUES ('layer_styles', 0)")
        for sql in _COUNT_TRIGGERS:
            con.execute(sql)


def read_store(con) -> dict:
    """What the styles and the project depend on, read with plain SQL."""
    def col(sql):
        return [r[0] for r in con.execute(sql).fetchall()]

    extents = {r[0]: tuple(r[1:]) for r in con.execute(
        "SELECT table_name, min_x, min_y, max_x, max_y FROM gpkg_contents "
        "WHERE min_x IS NOT NULL")}
    years = [y for y in col("SELECT DISTINCT year FROM plots") if y is not None]
    stored = set(col("SELECT DISTINCT target_class FROM water_sites"))
    return {
        "county": next(iter(col("SELECT name FROM county WHERE name IS NOT NULL LIMIT 1")), ""),
        "categories": tuple(col("SELECT DISTINCT category FROM plots")),
        "classes": tuple(sorted(c for c in stored if c)),
        "illustrative": bool(col("SELECT COALESCE(MAX(illustrative), 0) FROM townships")[0]),
        "years": (min(years), max(years)) if years else None,
        "extents": extents,
    }


def write_tables(con, spec: _project.ProjectSpec) -> None:
    """Replace ecomap's styles and project in the open store (inside the caller's
    transaction)."""
    _ensure_layer_styles(con)
    con.execute(_PROJECTS_SQL)
    now = _now()
    try:
        owner = getpass.getuser()
    except Exception:  # no user name (some containers)
        owner = ""
    description = _DESCRIPTION[0] if spec.lang == "zh" else _DESCRIPTION[1]
    for layer, (geom_col, _) in _qml.LAYER_GEOMETRY.items():
        con.execute("DELETE FROM layer_styles WHERE f_table_name = ? AND styleName = ?",
                    (layer, STYLE_NAME))
        text = _qml.qml(layer, spec.lang, categories=spec.categories, classes=spec.classes)
        con.execute(
            'INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, '
            'f_geometry_column, "styleName", "styleQML", "styleSLD", "useAsDefault", '
            "description, owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, ?, "
            "NULL, ?)", (layer, geom_col, STYLE_NAME, text, description, owner, now))
    con.execute("UPDATE gpkg_contents SET last_change = ? WHERE table_name = 'layer_styles'",
                (now,))
    stamp = _dt.datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    metadata = f'{{"last_modified_time": "{stamp}", "last_modified_user": "{owner}" }}'
    content = _project.project_zip(spec, PROJECT_NAME).hex()
    con.execute("INSERT OR REPLACE INTO qgis_projects (name, metadata, content) "
                "VALUES (?, ?, ?)", (PROJECT_NAME, metadata, content))


def connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    con.execute("PRAGMA busy_timeout = 60000")
    return con
