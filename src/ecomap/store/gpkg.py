"""The GeoPackage store: one file that QGIS opens as it is.

Layers are created by GDAL (through pyogrio) so that the file carries the standard
metadata, the CGCS2000 SRS and R-tree spatial indexes; rows are written through
SQLite in one transaction per batch, with the GeoPackage SQL functions that GDAL's
index triggers call registered on the connection.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import logging
import os
import sqlite3
from contextlib import ExitStack, contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ecomap import crs as _crs
from ecomap._geom import as_multipolygons
from ecomap.errors import NotFoundError, StoreError
from ecomap.i18n import tr
from ecomap.split import (
    changed_region,
    plot_areas_m2,
    region_boxes,
    split_by_township,
    townships_containing_boxes,
)
from ecomap.store import _gpkgblob
from ecomap.store._common import (
    check_new_batch,
    plot_filter,
    schema_with,
    typed_layer,
)
from ecomap.store._rtree import rebuild_rtree
from ecomap.store.base import Provenance, Store
from ecomap.units import mu_from_m2
from ecomap.water.rules import check_water, check_water_rollback, prepare_water

__all__ = ["GeoPackageStore"]

log = logging.getLogger(__name__)

_SRS_ID = 4490

# Kind of batch -> the layers holding its rows (the others replace a layer whole).
_TABLES_OF = {"plots": ["plots", "plot_townships"], "water_sites": ["water_sites"],
              "water_samples": ["water_samples"], "water": ["water_sites", "water_samples"]}
_I, _F, _S = "int64", "float64", "str"

# Layer name -> (geometry type or None, {column: type}), from the shared description.
_SCHEMA = schema_with({"int": _I, "float": _F, "str": _S})

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
]


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sql_values(col: pd.Series) -> list:
    """A column as Python values SQLite takes, with None for every kind of missing."""
    if pd.api.types.is_bool_dtype(col) and not col.isna().any():
        return col.astype(int).tolist()
    if pd.api.types.is_integer_dtype(col) and not col.isna().any():
        return col.astype("int64").tolist()
    if pd.api.types.is_float_dtype(col):
        return [None if v != v else v for v in col.astype(float).tolist()]
    if isinstance(col.dtype, pd.StringDtype):  # str or missing, nothing else
        return col.to_numpy(dtype=object, na_value=None).tolist()
    obj = col.astype(object)
    out = obj.where(obj.notna(), None).tolist()
    if set(map(type, out)) <= _PLAIN_TYPES:
        return out
    return [int(v) if isinstance(v, np.integer) else
            float(v) if isinstance(v, np.floating) else v for v in out]


_PLAIN_TYPES = {str, int, float, bytes, type(None)}

@contextmanager
def _without_indexes(con, table: str):
    """Drop a table's own indexes for a bulk rewrite and build them again afterwards,
    inside the caller's transaction."""
    indexes = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                          "tbl_name = ? AND sql IS NOT NULL", (table,)).fetchall()
    for name, _ in indexes:
        con.execute(f'DROP INDEX "{name}"')
    yield
    for _, sql in indexes:
        con.execute(sql)


@contextmanager
def _triggers_dropped(con, table: str, names: list[str]):
    """Drop some of a table's triggers (those that exist) for a bulk change; they are put
    back in the same transaction, so a failure in between rolls both back."""
    marks = ", ".join("?" * len(names))
    triggers = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND "
                           f"tbl_name = ? AND name IN ({marks})", (table, *names)).fetchall()
    for name, _ in triggers:
        con.execute(f'DROP TRIGGER "{name}"')
    yield
    for _, sql in triggers:
        con.execute(sql)


@contextmanager
def _counted_after(con, table: str):
    """Without a table's per-row feature-count triggers: its rows are counted once after."""
    with _triggers_dropped(con, table, [f"trigger_insert_feature_count_{table}",
                                        f"trigger_delete_feature_count_{table}"]):
        yield
        con.execute("UPDATE gpkg_ogr_contents SET feature_count = (SELECT COUNT(*) FROM "
                    f'"{table}") WHERE lower(table_name) = lower(?)', (table,))


#: From this many rows on, an insert goes without the per-row triggers (R-tree, feature
#: count), which are made good once afterwards.
_BULK_ROWS = 2000


