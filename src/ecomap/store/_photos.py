"""Evidence photos in the store: one batch per upload, the same rules on every backend.

:class:`PhotosStore` is a part of :class:`~ecomap.store.base.Store`: it reads and
writes through the backend's ``_``-methods, so a rule is written once, here.  Photos are
an attribute table (no geometry column): ``lon``/``lat`` keep the position, and the
target (a patch or a plot) is named by ``target_kind``/``target_key``.
"""

from __future__ import annotations

import logging

import pandas as pd

from ecomap.errors import ValidationError
from ecomap.i18n import tr
from ecomap.schema import CATEGORIES
from ecomap.store.layers import where

__all__ = ["PHOTO_COLUMNS", "PhotosStore"]

log = logging.getLogger(__name__)

#: Columns of :meth:`PhotosStore.photos` (without the image bytes).
PHOTO_COLUMNS = ["photo_id", "sha256", "target_kind", "target_key", "lon", "lat",
                 "taken_at", "file_name", "width", "height", "batch_id"]


class PhotosStore:
    """Photos attached to patches or plots, with their thumbnails and a stored copy."""

    #: Whether a table exists (one parameter: its name); the PostGIS store has its own.
    _table_sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"

    def _has_table(self, name: str) -> bool:
        return len(self._query(self._table_sql, (name,))) > 0

    def photo_targets(self):
        """What a photo can be attached to: a GeoDataFrame of ``kind`` ("patch" or
        "plot"), ``key`` (the patch ID, or the plot's fid as text), ``name`` (the patch
        ID, or the plot's 小班号) and ``geometry`` (EPSG:4490).  Patches are read when the
        store has a ``patches`` table; plots of every category but the patrol areas (which
        tile the forest)."""
        import geopandas as gpd

        from ecomap import crs as _crs

        parts = []
        if self._has_table("patches"):
            df = self._query(f"SELECT patch_id, {self._geom_sql} FROM patches "
                             "WHERE patch_id IS NOT NULL ORDER BY patch_id")
            if len(df):
                parts.append(("patch", df["patch_id"].astype(str).tolist(),
                              self._decode_geoms(df["geom"].tolist())))
        # Patrol areas tile the forest (every photo would be in one): not photo targets.
        patrol = [c.code for c in CATEGORIES.values() if c.kind == "patrol"]
        marks = ", ".join([self._mark] * len(patrol))
        df = self._query(f"SELECT fid, plot_id, {self._geom_sql} FROM plots WHERE category "
                         f"IS NULL OR category NOT IN ({marks}) ORDER BY fid", patrol)
        if len(df):
            parts.append(("plot", [str(int(f)) for f in df["fid"]],
                          self._decode_geoms(df["geom"].tolist()),
                          [None if pd.isna(v) else str(v) for v in df["plot_id"]]))
        kinds = [p[0] for p in parts for _ in p[1]]
        keys = [key for p in parts for key in p[1]]
        geoms = [g for p in parts for g in p[2]]
        names = [n for p in parts for n in (p[3] if len(p) > 3 else p[1])]
        return gpd.GeoDataFrame({"kind": pd.Series(kinds, dtype=object),
                                 "key": pd.Series(keys, dtype=object),
                                 "name": pd.Series(names, dtype=object)},
                                geometry=gpd.GeoSeries(geoms, crs=_crs.STORE_CRS))

    def photos(self, *, target_kind: str | None = None, target_key: str | None = None,
               batch: int | None = None, thumbnails: bool = False,
               images: bool = False, photo_id: str | None = None) -> pd.DataFrame:
        """Stored photos (:data:`PHOTO_COLUMNS`, and the ``thumbnail`` and ``image`` bytes
        when asked), in the order they were stored; ``photo_id``: that one only."""
        cols = PHOTO_COLUMNS + (["thumbnail"] if thumbnails else []) + (
            ["image"] if images else [])
        if "photos" in self._absent:
            return pd.DataFrame(columns=cols)
        clause, params = where([
            ("target_kind = {m}", None if target_kind is None else str(target_kind)),
            ("target_key = {m}", None if target_key is None else str(target_key)),
            ("batch_id = {m}", None if batch is None else int(batch)),
            ("photo_id = {m}", None if photo_id is None else str(photo_id))],
            mark=self._mark)
        df = self._frame(f"SELECT {', '.join(cols)} FROM photos {clause} ORDER BY fid",
                         params, cols)
        for blob in ("thumbnail", "image"):
            if blob in cols:
                df[blob] = [None if b is None else bytes(b) for b in df[blob]]
        return df.astype({"lon": "float64", "lat": "float64"})

    def photo_image(self, photo_id: str) -> bytes | None:
        """The stored copy of one photo (JPEG bytes), or None when there is no such photo."""
        if "photos" in self._absent:
            return None
        df = self._query(f"SELECT image FROM photos WHERE photo_id = {self._mark}",
                         (str(photo_id),))
        return None if df.empty else bytes(df["image"].iloc[0])

    def stored_photos(self, sha256s) -> dict[str, dict]:
        """The stored photos among ``sha256s``: sha256 -> {target_kind, target_key,
        batch_id, file_name}."""
        shas = sorted({str(s) for s in sha256s})
        if not shas or "photos" in self._absent:
            return {}
        out = {}
        for i in range(0, len(shas), 1000):
            chunk = shas[i:i + 1000]
            marks = ", ".join([self._mark] * len(chunk))
            df = self._query("SELECT sha256, target_kind, target_key, batch_id, file_name "
                             f"FROM photos WHERE sha256 IN ({marks})", chunk)
            for r in df.itertuples(index=False):
                out[r.sha256] = {"target_kind": r.target_kind, "target_key": r.target_key,
                                 "batch_id": int(r.batch_id), "file_name": r.file_name}
        return out

    def add_photos(self, frame: pd.DataFrame, *, provenance) -> int:
        """Store attached photos as one batch of kind ``photos``; returns its id.

        ``frame``: one row per photo with the columns of the ``photos`` table but
        ``batch_id`` (:func:`ecomap.photos.add_photos` builds it).  Raises
        :class:`~ecomap.errors.ValidationError`, storing nothing, when a photo (by its
        SHA-256) is already stored or given twice, naming where it is.
        """
        rows = frame.reset_index(drop=True)
        with self._transaction(lock="photos") as con:
            stored = self.stored_photos(rows["sha256"])
            seen: dict[str, str] = {}
            problems = []
            for sha, name in zip(rows["sha256"], rows["file_name"], strict=True):
                if sha in stored:
                    problems.append(stored_photo_text(name, stored[sha]))
                elif sha in seen:
                    problems.append(tr("{file} 与 {other} 是同一张照片; 只入库一次",
                                       "{file} is the same photo as {other}; it is stored "
                                       "once", file=name, other=seen[sha]))
                seen.setdefault(sha, name)
            if problems:
                raise ValidationError(tr("{n} 张照片已入库或重复, 未入库",
                                         "{n} photo(s) already stored or given twice; "
                                         "nothing stored", n=len(problems)),
                                      [{"severity": "error", "code": "photo_stored",
                                        "feature": None, "field": None, "message": p}
                                       for p in problems])
            batch = self._new_batch(con, kind="photos", provenance=provenance,
                                    count=len(rows), note=f"{len(rows)} photos")
            self._insert(con, "photos", rows.assign(batch_id=batch))
        log.info("stored %d photos as batch %d", len(rows), batch)
        return batch


    def _check_photos_rollback(self, con, batch_id: int) -> None:
        """Refuse to roll back a plot batch while photos are attached to its plots (they
        would point at plots that are gone): the photo batches are rolled back first."""
        if "photos" in self._absent:
            return
        m = self._mark
        rows = con.execute(
            "SELECT batch_id, COUNT(*) FROM photos WHERE target_kind = 'plot' AND "
            f"target_key IN (SELECT CAST(fid AS TEXT) FROM plots WHERE batch_id = {m}) "
            "GROUP BY batch_id ORDER BY batch_id", (int(batch_id),)).fetchall()
        if rows:
            batches = "、".join(str(int(b)) for b, _ in rows)
            raise ValidationError(tr(
                "批次 {batch} 的地块挂有 {n} 张照片 (照片批次 {photos}); 先撤销照片批次 "
                "(ecomap rollback {first}), 再撤销批次 {batch}",
                "{n} photo(s) are attached to plots of batch {batch} (photo batch(es) "
                "{photos}); roll those back first (ecomap rollback {first}), then batch "
                "{batch}", batch=int(batch_id), n=sum(int(c) for _, c in rows),
                photos=batches, first=int(rows[0][0])))


def stored_photo_text(name: str, where: dict):
    """What the user reads when the photo ``name`` is already stored (``where``: a value
    of :meth:`PhotosStore.stored_photos`)."""
    from ecomap.photos.attach import target_label

    return tr("{file}: 这张照片已入库 (批次 {batch}, 挂接到 {target}, 原文件名 {stored}); 未重复入库",
              "{file}: this photo is already stored (batch {batch}, attached to {target}, "
              "file {stored}); not stored again", file=name, batch=where["batch_id"],
              target=target_label(where["target_kind"], where["target_key"]),
              stored=where["file_name"])
