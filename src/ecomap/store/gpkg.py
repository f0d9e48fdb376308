"""The GeoPackage store: one file that QGIS opens as it is.

Layers are created by GDAL (through pyogrio) so that the file carries the standard
metadata, the CGCS2000 SRS and R-tree spatial indexes; rows are written through
SQLite in one transaction per batch, with the GeoPackage SQL functions that GDAL's
index triggers call registered on the connection.  The rules are
:class:`~ecomap.store.base.Store`'s; this module reads and writes rows.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import sqlite3
from contextlib import ExitStack, contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ecomap import crs as _crs
from ecomap.errors import NotFoundError, StoreError
from ecomap.i18n import tr
from ecomap.store import _gpkgblob
from ecomap.store._sqlite import (
    BULK_ROWS,
    bulk_index,
    counted_after,
    envelope_getter,
    sql_values,
    triggers_dropped,
    without_indexes,
)
from ecomap.store.base import Store
from ecomap.store.layers import ADDED_LAYERS, schema_with, split_arrays

__all__ = ["GeoPackageStore"]

log = logging.getLogger(__name__)

_SRS_ID = 4490

# Layer name -> (geometry type or None, {column: pandas dtype}), from the shared description.
_SCHEMA = schema_with({"int": "int64", "float": "float64", "str": "str", "bytes": "bytes"})

_INDEXES = [
    "CREATE INDEX IF NOT EXISTS idx_plots_batch ON plots(batch_id)",
    "CREATE INDEX IF NOT EXISTS idx_plots_cat_year ON plots(category, year)",
    "CREATE INDEX IF NOT EXISTS idx_plot_townships_batch ON plot_townships(batch_id)",
    "CREATE INDEX IF NOT EXISTS idx_plot_townships_plot ON plot_townships(plot_fid)",
    # Covers township_areas(): its GROUP BY reads this index alone, already in order.
    "CREATE INDEX IF NOT EXISTS idx_plot_townships_sums ON plot_townships(township, "
    "category, year, is_primary, area_m2)",
    "CREATE INDEX IF NOT EXISTS idx_water_samples_batch ON water_samples(batch_id)",
    "CREATE INDEX IF NOT EXISTS idx_water_sites_batch ON water_sites(batch_id)",
    "CREATE INDEX IF NOT EXISTS idx_targets_batch ON targets(batch_id)",
    "CREATE INDEX IF NOT EXISTS idx_photos_batch ON photos(batch_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_photos_sha256 ON photos(sha256)",
    "CREATE INDEX IF NOT EXISTS idx_photos_target ON photos(target_kind, target_key)",
]
_SQL_TYPES = {"int64": "INTEGER", "float64": "REAL", "str": "TEXT", "bytes": "BLOB"}


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _create(path: Path) -> None:
    """Create an empty ecomap GeoPackage with every layer, through GDAL."""
    import pyogrio

    tmp = path.with_name(f".{path.stem}.creating.gpkg")
    if tmp.exists():
        tmp.unlink()
    # GDAL has no BLOB field type: layers with bytes are made in the first write
    # (GeoPackageStore._create_added), like the layers a store made earlier lacks.
    later = [n for n, (_, cols) in _SCHEMA.items() if "bytes" in cols.values()]
    for layer, (geom_type, columns) in _SCHEMA.items():
        if layer in later:
            continue
        data = {c: pd.Series([], dtype=t) for c, t in columns.items()}
        if geom_type:
            frame = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=_crs.STORE_CRS))
            pyogrio.write_dataframe(frame, tmp, layer=layer, driver="GPKG",
                                    geometry_type=geom_type)
        else:
            pyogrio.write_dataframe(pd.DataFrame(data), tmp, layer=layer, driver="GPKG")
    con = sqlite3.connect(tmp)
    try:
        for sql in _INDEXES:
            if not any(f" ON {layer}(" in sql for layer in later):
                con.execute(sql)
        con.commit()
    finally:
        con.close()
    from ecomap.qgis import write_qgis  # QGIS default styles and project, in the new file
    write_qgis(tmp, file_name=path.name)
    os.replace(tmp, path)  # the store appears whole or not at all


class GeoPackageStore(Store):
    """A county store in one GeoPackage file.

    Parameters
    ----------
    path
        The ``.gpkg`` file.
    create
        Create the file when it does not exist (otherwise a missing file is an error).
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = False) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        if not self.path.exists():
            if not create:
                raise NotFoundError(tr(
                    "{location} 处没有 ecomap 数据库; 运行 'ecomap demo' 建立演示库, 或用 "
                    "--store PATH (或环境变量 ECOMAP_STORE) 指定其他数据库",
                    "no ecomap store at {location}; run 'ecomap demo' to build the demo "
                    "store, or pass --store PATH (or set ECOMAP_STORE) to use another one",
                    location=self.location))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _create(self.path)
        self._con = self._connect()
        self._check_layers()
        self._indexed = False  # whether the indexes of _INDEXES are known to exist

    # --- connection -------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                  check_same_thread=False)
            con.execute("PRAGMA busy_timeout = 60000")
            # Large batches stay in memory until COMMIT instead of spilling page by page.
            con.execute("PRAGMA cache_size = -262144")
        except sqlite3.Error as exc:
            raise StoreError(tr("无法打开数据库 {location}: {exc}",
                                "cannot open the store {location}: {exc}",
                                location=self.location, exc=exc)) from exc
        # GDAL's R-tree triggers call these GeoPackage SQL functions.
        con.create_function("ST_IsEmpty", 1, _gpkgblob.is_empty, deterministic=True)
        for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
            con.create_function(name, 1, envelope_getter(i), deterministic=True)
        return con

    def _check_layers(self) -> None:
        try:
            have = {r[0] for r in self._con.execute("SELECT table_name FROM gpkg_contents")}
        except sqlite3.DatabaseError as exc:
            raise StoreError(tr(
                "{location} 不是 GeoPackage 文件 ({exc}); 请用 --store 指向 ecomap 数据库或一个"
                "新文件名",
                "{location} is not a GeoPackage ({exc}); point --store at an ecomap store or "
                "at a new file name", location=self.location, exc=exc)) from exc
        missing = [name for name in _SCHEMA if name not in have and name not in ADDED_LAYERS]
        self._absent = frozenset(n for n in ADDED_LAYERS if n not in have)
        if missing:
            raise StoreError(tr(
                "{location} 是 GeoPackage 但不是 ecomap 数据库 (缺少图层: {missing}); "
                "--store 请用一个新文件名",
                "{location} is a GeoPackage but not an ecomap store (missing layers: "
                "{missing}); use a new file name for --store", location=self.location,
                missing=", ".join(missing)))

    @contextmanager
    def _transaction(self, *, lock: str | None = None, shared: bool = False):
        """One transaction; BEGIN IMMEDIATE makes it the only writer (so ``lock`` is
        implied)."""
        con = self._con
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # still locked after busy_timeout
            raise StoreError(tr(
                "数据库 {location} 正忙: 另一个程序已连续写入一分钟 ({exc}); 请稍后再试",
                "the store {location} is busy: another program has been writing to it for a "
                "minute ({exc}); try again later", location=self.location, exc=exc)) from exc
        try:
            if self._absent:  # a store made before a layer was added gets it now
                self._create_added(con)
            if not self._indexed:  # a store made before an index was added gets it now
                for sql in _INDEXES:
                    con.execute(sql)
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        else:
            con.execute("COMMIT")
            self._indexed = True
            self._absent = frozenset()

    def _create_added(self, con) -> None:
        """Create the tables of :data:`ADDED_LAYERS` the file lacks, as GDAL would (table,
        contents, geometry column, feature count and its triggers; no R-tree); idempotent."""
        have = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
        counts = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'"
                             ).fetchone() is not None
        for layer in ADDED_LAYERS:
            if layer in have:
                continue
            geom, columns = _SCHEMA[layer]
            cols = ", ".join(f'"{c}" {_SQL_TYPES[t]}' for c, t in columns.items())
            gcol = f', "geom" {geom.upper()}' if geom else ""
            con.execute(f'CREATE TABLE IF NOT EXISTS "{layer}" ("fid" INTEGER PRIMARY KEY '
                        f"AUTOINCREMENT NOT NULL, {cols}{gcol})")
            con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, "
                        "last_change, srs_id) VALUES (?, ?, ?, strftime("
                        "'%Y-%m-%dT%H:%M:%fZ','now'), ?)",
                        (layer, "features" if geom else "attributes", layer,
                         _SRS_ID if geom else None))
            if geom:  # a feature table without an R-tree: GDAL and QGIS read it as it is
                con.execute("INSERT INTO gpkg_geometry_columns (table_name, column_name, "
                            "geometry_type_name, srs_id, z, m) VALUES (?, 'geom', ?, ?, 0, 0)",
                            (layer, geom.upper(), _SRS_ID))
            if counts:
                con.execute("INSERT OR REPLACE INTO gpkg_ogr_contents (table_name, "
                            "feature_count) VALUES (?, 0)", (layer,))
                for op, sign in (("INSERT", "+"), ("DELETE", "-")):
                    con.execute(
                        f'CREATE TRIGGER IF NOT EXISTS "trigger_{op.lower()}_feature_count_'
                        f'{layer}" AFTER {op} ON "{layer}" BEGIN UPDATE gpkg_ogr_contents SET '
                        f"feature_count = feature_count {sign} 1 WHERE lower(table_name) = "
                        f"lower('{layer}'); END")
            log.info("%s: added the %s table", self.location, layer)

    def _query(self, sql: str, params=()) -> pd.DataFrame:
        cur = self._con.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return pd.DataFrame.from_records(cur.fetchall(), columns=cols)

    def _decode_geoms(self, values: list) -> np.ndarray:
        return _gpkgblob.from_gpkg(values)

    # --- writing ------------------------------------------------------------------
    def _batch_defaults(self) -> dict:
        return {"created_at": _now()}

    def _insert_returning_fid(self, con, sql: str, params: list) -> int:
        return int(con.execute(sql, params).lastrowid)

    def _insert(self, con, layer: str, frame: pd.DataFrame, geoms=None) -> None:
        _, columns = _SCHEMA[layer]
        cols = [c for c in ["fid", *columns] if c in frame.columns]
        values = [sql_values(frame[c]) for c in cols]
        # Columns with no value at all are left to default to NULL: less to bind.
        if len(frame):
            full = [i for i, v in enumerate(values) if v.count(None) < len(v)]
            cols, values = [cols[i] for i in full], [values[i] for i in full]
        if geoms is not None:
            cols = [*cols, "geom"]
            values.append(_gpkgblob.to_gpkg(geoms, _SRS_ID))
        names = ", ".join(f'"{c}"' for c in cols)
        marks = ", ".join("?" * len(cols))
        sql = f'INSERT INTO "{layer}" ({names}) VALUES ({marks})'
        if len(frame) < BULK_ROWS:
            con.executemany(sql, zip(*values, strict=True))
        else:
            with ExitStack() as bulk:
                stored = con.execute(f'SELECT COUNT(*) FROM "{layer}"').fetchone()[0]
                if stored < len(frame):  # building the indexes afresh costs less then
                    bulk.enter_context(without_indexes(con, layer))
                if geoms is not None and "fid" in frame.columns:
                    bulk.enter_context(bulk_index(con, layer, frame["fid"].to_numpy(), geoms))
                else:
                    bulk.enter_context(counted_after(con, layer))
                con.executemany(sql, zip(*values, strict=True))
        self._touch(con, layer)

    @staticmethod
    def _touch(con, layer: str) -> None:
        con.execute("UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                    "WHERE table_name = ?", (layer,))

    @staticmethod
    def _new_fids(con, layer: str, n: int) -> np.ndarray:
        row = con.execute(f'SELECT COALESCE(MAX(fid), 0) FROM "{layer}"').fetchone()
        seq = con.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (layer,)).fetchone()
        first = max(row[0], seq[0] if seq else 0) + 1
        return np.arange(first, first + n, dtype=np.int64)

    def _layer_written(self, con, layer: str) -> None:
        """Update the layer's extent in ``gpkg_contents`` from its R-tree."""
        rt = f"rtree_{layer}_geom"
        con.execute(
            f"UPDATE gpkg_contents SET (min_x, max_x, min_y, max_y) = "
            f"(SELECT MIN(minx), MAX(maxx), MIN(miny), MAX(maxy) FROM \"{rt}\") "
            "WHERE table_name = ?", (layer,))

    def _layer_changed(self, con, layer: str) -> None:
        self._touch(con, layer)

    # --- township splits ----------------------------------------------------------------
    def _plot_boxes(self, con, boxes) -> list[tuple]:
        sql = 'SELECT id, minx, miny, maxx, maxy FROM "rtree_plots_geom"'
        if boxes is None:
            return con.execute(sql).fetchall()
        rows = []
        sql += " WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?"
        for x0, y0, x1, y1 in boxes.tolist():
            rows += con.execute(sql, (x1, x0, y1, y0)).fetchall()
        return rows

    def _stored_splits(self, con, fids) -> dict[str, np.ndarray]:
        cols = "t.fid, t.plot_fid, t.township, t.area_m2, t.is_primary"
        if fids is None:
            return split_arrays(con.execute(f"SELECT {cols} FROM plot_townships t").fetchall())
        con.execute("CREATE TEMP TABLE IF NOT EXISTS _resplit_plots (fid INTEGER PRIMARY KEY)")
        con.execute("DELETE FROM _resplit_plots")
        con.executemany("INSERT INTO _resplit_plots VALUES (?)", ((f,) for f in fids.tolist()))
        # CROSS JOIN keeps the few plots as the outer loop (plot_fid is indexed).
        rows = con.execute(f"SELECT {cols} FROM _resplit_plots c CROSS JOIN "
                           "plot_townships t ON t.plot_fid = c.fid").fetchall()
        con.execute("DROP TABLE _resplit_plots")
        return split_arrays(rows)

    def _apply_resplit(self, con, plan: dict) -> None:
        """Rows updated in place (the table's indexes on plot and batch are left alone),
        then deleted and inserted without the per-row feature-count triggers."""
        up, new, moved = plan["update"], plan["insert"], plan["moved"]
        con.executemany(
            "UPDATE plot_townships SET township = ?, area_m2 = ?, is_primary = ? WHERE fid = ?",
            zip(up["township"].tolist(), up["area_m2"].tolist(), up["is_primary"].tolist(),
                up["fid"].tolist(), strict=True))
        with counted_after(con, "plot_townships"):
            con.executemany("DELETE FROM plot_townships WHERE fid = ?",
                            ((f,) for f in plan["delete"].tolist()))
            # A plot's batch, category and year come from its rows that stay.
            con.executemany(
                "INSERT INTO plot_townships (plot_fid, batch_id, category, year, township, "
                "area_m2, is_primary) SELECT plot_fid, batch_id, category, year, ?, ?, ? "
                "FROM plot_townships WHERE plot_fid = ? LIMIT 1",
                zip(new["township"].tolist(), new["area_m2"].tolist(),
                    new["is_primary"].tolist(), new["plot_fid"].tolist(), strict=True))
        if not len(moved):
            return
        # One UPDATE from a temporary table: cheaper than one statement per plot.
        con.execute("CREATE TEMP TABLE _resplit_moved (fid INTEGER PRIMARY KEY, township TEXT)")
        con.executemany("INSERT INTO _resplit_moved VALUES (?, ?)",
                        zip(moved["fid"].tolist(), moved["township"].tolist(), strict=True))
        # GDAL's R-tree triggers that fire on any UPDATE act only when the fid changes.
        with triggers_dropped(con, "plots", ["rtree_plots_geom_update4",
                                             "rtree_plots_geom_update5"]):
            con.execute("UPDATE plots SET township = (SELECT township FROM _resplit_moved m "
                        "WHERE m.fid = plots.fid) WHERE fid IN (SELECT fid FROM _resplit_moved)")
        con.execute("DROP TABLE _resplit_moved")