@contextmanager
def _bulk_index(con, layer: str, fids: np.ndarray, geoms):
    """Insert without the per-row R-tree and feature-count triggers, then fill both in one
    go; the triggers are put back in the same transaction, so nothing is lost on failure."""
    with _counted_after(con, layer), _triggers_dropped(con, layer, [f"rtree_{layer}_geom_insert"]):
        yield
        b = shapely.bounds(np.asarray(geoms, dtype=object))
        ok = np.isfinite(b).all(axis=1)  # empty geometries have no box
        _fill_rtree(con, f"rtree_{layer}_geom", fids[ok], b[ok])


def _fill_rtree(con, rtree: str, fids: np.ndarray, bounds: np.ndarray) -> None:
    """Add boxes (minx, miny, maxx, maxy) to an R-tree: one by one into a large tree, or
    by packing the tree afresh with the boxes it holds when that is cheaper (the R-tree
    inserts a box in ~15 µs, packing takes ~1 µs a box)."""
    def one_by_one():
        con.executemany(f'INSERT INTO "{rtree}" VALUES (?, ?, ?, ?, ?)',
                        zip(fids.tolist(), bounds[:, 0].tolist(), bounds[:, 2].tolist(),
                            bounds[:, 1].tolist(), bounds[:, 3].tolist(), strict=True))

    stored = con.execute(f'SELECT COUNT(*) FROM "{rtree}_rowid"').fetchone()[0]
    if stored > 4 * len(fids):
        one_by_one()
        return
    every_id, every_box = fids, bounds
    if stored:
        old = _float_rows(con.execute(f'SELECT id, minx, miny, maxx, maxy FROM "{rtree}"')
                          .fetchall(), 5)
        every_id = np.concatenate([old[:, 0].astype(np.int64), fids])
        every_box = np.concatenate([old[:, 1:], bounds])
    con.execute("SAVEPOINT rtree_bulk")
    try:
        rebuild_rtree(con, rtree, every_id, every_box)
    except sqlite3.DatabaseError:  # e.g. R-tree tables read-only (SQLite's defensive mode)
        con.execute("ROLLBACK TO rtree_bulk")
        one_by_one()
    con.execute("RELEASE rtree_bulk")


