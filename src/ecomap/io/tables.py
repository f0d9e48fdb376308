"""Read tabular uploads (CSV, XLSX) with every cell kept as text, and parse such cells.

Cells stay strings (``dtype=str``, no NA guessing) so that values such as ``<0.01``,
``0.01L``, ``0,12``, ``ND`` or ``2023年5月6日`` reach the parsers unchanged and nothing is
lost before parsing; blanks are empty strings.  CSV files written by Chinese Excel/WPS
are often GBK/GB18030; the encoding is detected unless given.

The ``parse_*`` helpers read the number, date and coordinate spellings found in Chinese
spreadsheets.  They raise ``ValueError`` with a Chinese message quoting the value and
the fix, which domain modules turn into problem reports.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import logging
import math
import re
import unicodedata
import warnings
import zipfile
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import pandas as pd
from openpyxl.utils.exceptions import InvalidFileException

from ecomap.errors import InputError
from ecomap.i18n import tr
from ecomap.io.archive import scrub_paths

__all__ = ["cell_text", "header_below_title", "parse_coordinate", "parse_date", "parse_number",
           "read_table", "reading_xlsx"]

log = logging.getLogger(__name__)

_CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
_XLSX_SUFFIXES = {".xlsx", ".xlsm"}


def read_table(
    path: str | Path, *, encoding: str | None = None, sheet: str | int | None = None,
    name: str | None = None,
) -> pd.DataFrame:
    """Read a CSV or XLSX table with all cells as strings.

    Parameters
    ----------
    path
        A ``.csv`` (also ``.txt``/``.tsv``) or ``.xlsx``/``.xlsm`` file whose first row
        holds the column headers.
    encoding
        Text encoding of a CSV file.  By default it is detected: UTF-16 or UTF-8 when
        the file starts with a byte-order mark, else UTF-8 when the bytes decode as
        UTF-8, else GB18030 (a superset of GBK and GB2312).
    sheet
        Worksheet name or 0-based position in a workbook; the first sheet by default.
    name
        The file name as the user sent it, for messages (default: ``path``'s name).

    Returns
    -------
    pandas.DataFrame
        One string column per header; blank cells are ``""``.  Rows whose every cell
        is blank are left out, and the index keeps each row's place: the row with index
        ``i`` is spreadsheet (or CSV line) row ``i + 2``.

    Raises
    ------
    ecomap.errors.InputError
        The file is missing, of an unsupported type, not decodable, not parseable, or a
        workbook with a DTD; the message names the file and what to do.
    """
    p = Path(path)
    shown = name or p.name
    suffix = p.suffix.lower()
    if suffix == ".xls":
        raise InputError(tr(
            "{file}：不能读取旧版 Excel .xls 工作簿；请用 Excel 或 WPS 打开并另存为 .xlsx "
            "（或 CSV UTF-8）",
            "{file}: old Excel .xls workbooks are not read; open it in Excel or WPS and save "
            "it as .xlsx (or as CSV UTF-8)", file=shown))
    if suffix not in _CSV_SUFFIXES | _XLSX_SUFFIXES:
        raise InputError(tr(
            "{file}：不支持的表格类型 {suffix!r}；请上传 .csv 或 .xlsx 文件",
            "{file}: unsupported table type {suffix!r}; upload a .csv or .xlsx file",
            file=shown, suffix=suffix or "(no extension)"))
    if not p.is_file():
        raise InputError(tr("{file}: 文件不存在; 请检查路径和文件名",
                            "{file}: file not found; check the path and file name",
                            file=shown))
    if suffix in _XLSX_SUFFIXES:
        frame = _read_xlsx(p, sheet, shown)
    else:
        frame = _read_csv(p, encoding, shown)
    frame.columns = [str(c).lstrip("\ufeff").strip() for c in frame.columns]
    if frame.shape[1]:
        frame = frame[~frame.apply(lambda c: c.fillna("").astype(str).str.strip().eq(""))
                      .all(axis=1)]
    log.debug("read %s: %d rows, %d columns", shown, len(frame), frame.shape[1])
    return frame


def _decode(shown: str, raw: bytes, encoding: str | None) -> str:
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise InputError(tr(
                "无法识别的编码 {encoding!r}; 请用 utf-8、gb18030 或 gbk 等",
                "unknown encoding {encoding!r}; use e.g. utf-8, gb18030 or gbk",
                encoding=encoding)) from exc
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise InputError(tr(
                "{file}：不是有效的 {encoding} 文本（第 {byte} 字节）；请不指定编码让程序识别，"
                "或将文件另存为 'CSV UTF-8'",
                "{file}: not valid {encoding} text (byte {byte}); leave the encoding out to "
                "detect it, or re-save the file as 'CSV UTF-8'", file=shown,
                encoding=encoding, byte=exc.start)) from exc
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    elif raw.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "gb18030"]
    for name in candidates:
        try:
            text = raw.decode(name)
        except UnicodeDecodeError:
            continue
        log.debug("%s decoded as %s", shown, name)
        return text
    raise InputError(tr(
        "{file}：文字既不是 UTF-8 也不是 GB18030/GBK 编码；请在 Excel 或 WPS 中另存为 "
        "'CSV UTF-8'，或指定文件实际的编码",
        "{file}: text is neither UTF-8 nor GB18030/GBK; re-save it as 'CSV UTF-8' in Excel "
        "or WPS, or pass the encoding it was written in", file=shown))


def _check_row_lengths(text: str, sep: str, shown: str) -> None:
    """Refuse rows with more cells than the header: pandas would otherwise shift them
    into an index or drop the cells past the header without a word."""
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=sep)
    try:
        width = len(next(rows))
        long = [(i, len(r)) for i, r in enumerate(rows, start=2) if len(r) > width]
    except csv.Error:
        return  # left to pandas, which names the line
    if long:
        lines = ", ".join(str(i) for i, _ in long[:10]) + (" …" if len(long) > 10 else "")
        raise InputError(tr(
            "{file}：第 {lines} 行的单元格比表头多（表头 {width} 列）；常见原因是数字用逗号作小数点"
            "（如 114,01）或单元格中含逗号而未加引号；请在 Excel/WPS 中改正后重新保存为 CSV",
            "{file}: line(s) {lines} have more cells than the header ({width} columns); "
            "usually a number with a comma as decimal mark (114,01) or a cell holding a "
            "comma without quotes; correct it in Excel/WPS and save the CSV again",
            file=shown, lines=lines, width=width))


def _read_csv(p: Path, encoding: str | None, shown: str) -> pd.DataFrame:
    text = _decode(shown, p.read_bytes(), encoding)
    if not text.strip():
        raise InputError(tr("{file}：文件是空的；请连同表头行重新导出表格",
                            "{file}: the file is empty; export the table again with its "
                            "header row", file=shown))
    header = text.lstrip("\ufeff").splitlines()[0]
    counts = {sep: header.count(sep) for sep in (",", "\t", ";")}
    sep = max(counts, key=lambda s: (counts[s], s == ","))
    _check_row_lengths(text, sep, shown)
    try:
        # blank lines stay (as blank rows), so row i is still line i + 2 of the file;
        # index_col=False: a row longer than the header never becomes the index
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                           skip_blank_lines=False, index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(tr(
            "{file}：不是可读取的 CSV 表格（{exc}）；请检查每行的单元格数是否与表头一致、"
            "引号是否成对",
            "{file}: not a readable CSV table ({exc}); check that every row has as many cells "
            "as the header and that quotes are closed", file=shown, exc=exc)) from exc


#: What zipfile, zlib, openpyxl and the XML parser raise for a damaged workbook: not a
#: zip, a damaged deflate stream, a missing part (KeyError), a part that is not XML, a
#: zip version or method zipfile does not know (NotImplementedError).
_XLSX_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, InvalidFileException,
                ParseError, UnicodeDecodeError, NotImplementedError)


@contextlib.contextmanager
def reading_xlsx(p: Path, shown: str):
    """Around any reading of a workbook ``p`` (``shown``: its name for the user): a DTD
    is refused before a parser sees it, and a damaged workbook becomes an
    :class:`~ecomap.errors.InputError` saying what to do."""
    try:
        _refuse_dtd(Path(p), shown)
        with warnings.catch_warnings():
            # openpyxl warns about styles and data validation it cannot read; harmless here
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            yield
    except _XLSX_ERRORS as exc:
        detail = scrub_paths(str(exc).strip().splitlines()[0][:200]) if str(exc).strip() else ""
        raise InputError(tr(
            "{file}：不是可读的 .xlsx 工作簿（{detail}）；文件可能已损坏，请在 Excel 或 WPS 中打开后重新"
            "另存为 .xlsx，或将该表导出为 CSV",
            "{file}: not a readable .xlsx workbook ({detail}); it may be damaged — open it in "
            "Excel or WPS and save it again as .xlsx, or export the sheet as CSV",
            file=shown, detail=detail or type(exc).__name__)) from exc


def _read_xlsx(p: Path, sheet: str | int | None, shown: str) -> pd.DataFrame:
    with reading_xlsx(p, shown), pd.ExcelFile(p, engine="openpyxl") as book:
        names = list(book.sheet_names)
        chosen = 0 if sheet is None else sheet
        if isinstance(chosen, int) and not 0 <= chosen < len(names):
            raise InputError(tr(
                "{file}：没有第 {chosen} 个工作表；工作簿共有 {n} 个工作表：{names}",
                "{file}: no sheet number {chosen}; the workbook has {n} sheet(s): "
                "{names}", file=shown, chosen=chosen, n=len(names), names=", ".join(names)))
        if isinstance(chosen, str) and chosen not in names:
            raise InputError(tr(
                "{file}：没有名为 {chosen!r} 的工作表；请从中选择：{names}",
                "{file}: no sheet named {chosen!r}; choose one of: {names}",
                file=shown, chosen=chosen, names=", ".join(names)))
        return pd.read_excel(book, sheet_name=chosen, dtype=str, keep_default_na=False)


# The start of an XML part up to its root element: declaration, comments, processing
# instructions, then either a DOCTYPE (refused) or the root element.
_PROLOG = re.compile(rb"\s*(?:<\?.*?\?>\s*|<!--.*?-->\s*)*", re.DOTALL)
_PROLOG_LIMIT = 1 << 20


def _refuse_dtd(p: Path, shown: str) -> None:
    """Refuse a workbook any of whose XML parts declares a DTD.

    Excel never writes one; a DTD in an upload is an attempt at entity expansion
    ("billion laughs") or at reading server files (XXE), so it is refused before any
    XML parser sees it.
    """
    with zipfile.ZipFile(p) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            with zf.open(info) as part:
                head = part.read(4096)
                while True:
                    text = head
                    if text.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                        text = text.decode("utf-16", "ignore").encode("utf-8")
                    rest = text[_PROLOG.match(text).end():]
                    if rest[:9].upper() == b"<!DOCTYPE" or rest[:8].upper() == b"<!ENTITY":
                        raise InputError(tr(
                            "{file}：工作簿中的 {part} 含有 DTD（<!DOCTYPE>），Excel 和 WPS 从不"
                            "写入它，可能是恶意文件，已拒绝；请在 Excel 或 WPS 中打开后另存为 .xlsx "
                            "再上传",
                            "{file}: the workbook's {part} holds a DTD (<!DOCTYPE>), which Excel "
                            "and WPS never write: possibly a malicious file, refused; open it in "
                            "Excel or WPS, save it as .xlsx and send that",
                            file=shown, part=info.filename))
                    unfinished = rest.startswith((b"<?", b"<!--")) or len(rest) < 9
                    if not unfinished or len(head) >= _PROLOG_LIMIT:
                        break
                    more = part.read(4096)
                    if not more:
                        break
                    head += more


def header_below_title(df: pd.DataFrame, is_known, *, min_known: int = 2,
                       rows: int = 10) -> pd.DataFrame:
    """The table itself when a header of ``df`` is known, or else the part below the
    first of its first ``rows`` rows naming ``min_known`` known columns.

    Bureau tables often start with a title merged across the columns ("2023年造林绿化任务
    分解表") and a blank row above the real header.  ``is_known(text)`` says whether a
    header cell is one the caller reads.  The index is kept, so the row with index ``i``
    is still spreadsheet row ``i + 2``; a header cell left blank is named by its
    position, as "(第3列)".
    """
    if any(is_known(c) for c in df.columns):
        return df
    for i in range(min(rows, len(df))):
        cells = df.iloc[i].tolist()
        if sum(bool(is_known(c)) for c in cells if cell_text(c)) >= min_known:
            body = df.iloc[i + 1:].copy()
            body.columns = [cell_text(c) or f"(第{j + 1}列)" for j, c in enumerate(cells)]
            return body
    return df


# ---------------------------------------------------------------- cell parsers
#: Cell texts that mean "not measured / nothing here" in Chinese tables.
BLANKS = frozenset({"", "-", "--", "—", "——", "/", "nan", "none"})
NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?"


def cell_text(cell: Any) -> str | None:
    """A cell as NFKC-normalised stripped text (full-width forms folded); None when blank.

    ``""``, ``-``, ``--``, ``—``, ``/`` and missing values count as blank.
    """
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return None
    text = unicodedata.normalize("NFKC", str(cell)).strip()
    return None if text.lower() in BLANKS else text


def parse_number(text: str, *, thousands: bool = False) -> float:
    """A number written with a decimal point or a decimal comma (``0,12``).

    With ``thousands`` commas group digits (``24,000``); without it ``1,234`` is
    refused as ambiguous.
    """
    t = text.replace(" ", "")
    if thousands:
        t = t.replace(",", "")
    elif "," in t:
        if re.fullmatch(r"[1-9]\d{0,2},\d{3}", t):
            raise ValueError(tr('"{text}" 有歧义（千分位还是小数点？）；请写成 1234 或 1.234',
                                '"{text}" is ambiguous (thousands or decimal comma?); write '
                                '1234 or 1.234', text=text))
        if t.count(",") == 1 and "." not in t:
            t = t.replace(",", ".")
    if not re.fullmatch(NUMBER, t, flags=re.IGNORECASE):
        raise ValueError(tr('"{text}" 不是数值；请填写数字，如 0.12',
                            '"{text}" is not a number; write a number such as 0.12', text=text))
    return float(t)


def parse_date(text: str) -> datetime:
    """A date: ``2023/5/6``, ``2023-05-06``, ``2023.5.6``, ``2023年5月6日``, ``20230506``
    (each optionally with a time) or an Excel serial day number (20000–80000)."""
    t = text.strip()
    if re.fullmatch(r"\d{5}(\.\d+)?", t) and 20000 <= float(t) <= 80000:
        return datetime(1899, 12, 30) + timedelta(days=float(t))
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                     r"(?:[\sT]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?", t)
    m = m or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", t)
    try:
        if m:
            return datetime(*(int(g) for g in m.groups() if g is not None))
    except ValueError:
        pass
    raise ValueError(tr('"{text}" 不是有效日期；请写成 2023-05-06、2023/5/6 或 2023年5月6日',
                        '"{text}" is not a valid date; write 2023-05-06, 2023/5/6 or '
                        '2023年5月6日', text=text))


_HEMI = r"[NSEW]|东经|西经|北纬|南纬"


def parse_coordinate(text: str, *, axis: str) -> float:
    """Decimal degrees from ``114.3583``, ``114°21'30"E``, ``114°21′30″``, ``114 21 30``,
    ``114度21分30秒`` or ``E114°21.5'``; ``axis`` is "lon" or "lat" (checks range and
    that a hemisphere letter fits the column)."""
    t = text.upper()
    hemi = re.findall(_HEMI, t)
    parts = re.sub(r"[°º˚度′'’‘分″\"”“秒:,]", " ", re.sub(_HEMI, " ", t)).split()
    fix = tr("请写成十进制度（114.3583）或度分秒（114°21'30\"E）",
             "write decimal degrees (114.3583) or degrees-minutes-seconds (114°21'30\"E)")
    if len(hemi) > 1 or not 1 <= len(parts) <= 3 or not all(
            re.fullmatch(NUMBER, p) for p in parts):
        raise ValueError(tr('"{text}" 不是坐标；{fix}', '"{text}" is not a coordinate; {fix}',
                            text=text, fix=fix))
    nums = [float(p) for p in parts]
    if any(not 0 <= n < 60 for n in nums[1:]) or (len(nums) > 1 and nums[0] != int(nums[0])):
        raise ValueError(tr('"{text}" 的分或秒不在 0–59 之间；{fix}',
                            '"{text}" has minutes or seconds outside 0–59; {fix}', text=text,
                            fix=fix))
    value = abs(nums[0]) + sum(n / 60**i for i, n in enumerate(nums[1:], 1))
    if nums[0] < 0 or (hemi and hemi[0] in ("W", "S", "西经", "南纬")):
        value = -value
    name, other = ("经度", "纬度") if axis == "lon" else ("纬度", "经度")
    name_en, other_en = ("longitude", "latitude") if axis == "lon" else ("latitude",
                                                                          "longitude")
    if hemi and (hemi[0] in ("N", "S", "北纬", "南纬")) == (axis == "lon"):
        raise ValueError(tr('"{text}" 是{other}，却填在{name}列；请对调经纬度',
                            '"{text}" is a {other_en} in the {name} ({name_en}) column; swap '
                            'longitude and latitude', text=text, other=other, name=name,
                            other_en=other_en, name_en=name_en))
    if abs(value) > (limit := 180 if axis == "lon" else 90):
        raise ValueError(tr('"{text}" 超出{name}范围（±{limit}°）；{fix}',
                            '"{text}" is beyond the {name_en} range (±{limit}°); {fix}',
                            text=text, name=name, name_en=name_en, limit=limit, fix=fix))
    return value
