"""A patch's status as history: the fields, their values, what a change may do, the state
on a date, the counts by township and the sentence of the report back.

The values stored are the province's terms (Chinese); :func:`value_label` gives the
English ones.  A rectification status moves forward only: 未整改 → 整改中 → 已整改 →
已销号, a step may be skipped (a township may report a patch rectified at once) except
that 已销号 needs 已整改 first (or the rectification date given with it: then both are
recorded); lawful patches (合法) need no rectification (无需整改).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ecomap.i18n import Text, tr

__all__ = ["CLOSED", "DONE", "FIELDS", "FIELD_LABELS", "STATUSES", "UNLAWFUL_TYPES",
           "VERIFICATIONS", "allowed_next", "overdue", "patch_progress", "patch_state",
           "patch_table", "patches_sentence", "plan_change", "value_label"]

#: Fields of a patch's status, in the order tables show them.
FIELDS = ("verification", "unlawful_type", "status", "deadline", "rectified_on",
          "closed_on", "township_in_charge", "note")
DATE_FIELDS = ("deadline", "rectified_on", "closed_on")
#: Field → (Chinese header, as the province's table has it; English label).  The Chinese
#: names are at most 10 bytes in GBK (Shapefile field names).
FIELD_LABELS = {
    "verification": ("核实结果", "Verification"), "unlawful_type": ("违法类型", "Unlawful type"),
    "status": ("整改状态", "Rectification"), "deadline": ("整改期限", "Deadline"),
    "rectified_on": ("整改日期", "Rectified on"), "closed_on": ("销号日期", "Closed on"),
    "township_in_charge": ("责任乡镇", "Township in charge"), "note": ("备注", "Note"),
}
VERIFICATIONS = ("合法", "违法", "其他", "未核实")
UNLAWFUL_TYPES = ("违法占用林地", "违法采伐林木", "违法开垦林地", "其他")
STATUSES = ("未整改", "整改中", "已整改", "已销号", "无需整改")
_ORDER = {"未整改": 0, "整改中": 1, "已整改": 2, "已销号": 3}
#: Statuses that count as rectified (已销号 comes after 已整改).
DONE = ("已整改", "已销号")
#: Statuses that end a patch's work (never overdue).
CLOSED = ("已整改", "已销号", "无需整改")
DEFAULTS = {"verification": "未核实", "status": "未整改"}
_EN = {"合法": "lawful", "违法": "unlawful", "其他": "other", "未核实": "unverified",
       "违法占用林地": "unlawful occupation of forest land", "违法采伐林木": "unlawful felling",
       "违法开垦林地": "unlawful land clearing", "未整改": "not started",
       "整改中": "in progress", "已整改": "rectified", "已销号": "closed",
       "无需整改": "no rectification needed"}


def value_label(value, lang: str = "zh") -> str:
    """A stored value as shown: itself in Chinese, its English label with ``lang="en"``."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return _EN.get(str(value), str(value)) if lang == "en" else str(value)


def field_label(field: str, lang: str = "zh") -> str:
    zh, en = FIELD_LABELS[field]
    return en if lang == "en" else zh


def allowed_next(status: str | None) -> list[str]:
    """The rectification statuses a patch with ``status`` may move to."""
    status = status or "未整改"
    if status == "无需整改":
        return []
    if status == "已整改":
        return ["已销号"]
    return [s for s, k in _ORDER.items() if _ORDER[status] < k and s != "已销号"]