def _create(path: Path) -> None:
    """Create an empty ecomap GeoPackage with every layer, through GDAL."""
    import pyogrio

    tmp = path.with_name(f".{path.stem}.creating.gpkg")
    if tmp.exists():
        tmp.unlink()
    for layer, (geom_type, columns) in _SCHEMA.items():
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
            con.execute(sql)
        con.commit()
    finally:
        con.close()
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
            con.create_function(name, 1, _envelope_getter(i), deterministic=True)
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
        missing = [name for name in _SCHEMA if name not in have]
        if missing:
            raise StoreError(tr(
                "{location} 是 GeoPackage 但不是 ecomap 数据库 (缺少图层: {missing}); "
                "--store 请用一个新文件名",
                "{location} is a GeoPackage but not an ecomap store (missing layers: "
                "{missing}); use a new file name for --store", location=self.location,
                missing=", ".join(missing)))

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    @contextmanager
    def _transaction(self):
        con = self._con
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # still locked after busy_timeout
            raise StoreError(tr(
                "数据库 {location} 正忙: 另一个程序已连续写入一分钟 ({exc}); 请稍后再试",
                "the store {location} is busy: another program has been writing to it for a "
                "minute ({exc}); try again later", location=self.location, exc=exc)) from exc
        try:
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

    def _query(self, sql: str, params=()) -> pd.DataFrame:
        cur = self._con.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return pd.DataFrame.from_records(cur.fetchall(), columns=cols)

    def _read_layer(self, layer: str, where: str = "", params=()) -> gpd.GeoDataFrame:
        geom_type, columns = _SCHEMA[layer]
        cols = ", ".join(f'"{c}"' for c in columns)
        df = self._query(f'SELECT fid, {cols}, geom FROM "{layer}" {where} ORDER BY fid', params)
        blobs = df.pop("geom").tolist()  # also when empty: no stray "geom" column
        geoms = _gpkgblob.from_gpkg(blobs) if blobs else []
        return typed_layer(df, columns, geoms)

    # --- reading ------------------------------------------------------------------
    def county(self) -> gpd.GeoDataFrame:
        return self._read_layer("county")

    def townships(self) -> gpd.GeoDataFrame:
        return self._read_layer("townships")

    def plots(self, *, category=None, year=None, township=None, batch=None):
        where, params = plot_filter(category=category, year=year, township=township,
                                    batch=batch, mark="?")
        return self._read_layer("plots", where, params)

    def plot_splits(self, *, year=None) -> pd.DataFrame:
        where, params = ("WHERE year = ?", (int(year),)) if year is not None else ("", ())
        return self._query(
            "SELECT plot_fid, batch_id, category, year, township, area_m2, is_primary "
            f"FROM plot_townships {where} ORDER BY plot_fid, area_m2 DESC", params)

    def township_areas(self, *, year=None) -> pd.DataFrame:
        where, params = ("WHERE year = ?", (int(year),)) if year is not None else ("", ())
        df = self._query(
            "SELECT township, category, year, SUM(is_primary) AS count, SUM(area_m2) AS area_m2 "
            f"FROM plot_townships {where} GROUP BY township, category, year "
            "ORDER BY township, category, year", params)
        if df.empty:
            df = pd.DataFrame(columns=["township", "category", "year", "count", "area_m2"])
        return df.astype({"count": "int64", "area_m2": "float64", "year": "int64"})

    def water_sites(self) -> gpd.GeoDataFrame:
        return self._read_layer("water_sites")

    def water_samples(self, *, year=None) -> pd.DataFrame:
        where, params = "", ()
        if year is not None:
            where, params = "WHERE substr(date, 1, 4) = ?", (f"{int(year):04d}",)
        return self._query("SELECT site_name, date, param, value, below_dl, batch_id "
                           f"FROM water_samples {where} ORDER BY fid", params)

    def batches(self) -> pd.DataFrame:
        df = self._query("SELECT fid AS batch_id, kind, source_file, sha256, created_at, user, "
                         "category, year, feature_count, area_m2, note FROM batches ORDER BY fid")
        return df

    # --- writing ------------------------------------------------------------------
    def _new_batch(self, con, *, kind: str, provenance: Provenance, count: int,
                   category=None, year=None, area_m2=None, note=None) -> int:
        cur = con.execute(
            "INSERT INTO batches (kind, source_file, sha256, created_at, user, category, year, "
            "feature_count, area_m2, note) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (kind, provenance.source_file, provenance.sha256, _now(), provenance.user,
             category, None if year is None else int(year), int(count),
             None if area_m2 is None else float(area_m2), note))
        return int(cur.lastrowid)

    def _insert(self, con, layer: str, frame: pd.DataFrame, geoms=None) -> None:
        _, columns = _SCHEMA[layer]
        cols = [c for c in ["fid", *columns] if c in frame.columns]
        values = [_sql_values(frame[c]) for c in cols]
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
        if len(frame) < _BULK_ROWS:
            con.executemany(sql, zip(*values, strict=True))
        else:
            with ExitStack() as bulk:
                stored = con.execute(f'SELECT COUNT(*) FROM "{layer}"').fetchone()[0]
                if stored < len(frame):  # building the indexes afresh costs less then
                    bulk.enter_context(_without_indexes(con, layer))
                if geoms is not None and "fid" in frame.columns:
                    bulk.enter_context(_bulk_index(con, layer, frame["fid"].to_numpy(), geoms))
                else:
                    bulk.enter_context(_counted_after(con, layer))
                con.executemany(sql, zip(*values, strict=True))
        self._touch(con, layer)

    @staticmethod
    def _touch(con, layer: str) -> None:
        con.execute("UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                    "WHERE table_name = ?", (layer,))

    def _replace_layer(self, layer: str, gdf: gpd.GeoDataFrame, *, kind: str,
                       provenance: Provenance, extra=None) -> int:
        gdf = _crs.to_store_crs(gdf)
        geoms = as_multipolygons(gdf.geometry.values)
        with self._transaction() as con:
            batch = self._new_batch(con, kind=kind, provenance=provenance, count=len(gdf),
                                    area_m2=float(plot_areas_m2(geoms).sum()))
            # The layer the stored splits were computed with: only where it differs from
            # the new one can a plot's split change.
            previous = self._township_arrays() if layer == "townships" else None
            con.execute(f'DELETE FROM "{layer}"')
            frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).assign(batch_id=batch)
            if extra is not None:
                frame = extra(frame, geoms)
            self._insert(con, layer, frame, geoms)
            self._update_extent(con, layer)
            if layer == "townships":
                self._resplit(con, previous)
        return batch

    def write_county(self, gdf, *, provenance):
        return self._replace_layer("county", gdf, kind="county", provenance=provenance)

    def write_townships(self, gdf, *, provenance):
        def _extra(frame, geoms):
            return frame.assign(area_m2=plot_areas_m2(geoms))

        return self._replace_layer("townships", gdf, kind="townships", provenance=provenance,
                                   extra=_extra)

    def _township_arrays(self, con=None):
        towns = self.townships()
        return towns["name"].to_numpy(dtype=object), towns.geometry.values

    def add_plots(self, gdf, *, provenance, splits=None, replace=None):
        gdf = _crs.to_store_crs(gdf)
        missing = [c for c in ("category", "year") if c not in gdf.columns]
        if missing:
            raise StoreError(tr("要入库的图斑缺少列 {missing}; 请先用 "
                                "ecomap.checks.prepare_plots 整理",
                                "plots to store lack the columns {missing}; prepare them with "
                                "ecomap.checks.prepare_plots", missing=missing))
        geoms = as_multipolygons(gdf.geometry.values)
        areas = (gdf["area_m2"].to_numpy(dtype=float) if "area_m2" in gdf
                 else plot_areas_m2(geoms))
        if splits is None:
            names, town_geoms = self._township_arrays()
            splits = split_by_township(geoms, names, town_geoms, areas_m2=areas)
        primary = splits[splits["primary"]].set_index("plot")["township"]
        frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
        frame["area_m2"] = areas
        frame["area_mu"] = mu_from_m2(areas)
        frame["township"] = primary.reindex(range(len(frame))).to_numpy(dtype=object)
        if "attributes" in frame and not isinstance(frame["attributes"].dtype, pd.StringDtype):
            frame["attributes"] = [a if isinstance(a, str) or a is None
                                   else json.dumps(a, ensure_ascii=False, default=str)
                                   for a in frame["attributes"]]
        cats = sorted(frame["category"].dropna().unique())
        years = sorted(frame["year"].dropna().unique())
        with self._transaction() as con:
            self._check_new_batch(con, "plots", provenance, replace)
            if replace is not None:  # rolled back in this transaction: all or nothing
                self._delete_batch(con, int(replace), _TABLES_OF["plots"])
            batch = self._new_batch(
                con, kind="plots", provenance=provenance, count=len(frame),
                category=cats[0] if len(cats) == 1 else None,
                year=years[0] if len(years) == 1 else None, area_m2=float(areas.sum()))
            frame["batch_id"] = batch
            first = self._next_fid(con, "plots")
            frame["fid"] = np.arange(first, first + len(frame), dtype=np.int64)
            self._insert(con, "plots", frame, geoms)
            self._insert_splits(con, frame, splits)
            self._update_extent(con, "plots")
        log.info("stored %d plots as batch %d (%.1f mu)", len(frame), batch,
                 mu_from_m2(areas.sum()))
        return batch

    def _check_new_batch(self, con, kind: str, provenance: Provenance, replace) -> None:
        """Refuse a file stored before, and a ``replace`` that names no batch of ``kind``."""
        rows = con.execute(
            "SELECT fid, kind, sha256, source_file, created_at FROM batches "
            "WHERE (sha256 IS NOT NULL AND sha256 = ?) OR fid = ?",
            (provenance.sha256, -1 if replace is None else int(replace))).fetchall()
        keys = ("batch_id", "kind", "sha256", "source_file", "created_at")
        check_new_batch([dict(zip(keys, r, strict=True)) for r in rows], provenance,
                        kind=kind, replace=replace)

    def _delete_batch(self, con, batch_id: int, tables: list[str]) -> dict:
        """Delete one batch's rows and its record, inside the caller's transaction."""
        removed = {}
        for table in tables:
            cur = con.execute(f'DELETE FROM "{table}" WHERE batch_id = ?', (batch_id,))
            removed[table] = cur.rowcount
            self._touch(con, table)
        con.execute("DELETE FROM batches WHERE fid = ?", (batch_id,))
        return removed

    @staticmethod
    def _next_fid(con, layer: str) -> int:
        row = con.execute(f'SELECT COALESCE(MAX(fid), 0) FROM "{layer}"').fetchone()
        seq = con.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (layer,)).fetchone()
        return max(row[0], seq[0] if seq else 0) + 1

    def _insert_splits(self, con, frame: pd.DataFrame, splits: pd.DataFrame) -> None:
        plot = splits["plot"].to_numpy()
        rows = pd.DataFrame({
            "plot_fid": frame["fid"].to_numpy()[plot],
            "batch_id": frame["batch_id"].to_numpy()[plot],
            "category": frame["category"].to_numpy(dtype=object)[plot],
            "year": frame["year"].to_numpy()[plot],
            "township": splits["township"].to_numpy(dtype=object),
            "area_m2": splits["area_m2"].to_numpy(),
            "is_primary": splits["primary"].to_numpy().astype(np.int64),
        })
        self._insert(con, "plot_townships", rows)

    def _resplit(self, con, previous=None) -> int:
        """Recompute the plots' township splits; rewrite only the rows that changed.

        ``previous``: names and geometries of the township layer the stored splits were
        computed with.  Then only plots whose R-tree box meets the region where the two
        layers differ can change (:func:`~ecomap.split.changed_region`); without it every
        plot is checked.  Of the plots checked, one whose box lies inside a township
        keeps its stored area there; only the others are read and cut.  Returns the
        number of plots checked.
        """
        names, town_geoms = self._township_arrays()
        region = None if previous is None else changed_region(*previous, names, town_geoms)
        fids, bounds = self._plot_boxes(con, region)
        old = self._stored_splits(con, None if region is None else fids)
        if region is None:  # plots without a geometry have no box, and nothing to re-split
            old = {k: v[np.isin(old["plot_fid"], fids)] for k, v in old.items()}
        order = np.lexsort((-old["area_m2"], old["plot_fid"]))
        old = {k: v[order] for k, v in old.items()}
        plot_fids, start, k_old = np.unique(old["plot_fid"], return_index=True,
                                            return_counts=True)
        old_plot = np.repeat(np.arange(len(plot_fids)), k_old)
        areas = np.add.reduceat(old["area_m2"], start) if len(start) else np.zeros(0)
        new = self._new_splits(plot_fids, bounds[np.searchsorted(fids, plot_fids)], areas,
                               names, town_geoms)
        changed = _changed_plots(old_plot, old, new, len(plot_fids))
        if changed.any():
            self._rewrite_splits(con, plot_fids, changed, old_plot, old, new)
        log.info("re-split: %d plots checked, %d cut, %d changed", len(plot_fids),
                 new["cut"], int(changed.sum()))
        return len(plot_fids)

    def _plot_boxes(self, con, region) -> tuple[np.ndarray, np.ndarray]:
        """Sorted fids and (minx, miny, maxx, maxy) of the plots whose R-tree box meets
        ``region`` (every plot with a geometry when it is None)."""
        sql = 'SELECT id, minx, miny, maxx, maxy FROM "rtree_plots_geom"'
        if region is None:
            rows = con.execute(sql).fetchall()
        else:
            rows = []
            sql += " WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?"
            for x0, y0, x1, y1 in region_boxes(region).tolist():
                rows += con.execute(sql, (x1, x0, y1, y0)).fetchall()
        table = _float_rows(rows, 5)
        fids, first = np.unique(table[:, 0].astype(np.int64), return_index=True)
        return fids, table[first, 1:]

    def _stored_splits(self, con, fids) -> dict[str, np.ndarray]:
        """Stored split rows (``fid`` of the row, ``plot_fid``, ``township``, ``area_m2``,
        ``is_primary``) of the plots ``fids`` (of every plot when None), as arrays."""
        cols = "t.fid, t.plot_fid, t.township, t.area_m2, t.is_primary"
        if fids is None:
            rows = con.execute(f"SELECT {cols} FROM plot_townships t").fetchall()
        else:
            con.execute("CREATE TEMP TABLE IF NOT EXISTS _resplit_plots "
                        "(fid INTEGER PRIMARY KEY)")
            con.execute("DELETE FROM _resplit_plots")
            con.executemany("INSERT INTO _resplit_plots VALUES (?)",
                            ((f,) for f in fids.tolist()))
            # CROSS JOIN keeps the few plots as the outer loop (plot_fid is indexed).
            rows = con.execute(f"SELECT {cols} FROM _resplit_plots c CROSS JOIN "
                               "plot_townships t ON t.plot_fid = c.fid").fetchall()
            con.execute("DROP TABLE _resplit_plots")
        rid, plot, town, area, primary = zip(*rows, strict=True) if rows else ((),) * 5
        return {"fid": np.array(rid, dtype=np.int64),
                "plot_fid": np.array(plot, dtype=np.int64),
                "township": np.array(town, dtype=object),
                "area_m2": np.array(area, dtype=float),
                "is_primary": np.array(primary, dtype=bool)}

    def _new_splits(self, plot_fids, bounds, areas, names, town_geoms) -> dict:
        """The splits of plots (by position) under the township layer ``town_geoms``, as
        arrays sorted by plot and decreasing area."""
        town_of = townships_containing_boxes(bounds, town_geoms)
        inside = np.flatnonzero(town_of >= 0)
        rest = np.flatnonzero(town_of < 0)
        plot, town, area = [inside], [names[town_of[inside]]], [areas[inside]]
        primary = [np.ones(len(inside), dtype=bool)]
        if len(rest):
            geoms = self._geometries("plots", plot_fids[rest])
            cut = split_by_township(geoms, names, town_geoms, areas_m2=areas[rest])
            plot.append(rest[cut["plot"].to_numpy()])
            town.append(cut["township"].to_numpy(dtype=object))
            area.append(cut["area_m2"].to_numpy(dtype=float))
            primary.append(cut["primary"].to_numpy(dtype=bool))
        plot, town, area, primary = (np.concatenate(a) for a in (plot, town, area, primary))
        order = np.lexsort((-area, plot))
        return {"plot": plot[order], "township": town[order].astype(object),
                "area_m2": area[order], "is_primary": primary[order], "cut": len(rest)}

    def _rewrite_splits(self, con, plot_fids, changed, old_plot, old, new) -> None:
        """Write the new split rows of the ``changed`` plots over their old ones.

        Rows are paired by rank within their plot (largest piece first) and updated in
        place, so the table's indexes on plot and batch are left alone; a plot with more
        pieces than before gets rows inserted, one with fewer gets rows deleted.  The
        plots' own ``township`` (where each is counted) is updated where it moved.
        """
        n = len(plot_fids)
        k_old = np.bincount(old_plot, minlength=n)
        k_new = np.bincount(new["plot"], minlength=n)
        rank_old = _rank_within(old_plot)
        rank_new = _rank_within(new["plot"])
        o = changed[old_plot]
        w = changed[new["plot"]]
        upd_old = o & (rank_old < k_new[old_plot])
        upd_new = w & (rank_new < k_old[new["plot"]])
        con.executemany(
            "UPDATE plot_townships SET township = ?, area_m2 = ?, is_primary = ? WHERE fid = ?",
            zip(new["township"][upd_new].tolist(), new["area_m2"][upd_new].tolist(),
                new["is_primary"][upd_new].astype(int).tolist(),
                old["fid"][upd_old].tolist(), strict=True))
        gone = o & ~upd_old
        more = w & ~upd_new
        with _counted_after(con, "plot_townships"):
            con.executemany("DELETE FROM plot_townships WHERE fid = ?",
                            ((f,) for f in old["fid"][gone].tolist()))
            # A plot's batch, category and year come from its rows that stay.
            con.executemany(
                "INSERT INTO plot_townships (plot_fid, batch_id, category, year, township, "
                "area_m2, is_primary) SELECT plot_fid, batch_id, category, year, ?, ?, ? "
                "FROM plot_townships WHERE plot_fid = ? LIMIT 1",
                zip(new["township"][more].tolist(), new["area_m2"][more].tolist(),
                    new["is_primary"][more].astype(int).tolist(),
                    plot_fids[new["plot"][more]].tolist(), strict=True))
        # Where each plot is counted: its primary piece's township.
        was = pd.Series(old["township"][old["is_primary"]],
                        index=old_plot[old["is_primary"]]).reindex(range(n))
        now = pd.Series(new["township"][new["is_primary"]],
                        index=new["plot"][new["is_primary"]]).reindex(range(n))
        moved = np.flatnonzero(changed & ~((was == now) | (was.isna() & now.isna())).to_numpy())
        # One UPDATE from a temporary table: cheaper than one statement per plot.
        con.execute("CREATE TEMP TABLE _resplit_moved (fid INTEGER PRIMARY KEY, township TEXT)")
        con.executemany("INSERT INTO _resplit_moved VALUES (?, ?)",
                        zip(plot_fids[moved].tolist(), now.to_numpy()[moved].tolist(),
                            strict=True))
        # GDAL's R-tree triggers that fire on any UPDATE act only when the fid changes.
        with _triggers_dropped(con, "plots", ["rtree_plots_geom_update4",
                                              "rtree_plots_geom_update5"]):
            con.execute("UPDATE plots SET township = (SELECT township FROM _resplit_moved m "
                        "WHERE m.fid = plots.fid) WHERE fid IN (SELECT fid FROM _resplit_moved)")
        con.execute("DROP TABLE _resplit_moved")

    def _geometries(self, layer: str, fids) -> np.ndarray:
        """Geometries of some features, in the order of ``fids``."""
        fids = [int(f) for f in fids]
        out = {}
        for i in range(0, len(fids), 50_000):  # SQLite's variable limit is 250 000
            chunk = fids[i:i + 50_000]
            marks = ",".join("?" * len(chunk))
            rows = self._con.execute(f'SELECT fid, geom FROM "{layer}" WHERE fid IN ({marks})',
                                     chunk).fetchall()
            out.update(zip((r[0] for r in rows), _gpkgblob.from_gpkg([r[1] for r in rows]),
                           strict=True))
        return np.array([out[f] for f in fids], dtype=object)

    def resplit(self) -> int:
        with self._transaction() as con:
            return self._resplit(con)

    def add_water_sites(self, gdf, *, provenance):
        gdf = _crs.to_store_crs(gdf)
        names, town_geoms = self._township_arrays()
        frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
        if len(town_geoms):
            tree = shapely.STRtree(town_geoms)
            pts, towns = tree.query(gdf.geometry.values, predicate="intersects")
            township = pd.Series(names[towns], index=pts)
            township = township[~township.index.duplicated()]
            frame["township"] = township.reindex(range(len(frame))).to_numpy(dtype=object)
        with self._transaction() as con:
            batch = self._new_batch(con, kind="water_sites", provenance=provenance,
                                    count=len(frame))
            frame["batch_id"] = batch
            self._insert(con, "water_sites", frame, gdf.geometry.values)
            self._update_extent(con, "water_sites")
        return batch

    def add_water_samples(self, df, *, provenance):
        with self._transaction() as con:
            batch = self._new_batch(con, kind="water_samples", provenance=provenance,
                                    count=len(df))
            self._insert(con, "water_samples", df.assign(batch_id=batch))
        return batch

    # --- water: sites and samples in one batch --------------------------------------------
    def add_water(self, sites, samples, *, provenance):
        sites, frame, samples, years, n = prepare_water(sites, samples)
        if len(frame):
            frame["township"] = self._water_townships(sites.geometry.values, frame)
        with self._transaction() as con:
            self._check_water(con, frame["site_name"], samples)
            batch = self._new_batch(
                con, kind="water", provenance=provenance, count=len(frame) + len(samples),
                year=int(years[0]) if len(years) == 1 else None,
                note=f"{len(frame)} sites, {n} samples, {len(samples)} values")
            if len(frame):
                self._insert(con, "water_sites", frame.assign(batch_id=batch),
                             sites.geometry.values)
                self._update_extent(con, "water_sites")
            if len(samples):
                self._insert(con, "water_samples", samples.assign(batch_id=batch))
        log.info("stored %d water sites and %d samples as batch %d", len(frame), n, batch)
        return batch

    def _water_townships(self, points, frame: pd.DataFrame) -> np.ndarray:
        """The township holding each point (the file's own when there are no townships)."""
        names, town_geoms = self._township_arrays()
        if not len(town_geoms):
            return frame.get("township", pd.Series(None, frame.index)).to_numpy(dtype=object)
        pts, towns = shapely.STRtree(town_geoms).query(points, predicate="intersects")
        township = pd.Series(names[towns], index=pts)
        return township[~township.index.duplicated()].reindex(range(len(frame))).to_numpy(
            dtype=object)

    def _check_water(self, con, names: pd.Series, samples: pd.DataFrame) -> None:
        stored = dict(con.execute("SELECT site_name, batch_id FROM water_sites").fetchall())
        old = (self._query("SELECT site_name, date, param, batch_id FROM water_samples")
               if len(samples) else None)
        check_water(names, samples, stored=stored, old_samples=old, location=self.location)

    def _check_water_rollback(self, batch_id: int) -> None:
        rows = self._con.execute(
            "SELECT DISTINCT s.batch_id, s.site_name FROM water_samples s JOIN water_sites w "
            "ON s.site_name = w.site_name WHERE w.batch_id = ? AND s.batch_id != ? "
            "ORDER BY s.batch_id", (batch_id, batch_id)).fetchall()
        check_water_rollback(batch_id, rows)

    def rollback(self, batch_id: int) -> dict:
        batch_id = int(batch_id)
        row = self._con.execute("SELECT kind, feature_count FROM batches WHERE fid = ?",
                                (batch_id,)).fetchone()
        if row is None:
            raise NotFoundError(tr("{location} 中没有批次 {batch}; 'ecomap batches' 列出全部批次",
                                   "no batch {batch} in {location}; 'ecomap batches' lists "
                                   "the batches", batch=batch_id, location=self.location))
        kind = row[0]
        tables = _TABLES_OF.get(kind)
        if kind == "water":
            self._check_water_rollback(batch_id)
        if tables is None:
            raise StoreError(tr(
                "批次 {batch} 替换了 {kind} 图层, 无法撤销; 请重新导入之前的 {kind} 文件",
                "batch {batch} replaced the {kind} layer and cannot be rolled back; import "
                "the previous {kind} file again instead", batch=batch_id, kind=kind))
        with self._transaction() as con:
            removed = self._delete_batch(con, batch_id, tables)
        return {"batch_id": batch_id, "kind": kind, "removed": removed}

    def _update_extent(self, con, layer: str) -> None:
        rt = f"rtree_{layer}_geom"
        con.execute(
            f"UPDATE gpkg_contents SET (min_x, max_x, min_y, max_y) = "
            f"(SELECT MIN(minx), MAX(maxx), MIN(miny), MAX(maxy) FROM \"{rt}\") "
            "WHERE table_name = ?", (layer,))


