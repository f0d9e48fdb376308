"""Targets tables as the bureau writes them: headers matched, cells checked, units converted.

A targets table (任务分解表) has one row per township (or the county as a whole) and
category: 乡镇, 类别, 年度, 任务量, 单位.  Quantities are converted to the category's
report unit (:attr:`ecomap.schema.Category.report_unit`): 亩 for most categories, km²
for soil-erosion control, a count for patches.  Every bad cell is reported with its
spreadsheet row and column; a table with any is refused whole.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd

from ecomap.errors import InputError, ValidationError
from ecomap.i18n import message_of, tr
from ecomap.io.tables import cell_text, header_below_title, parse_number, read_table
from ecomap.schema import CATEGORIES, get_category
from ecomap.townnames import match_township

__all__ = ["COLUMN_ALIASES", "COUNTY_WORDS", "UNITS", "normalize_targets", "read_targets",
           "unit_label"]

#: Canonical column → headers it arrives under (ignoring case, spaces and a unit in
#: brackets after the name, as in 任务量(亩)).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "township": ("乡镇", "乡镇名称", "乡(镇)", "乡镇(场)", "实施乡镇", "所在乡镇", "town",
                 "township"),
    "category": ("类别", "任务类别", "项目", "项目名称", "任务类型", "建设内容", "工程类别",
                 "category"),
    "year": ("年度", "年份", "任务年度", "实施年度", "year"),
    "quantity": ("任务量", "目标任务", "计划任务", "任务", "下达任务", "任务数", "目标任务量",
                 "计划任务量", "任务面积", "target", "quantity"),
    "unit": ("单位", "计量单位", "unit"),
}

#: Township cells that mean the county as a whole (besides a blank and the county's name).
COUNTY_WORDS = frozenset({"全县", "县级", "县本级", "合计", "总计", "county", "total"})

#: Unit spellings → (kind, factor to the base unit: 亩 for areas, 1 for counts).
UNITS: dict[str, tuple[str, float]] = {
    "亩": ("area", 1.0), "mu": ("area", 1.0),
    "万亩": ("area", 10_000.0),
    "公顷": ("area", 15.0), "ha": ("area", 15.0), "hm2": ("area", 15.0),
    "平方公里": ("area", 1500.0), "平方千米": ("area", 1500.0), "km2": ("area", 1500.0),
    "平方米": ("area", 0.0015), "m2": ("area", 0.0015),
    "个": ("count", 1.0), "处": ("count", 1.0), "块": ("count", 1.0), "片": ("count", 1.0),
    "patches": ("count", 1.0), "areas": ("count", 1.0),
}
_MU_PER = {"mu": 1.0, "km2": 1500.0}  # 亩 in one report unit of an area category

_UNIT_LABELS = {"mu": ("亩", "mu"), "km2": ("平方公里", "km²"), "patches": ("个", "patches"),
                "areas": ("片", "areas")}


def unit_label(unit: str, lang: str = "zh") -> str:
    """How a report unit code (``mu``, ``km2``, ``patches``, ``areas``) is written."""
    zh, en = _UNIT_LABELS.get(unit, (unit, unit))
    return zh if lang == "zh" else en


def _key(text: Any) -> str:
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", str(text))).lower()


_ALIAS_INDEX = {_key(a): code for code, names in COLUMN_ALIASES.items() for a in (code, *names)}
_UNIT_TAIL = re.compile(r"^(.+?)[(\[]([^()\[\]]*)[)\]]$")


def _match_column(name: Any) -> tuple[str | None, str | None]:
    """Canonical code of a header, and the unit written after it (任务量(万亩) → 万亩)."""
    key = _key(name)
    if key in _ALIAS_INDEX:
        return _ALIAS_INDEX[key], None
    m = _UNIT_TAIL.match(key)
    if m and m.group(1) in _ALIAS_INDEX:
        return _ALIAS_INDEX[m.group(1)], m.group(2)
    return None, None


def _letter(position: int) -> str:
    """Excel's letter of a 0-based column position (0 → A, 26 → AA)."""
    out, n = "", position + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _problem(row: int | None, field: str | None, code: str, message) -> dict:
    return {"severity": "error", "code": code, "feature": row, "field": field,
            "message": message}


