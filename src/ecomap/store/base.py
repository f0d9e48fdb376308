"""The store interface and every rule its backends share.

One interface, two backends: the GeoPackage (:mod:`ecomap.store.gpkg`), embedded, and
PostGIS (:mod:`ecomap.store.postgis`), shared.  Domain code sees GeoDataFrames and
DataFrames only — never SQL, paths or connections.  What a batch is, how plots are
measured and split, what is refused and with which message, are written once, here;
a backend only reads and writes rows (the ``_``-methods it implements below).

Every write is one batch in one transaction: all of it is stored, or nothing.
Derived values (each plot's area and its township split) are computed when a plot
is stored, so summaries are sums over stored rows.
"""

from __future__ import annotations

import abc
import json
import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ecomap import crs as _crs
from ecomap._geom import as_multipolygons
from ecomap.errors import InputError, NotFoundError, StoreError, ValidationError
from ecomap.i18n import tr
from ecomap.split import (
    changed_region,
    plot_areas_m2,
    region_boxes,
    resplit_plan,
    split_by_township,
)
from ecomap.store._patches import PatchesStore
from ecomap.store._photos import PhotosStore
from ecomap.store._targets import TargetsStore
from ecomap.store.layers import (
    LAYERS,
    LAYERS_SCHEMA,
    PLOT_COLUMNS,
    READ_COLUMNS,
    TABLES_OF,
    plot_filter,
    typed_layer,
    unique_boxes,
)
from ecomap.units import mu_from_m2

__all__ = ["LAYERS", "PLOT_COLUMNS", "Provenance", "Store", "batch_date", "check_new_batch",
           "replace_problem", "same_file_batch", "same_file_text"]

log = logging.getLogger(__name__)


# --- one batch per file: the same file is not stored twice -----------------------------
def batch_date(created_at) -> str:
    """The local date (YYYY-MM-DD) of a batch's ``created_at`` (UTC, ISO 8601)."""
    import datetime as dt

    text = str(created_at or "")
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text[:10] or "?"
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone().date().isoformat()


def same_file_batch(batches: list[dict], sha256: str | None, *, kind: str,
                    replace: int | None = None) -> dict | None:
    """The first stored batch of ``kind`` whose file has the SHA-256 ``sha256``, other than
    the batch ``replace`` (which the new one replaces), or None.

    ``batches``: records with ``batch_id, kind, sha256, source_file, created_at``.
    """
    if not sha256:
        return None
    for row in sorted(batches, key=lambda r: int(r["batch_id"])):
        if (row.get("kind") == kind and row.get("sha256") == sha256
                and (replace is None or int(row["batch_id"]) != int(replace))):
            return row
    return None


def same_file_text(name: str, row: dict):
    """What the user reads when ``name`` is the same file as the stored batch ``row``."""
    return tr("{file}: 与已入库的批次 {batch}(文件 {stored}, {date} 入库)是同一个文件"
              "(SHA-256 相同), 再入库会重复计数, 未入库; 若要用此文件替换该批次, 请加 "
              "--replace {batch}(网页上点“替换批次 {batch}”)",
              "{file}: the same file (same SHA-256) as stored batch {batch} (file {stored}, "
              "stored {date}); storing it again would count it twice, so nothing was "
              "stored; to replace that batch with this file, add --replace {batch} (on the "
              "web: “replace batch {batch}”)",
              file=name, batch=int(row["batch_id"]), stored=row.get("source_file") or "?",
              date=batch_date(row.get("created_at")))


def replace_problem(batches: list[dict], replace: int, *, kind: str):
    """Why the batch ``replace`` cannot be replaced by a new batch of ``kind`` (a message),
    or None when it can."""
    row = next((r for r in batches if int(r["batch_id"]) == int(replace)), None)
    if row is None:
        return tr("--replace {batch}: 库中没有批次 {batch}; 用 'ecomap batches' 查看已入库的批次",
                  "--replace {batch}: there is no batch {batch}; 'ecomap batches' lists the "
                  "stored batches", batch=int(replace))
    if row.get("kind") != kind:
        return tr("--replace {batch}: 批次 {batch} 是 {other} 数据, 不是 {kind}; 只能替换同类的批次",
                  "--replace {batch}: batch {batch} holds {other}, not {kind}; only a batch "
                  "of the same kind can be replaced", batch=int(replace),
                  other=row.get("kind"), kind=kind)
    return None


