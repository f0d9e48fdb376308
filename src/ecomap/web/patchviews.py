"""What the patches pages show and what a township-bound account may change: the list
of patches with their state, one patch with its history and photos, and the checks
that refuse changes outside the account's township (pages and API alike)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ecomap.errors import NotFoundError, PermissionDenied
from ecomap.i18n import tr

__all__ = ["STATUS_CLASS", "check_may_edit", "outside_township", "patch_list",
           "patch_view", "refuse_outside"]

#: CSS class of each rectification status (the colours of the patches page).
STATUS_CLASS = {"未整改": "pst-not-started", "整改中": "pst-in-progress",
                "已整改": "pst-rectified", "已销号": "pst-closed", "无需整改": "pst-no-need"}


def status_class(row: dict) -> str:
    """The CSS class of a patch's status; an unverified patch is drawn hollow (as on the
    patches map)."""
    if row.get("verification") == "未核实" and (row.get("status") or "未整改") == "未整改":
        return "pst-unverified"
    return STATUS_CLASS.get(row.get("status") or "未整改", "")


def check_may_edit(user, township: str | None, patch_id: str) -> None:
    """PermissionDenied when ``user`` may not change patch ``patch_id`` of ``township``."""
    if user.may_edit(township):
        return
    raise PermissionDenied(tr(
        "图斑 {id} 属于 {town}; 账号 {name} 只能修改 {own} 的图斑和照片",
        "patch {id} belongs to {town}; account {name!r} may change only the patches "
        "and photos of {own}", id=patch_id, town=township or "?", name=user.name,
        own=user.township))


def outside_township(checked: dict, township: str) -> list[str]:
    """The 小班号 (or row numbers) of the accepted plots of a checked copy whose primary
    township split is not ``township``."""
    plots, splits = checked["plots"], checked["splits"]
    primary = splits[splits["primary"]].set_index("plot")["township"]
    out = []
    for i in range(len(plots)):
        if primary.get(i) != township:
            pid = plots["plot_id"].iloc[i] if "plot_id" in plots.columns else None
            out.append(str(pid) if pid is not None and not pd.isna(pid) else f"#{i + 1}")
    return out


def refuse_outside(ids: list[str], township: str, file: str) -> None:
    """PermissionDenied naming the plots of ``file`` outside ``township`` (if any)."""
    if not ids:
        return
    shown = "、".join(ids[:10]) + (tr(" 等 {n} 个", " and others, {n} in all", n=len(ids))
                                  if len(ids) > 10 else "")
    raise PermissionDenied(tr(
        "{file}: 小班 {ids} 不在 {town} 内; 本账号只能上传 {town} 的小班, 请删去这些小班后"
        "重新上传, 或请管理员上传",
        "{file}: plots {ids} lie outside {town}; this account may upload plots of {town} "
        "only — remove them and upload again, or ask an administrator", file=file,
        ids=shown, town=township))


def _photos(st, patch_ids=None) -> pd.DataFrame:
    ph = st.photos(target_kind="patch")
    if patch_ids is not None:
        ph = ph[ph["target_key"].astype(str).isin([str(i) for i in patch_ids])]
    return ph


def patch_list(st, *, year: int | None, township: str | None, lang: str,
               today: dt.date | None = None, zone: str = "Asia/Shanghai") -> dict:
    """The patches page: the sentence, the counts by township and the rows."""
    from ecomap.patches.service import (
        latest_year,
        store_patch_table,
        store_progress,
        store_sentence,
    )
    from ecomap.patches.status import overdue, value_label

    year = year or latest_year(st)
    years = sorted({int(y) for y in st.patches()["year"].dropna()})
    if year is None or not len(st.patches(year=year)):
        return {"year": year, "years": years, "rows": [], "sentence": None,
                "progress": [], "towns": []}
    today = today or dt.date.today()
    table = store_patch_table(st, year=year, on=today)
    towns = sorted(set(table["in_charge"].dropna()))
    progress = store_progress(st, year=year, on=today).to_dict("records")
    if township:
        table = table[table["in_charge"] == township].reset_index(drop=True)
    late = dict(zip(*[overdue(table, on=today)[c] for c in ("patch_id", "days_late")],
                    strict=True))
    events = st.patch_events(year=year)
    # The latest change as it happened (not as stored: a bulk table may come late).
    last = events.sort_values("at", kind="stable").groupby("patch_id").tail(1) \
        .set_index("patch_id")
    photos = _photos(st, table["patch_id"])
    rows = []
    for r in table.to_dict("records"):
        pid = r["patch_id"]
        ev = last.loc[pid] if pid in last.index else None
        rows.append({
            "patch_id": pid, "village": r.get("village") or "", "in_charge": r["in_charge"],
            "area_mu": r.get("area_mu"), "status": value_label(r["status"], lang),
            "status_class": status_class(r),
            "verification": value_label(r["verification"], lang),
            "deadline": r["deadline"] or "", "days_late": late.get(pid, 0),
            "changed": (_local(ev["at"], zone)[:10], ev["user"]) if ev is not None else None,
            "photos": photos[photos["target_key"] == pid]["photo_id"].tolist()})
    return {"year": year, "years": years, "rows": rows, "towns": towns,
            "sentence": store_sentence(st, year, lang, on=today), "progress": progress}


def _local(at, zone: str) -> str:
    """A stored UTC time as the bureau's local ``YYYY-MM-DD HH:MM``."""
    from zoneinfo import ZoneInfo

    try:
        t = dt.datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    except ValueError:
        return str(at)[:16]
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def patch_view(st, patch_id: str, lang: str, today: dt.date | None = None, *,
               zone: str = "Asia/Shanghai") -> dict:
    """One patch: its state, its events (latest first, times in ``zone``) and its
    photos."""
    from ecomap.patches.service import store_patch_table
    from ecomap.patches.status import (
        FIELDS,
        STATUSES,
        UNLAWFUL_TYPES,
        VERIFICATIONS,
        allowed_next,
        field_label,
        overdue,
        value_label,
    )

    today = today or dt.date.today()
    table = store_patch_table(st, on=today) if len(st.patches()) else None
    row = table[table["patch_id"] == str(patch_id)] if table is not None else []
    if not len(row):
        raise NotFoundError(tr("库中没有图斑 {id}; 督查图斑页列出了已入库的图斑",
                               "no patch {id} in the store; the patches page lists them",
                               id=patch_id))
    r = row.iloc[0].to_dict()
    late = overdue(row, on=today)
    shown = {**r, "township_in_charge": r["in_charge"]}  # the patch's own when not set
    state = [(field_label(f, lang), value_label(shown[f], lang) if f not in (
        "deadline", "rectified_on", "closed_on", "note") else (shown[f] or ""))
        for f in FIELDS]
    events = st.patch_events(patch_ids=[str(patch_id)])
    # As they happened (a bulk table may store older changes later), latest first.
    events = events.iloc[::-1].sort_values("at", ascending=False, kind="stable")
    history = [{"at": _local(e["at"], zone), "user": e["user"],
                "field": field_label(e["field"], lang) if e["field"] in FIELDS else e["field"],
                "value": value_label(e["value"], lang)}
               for e in events.to_dict("records")]
    photos = _photos(st, [patch_id])
    return {
        "p": {**r, "status_label": value_label(r["status"], lang),
              "status_class": status_class(r),
              "days_late": int(late["days_late"].iloc[0]) if len(late) else 0},
        "state": state, "history": history,
        "photos": [{"id": p["photo_id"], "name": p["file_name"],
                    "taken": str(p["taken_at"] or "")[:16].replace("T", " ")}
                   for p in photos.to_dict("records")],
        "next_statuses": [(s, value_label(s, lang)) for s in
                          [r["status"] or "未整改"] + allowed_next(r["status"])],
        "all_statuses": [(v, value_label(v, lang)) for v in STATUSES],
        "verifications": [(v, value_label(v, lang)) for v in VERIFICATIONS],
        "unlawful_types": [(v, value_label(v, lang)) for v in UNLAWFUL_TYPES]}
