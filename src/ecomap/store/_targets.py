"""Targets in the store: one batch per targets table, the same rules on every backend.

:class:`TargetsStore` is a part of :class:`~ecomap.store.base.Store`: it reads and
writes through the backend's ``_``-methods, so a rule is written once, here.
"""

from __future__ import annotations

import logging

import pandas as pd

from ecomap.errors import ValidationError
from ecomap.i18n import tr
from ecomap.schema import category_label
from ecomap.store.layers import READ_COLUMNS

__all__ = ["TargetsStore"]

log = logging.getLogger(__name__)


class TargetsStore:
    """Targets assigned from above (上级下达任务), by township (or the county), category
    and year."""

    #: Layers of :data:`~ecomap.store.layers.ADDED_LAYERS` the opened store does not hold
    #: yet; the backend creates them in its first writing transaction.
    _absent: frozenset[str] = frozenset()

    def targets(self, *, year: int | None = None) -> pd.DataFrame:
        """Stored targets: ``township`` (None: the county as a whole), ``category``,
        ``year``, ``quantity`` (in ``unit``, the category's report unit), ``unit``,
        ``batch_id``."""
        cols = READ_COLUMNS["targets"]
        if "targets" in self._absent:
            return pd.DataFrame(columns=cols)
        where, params = self._where("year", None if year is None else int(year))
        c = self._collate
        df = self._frame(f"SELECT {', '.join(cols)} FROM targets {where} ORDER BY year, "
                         f"township{c} NULLS FIRST, category{c}, fid", params, cols)
        df["township"] = df["township"].astype(object).where(df["township"].notna(), None)
        return df.astype({"year": "int64", "quantity": "float64", "batch_id": "int64"})

    def add_targets(self, frame: pd.DataFrame, *, provenance) -> int:
        """Store targets (:func:`ecomap.targets.read_targets`) as one batch of kind
        ``targets``; returns its id.

        Raises :class:`~ecomap.errors.ValidationError`, storing nothing, when the same
        file was stored before, or a target of the same township, category and year is
        already stored (it names the batch to roll back first).
        """
        rows = pd.DataFrame({
            "township": [None if pd.isna(t) else str(t) for t in frame["township"]],
            "category": frame["category"].astype(str).to_numpy(dtype=object),
            "year": frame["year"].astype("int64").to_numpy(),
            "quantity": frame["quantity"].astype(float).to_numpy(),
            "unit": frame["unit"].astype(str).to_numpy(dtype=object),
        })
        years = sorted(int(y) for y in rows["year"].unique())
        cats = sorted(rows["category"].unique())
        with self._transaction(lock="targets") as con:
            self._check_new_batch(con, "targets", provenance, None)
            stored = {(t, c, int(y)): int(b) for t, c, y, b in con.execute(
                "SELECT township, category, year, batch_id FROM targets").fetchall()}
            clashes = [(t, c, y, stored[(t, c, y)]) for t, c, y in zip(
                rows["township"], rows["category"], rows["year"].tolist(), strict=True)
                if (t, c, y) in stored]
            if clashes:
                raise ValidationError(tr(
                    "{file}：{n} 项任务已经入库，未重复入库；如要更新，请先用 ecomap rollback 撤销原批次",
                    "{file}: {n} target(s) already stored, nothing stored; to update them, "
                    "roll the stored batch back first (ecomap rollback)",
                    file=provenance.source_file, n=len(clashes)), [
                    {"severity": "error", "code": "target_stored", "feature": None,
                     "field": None, "message": tr(
                         "{town} {category} {year}年的任务已在批次 {batch} 中；先运行 "
                         "ecomap rollback {batch}",
                         "the {year} target of {category} for {town} is in batch {batch}; "
                         "run ecomap rollback {batch} first",
                         town=t or tr("全县", "the county"), year=y, batch=b,
                         category=tr(category_label(c), category_label(c, "en")))} for t, c, y, b in clashes])
            batch = self._new_batch(
                con, kind="targets", provenance=provenance, count=len(rows),
                category=cats[0] if len(cats) == 1 else None,
                year=years[0] if len(years) == 1 else None,
                note=f"{len(rows)} targets, {len(cats)} categories")
            self._insert(con, "targets", rows.assign(batch_id=batch))
        log.info("stored %d targets as batch %d", len(rows), batch)
        return batch
