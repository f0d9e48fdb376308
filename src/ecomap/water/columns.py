"""Monitoring tables as they arrive: headers matched to canonical columns, cells parsed.

Rules 3 and 4 of :mod:`ecomap.water` (river or lake, below detection) are applied here,
where the cells are read.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import numpy as np
import pandas as pd

from ecomap.i18n import message_of, tr
from ecomap.io.tables import (
    NUMBER,
    cell_text,
    header_below_title,
    parse_coordinate,
    parse_date,
    parse_number,
)
from ecomap.water.gb3838 import CLASSES, MEASURES

__all__ = ["COLUMN_ALIASES", "SITE_COLUMNS", "normalize_samples", "problem"]

#: Canonical column → headers it arrives under, matched ignoring case, spaces, ``_``,
#: ``-``, full-width forms and a trailing unit such as ``(mg/L)``; ``μg/L`` is converted
#: to mg/L and ``/100mL`` (fecal coliforms) to 个/L.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "site_name": ("断面名称", "点位名称", "断面", "点位", "监测断面", "监测点位", "站点名称",
                  "site", "station", "station name", "section"),
    "site_type": ("点位类型", "断面类型", "type"),
    "waterbody": ("水体类型", "水体", "waterbody type"),
    "river": ("河流", "河流名称", "所在河流", "river name"),
    "township": ("乡镇", "乡镇名称", "所在乡镇", "town"),
    "target_class": ("水质目标", "目标水质", "水质目标类别", "target"),
    "lon": ("经度", "lng", "long", "longitude"),
    "lat": ("纬度", "latitude"),
    "date": ("采样日期", "监测日期", "日期", "采样时间", "sampling date", "sample date"),
    "temp": ("水温", "temperature", "water temp", "water temperature"),
    "pH": ("ph值",), "DO": ("溶解氧", "dissolved oxygen"),
    "CODMn": ("高锰酸盐指数", "permanganate index"),
    "COD": ("化学需氧量", "codcr", "chemical oxygen demand"),
    "BOD5": ("五日生化需氧量", "bod", "生化需氧量"),
    "NH3N": ("氨氮", "ammonia", "ammonia nitrogen"),
    "TP": ("总磷", "总磷(以p计)", "total phosphorus"),
    "TN": ("总氮", "总氮(以n计)", "total nitrogen"),
    "Cu": ("铜", "copper"), "Zn": ("锌", "zinc"), "F": ("氟化物", "fluoride"),
    "Se": ("硒", "selenium"), "As": ("砷", "arsenic"), "Hg": ("汞", "mercury"),
    "Cd": ("镉", "cadmium"),
    "Cr6": ("六价铬", "铬(六价)", "cr6+", "cr(vi)", "crvi", "hexavalent chromium"),
    "Pb": ("铅", "lead"), "CN": ("氰化物", "cyanide"),
    "phenol": ("挥发酚", "volatile phenol", "phenols"),
    "oil": ("石油类", "petroleum", "petroleum oils"),
    "LAS": ("阴离子表面活性剂", "anionic surfactant", "anionic surfactants"),
    "S2": ("硫化物", "sulfide", "sulphide"),
    "fecal_coliform": ("粪大肠菌群", "fc", "fecal coliforms", "faecal coliforms"),
}
#: Site attributes a table may carry besides samples.
SITE_COLUMNS = ("site_type", "waterbody", "river", "township", "target_class", "lon", "lat")


def _key(text: Any) -> str:
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", str(text))).lower()


_ALIAS_INDEX = {_key(a): code for code, names in COLUMN_ALIASES.items() for a in (code, *names)}
_UNIT_TAIL = re.compile(r"^(.+?)(?:\(([^()]*)\)|\[([^\[\]]*)\]|(mg/l|μg/l|ug/l|个/l|℃|°c))$")


def _match_column(name: Any) -> tuple[str | None, float]:
    """Canonical code of a header and the factor converting its unit to mg/L (个/L)."""
    key, scale = _key(name), 1.0
    for _ in range(3):
        if key in _ALIAS_INDEX:
            return _ALIAS_INDEX[key], scale
        m = _UNIT_TAIL.match(key)
        if not m:
            break
        unit = next(g for g in m.groups()[1:] if g is not None)
        scale *= _unit_scale(unit)
        key = m.group(1)
    return None, 1.0


def _unit_scale(unit: str) -> float:
    """Factor from ``unit`` (a :func:`_key`) to mg/L (个/L for fecal coliforms)."""
    return 0.001 if unit in ("μg/l", "ug/l", "微克/升") else 10.0 if unit.endswith(
        "/100ml") else 1.0


def _has_unit(name: Any) -> bool:
    """Whether a header carries its unit, as 氨氮(mg/L) does."""
    key = _key(name)
    return key not in _ALIAS_INDEX and _UNIT_TAIL.match(key) is not None


def problem(row: int | None, field: str | None, code: str, message: str,
            severity: str = "error") -> dict:
    """One problem record: ``feature`` is the spreadsheet row, ``field`` the header."""
    return {"severity": severity, "code": code, "feature": row, "field": field,
            "message": message}


# ---------------------------------------------------------------- cells
def _measurement(text: str, code: str, scale: float, dl: float | None) -> tuple[float, bool]:
    """(value, below_dl); below detection the value is the DL (NaN when unknown)."""
    t = text.replace(" ", "")
    nd = re.fullmatch(r"(?:nd|n\.d\.|未检出)\(?<?([^()]*)\)?", t, flags=re.I)
    if nd or t.startswith("<") or re.fullmatch(rf"{NUMBER}l", t, flags=re.I):
        num = nd.group(1) if nd else t.strip("<lL")
        if code in ("pH", "temp") or not (num or nd):
            raise ValueError(tr('"{text}" 不是有效的检出限写法；请写成 "<0.01" 或 "0.01L"',
                                '"{text}" is not a detection limit; write it as "<0.01" or '
                                '"0.01L"', text=text))
        limit = parse_number(num) * scale if num else dl
        return (np.nan if limit is None else limit), True
    if t.startswith(">") and code == "fecal_coliform":  # above the MPN table: its top
        t = t[1:]
    elif t.startswith(">"):
        raise ValueError(tr('"{text}" 超出测定上限；请填写稀释后的实测值',
                            '"{text}" is above the measuring range; give the value measured '
                            'after dilution', text=text))
    value = parse_number(t, thousands=code == "fecal_coliform") * scale
    if value < 0 and code != "temp":
        raise ValueError(tr('"{text}" 为负值；浓度不能小于 0，请核对',
                            '"{text}" is negative; a concentration cannot be below 0, check it',
                            text=text))
    return value, False


def _site_type(text: str, *, column: str = "site_type") -> tuple[str, str | None]:
    """(site_type, waterbody or None) from a 点位类型 or 水体类型 cell."""
    t = text.lower()
    lake = any(s in t for s in ("湖", "库", "lake", "reservoir"))
    river = any(s in t for s in ("河", "江", "溪", "river", "stream"))
    body = "lake" if lake else "river" if river else None
    if column == "site_type" and any(s in t for s in ("饮用", "水源", "drinking")):
        return "drinking", body
    if body is None:
        raise ValueError(tr('"{text}" 不是点位类型；请填 河流、湖库 或 饮用水源（可注明 湖库/河流）',
                            '"{text}" is not a site type; write 河流 (river), 湖库 (lake) or '
                            '饮用水源 (drinking-water source, may add 湖库/河流)', text=text)
                         if column == "site_type" else
                         tr('"{text}" 不是水体类型；请填 河流 或 湖库',
                            '"{text}" is not a waterbody type; write 河流 (river) or 湖库 (lake)',
                            text=text))
    return body, body


def _target(text: str) -> str:
    t = text.upper().removesuffix("类").removesuffix("水").strip()
    t = dict(zip("12345一二三四五", CLASSES[:5] * 2, strict=True)).get(t, t)
    if t not in CLASSES[:5]:
        raise ValueError(tr('"{text}" 不是水质目标类别；请填 I、II、III、IV 或 V（如 Ⅲ类）',
                            '"{text}" is not a water quality class; write I, II, III, IV or V '
                            '(e.g. Ⅲ类)', text=text))
    return t


def _waterbody_of(name: Any, site_type: Any, hint: str | None, river: Any) -> str | None:
    """Rule 3 of :mod:`ecomap.water`."""
    if hint is not None:
        return hint
    if isinstance(name, str) and re.search(r"(水库|湖)(坝前|库心|库区|取水口)?$", name):
        return "lake"
    if site_type == "drinking" or isinstance(river, str) or (
            isinstance(name, str) and re.search("[河江溪]", name)):
        return "river"
    return None


def _parse_cell(code: str, text: str, scale: float, dl: float | None) -> tuple[Any, Any]:
    """(value, extra): extra is the below-DL flag for measures, the waterbody for types."""
    if code in MEASURES:
        return _measurement(text, code, scale, dl)
    if code in ("site_type", "waterbody"):
        return _site_type(text, column=code)
    if code in ("lon", "lat"):
        return parse_coordinate(text, axis=code), None
    if code == "date":
        return parse_date(text), None
    return (_target(text) if code == "target_class" else text), None


# ---------------------------------------------------------------- tables
def _with_header(df: pd.DataFrame) -> pd.DataFrame:
    """The table itself, or — when no header is known — the part below the first of its
    first 10 rows naming two known columns (a title row above the header)."""
    return header_below_title(df, lambda c: _match_column(c)[0] is not None)


# Cells of a units row under the header: 无量纲, mg/L, μg/L, ℃, 个/L, MPN/L …
_UNIT_CELL = re.compile(
    r"^(?:单位|计量单位|无量纲|量纲一|ph|ph值|度|°|℃|°c|%|ntu|m|km|米|千米|"
    r"(?:mg|μg|ug|ng|g)/(?:l|m3)|(?:毫克|微克)/升|(?:个|mpn|cfu)?/(?:l|100ml|升)|"
    r"(?:ms|μs|us)/(?:m|cm)|年/?月/?日|yyyy[-/.]?mm[-/.]?dd|日期|经度|纬度|度分秒)$")
# First cells of the notes Chinese tables end with.
_NOTE_START = re.compile(r"^(?:注|备注|说明|附注|数据来源|来源|资料来源|制表|填表|审核|负责人|"
                         r"单位负责人|[*※#]|note|source)", re.IGNORECASE)


def _unit_key(text: str) -> str:
    return _key(text).strip("()[]（）")


def _units_row(df: pd.DataFrame) -> dict[Any, str] | None:
    """The units the first row gives by column, when it is a units row (else None)."""
    if not len(df):
        return None
    cells = {col: cell_text(v) for col, v in zip(df.columns, df.iloc[0].tolist(), strict=True)}
    filled = {col: t for col, t in cells.items() if t is not None}
    if not filled or not all(_UNIT_CELL.match(_unit_key(t)) for t in filled.values()):
        return None
    measured = [c for c in filled if _match_column(c)[0] in MEASURES]
    return filled if measured else None


def _footnote_rows(df: pd.DataFrame) -> list:
    """Index labels of the trailing rows that are notes: text in the first cell only."""
    notes: list = []
    for label in reversed(df.index.tolist()):
        cells = [cell_text(v) for v in df.loc[label].tolist()]
        first, rest = cells[0], cells[1:]
        if first is None or any(t is not None for t in rest):
            break
        if not (_NOTE_START.match(first) or re.search("[:：]", first) or len(first) >= 12):
            break
        notes.append(label)
    return notes[::-1]


def _drop_units_and_notes(df: pd.DataFrame, found: dict, problems: list) -> pd.DataFrame:
    """Drop a units row under the header and notes after the data, saying so; the units
    row's μg/L (or /100mL) converts like a unit in the header (updates ``found``)."""
    from ecomap.i18n import tr

    numbered = pd.api.types.is_integer_dtype(df.index)
    units = _units_row(df)
    if units is not None:
        row = int(df.index[0]) + 2 if numbered else 2
        for code, (col, scale) in list(found.items()):
            if col in units and not _has_unit(col) and code in MEASURES:
                found[code] = (col, scale * _unit_scale(_unit_key(units[col])))
        shown = "、".join(list(dict.fromkeys(units.values()))[:6])
        problems.append(problem(None, None, "units_row", tr(
            "第{row}行是单位行（{units}），不是样品；已略去，并按其中的单位换算",
            "row {row} is a units row ({units}), not a sample; left out, its units applied",
            row=row, units=shown), "note"))
        df = df.iloc[1:]
    notes = _footnote_rows(df)
    if notes:
        rows = [int(i) + 2 for i in notes] if numbered else []
        first = str(df.loc[notes[0]].iloc[0]).strip()
        problems.append(problem(None, None, "footnote_rows", tr(
            "第{rows}行是表注（“{text}”），不是样品；已略去",
            "row(s) {rows} are notes (\u201c{text}\u201d), not samples; left out",
            rows="、".join(map(str, rows)) if rows else "?", text=first[:40]), "note"))
        df = df.drop(index=notes)
    return df