def read_targets(path: str | Path, *, townships, county: str | None = None,
                 year: int | None = None, name: str | None = None,
                 encoding: str | None = None, sheet: str | int | None = None
                 ) -> pd.DataFrame:
    """Read and check a targets table (``.xlsx`` or ``.csv``, GBK or UTF-8).

    Parameters
    ----------
    path
        The file.
    townships
        The county's township names (``Store.townships()["name"]``).
    county
        The county's name: a row naming it is a county target.
    year
        The year of every row without a 年度 cell (or of the whole file).
    name, encoding, sheet
        As :func:`ecomap.io.tables.read_table`.

    Returns
    -------
    pandas.DataFrame
        See :func:`normalize_targets`.

    Raises
    ------
    ecomap.errors.ValidationError
        Any row is wrong; ``problems`` names each (row, column, value, fix).
    """
    shown = name or Path(path).name
    frame = read_table(path, encoding=encoding, sheet=sheet, name=shown)
    return normalize_targets(frame, townships=townships, county=county, year=year,
                             name=shown)


def normalize_targets(df: pd.DataFrame, *, townships, county: str | None = None,
                      year: int | None = None, name: str = "targets") -> pd.DataFrame:
    """Canonical targets from a table read by :func:`ecomap.io.tables.read_table`.

    Returns
    -------
    pandas.DataFrame
        ``township`` (official name; None for the county as a whole), ``category``
        (code), ``year``, ``quantity`` (in ``unit``, the category's report unit),
        ``unit``, ``source_row`` (the spreadsheet row).  ``attrs["notes"]`` lists the
        quantities converted from another unit.

    Raises
    ------
    ecomap.errors.ValidationError
        Naming ``name``, with one problem per bad cell, missing column or repeated row;
        nothing is returned then.
    """
    towns = [str(t) for t in townships if t is not None]
    df = header_below_title(df, lambda c: _match_column(c)[0] is not None)
    headers = [str(c) for c in df.columns]
    found: dict[str, tuple[str, int, str | None]] = {}  # code -> (header, position, unit)
    problems: list[dict] = []
    for i, col in enumerate(headers):
        code, unit = _match_column(col)
        if code is not None and code not in found:
            found[code] = (col, i, unit)
    required = ["category", "quantity"] + ([] if year is not None else ["year"])
    for code in required:
        if code not in found:
            names = "、".join(COLUMN_ALIASES[code][:3])
            problems.append(_problem(None, None, "missing_column", tr(
                "{file}：没有“{names}”列；表头须在前几行{extra}",
                "{file}: no column {names}; the header must be in the first rows{extra}",
                file=name, names=names,
                extra=tr("（或用 --year 指定全表的年度）", " (or give the year of the whole "
                         "file with --year)") if code == "year" else "")))
    if problems:
        raise ValidationError(tr("{file}：不是任务表，未入库", "{file}: not a targets table; "
                                 "nothing stored", file=name), problems)
    numbered = pd.api.types.is_integer_dtype(df.index)
    rows = [int(i) + 2 for i in df.index] if numbered else list(range(2, len(df) + 2))
    cells = {code: df.iloc[:, pos].tolist() for code, (_, pos, _) in found.items()}
    where = {code: (col, _letter(pos)) for code, (col, pos, _) in found.items()}
    out, notes, seen = [], [], {}

    def bad(i: int, code: str, kind: str, message) -> None:
        col, letter = where[code]
        problems.append(_problem(rows[i], col, kind, tr(
            "{file} 第{row}行 {letter}列「{col}」：{message}",
            "{file}, row {row}, column {letter} (“{col}”): {message}",
            file=name, row=rows[i], letter=letter, col=col, message=message)))

    county_words = {_key(w) for w in (*COUNTY_WORDS, *([county] if county else []))}
    for i in range(len(df)):
        text = {code: cell_text(v[i]) for code, v in cells.items()}
        if not any(text.values()):
            continue
        ok = True
        town = text.get("township")
        if town is not None and _key(town) not in county_words:
            matched = match_township(town, towns, county)
            if matched is None:
                bad(i, "township", "unknown_township", tr(
                    "“{value}” 不是本县的乡镇；请填以下之一（全县任务填“全县”或留空）：{names}",
                    "“{value}” is not a township of the county; write one of these (for the "
                    "county as a whole, 全县 or nothing): {names}",
                    value=town, names="、".join(towns) or "—"))
                ok = False
            town = matched
        else:
            town = None
        cat = None
        if text.get("category") is None:
            bad(i, "category", "missing_category", tr(
                "类别为空；请填类别名称，如 人工造林", "no category; write one, e.g. 人工造林"))
            ok = False
        else:
            try:
                cat = get_category(text["category"])
            except InputError as exc:
                bad(i, "category", "unknown_category", message_of(exc))
                ok = False
        the_year = year
        if text.get("year") is not None:
            the_year = _year(text["year"])
            if the_year is None:
                bad(i, "year", "bad_year", tr(
                    "“{value}” 不是年度；请填四位年份，如 2023",
                    "“{value}” is not a year; write four digits, e.g. 2023",
                    value=text["year"]))
                ok = False
        elif year is None:
            bad(i, "year", "missing_year", tr(
                "年度为空；请填年度，或用 --year 指定全表的年度",
                "no year; fill it in, or give the year of the whole file with --year"))
            ok = False
        quantity = None
        if text.get("quantity") is None:
            bad(i, "quantity", "missing_quantity", tr(
                "任务量为空；请填数字（没有任务的行请删除）",
                "no target quantity; write a number (delete rows without a target)"))
            ok = False
        else:
            try:
                quantity = parse_number(text["quantity"], thousands=True)
            except ValueError as exc:
                bad(i, "quantity", "bad_quantity", message_of(exc))
                ok = False
            else:
                if quantity < 0:
                    bad(i, "quantity", "negative_quantity", tr(
                        "“{value}” 为负数；任务量不能小于 0",
                        "“{value}” is negative; a target cannot be below 0",
                        value=text["quantity"]))
                    ok = False
        unit_text = text.get("unit") or (found["quantity"][2] if "quantity" in found else None)
        unit_code = "unit" if text.get("unit") else "quantity"
        converted = None
        if cat is not None and quantity is not None and ok:
            converted = _convert(quantity, unit_text, cat.report_unit)
            if not isinstance(converted, float):
                bad(i, unit_code, "bad_unit", converted)
                ok = False
            elif unit_text is not None and _key(unit_text) not in (
                    cat.report_unit, _key(unit_label(cat.report_unit))):
                notes.append(tr("第{row}行：{value}{unit} 换算为 {result}{report}",
                                "row {row}: {value} {unit} converted to {result} {report}",
                                row=rows[i], value=text["quantity"], unit=unit_text,
                                result=f"{converted:g}", report=unit_label(cat.report_unit)))
        if not ok:
            continue
        key = (town, cat.code, int(the_year))
        if key in seen:
            bad(i, "category", "duplicate_target", tr(
                "{town} {category} {year}年的任务已在第{first}行给出；每个乡镇、类别、年度只填一行",
                "the {year} target of {category} for {town} is already given on row "
                "{first}; one row per township, category and year",
                town=town or tr("全县", "the county"), category=tr(cat.zh, cat.en),
                year=int(the_year),
                first=seen[key]))
            continue
        seen[key] = rows[i]
        out.append({"township": town, "category": cat.code, "year": int(the_year),
                    "quantity": float(converted), "unit": cat.report_unit,
                    "source_row": rows[i]})
    if not out and not problems:
        problems.append(_problem(None, None, "empty", tr(
            "{file}：表中没有任务行", "{file}: the table holds no target rows", file=name)))
    if problems:
        raise ValidationError(tr(
            "{file}：{n} 处错误，未入库；请改正后重新导入",
            "{file}: {n} problem(s); nothing stored — correct them and import again",
            file=name, n=len(problems)), problems)
    frame = pd.DataFrame(out, columns=["township", "category", "year", "quantity", "unit",
                                       "source_row"])
    frame["township"] = pd.Series([r["township"] for r in out], dtype=object)
    frame.attrs["notes"] = notes
    return frame


