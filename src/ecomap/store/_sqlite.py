"""SQLite bulk-load helpers of the GeoPackage store: values SQLite binds, and inserts
without GDAL's per-row triggers (R-tree, feature counts), made good once afterwards.

Everything here runs inside the caller's transaction, so a failure rolls it all back.
"""

from __future__ import annotations

import itertools
import sqlite3
from contextlib import contextmanager

import numpy as np
import pandas as pd
import shapely

from ecomap.store import _gpkgblob
from ecomap.store._rtree import rebuild_rtree

__all__ = ["BULK_ROWS", "PACK_ROWS", "bulk_index", "counted_after", "envelope_getter",
           "float_rows", "sql_values", "triggers_dropped", "without_indexes"]


def sql_values(col: pd.Series) -> list:
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
def _dropped(con, kind: str, table: str, names: list[str] | None = None):
    """Drop a table's own schema objects of ``kind`` (``index`` or ``trigger``; those of
    ``names`` that exist, or all) and create them again afterwards, inside the caller's
    transaction, so a failure in between rolls both back."""
    sql = "SELECT name, sql FROM sqlite_master WHERE type = ? AND tbl_name = ? AND sql IS NOT NULL"
    params = [kind, table]
    if names is not None:
        sql += f" AND name IN ({', '.join('?' * len(names))})"
        params += names
    objects = con.execute(sql, params).fetchall()
    for name, _ in objects:
        con.execute(f'DROP {kind.upper()} "{name}"')
    yield
    for _, create in objects:
        con.execute(create)


def without_indexes(con, table: str):
    """Without a table's own indexes, for a bulk rewrite; they are built again after."""
    return _dropped(con, "index", table)


def triggers_dropped(con, table: str, names: list[str]):
    """Without some of a table's triggers (those that exist), for a bulk change; they are
    put back after."""
    return _dropped(con, "trigger", table, names)


@contextmanager
def counted_after(con, table: str):
    """Without a table's per-row feature-count triggers: its rows are counted once after."""
    with triggers_dropped(con, table, [f"trigger_insert_feature_count_{table}",
                                        f"trigger_delete_feature_count_{table}"]):
        yield
        con.execute("UPDATE gpkg_ogr_contents SET feature_count = (SELECT COUNT(*) FROM "
                    f'"{table}") WHERE lower(table_name) = lower(?)', (table,))


#: From this many rows on, an insert goes without the per-row triggers (R-tree, feature
#: count), which are made good once afterwards.
BULK_ROWS = 2000


@contextmanager
def bulk_index(con, layer: str, fids: np.ndarray, geoms):
    """Insert without the per-row R-tree and feature-count triggers, then fill both in one
    go; the triggers are put back in the same transaction, so nothing is lost on failure."""
    with counted_after(con, layer), triggers_dropped(con, layer, [f"rtree_{layer}_geom_insert"]):
        yield
        b = shapely.bounds(np.asarray(geoms, dtype=object))
        ok = np.isfinite(b).all(axis=1)  # empty geometries have no box
        _fill_rtree(con, f"rtree_{layer}_geom", fids[ok], b[ok])


#: From this many boxes on (those of the batch and those the tree holds), the R-tree is
#: packed afresh and written page by page (:mod:`ecomap.store._rtree`); below, SQLite
#: inserts each box.  A county batch (10² to 10⁴ plots) stays below: packing saves
#: 0.003 s on 1,000 boxes and 0.08 s on 10,000, but 4.5 s on 200,000
#: (``benchmarks/rtree_bench.py``; figures in ``benchmarks/README.md``).
PACK_ROWS = 50_000


def _fill_rtree(con, rtree: str, fids: np.ndarray, bounds: np.ndarray) -> None:
    """Add boxes (minx, miny, maxx, maxy) to an R-tree: one by one into a large tree or
    for a small batch, else by packing the tree afresh with the boxes it holds."""
    def one_by_one():
        con.executemany(f'INSERT INTO "{rtree}" VALUES (?, ?, ?, ?, ?)',
                        zip(fids.tolist(), bounds[:, 0].tolist(), bounds[:, 2].tolist(),
                            bounds[:, 1].tolist(), bounds[:, 3].tolist(), strict=True))

    stored = con.execute(f'SELECT COUNT(*) FROM "{rtree}_rowid"').fetchone()[0]
    if stored > 4 * len(fids) or stored + len(fids) < PACK_ROWS:
        one_by_one()
        return
    every_id, every_box = fids, bounds
    if stored:
        old = float_rows(con.execute(f'SELECT id, minx, miny, maxx, maxy FROM "{rtree}"')
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


def float_rows(rows: list[tuple], ncols: int) -> np.ndarray:
    """Query rows of numbers as a float array of ``ncols`` columns."""
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=float,
                       count=len(rows) * ncols)
    return flat.reshape(-1, ncols)



def envelope_getter(i: int):
    def _get(blob):
        env = _gpkgblob.envelope(blob)
        return None if env is None else env[i]

    return _get
