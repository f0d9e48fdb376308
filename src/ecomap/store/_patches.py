"""Forest-inspection patches in the store: the province's patches keyed by their ID, and
every change of their status as an event, the same rules on every backend.

:class:`PatchesStore` is a part of :class:`~ecomap.store.base.Store` (as
:class:`~ecomap.store._targets.TargetsStore` is): it reads and writes through the
backend's ``_``-methods.  What a status may become is :mod:`ecomap.patches.status`'s
rule; it runs inside the writing transaction through ``check``.
"""

from __future__ import annotations

import datetime as dt
import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ecomap.errors import ValidationError
from ecomap.i18n import tr
from ecomap.store.layers import LAYERS_SCHEMA, READ_COLUMNS, typed_layer, where

__all__ = ["PATCH_COLUMNS", "PatchesStore", "now_utc"]

log = logging.getLogger(__name__)

#: Columns of the ``patches`` layer besides ``fid`` and the geometry.
PATCH_COLUMNS = list(LAYERS_SCHEMA["patches"][1])
# Compared on a re-import (besides the geometry); batch_id and year are not.
_COMPARED = ["township", "village", "area_mu", "change_type", "attributes"]


def now_utc() -> str:
    """The time now, UTC, ISO 8601 to the second (``2023-03-01T08:00:00Z``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PatchesStore:
    """The ``patches`` layer and the ``patch_events`` table."""

    _absent: frozenset[str] = frozenset()

    def patches(self, *, year: int | None = None, township: str | None = None
                ) -> gpd.GeoDataFrame:
        """Stored patches (EPSG:4490): ``fid``, ``patch_id``, ``year``, ``township``,
        ``village``, ``area_mu``, ``change_type``, ``attributes`` (JSON: the province's
        fields as written), ``batch_id``; ordered by ``patch_id``."""
        if "patches" in self._absent:
            cols = LAYERS_SCHEMA["patches"][1]
            return typed_layer(pd.DataFrame({"fid": [], **{c: [] for c in cols}}), cols, [])
        clause, params = where([("year = {m}", None if year is None else int(year)),
                                ("township = {m}", None if township is None
                                 else str(township))], mark=self._mark)
        gdf = self._read_layer("patches", clause, params)
        return gdf.sort_values("patch_id", kind="stable").reset_index(drop=True)

    def patch_events(self, *, patch_ids=None, year: int | None = None) -> pd.DataFrame:
        """Stored events in the order they were stored: ``event_id``, ``patch_id``, ``at``
        (UTC ISO time), ``user``, ``field``, ``value``, ``batch_id`` (None for a single
        update); those of ``patch_ids`` or of the patches of ``year`` when given."""
        cols = READ_COLUMNS["patch_events"]
        if "patch_events" in self._absent:
            return pd.DataFrame(columns=cols)
        conds, params = [], []
        if patch_ids is not None:
            ids = [str(i) for i in patch_ids]
            if not ids:
                return pd.DataFrame(columns=cols)
            conds.append(f"patch_id IN ({', '.join([self._mark] * len(ids))})")
            params += ids
        if year is not None:
            conds.append(f"patch_id IN (SELECT patch_id FROM patches WHERE year = {self._mark})")
            params.append(int(year))
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        df = self._frame(f'SELECT fid AS event_id, patch_id, at, "user", field, value, '
                         f"batch_id FROM patch_events {where} ORDER BY fid", params, cols)
        df["batch_id"] = df["batch_id"].astype(object).where(df["batch_id"].notna(), None)
        return df

    def store_patches(self, frame: gpd.GeoDataFrame, *, year: int, provenance) -> dict:
        """Store the province's patches of ``year`` as one batch of kind ``patches``,
        updating by ``patch_id`` in one transaction.

        ``frame``: ``patch_id``, ``township``, ``village``, ``area_mu``, ``change_type``,
        ``attributes`` and a geometry (EPSG:4490).  A patch stored before is replaced
        (same ``fid``) when its geometry or a field changed, and left alone otherwise;
        stored patches of the year missing from ``frame`` are kept.  Events are never
        touched.  Returns ``{"batch_id", "new", "changed", "unchanged", "missing"}``
        (lists of IDs; ``changed`` maps an ID to what changed: ``geometry`` or field
        names; ``batch_id`` None when nothing is new or changed: no batch is recorded).
        Refused (a :class:`~ecomap.errors.ValidationError`, nothing stored) when an ID
        is stored for another year.
        """
        year = int(year)
        ids = frame["patch_id"].astype(str).tolist()
        geoms = np.asarray(frame.geometry.values, dtype=object)
        with self._transaction(lock="patches") as con:
            stored = self._read_layer("patches")
            other = stored[stored["patch_id"].isin(ids) & (stored["year"] != year)]
            if len(other):
                raise ValidationError(tr(
                    "{file}：{n} 个图斑编号已作为其他年度的图斑入库（如 {some}），未入库",
                    "{file}: {n} patch ID(s) are stored for another year (e.g. {some}); "
                    "nothing stored", file=provenance.source_file, n=len(other),
                    some=", ".join(f"{p}（{y}）" for p, y in zip(
                        other["patch_id"][:3], other["year"][:3], strict=True))))
            stored = stored[stored["year"] == year].set_index("patch_id")
            new, changed, unchanged = [], {}, []
            for i, pid in enumerate(ids):
                if pid not in stored.index:
                    new.append(pid)
                    continue
                row = stored.loc[pid]
                what = [c for c in _COMPARED if not _same(row[c], frame[c].iloc[i])]
                if not shapely.equals_exact(row.geometry, geoms[i], tolerance=1e-9):
                    what.insert(0, "geometry")
                if what:
                    changed[pid] = what
                else:
                    unchanged.append(pid)
            missing = sorted(set(stored.index) - set(ids))
            if not new and not changed:  # the same layer again: nothing to record
                return {"batch_id": None, "new": [], "changed": {}, "unchanged": unchanged,
                        "missing": missing}
            batch = self._new_batch(con, kind="patches", provenance=provenance,
                                    count=len(ids), year=year,
                                    note=f"{len(new)} new, {len(changed)} changed, "
                                         f"{len(unchanged)} unchanged, {len(missing)} missing")
            write = [i for i, p in enumerate(ids) if p in changed or p in new]
            if write:
                rows = pd.DataFrame(frame.drop(columns=frame.geometry.name)).iloc[write]
                rows = rows[[c for c in PATCH_COLUMNS if c in rows.columns]].copy()
                rows["year"] = year
                rows["batch_id"] = batch
                old = [int(stored.loc[ids[i], "fid"]) for i in write if ids[i] in changed]
                for fid in old:
                    con.execute(f"DELETE FROM patches WHERE fid = {self._mark}", (fid,))
                fids = self._new_fids(con, "patches", len(write))
                keep = iter(old)
                rows["fid"] = [next(keep) if ids[i] in changed else int(f)
                               for i, f in zip(write, fids.tolist(), strict=True)]
                self._insert(con, "patches", rows.reset_index(drop=True), geoms[write])
        log.info("stored patches of %d as batch %d: %d new, %d changed", year, batch,
                 len(new), len(changed))
        return {"batch_id": batch, "new": new, "changed": changed, "unchanged": unchanged,
                "missing": missing}

    def add_patch_events(self, events: pd.DataFrame, *, user: str, provenance=None,
                         check=None, at: str | None = None) -> int | None:
        """Store events (``patch_id``, ``field``, ``value``) in one transaction, at ``at``
        (default: now, UTC) by ``user``.

        With ``provenance`` (a bulk update) they are one batch of kind ``patch_updates``
        and its id is returned; otherwise None.  ``check(stored_events)`` runs first,
        inside the transaction, with the stored events of the patches named; it raises
        to refuse (nothing stored then).
        """
        if not len(events):
            return None
        ids = sorted(set(events["patch_id"].astype(str)))
        with self._transaction(lock="patches") as con:
            if check is not None:
                check(self.patch_events(patch_ids=ids))
            batch = None
            if provenance is not None:
                batch = self._new_batch(con, kind="patch_updates", provenance=provenance,
                                        count=len(events), note=f"{len(ids)} patches")
            # Each event at its own time when the events say when (a dated change),
            # else at ``at`` or now.
            when = at or now_utc()
            times = ([when if t is None or t != t else str(t) for t in events["at"]]
                     if "at" in events else when)
            rows = pd.DataFrame({
                "patch_id": events["patch_id"].astype(str).to_numpy(dtype=object),
                "at": times, "user": user,
                "field": events["field"].astype(str).to_numpy(dtype=object),
                "value": [None if v is None or (isinstance(v, float) and np.isnan(v))
                          else str(v) for v in events["value"]],
            })
            if batch is not None:
                rows["batch_id"] = batch
            self._insert(con, "patch_events", rows)
        return batch


def _same(a, b) -> bool:
    if a is None or (isinstance(a, float) and np.isnan(a)) or a is pd.NA:
        return b is None or (isinstance(b, float) and np.isnan(b)) or b is pd.NA
    if isinstance(a, float) or isinstance(b, float):
        try:
            return abs(float(a) - float(b)) < 5e-5
        except (TypeError, ValueError):
            return False
    return str(a) == str(b)