def patch_state(events: pd.DataFrame, *, on=None, patch_ids=None) -> pd.DataFrame:
    """Each patch's state: its latest event per field (of those at or before the end of
    the day ``on``, a date or ``YYYY-MM-DD``, when given).

    One row per patch named by an event (and per ``patch_ids`` when given, so that a
    patch without events has the defaults: 未核实, 未整改): ``patch_id``, the
    :data:`FIELDS` and ``updated_at`` (time of its latest event, or None).
    """
    ev = events
    if on is not None:
        day = on.isoformat() if isinstance(on, dt.date) else str(on)[:10]
        ev = ev[ev["at"].astype(str) <= f"{day}T23:59:59Z"]
    # In the order they happened (a dated change may be entered later), then as stored.
    order = [c for c in ("at", "event_id") if c in ev]
    ev = ev.sort_values(order, kind="stable") if order else ev
    last = ev.drop_duplicates(["patch_id", "field"], keep="last")
    wide = last.pivot(index="patch_id", columns="field", values="value") if len(last) \
        else pd.DataFrame(index=pd.Index([], name="patch_id"))
    ids = list(dict.fromkeys([*(str(p) for p in (patch_ids if patch_ids is not None else [])),
                              *wide.index.astype(str)]))
    out = pd.DataFrame({"patch_id": ids})
    for f in FIELDS:
        col = wide[f] if f in wide.columns else pd.Series(dtype=object)
        vals = col.reindex(ids).astype(object)
        out[f] = [DEFAULTS.get(f) if v is None or v != v else v for v in vals.tolist()]
    at = ev.groupby("patch_id")["at"].max() if len(ev) else pd.Series(dtype=object)
    out["updated_at"] = [None if v != v else v for v in at.reindex(ids).astype(object)]
    return out


def plan_change(patch_id: str, current: dict, changes: dict) -> tuple[list, list[Text]]:
    """The events ``(field, value)`` that make ``changes`` to a patch in the state
    ``current`` (a row of :func:`patch_state`), and the problems refusing them.

    Values equal to the current ones make no event.  Setting 合法 on an unrectified
    patch adds 无需整改 (and back: 违法/其他 on a 无需整改 patch adds 未整改).
    """
    problems: list[Text] = []
    changes = {k: v for k, v in changes.items() if v is not None}
    after = {f: current.get(f, DEFAULTS.get(f)) for f in FIELDS} | changes
    v = changes.get("verification")
    if v is not None and v not in VERIFICATIONS:
        problems.append(_not_in(patch_id, "verification", v, VERIFICATIONS))
    if (t := changes.get("unlawful_type")) is not None and t not in UNLAWFUL_TYPES:
        problems.append(_not_in(patch_id, "unlawful_type", t, UNLAWFUL_TYPES))
    s = changes.get("status")
    if s is not None and s not in STATUSES:
        problems.append(_not_in(patch_id, "status", s, STATUSES))
    if problems:
        return [], problems
    now = current.get("status") or "未整改"
    if v == "合法" and "status" not in changes and now == "未整改":
        after["status"] = s = "无需整改"
    if v in ("违法", "其他") and "status" not in changes and now == "无需整改":
        after["status"] = s = "未整改"
    if after.get("unlawful_type") and after["verification"] != "违法" and \
            "unlawful_type" in changes:
        problems.append(tr("图斑 {id}：违法类型只适用于核实结果为“违法”的图斑（当前为 {v}）",
                           "patch {id}: an unlawful type applies to unlawful (违法) patches "
                           "only (this one is {v})", id=patch_id, v=after["verification"]))
    # 已销号 with the rectification date on the same row: rectified first, then closed.
    via = "已整改" if (s == "已销号" and now in ("未整改", "整改中") and after.get("rectified_on")
                     and after["verification"] in ("违法", "其他")) else None
    if s is not None and s != now:
        problems += _transition(patch_id, via or now, s, after["verification"])
    elif after["verification"] == "合法" and now not in ("未整改", "无需整改"):
        problems.append(tr("图斑 {id}：整改状态为 {s}，不能核实为“合法”",
                           "patch {id}: its rectification status is {s}; it cannot be "
                           "verified lawful", id=patch_id, s=now))
    events = [(f, after[f]) for f in FIELDS
              if f in after and after[f] is not None
              and str(after[f]) != str(current.get(f, DEFAULTS.get(f)) or "")
              and (f in changes or f == "status")]
    if via:
        events.insert(next(i for i, (f, _) in enumerate(events) if f == "status"),
                      ("status", via))
    return ([] if problems else events), problems


