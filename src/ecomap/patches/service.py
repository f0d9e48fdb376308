"""What the CLI (and the web) do with patches: one patch's update, the table of patches
with their state, the progress by township and the sentence — reading the store once."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ecomap.errors import NotFoundError, ValidationError
from ecomap.i18n import tr
from ecomap.patches.status import (
    DATE_FIELDS,
    FIELDS,
    patch_progress,
    patch_state,
    patch_table,
    patches_sentence,
    plan_change,
)

__all__ = ["parse_date", "store_patch_table", "store_sentence", "update_patch"]


def parse_date(value) -> str | None:
    """A date cell or text (``2023-05-31``, ``2023/5/31``, ``2023.5.31``, a datetime) as
    ``YYYY-MM-DD``; None when empty; ValueError when not a date."""
    if value is None or (isinstance(value, float) and value != value) or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    for sep in ("/", ".", "年"):
        text = text.replace(sep, "-")
    text = text.replace("月", "-").rstrip("日")
    parts = text.split("-")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(value)
    return dt.date(int(parts[0]), int(parts[1]), int(parts[2])).isoformat()


def update_patch(store, patch_id: str, changes: dict, *, user: str) -> list[tuple]:
    """Record the changes (field → value; dates as ``YYYY-MM-DD``) to one patch as
    events, checked against its current state inside the writing transaction.

    Returns the events stored (``(field, value)``; none when nothing changes).  Raises
    :class:`~ecomap.errors.NotFoundError` for an unknown ID and
    :class:`~ecomap.errors.ValidationError` for a refused change (nothing stored).
    """
    patch_id = str(patch_id).strip()
    if not len(store.patches().query("patch_id == @patch_id")):
        raise NotFoundError(tr("库中没有图斑 {id}；'ecomap patches status' 列出已入库的图斑",
                               "no patch {id} in the store; 'ecomap patches status' lists "
                               "the stored patches", id=patch_id))
    changes = {k: v for k, v in changes.items() if v is not None and k in FIELDS}
    for f in DATE_FIELDS:
        if f in changes:
            try:
                changes[f] = parse_date(changes[f])
            except ValueError:
                raise ValidationError(tr("图斑 {id}：{value!r} 不是日期（应为 YYYY-MM-DD）",
                                         "patch {id}: {value!r} is not a date (YYYY-MM-DD)",
                                         id=patch_id, value=changes[f])) from None
    planned: list[tuple] = []

    def check(events: pd.DataFrame) -> None:
        current = patch_state(events, patch_ids=[patch_id]).iloc[0].to_dict()
        events_, problems = plan_change(patch_id, current, changes)
        if problems:
            raise ValidationError(problems[0], [
                {"severity": "error", "code": "patch_update", "feature": patch_id,
                 "field": None, "message": p} for p in problems] if len(problems) > 1
                else [])
        planned[:] = events_

    # The plan is made against the state read in the same transaction as the write.
    probe = store.patch_events(patch_ids=[patch_id])
    check(probe)
    if not planned:
        return []
    frame = pd.DataFrame({"patch_id": patch_id, "field": [f for f, _ in planned],
                          "value": [v for _, v in planned]})
    store.add_patch_events(frame, user=user, check=check)
    return planned


def store_patch_table(store, *, year: int | None = None, township: str | None = None,
                      on=None) -> pd.DataFrame:
    """:func:`~ecomap.patches.status.patch_table` of the stored patches (of ``year``;
    of the township responsible ``township``) on ``on``."""
    patches = store.patches(year=year)
    events = store.patch_events(year=year)
    table = patch_table(patches, events, on=on)
    if township is not None:
        table = table[table["in_charge"] == township].reset_index(drop=True)
    return table


def latest_year(store) -> int | None:
    years = store.patches()["year"].dropna()
    return int(years.max()) if len(years) else None


def store_sentence(store, year: int | None = None, lang: str = "zh", *, on=None
                   ) -> str | None:
    """The report's sentence on the stored patches of ``year`` (default: the latest
    year with patches), or None when no patches are stored."""
    year = latest_year(store) if year is None else int(year)
    if year is None:
        return None
    table = store_patch_table(store, year=year, on=on)
    return patches_sentence(table, year, lang, on=on) if len(table) else None


def store_progress(store, *, year: int | None = None, on=None) -> pd.DataFrame:
    """:func:`~ecomap.patches.status.patch_progress` of the stored patches."""
    return patch_progress(store_patch_table(store, year=year, on=on), on=on)