def _float_rows(rows: list[tuple], ncols: int) -> np.ndarray:
    """Query rows of numbers as a float array of ``ncols`` columns."""
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=float,
                       count=len(rows) * ncols)
    return flat.reshape(-1, ncols)


def _rank_within(plot: np.ndarray) -> np.ndarray:
    """Position of each row within its run of equal ``plot`` values (rows sorted by plot)."""
    if not len(plot):
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, plot[1:] != plot[:-1]])
    return np.arange(len(plot)) - np.repeat(starts, np.diff(np.r_[starts, len(plot)]))


def _changed_plots(old_plot: np.ndarray, old: dict, new: dict, n: int) -> np.ndarray:
    """Which of ``n`` plots have new split rows other than their stored ones (township,
    area to the mm², primary or not), as a boolean array."""
    k_old = np.bincount(old_plot, minlength=n)
    k_new = np.bincount(new["plot"], minlength=n)
    changed = k_old != k_new
    codes, _ = pd.factorize(np.concatenate([old["township"], new["township"]]))
    old_code, new_code = codes[:len(old_plot)], codes[len(old_plot):]
    # Plots with as many rows as before: compare the rows sorted by township.
    o = np.flatnonzero(~changed[old_plot])
    o = o[np.lexsort((old_code[o], old_plot[o]))]
    w = np.flatnonzero(~changed[new["plot"]])
    w = w[np.lexsort((new_code[w], new["plot"][w]))]
    differ = ((old_code[o] != new_code[w])
              | (np.round(old["area_m2"][o], 3) != np.round(new["area_m2"][w], 3))
              | (old["is_primary"][o] != new["is_primary"][w]))
    changed[old_plot[o[differ]]] = True
    return changed


def _envelope_getter(i: int):
    def _get(blob):
        env = _gpkgblob.envelope(blob)
        return None if env is None else env[i]

    return _get