def _transition(patch_id, now: str, new: str, verification: str) -> list[Text]:
    if new == "无需整改":
        if verification != "合法":
            return [tr("图斑 {id}：只有核实为“合法”的图斑无需整改（当前核实结果 {v}）",
                       "patch {id}: only lawful (合法) patches need no rectification (this "
                       "one is {v})", id=patch_id, v=verification)]
        if now != "未整改":
            return [tr("图斑 {id}：整改状态为 {now}，不能改为 无需整改", "patch {id}: its "
                       "rectification status is {now}; it cannot become 无需整改",
                       id=patch_id, now=now)]
        return []
    if verification not in ("违法", "其他"):
        return [tr("图斑 {id}：核实结果为 {v}，须先核实为“违法”或“其他”才能改为 {new}",
                   "patch {id}: it is {v}; verify it unlawful (违法) or other (其他) before "
                   "setting {new}", id=patch_id, v=verification, new=new)]
    if new not in allowed_next(now) and not (now == "无需整改" and new == "未整改"):
        nxt = "、".join(allowed_next(now)) or tr("无", "none")
        if new == "已销号" and now in ("未整改", "整改中"):
            return [tr("图斑 {id}：整改状态为 {now}，须先整改完成（已整改，或同时填写整改日期）才能销号；"
                       "可改为：{next}",
                       "patch {id}: its status is {now}; it must be 已整改 (rectified), or "
                       "the rectification date given, before it is closed (已销号); "
                       "allowed next: {next}", id=patch_id, now=now, next=nxt)]
        return [tr("图斑 {id}：整改状态为 {now}，不能改回 {new}（只能向前）；可改为：{next}",
                   "patch {id}: its status is {now} and cannot go back to {new} (forward "
                   "only); allowed next: {next}", id=patch_id, now=now, new=new, next=nxt)]
    return []


def _not_in(patch_id, field, value, allowed) -> Text:
    return tr("图斑 {id}：{field} 的值 {value!r} 不在代码表中（可选：{allowed}）",
              "patch {id}: {field} {value!r} is not in the code list ({allowed})",
              id=patch_id, field=field_label(field), value=value, allowed="、".join(allowed))


def patch_table(patches: pd.DataFrame, events: pd.DataFrame, *, on=None) -> pd.DataFrame:
    """The patches (``patch_id``, ``year``, ``township``, ``village``, ``area_mu`` …)
    with their state on ``on`` (default: now) and ``in_charge``: the township
    responsible (责任乡镇, else the patch's own)."""
    cols = [c for c in ("patch_id", "year", "township", "village", "area_mu", "change_type")
            if c in patches.columns]
    base = pd.DataFrame(patches[cols]).reset_index(drop=True)
    base["patch_id"] = base["patch_id"].astype(str).astype(object)
    state = patch_state(events, on=on, patch_ids=base["patch_id"].tolist())
    state["patch_id"] = state["patch_id"].astype(object)  # an empty frame's is float
    out = base.merge(state, on="patch_id", how="left")
    for f in FIELDS:
        out[f] = pd.Series([None if _blank(v) else v for v in out[f].tolist()],
                           dtype=object, index=out.index)
    out["in_charge"] = [town if _blank(t) else t for t, town in
                        zip(out["township_in_charge"], out["township"], strict=True)]
    return out


def overdue(table: pd.DataFrame, *, on=None) -> pd.DataFrame:
    """The patches of :func:`patch_table` past their deadline on ``on`` (default: today)
    and not rectified, with ``days_late``, most late first."""
    day = on if isinstance(on, dt.date) else (dt.date.fromisoformat(str(on)[:10]) if on
                                              else dt.date.today())
    late = []
    for deadline, status in zip(table["deadline"], table["status"], strict=True):
        d = _date(deadline)
        late.append((day - d).days if d is not None and d < day and status not in CLOSED
                    else 0)
    out = table.assign(days_late=late)
    out = out[out["days_late"] > 0]
    return out.sort_values(["days_late", "patch_id"], ascending=[False, True])