def _year(text: str) -> int | None:
    t = text.strip().removesuffix("年").removesuffix("年度")
    try:
        value = float(t)
    except ValueError:
        return None
    return int(value) if value == int(value) and 1949 <= value <= 2100 else None


def _convert(quantity: float, unit: str | None, report_unit: str):
    """``quantity`` given in ``unit`` (None: already the report unit) in ``report_unit``,
    or the message saying why the unit does not fit."""
    if unit is None:
        return float(quantity)
    spec = UNITS.get(_key(unit))
    if spec is None:
        return tr("“{unit}” 不是认识的单位；请用 亩、万亩、公顷、平方公里 或 个",
                  "“{unit}” is not a known unit; use 亩, 万亩, 公顷 (ha), 平方公里 (km²) or "
                  "个 (count)", unit=unit)
    kind, factor = spec
    if report_unit in _MU_PER:
        if kind != "area":
            return tr("“{unit}” 是个数单位，这一类别按面积下达；请用 {report}（或 亩、万亩、公顷）",
                      "“{unit}” counts things, but this category's target is an area; use "
                      "{report} (or 亩, 万亩, 公顷)", unit=unit,
                      report=unit_label(report_unit))
        return float(quantity * factor / _MU_PER[report_unit])
    if kind != "count":
        return tr("“{unit}” 是面积单位，这一类别按个数下达；请填个数（单位 {report}）",
                  "“{unit}” is an area, but this category's target is a count; write the "
                  "number ({report})", unit=unit, report=unit_label(report_unit))
    return float(quantity)


assert all(c.report_unit in _UNIT_LABELS for c in CATEGORIES.values())