def check_new_batch(batches: list[dict], provenance, *, kind: str,
                    replace: int | None) -> None:
    """The rule every backend applies inside the transaction that stores a batch: the batch
    ``replace`` exists and is of the same kind, and no other stored batch of ``kind`` came
    from the same file.

    ``batches``: records (see :func:`same_file_batch`) of the stored batches with the
    new file's SHA-256 and of the batch ``replace``.
    """
    if replace is not None:
        problem = replace_problem(batches, replace, kind=kind)
        if problem is not None:
            raise InputError(problem)
    row = same_file_batch(batches, provenance.sha256, kind=kind, replace=replace)
    if row is not None:
        raise ValidationError(same_file_text(provenance.source_file, row))


@dataclass(frozen=True)
class Provenance:
    """Where a batch came from: recorded with it and shown by ``ecomap batches``."""

    source_file: str
    sha256: str | None = None
    user: str = "unknown"


class Store(TargetsStore, PatchesStore, PhotosStore, abc.ABC):
    """A county's data: county and township boundaries, plots, water sites and samples,
    targets (:class:`~ecomap.store._targets.TargetsStore`).

    Subclasses implement the ``_``-methods marked abstract (rows in, rows out) and set
    the SQL spellings below; everything else is the same for every backend.
    """

    #: Where the store lives (a path or a URL), for messages.
    location: str
    #: Query placeholder of the backend's driver.
    _mark = "?"
    #: SQL reading a geometry column as what :meth:`_decode_geoms` takes.
    _geom_sql = "geom"
    #: SQL reading ``batches.created_at`` as ISO 8601 UTC text.
    _created_at_sql = "created_at"
    #: SQL of the township sums (count as an integer, area summed in ``fid`` order).
    _sums_sql = "SUM(is_primary) AS count, SUM(area_m2) AS area_m2"
    #: Collation ordering text by code point.
    _collate = ""
    #: Suffix locking the rows a query reads until the transaction ends.
    _for_update = ""

    # --- reading ------------------------------------------------------------------
    def county(self) -> gpd.GeoDataFrame:
        """The county boundary (EPSG:4490)."""
        return self._read_layer("county")

    def townships(self) -> gpd.GeoDataFrame:
        """Township polygons with ``name``, ``name_en``, ``illustrative``, ``area_m2``."""
        return self._read_layer("townships")

    def plots(self, *, category: str | None = None, year: int | None = None,
              township: str | None = None, batch: int | None = None) -> gpd.GeoDataFrame:
        """Stored plots, filtered; ``township`` selects plots with any area in it."""
        where, params = plot_filter(category=category, year=year, township=township,
                                    batch=batch, mark=self._mark)
        return self._read_layer("plots", where, params)

    def plot_splits(self, *, year: int | None = None) -> pd.DataFrame:
        """Per plot and township: ``plot_fid, batch_id, category, year, township,
        area_m2, is_primary``."""
        where, params = self._where("year", year)
        cols = READ_COLUMNS["plot_splits"]
        return self._frame(f"SELECT {', '.join(cols)} FROM plot_townships {where} "
                           "ORDER BY plot_fid, area_m2 DESC, fid", params, cols)

    def township_areas(self, *, year: int | None = None) -> pd.DataFrame:
        """Sums by ``township, category, year``: ``count`` (plots counted where most of
        their area lies) and ``area_m2``."""
        where, params = self._where("year", year)
        c = self._collate
        df = self._frame(f"SELECT township, category, year, {self._sums_sql} FROM "
                         f"plot_townships {where} GROUP BY township, category, year ORDER BY "
                         f"township{c} NULLS FIRST, category{c}, year", params,
                         ["township", "category", "year", "count", "area_m2"])
        return df.astype({"count": "int64", "area_m2": "float64", "year": "int64"})

    def water_sites(self) -> gpd.GeoDataFrame:
        """Water-quality monitoring sites."""
        return self._read_layer("water_sites")

    def water_samples(self, *, year: int | None = None) -> pd.DataFrame:
        """Samples in long form: ``site_name, date, param, value, below_dl``."""
        where, params = self._where("substr(date, 1, 4)",
                                    None if year is None else f"{int(year):04d}")
        cols = READ_COLUMNS["water_samples"]
        return self._frame(f"SELECT {', '.join(cols)} FROM water_samples {where} "
                           "ORDER BY fid", params, cols)

    def batches(self) -> pd.DataFrame:
        """Batch history: id, kind, file, SHA-256, time, user, counts, area."""
        return self._frame(
            "SELECT fid AS batch_id, kind, source_file, sha256, "
            f'{self._created_at_sql} AS created_at, "user", category, year, feature_count, '
            "area_m2, note FROM batches ORDER BY fid", (), READ_COLUMNS["batches"])

    def _where(self, column: str, value) -> tuple[str, tuple]:
        return ((f"WHERE {column} = {self._mark}", (value,)) if value is not None
                else ("", ()))

    def _frame(self, sql: str, params, columns: list[str]) -> pd.DataFrame:
        """A query's rows; with ``columns`` when there are none."""
        df = self._query(sql, params)
        return pd.DataFrame(columns=columns) if df.empty else df

    def _read_layer(self, layer: str, where: str = "", params=()) -> gpd.GeoDataFrame:
        _, columns = LAYERS_SCHEMA[layer]
        cols = ", ".join(f'"{c}"' for c in columns)
        df = self._query(f'SELECT fid, {cols}, {self._geom_sql} FROM "{layer}" {where} '
                         "ORDER BY fid", params)
        blobs = df.pop("geom").tolist() if "geom" in df else []  # no stray "geom" column
        return typed_layer(df, columns, self._decode_geoms(blobs) if blobs else [])

    def _geometries(self, layer: str, fids) -> np.ndarray:
        """Geometries of some features, in the order of ``fids``."""
        fids = [int(f) for f in fids]
        out = {}
        for i in range(0, len(fids), 50_000):  # below SQLite's and libpq's variable limits
            chunk = fids[i:i + 50_000]
            marks = ", ".join([self._mark] * len(chunk))
            df = self._query(f'SELECT fid, {self._geom_sql} FROM "{layer}" WHERE fid IN '
                             f"({marks})", chunk)
            out.update(zip(df["fid"].tolist(), self._decode_geoms(df["geom"].tolist()),
                           strict=True))
        return np.array([out[f] for f in fids], dtype=object)

    def _township_arrays(self):
        towns = self.townships()
        return towns["name"].to_numpy(dtype=object), towns.geometry.values

    # --- writing (each call is one batch, one transaction) ---------------------------
    def write_county(self, gdf: gpd.GeoDataFrame, *, provenance: Provenance) -> int:
        """Replace the county boundary."""
        return self._replace_layer("county", gdf, kind="county", provenance=provenance)

    def write_townships(self, gdf: gpd.GeoDataFrame, *, provenance: Provenance) -> int:
        """Replace the township layer and re-split the stored plots where it changed."""
        return self._replace_layer("townships", gdf, kind="townships", provenance=provenance)

    def _replace_layer(self, layer: str, gdf: gpd.GeoDataFrame, *, kind: str,
                       provenance: Provenance) -> int:
        gdf = _crs.to_store_crs(gdf)
        geoms = as_multipolygons(gdf.geometry.values)
        areas = plot_areas_m2(geoms)
        with self._transaction(lock="townships") as con:
            batch = self._new_batch(con, kind=kind, provenance=provenance, count=len(gdf),
                                    area_m2=float(areas.sum()))
            # The layer the stored splits were computed with: only where it differs from
            # the new one can a plot's split change.
            previous = self._township_arrays() if layer == "townships" else None
            con.execute(f'DELETE FROM "{layer}"')
            frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).assign(batch_id=batch)
            if layer == "townships":
                frame["area_m2"] = areas
            # Feature ids are the store's own: those of the frame are not kept.
            self._insert(con, layer, frame.drop(columns="fid", errors="ignore"), geoms)
            self._layer_written(con, layer)
            if layer == "townships":
                self._resplit(con, previous)
        return batch

    def add_plots(self, gdf: gpd.GeoDataFrame, *, provenance: Provenance,
                  splits: pd.DataFrame | None = None, replace: int | None = None) -> int:
        """Store canonical plots (see :data:`PLOT_COLUMNS`) as one batch; returns its id.

        ``area_m2`` and ``splits`` (from :func:`ecomap.split.split_by_township`, by
        position) are used when given — computed during validation — and computed here
        otherwise, inside the transaction, under the townships stored when the batch is.

        A file is stored once: when another plot batch has the SHA-256 of
        ``provenance``, :class:`~ecomap.errors.ValidationError` is raised and nothing is
        stored.  ``replace`` names a plot batch that the new one replaces: it is rolled
        back in the same transaction (see :func:`check_new_batch`).
        """
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
        frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
        frame = frame.drop(columns="fid", errors="ignore")  # ids are the store's own
        frame["area_m2"] = areas
        frame["area_mu"] = mu_from_m2(areas)
        if "attributes" in frame and not isinstance(frame["attributes"].dtype, pd.StringDtype):
            frame["attributes"] = [a if isinstance(a, str) or a is None
                                   else json.dumps(a, ensure_ascii=False, default=str)
                                   for a in frame["attributes"]]
        cats = sorted(frame["category"].dropna().unique())
        years = sorted(frame["year"].dropna().unique())
        # The townships cannot change until this batch is stored (a shared lock).
        with self._transaction(lock="townships", shared=True) as con:
            if splits is None:
                names, town_geoms = self._township_arrays()
                splits = split_by_township(geoms, names, town_geoms, areas_m2=areas)
            primary = splits[splits["primary"]].set_index("plot")["township"]
            frame["township"] = primary.reindex(range(len(frame))).to_numpy(dtype=object)
            self._check_new_batch(con, "plots", provenance, replace)
            if replace is not None:  # rolled back in this transaction: all or nothing
                self._delete_batch(con, int(replace), TABLES_OF["plots"])
            batch = self._new_batch(
                con, kind="plots", provenance=provenance, count=len(frame),
                category=cats[0] if len(cats) == 1 else None,
                year=years[0] if len(years) == 1 else None, area_m2=float(areas.sum()))
            frame["batch_id"] = batch
            frame["fid"] = self._new_fids(con, "plots", len(frame))
            self._insert(con, "plots", frame, geoms)
            self._insert_splits(con, frame, splits)
            self._layer_written(con, "plots")
        log.info("stored %d plots as batch %d (%.1f mu)", len(frame), batch,
                 mu_from_m2(areas.sum()))
        return batch

    def _new_batch(self, con, *, kind: str, provenance: Provenance, count: int,
                   category=None, year=None, area_m2=None, note=None) -> int:
        """Record a batch; returns its id."""
        row = {"kind": kind, "source_file": provenance.source_file,
               "sha256": provenance.sha256, "user": provenance.user,
               "category": None if category is None else str(category),
               "year": None if year is None else int(year), "feature_count": int(count),
               "area_m2": None if area_m2 is None else float(area_m2), "note": note,
               **self._batch_defaults()}
        names = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join([self._mark] * len(row))
        return self._insert_returning_fid(
            con, f"INSERT INTO batches ({names}) VALUES ({marks})", list(row.values()))

    def _check_new_batch(self, con, kind: str, provenance: Provenance, replace) -> None:
        """Refuse a file stored before, and a ``replace`` that names no batch of ``kind``.

        A lock on the file's SHA-256 keeps two sessions from storing one file at once;
        the row of the batch replaced is locked until the transaction ends.
        """
        if provenance.sha256:
            self._lock(con, f"file:{provenance.sha256}")
        m = self._mark
        rows = con.execute(
            f"SELECT fid, kind, sha256, source_file, {self._created_at_sql} FROM batches "
            f"WHERE (sha256 IS NOT NULL AND sha256 = {m}) OR fid = {m} ORDER BY fid"
            f"{self._for_update}",
            (provenance.sha256, -1 if replace is None else int(replace))).fetchall()
        keys = ("batch_id", "kind", "sha256", "source_file", "created_at")
        check_new_batch([dict(zip(keys, r, strict=True)) for r in rows], provenance,
                        kind=kind, replace=replace)

    def _delete_batch(self, con, batch_id: int, tables: list[str]) -> dict:
        """Delete one batch's rows and its record, inside the caller's transaction."""
        removed = {}
        for table in tables:
            cur = con.execute(f'DELETE FROM "{table}" WHERE batch_id = {self._mark}',
                              (batch_id,))
            removed[table] = cur.rowcount
            self._layer_changed(con, table)
        con.execute(f"DELETE FROM batches WHERE fid = {self._mark}", (batch_id,))
        return removed

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

    def rollback(self, batch_id: int) -> dict:
        """Remove exactly one batch; returns what was removed.

        The batch is looked up, checked and removed in one transaction, so that what
        is checked still holds when it is removed.
        """
        batch_id = int(batch_id)
        with self._transaction(lock="water") as con:
            row = con.execute(f"SELECT kind FROM batches WHERE fid = {self._mark}"
                              f"{self._for_update}", (batch_id,)).fetchone()
            if row is None:
                raise NotFoundError(tr("{location} 中没有批次 {batch}; 'ecomap batches' 列出全部批次",
                                       "no batch {batch} in {location}; 'ecomap batches' lists "
                                       "the batches", batch=batch_id, location=self.location))
            kind = row[0]
            if kind == "water":
                self._check_water_rollback(con, batch_id)
            if kind == "plots":  # photos attached to its plots (store/_photos.py)
                self._check_photos_rollback(con, batch_id)
            tables = TABLES_OF.get(kind)
            if tables is None:
                raise StoreError(tr(
                    "批次 {batch} 替换了 {kind} 图层, 无法撤销; 请重新导入之前的 {kind} 文件",
                    "batch {batch} replaced the {kind} layer and cannot be rolled back; import "
                    "the previous {kind} file again instead", batch=batch_id, kind=kind))
            removed = self._delete_batch(con, batch_id, tables)
        return {"batch_id": batch_id, "kind": kind, "removed": removed}

    # --- township splits ----------------------------------------------------------------
    def resplit(self) -> int:
        """Recompute every plot's township split; returns the number of plots checked."""
        with self._transaction(lock="townships") as con:
            return self._resplit(con)

    def _resplit(self, con, previous=None) -> int:
        """Bring the stored splits up to date with the township layer; rewrite only the
        rows that changed (:func:`ecomap.split.resplit_plan`).

        ``previous``: names and geometries of the township layer the stored splits were
        computed with.  Then only plots whose box meets the region where the two layers
        differ (:func:`~ecomap.split.changed_region`) are checked; without it, every
        plot.  Returns the number of plots checked.
        """
        names, town_geoms = self._township_arrays()
        region = None if previous is None else changed_region(*previous, names, town_geoms)
        fids, bounds = unique_boxes(self._plot_boxes(
            con, None if region is None else region_boxes(region)))
        stored = self._stored_splits(con, None if region is None else fids)
        plan = resplit_plan(fids, bounds, stored, names, town_geoms,
                            geometries=lambda f: self._geometries("plots", f))
        if plan["changed"]:
            self._apply_resplit(con, plan)
        log.info("re-split: %d plots checked, %d cut, %d changed", plan["checked"],
                 plan["cut"], plan["changed"])
        return plan["checked"]

    # --- water ---------------------------------------------------------------------------
    def add_water_sites(self, gdf: gpd.GeoDataFrame, *, provenance: Provenance) -> int:
        """Store monitoring sites as one batch."""
        gdf = _crs.to_store_crs(gdf)
        frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
        frame["township"] = self._water_townships(gdf.geometry.values, frame)
        with self._transaction(lock="water") as con:
            batch = self._new_batch(con, kind="water_sites", provenance=provenance,
                                    count=len(frame))
            self._insert(con, "water_sites", frame.assign(batch_id=batch), gdf.geometry.values)
            self._layer_written(con, "water_sites")
        return batch

    def add_water_samples(self, df: pd.DataFrame, *, provenance: Provenance) -> int:
        """Store samples (long form) as one batch."""
        with self._transaction(lock="water") as con:
            batch = self._new_batch(con, kind="water_samples", provenance=provenance,
                                    count=len(df))
            self._insert(con, "water_samples", df.assign(batch_id=batch))
        return batch

    def add_water(self, sites: gpd.GeoDataFrame | None, samples: pd.DataFrame | None, *,
                  provenance: Provenance) -> int:
        """Store new monitoring sites and samples (long form) as one batch of kind
        ``water``, in one transaction; returns the batch id.

        Raises :class:`~ecomap.errors.ValidationError`, storing nothing, when a site
        name is already stored or given twice, a sample's site is neither stored nor
        among ``sites``, or a value (site, date, parameter) is already stored or given
        twice.
        """
        from ecomap.water.rules import prepare_water  # the water package loads on use

        sites, frame, samples, years, n = prepare_water(sites, samples)
        if len(frame):
            frame["township"] = self._water_townships(sites.geometry.values, frame)
        # One water writer at a time, so the checks below still hold at COMMIT.
        with self._transaction(lock="water") as con:
            self._check_water(con, frame["site_name"], samples)
            batch = self._new_batch(
                con, kind="water", provenance=provenance, count=len(frame) + len(samples),
                year=int(years[0]) if len(years) == 1 else None,
                note=f"{len(frame)} sites, {n} samples, {len(samples)} values")
            if len(frame):
                self._insert(con, "water_sites", frame.assign(batch_id=batch),
                             sites.geometry.values)
                self._layer_written(con, "water_sites")
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
        from ecomap.water.rules import check_water

        stored = dict(con.execute("SELECT site_name, batch_id FROM water_sites").fetchall())
        old = (self._query("SELECT site_name, date, param, batch_id FROM water_samples")
               if len(samples) else None)
        check_water(names, samples, stored=stored, old_samples=old, location=self.location)

    def _check_water_rollback(self, con, batch_id: int) -> None:
        from ecomap.water.rules import check_water_rollback

        m = self._mark
        rows = con.execute(
            "SELECT DISTINCT s.batch_id, s.site_name FROM water_samples s JOIN water_sites w "
            f"ON s.site_name = w.site_name WHERE w.batch_id = {m} AND s.batch_id != {m} "
            "ORDER BY s.batch_id", (batch_id, batch_id)).fetchall()
        check_water_rollback(batch_id, rows)

    # --- what a backend implements: rows in, rows out ---------------------------------------
    @abc.abstractmethod
    def _transaction(self, *, lock: str | None = None, shared: bool = False):
        """A context manager: one transaction (yielding the connection), committed when
        the block ends, rolled back when it raises; ``lock`` names a lock that writers of
        the same name wait for (``shared``: only writers that do not share it)."""

    @abc.abstractmethod
    def _query(self, sql: str, params=()) -> pd.DataFrame:
        """A query's rows as a frame, with the query's columns."""

    @abc.abstractmethod
    def _decode_geoms(self, values: list) -> np.ndarray:
        """Shapely geometries of the values :attr:`_geom_sql` reads."""

    @abc.abstractmethod
    def _insert(self, con, layer: str, frame: pd.DataFrame, geoms=None) -> None:
        """Insert the frame's columns of ``layer`` (and ``fid`` when given) and ``geoms``."""

    @abc.abstractmethod
    def _insert_returning_fid(self, con, sql: str, params: list) -> int:
        """Run one INSERT; the ``fid`` of the row inserted."""

    @abc.abstractmethod
    def _new_fids(self, con, layer: str, n: int) -> np.ndarray:
        """``n`` feature ids for new rows of ``layer``, unused by any writer."""

    @abc.abstractmethod
    def _plot_boxes(self, con, boxes: np.ndarray | None) -> list[tuple]:
        """``(fid, minx, miny, maxx, maxy)`` of the plots whose box meets one of ``boxes``
        (rows of minx, miny, maxx, maxy), of every plot with a geometry when None."""

    @abc.abstractmethod
    def _stored_splits(self, con, fids: np.ndarray | None) -> dict[str, np.ndarray]:
        """Stored split rows of the plots ``fids`` (every plot when None) as arrays
        (:func:`~ecomap.store.layers.split_arrays`)."""

    @abc.abstractmethod
    def _apply_resplit(self, con, plan: dict) -> None:
        """Write a :func:`~ecomap.split.resplit_plan` into ``plot_townships`` and the
        plots' ``township``."""

    def _batch_defaults(self) -> dict:
        """Values of a new batch row that the database does not fill in itself."""
        return {}

    def _lock(self, con, name: str) -> None:  # noqa: B027 - one writer at a time already
        """Hold the lock ``name`` until the transaction ends."""

    def _layer_written(self, con, layer: str) -> None:  # noqa: B027 - optional
        """Rows of ``layer`` were added or replaced (a GeoPackage updates its extent)."""

    def _layer_changed(self, con, layer: str) -> None:  # noqa: B027 - optional
        """Rows of ``layer`` were deleted (a GeoPackage records the time of change)."""

    def close(self) -> None:
        """Release the connection (``_con``, which every backend holds)."""
        if getattr(self, "_con", None) is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
