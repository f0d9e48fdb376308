"""The XLSX the bureau sends to a township (``ecomap patches template``) and its reading
back (``ecomap patches update-from``): every bad cell named by row, column letter and
header, nothing stored when any row is wrong, no event for an unchanged row."""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import pandas as pd

from ecomap.errors import InputError, ValidationError
from ecomap.i18n import tr
from ecomap.patches.service import parse_date, store_patch_table
from ecomap.patches.status import (
    DATE_FIELDS,
    FIELD_LABELS,
    STATUSES,
    UNLAWFUL_TYPES,
    VERIFICATIONS,
    patch_state,
    plan_change,
)

__all__ = ["event_time", "read_updates", "template_bytes", "update_from"]

#: Columns of the template: (key, Chinese header, English header).
COLUMNS = [("patch_id", "图斑编号", "Patch ID"), ("township", "乡镇", "Township"),
           ("village", "村", "Village"), ("area_mu", "面积(亩)", "Area (mu)"),
           ("change_type", "变化类型", "Change type"),
           *((f, zh, en) for f, (zh, en) in FIELD_LABELS.items()),
           # When the row's changes were made (blank: the day the table is read back).
           ("changed_on", "变更日期", "Date of change")]
_LISTS = {"verification": VERIFICATIONS, "unlawful_type": UNLAWFUL_TYPES,
          "status": STATUSES}
_EDITABLE = [f for f in FIELD_LABELS]