def _blank(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and v != v) or v == ""


def _date(value):
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


#: Columns of :func:`patch_progress` besides ``township``.
PROGRESS_COLUMNS = ["patches", "unverified", "lawful", "not_started", "in_progress",
                    "rectified", "closed", "overdue"]


def patch_progress(table: pd.DataFrame, *, on=None) -> pd.DataFrame:
    """Counts by status per township responsible, then the county (``township`` None):
    ``patches``, ``unverified`` (未核实), ``lawful`` (合法), ``not_started`` (未整改),
    ``in_progress`` (整改中), ``rectified`` (已整改 or 已销号), ``closed`` (已销号 among
    them), ``overdue``."""
    late = set(overdue(table, on=on)["patch_id"])
    t = table.assign(
        unverified=table["verification"] == "未核实",
        lawful=table["verification"] == "合法",
        not_started=(table["status"] == "未整改") & table["verification"].isin(["违法", "其他"]),
        in_progress=table["status"] == "整改中",
        rectified=table["status"].isin(DONE), closed=table["status"] == "已销号",
        overdue=table["patch_id"].isin(late), patches=1)
    cols = PROGRESS_COLUMNS
    by = t.groupby("in_charge", sort=True)[cols].sum().reset_index()
    by = by.rename(columns={"in_charge": "township"})
    county = pd.DataFrame([{"township": None, **t[cols].sum().to_dict()}])
    out = pd.concat([by, county], ignore_index=True) if len(by) else county
    return out.astype({c: "int64" for c in cols})


def patches_sentence(state: pd.DataFrame, year, lang: str = "zh", *, on=None) -> str:
    """The report's sentence on the inspection patches of ``year``, from
    :func:`patch_table`: all rectified, or how many are at which status with the
    townships late named."""
    n = len(state)
    en = lang == "en"
    if n == 0:
        return (f"No forest-inspection patches of {year} are stored." if en
                else f"{year}年度没有入库的森林督查问题图斑。")
    lawful = int((state["verification"] == "合法").sum())
    work = state[state["verification"] != "合法"]
    done = int(work["status"].isin(DONE).sum())
    head = (f"{n} forest-inspection patches of {year}" if en
            else f"{year}年度森林督查问题图斑{n}个")
    if lawful:
        head += (f" ({lawful} lawful)" if en else f"，其中合法{lawful}个")
    if done == len(work):
        if en:
            return head + (", the others all rectified." if lawful else ", all rectified.")
        return head + ("，其余已全部完成整改。" if lawful else "，已全部完成整改。")
    parts = [("rectified", "已整改", done),
             ("in progress", "整改中", int((work["status"] == "整改中").sum())),
             ("not started", "未整改", int(((work["status"] == "未整改")
                                           & (work["verification"] != "未核实")).sum())),
             ("unverified", "未核实", int((work["verification"] == "未核实").sum()))]
    text = [f"{k} {c}" if en else f"{z}{c}个" for k, z, c in parts if c or z == "已整改"]
    late = overdue(state, on=on)
    towns = late.groupby("in_charge", sort=False).size() if len(late) else pd.Series(
        dtype=int)
    towns = towns.sort_values(ascending=False, kind="stable")
    if en:
        out = head + ": " + ", ".join(text)
        if len(towns):
            out += "; overdue: " + ", ".join(f"{t} {c}" for t, c in towns.items())
        return out + "."
    out = head + "，" + "，".join(text)
    if len(towns):
        out += "；逾期未整改：" + "、".join(f"{t}{c}个" for t, c in towns.items())
    return out + "。"