def normalize_samples(
    df: pd.DataFrame, *, detection_limits: dict[str, float] | None = None
) -> tuple[pd.DataFrame, list[dict]]:
    """Canonical columns and parsed values from a monitoring (or site) table.

    Parameters
    ----------
    df
        Table as read by :func:`ecomap.io.tables.read_table` (cells as text, row ``i``
        of the index is spreadsheet row ``i + 2``), with Chinese or English headers
        (:data:`COLUMN_ALIASES`) on the first row — or below a title row.
    detection_limits
        DL in mg/L by parameter code, for ``ND``/``未检出`` cells that give none.

    Returns
    -------
    samples
        One row per row that is not blank, in order: ``source_row`` (the spreadsheet
        row), the canonical columns found — names as text, ``site_type``
        river/lake/drinking, ``waterbody`` river/lake (rule 3), ``target_class`` I–V,
        ``lon``/``lat`` in decimal degrees, ``date`` as datetime, measures as floats in
        mg/L each followed by ``<code>_below_dl`` (rule 4) — then unrecognised columns
        unchanged.  ``samples.attrs["headers"]`` maps each code found to its header.
    problems
        One dict (``severity``, ``code``, ``feature`` = spreadsheet row, ``field`` =
        original header, ``message`` with the value and the fix) per unreadable cell
        ("bad_value", left missing in ``samples``) and per duplicated column or table
        without any known header.  Blank cells (also ``-``, ``—``, ``/``) are missing and
        not problems.

    Notes
    -----
    Values may be written ``<0.01``, ``0.01L``, ``ND``, ``未检出``, ``ND(0.01)``, with a
    decimal comma (``0,12``; ``1,234`` is refused as ambiguous except for fecal
    coliforms, where commas group thousands and ``>24000`` reads as 24000).  Dates and
    coordinates: see :func:`ecomap.io.tables.parse_date` and ``parse_coordinate``.
    """
    dls = detection_limits or {}
    problems: list[dict] = []
    df = _with_header(df)
    if len(df.columns):
        df = df[~df.apply(lambda col: col.map(cell_text).isna()).all(axis=1)]
    found: dict[str, tuple[Any, float]] = {}
    extra = []
    for col in df.columns:
        code, scale = _match_column(col)
        if code in found:
            problems.append(problem(None, str(col), "duplicate_column", tr(
                "列「{col}」与「{other}」表示同一项（{code}）；请删除或改名其中一列（此列原样保留，"
                "未使用）",
                "column “{col}” means the same item as “{other}” ({code}); delete or rename one "
                "of them (this one is kept as it is, unused)", col=col, other=found[code][0],
                code=code)))
        if code is None or code in found:
            extra.append(col)
        else:
            found[code] = (col, scale)
    if not found:
        problems.append(problem(None, None, "missing_column", "没有识别出任何列；表头须在前几行，"
                                "如 断面名称、采样日期、溶解氧、氨氮、总磷"))
    else:
        df = _drop_units_and_notes(df, found, problems)
    numbered = pd.api.types.is_integer_dtype(df.index)
    rows = [int(i) + 2 for i in df.index] if numbered else list(range(2, len(df) + 2))
    out: dict[str, Any] = {"source_row": rows}
    hints: list[str | None] = [None] * len(df)
    for code in (c for c in COLUMN_ALIASES if c in found):
        col, scale = found[code]
        values, extras = [None] * len(df), [False] * len(df)
        for i, cell in enumerate(df[col].tolist()):
            text = cell_text(cell)
            if text is None:
                continue
            try:
                values[i], extras[i] = _parse_cell(code, text, scale, dls.get(code))
            except ValueError as exc:
                problems.append(problem(rows[i], str(col), "bad_value", tr(
                    "第{row}行「{col}」：{exc}", "row {row}, column “{col}”: {exc}",
                    row=rows[i], col=col, exc=message_of(exc))))
        if code in ("site_type", "waterbody"):
            hints = [e if e else h for e, h in zip(extras, hints, strict=True)]
        if code in MEASURES or code in ("lon", "lat"):
            out[code] = np.array([np.nan if v is None else v for v in values], dtype=float)
            if code in MEASURES and code != "temp":
                out[f"{code}_below_dl"] = np.array(extras, dtype=bool)
        elif code == "date":
            out[code] = pd.to_datetime(pd.Series([pd.NaT if v is None else v for v in values],
                                                 dtype=object))
        else:
            out[code] = pd.Series(values, dtype=object)
    if found.keys() & {"site_type", "waterbody", "site_name", "river"}:
        cols = [out.get(c, [None] * len(df)) for c in ("site_name", "site_type")]
        out["waterbody"] = pd.Series([_waterbody_of(n, t, h, r) for n, t, h, r in zip(
            *cols, hints, out.get("river", [None] * len(df)), strict=True)], dtype=object)
    frame = pd.DataFrame(out)
    order = ["source_row", *(c for c in COLUMN_ALIASES if c in frame)]
    frame = frame[[c for code in order for c in (code, f"{code}_below_dl") if c in frame]]
    for col in extra:
        frame[col if col not in frame else f"{col} (原列)"] = df[col].to_numpy()
    frame.attrs["headers"] = {code: str(col) for code, (col, _) in found.items()}
    return frame, problems