def template_bytes(store, *, year: int, township: str | None = None,
                   county: str = "") -> bytes:
    """The township's patch list of ``year`` with their current state, as XLSX bytes:
    a title row, a note row, the header, one row per patch; drop-downs for 核实结果,
    违法类型 and 整改状态, a date format for the dates."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    table = store_patch_table(store, year=year, township=township)
    wb = Workbook()
    ws = wb.active
    ws.title = "图斑核实整改"
    where = township or county or "全县"
    ws.append([f"{where}{year}年度森林督查问题图斑核实整改情况表"])
    ws.append(["说明：核实结果、违法类型、整改状态请从下拉列表选择；日期填 YYYY-MM-DD；"
               "变更日期填核实或整改的日期（整改、销号以整改日期、销号日期为准）；"
               "图斑编号请勿修改；空白单元格表示不变。填好后交回县林业局。"])
    ws.append([zh for _, zh, _ in COLUMNS])
    ncol = len(COLUMNS)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=ncol)
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws["A2"].alignment = Alignment(wrap_text=True)
    ws.row_dimensions[2].height = 30
    for c in range(1, ncol + 1):
        ws.cell(3, c).font = Font(bold=True)
    for _, row in table.iterrows():
        values = []
        for key, _, _ in COLUMNS:
            v = row.get(key)
            if key in DATE_FIELDS and v:
                v = dt.date.fromisoformat(str(v)[:10])
            elif key == "status" and row.get("verification") == "未核实":
                v = None  # the default: left blank until the patch is verified
            elif v is not None and not isinstance(v, str) and pd.isna(v):
                v = None
            elif key == "area_mu":
                v = round(float(v), 2)
            values.append(v)
        ws.append(values)
    last = max(ws.max_row, 4) + 200  # room for rows a township adds by mistake: checked
    for key, options in _LISTS.items():
        col = get_column_letter(_col(key))
        dv = DataValidation(type="list", formula1='"' + ",".join(options) + '"',
                            allow_blank=True, showErrorMessage=True,
                            errorTitle="不在列表中", error="请从下拉列表中选择")
        dv.add(f"{col}4:{col}{last}")
        ws.add_data_validation(dv)
    for key in (*DATE_FIELDS, "changed_on"):
        col = get_column_letter(_col(key))
        for r in range(4, ws.max_row + 1):
            ws[f"{col}{r}"].number_format = "yyyy-mm-dd"
        dv = DataValidation(type="date", operator="greaterThan", formula1="36526",
                            allow_blank=True, showErrorMessage=True, errorTitle="不是日期",
                            error="请填写日期，如 2023-05-31")
        dv.add(f"{col}4:{col}{last}")
        ws.add_data_validation(dv)
    widths = {"patch_id": 18, "unlawful_type": 16, "note": 30}
    for i, (key, zh, _) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(key, max(12, len(zh) * 3))
    ws.freeze_panes = "B4"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _col(key: str) -> int:
    return next(i for i, (k, _, _) in enumerate(COLUMNS, start=1) if k == key)


def read_updates(path: str | os.PathLike, store, *, name: str | None = None
                 ) -> pd.DataFrame:
    """The events a filled-in template asks for (``patch_id``, ``field``, ``value``),
    checked row by row against the stored state.

    Raises :class:`~ecomap.errors.ValidationError` listing every bad cell (row, column
    letter, header: unknown patch ID, a value not in the list, a date that is not a
    date, a refused transition); nothing is returned then.
    """
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    from ecomap.io.tables import reading_xlsx

    shown = name or Path(path).name
    with reading_xlsx(Path(path), shown):  # a DTD refused, a damaged file explained
        wb = load_workbook(path, read_only=True, data_only=True)
        rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        wb.close()
    names = {h: k for k, zh, en in COLUMNS for h in (zh, en, k)}
    today = dt.date.today().isoformat()
    head = next((i for i, r in enumerate(rows[:10])
                 if any(str(c).strip() in ("图斑编号", "Patch ID", "patch_id")
                        for c in r if c is not None)), None)
    if head is None:
        raise InputError(tr("{file}：前 10 行中找不到表头“图斑编号”；请用 ecomap patches "
                            "template 生成的表格", "{file}: no 图斑编号 (Patch ID) header in "
                            "the first 10 rows; use the table 'ecomap patches template' "
                            "writes", file=shown))
    cols = {names[str(c).strip()]: j for j, c in enumerate(rows[head])
            if c is not None and str(c).strip() in names}
    events = store.patch_events()
    stored = set(store.patches()["patch_id"].astype(str))
    state = patch_state(events, patch_ids=sorted(stored)).set_index("patch_id")
    problems, out = [], []

    def bad(r, key, msg):
        letter = get_column_letter(cols[key] + 1)
        header = rows[head][cols[key]]
        problems.append({"severity": "error", "code": "bad_cell", "feature": r, "field":
                         str(header), "message": tr(
                             "{file} 第 {row} 行 {col} 列（{header}）：{msg}",
                             "{file} row {row}, column {col} ({header}): {msg}", file=shown,
                             row=r, col=letter, header=header, msg=msg)})

    seen: dict[str, int] = {}
    for i, r in enumerate(rows[head + 1:], start=head + 2):
        def cell(k, r=r):
            return r[cols[k]] if k in cols and cols[k] < len(r) else None

        pid = cell("patch_id")
        if pid is None or str(pid).strip() == "":
            if any(cell(k) not in (None, "") for k in _EDITABLE):
                bad(i, "patch_id", tr("没有图斑编号", "no patch ID"))
            continue
        pid = str(pid).strip()
        if pid not in stored:
            bad(i, "patch_id", tr("库中没有图斑 {id}", "no patch {id} in the store", id=pid))
            continue
        if pid in seen:
            bad(i, "patch_id", tr("图斑 {id} 已在第 {r} 行出现", "patch {id} is on row {r} "
                                  "already", id=pid, r=seen[pid]))
            continue
        seen[pid] = i
        changes, ok = {}, True
        for key in _EDITABLE:
            v = cell(key)
            if v is None or (isinstance(v, str) and not v.strip()):
                continue
            if key in DATE_FIELDS:
                try:
                    v = parse_date(v)
                except (ValueError, TypeError):
                    bad(i, key, tr("{v!r} 不是日期（应为 YYYY-MM-DD）",
                                   "{v!r} is not a date (YYYY-MM-DD)", v=v))
                    ok = False
                    continue
            else:
                v = str(v).strip()
                if key in _LISTS and v not in _LISTS[key]:
                    bad(i, key, tr("{v!r} 不在下拉列表中（可选：{opts}）",
                                   "{v!r} is not in the list ({opts})", v=v,
                                   opts="、".join(_LISTS[key])))
                    ok = False
                    continue
            changes[key] = v
        changed_on = cell("changed_on")
        if changed_on not in (None, "") and changes:
            try:
                changed_on = parse_date(changed_on)
            except (ValueError, TypeError):
                bad(i, "changed_on", tr("{v!r} 不是日期（应为 YYYY-MM-DD）",
                                        "{v!r} is not a date (YYYY-MM-DD)", v=changed_on))
                continue
        else:
            changed_on = None
        if not ok:
            continue
        planned, refused = plan_change(pid, state.loc[pid].to_dict(), changes)
        for msg in refused:
            bad(i, "status" if "status" in cols else "patch_id", msg)
        timed = [(f, v, event_time(f, v, changes, changed_on)) for f, v in planned]
        late = state.loc[pid, "updated_at"]
        for f, _v, at in timed:
            if at is not None and (at[:10] > today or (late and at < late)):
                key = _date_source(f, _v, changes)
                key = key if key in cols else "patch_id"
                bad(i, key, tr("日期 {d} 早于该图斑已登记的最近一次变更 ({last}) 或晚于今天；"
                               "历史只能向后添加", "date {d} is before the patch's latest "
                               "recorded change ({last}) or after today; history is only "
                               "added to", d=at[:10], last=(late or "-")[:10]))
                ok = False
                break
        if ok:
            out += [(pid, f, v, at) for f, v, at in timed]
    if problems:
        raise ValidationError(tr("{file}：{n} 处错误，未入库（改正后重新导入整张表）",
                                 "{file}: {n} problem(s), nothing stored (correct them and "
                                 "import the whole table again)", file=shown,
                                 n=len(problems)), problems)
    return pd.DataFrame(out, columns=["patch_id", "field", "value", "at"])


#: A date-only change is recorded at noon in China (UTC+8): 04:00 UTC that day.
_NOON_UTC = "T04:00:00Z"


def _date_source(field: str, value, changes: dict) -> str:
    """The column whose date an event takes (see :func:`event_time`)."""
    if field == "status" and value == "已整改" and changes.get("rectified_on"):
        return "rectified_on"
    if field == "status" and value == "已销号" and changes.get("closed_on"):
        return "closed_on"
    if field in ("rectified_on", "closed_on") and value:
        return field
    return "changed_on"


def event_time(field: str, value, changes: dict, changed_on: str | None) -> str | None:
    """When an event of a row happened (UTC ISO), from the dates the row carries: a
    rectification on its 整改日期, a closing on its 销号日期, the rest on the row's
    变更日期; None (the time it is stored) when the row gives no date for it."""
    source = _date_source(field, value, changes)
    day = changed_on if source == "changed_on" else changes[source]
    return f"{str(day)[:10]}{_NOON_UTC}" if day else None


def update_from(path: str | os.PathLike, store, *, user: str, name: str | None = None
                ) -> tuple[int | None, pd.DataFrame]:
    """Read a filled-in template (:func:`read_updates`) and store its events as one
    batch of kind ``patch_updates``; returns the batch id (None when nothing changed)
    and the events."""
    from ecomap.io.vector import file_sha256
    from ecomap.store import Provenance

    shown = name or Path(path).name
    events = read_updates(path, store, name=shown)
    if not len(events):
        return None, events
    snapshot = len(store.patch_events())

    def check(_stored):  # the table was checked against the state stored when read
        if len(store.patch_events()) != snapshot:
            raise ValidationError(tr("{file}：读取期间图斑状态已被他人修改；请重新导入",
                                     "{file}: patch states changed while it was read; "
                                     "import it again", file=shown))
    batch = store.add_patch_events(events, user=user, check=check, provenance=Provenance(
        shown, file_sha256(path), user))
    return batch, events
