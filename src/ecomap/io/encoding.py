"""Which text encoding a Shapefile's DBF is in: .cpg, language-driver byte, then the bytes.

Chinese Shapefiles come in GBK/GB18030 or UTF-8, often without a ``.cpg``.  GDAL
falls back to ISO-8859-1 when nothing is declared, which turns Chinese into mojibake,
so ecomap reads the DBF bytes itself and decides: text that decodes as UTF-8 is UTF-8,
text that decodes as GB18030 (a superset of GBK and GB2312) is GB18030.  A declaration
that the bytes contradict is overruled, and the report says so.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from ecomap.i18n import Text, tr

__all__ = ["DbfEncoding", "detect_dbf_encoding"]

# ESRI language-driver IDs (DBF header byte 29) that name a Chinese code page.
_LDID = {0x4D: "GB18030", 0x7A: "GB18030", 0x01: "CP437", 0x03: "CP1252", 0x57: None}
_CPG_ALIASES = {"utf-8": "UTF-8", "utf8": "UTF-8", "65001": "UTF-8", "gbk": "GB18030",
                "936": "GB18030", "cp936": "GB18030", "gb2312": "GB18030",
                "gb18030": "GB18030", "ansi 936": "GB18030"}
_SAMPLE_BYTES = 1 << 20


@dataclass(frozen=True)
class DbfEncoding:
    """The decision: ``encoding`` to read with, and ``source`` (cpg, ldid, detected)."""

    encoding: str
    source: str
    note: Text | str | None = None


def _texts(dbf: Path) -> list[bytes]:
    """Field names and character values of the first records, as raw bytes."""
    with open(dbf, "rb") as f:
        head = f.read(32)
        if len(head) < 32:
            return []
        n_records, header_len, record_len = struct.unpack("<IHH", head[4:12])
        desc = f.read(max(0, header_len - 32))
        fields = []
        pos, offset = 0, 1  # each record starts with a deletion flag byte
        while pos + 32 <= len(desc) and desc[pos] != 0x0D:
            d = desc[pos:pos + 32]
            fields.append((d[:11].split(b"\x00")[0], chr(d[11]), d[16], offset))
            offset += d[16]
            pos += 32
        out = [name for name, *_ in fields]
        f.seek(header_len)
        data = f.read(min(_SAMPLE_BYTES, n_records * record_len) if record_len else 0)
    char_fields = [(off, size) for _, kind, size, off in fields if kind in "CM"]
    for r in range(0, len(data) - record_len + 1, record_len or 1):
        rec = data[r:r + record_len]
        for off, size in char_fields:
            value = rec[off:off + size].rstrip(b" \x00")
            if value:
                out.append(value)
    return out


def _decodes(texts: list[bytes], encoding: str) -> bool:
    try:
        for t in texts:
            t.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def detect_dbf_encoding(shp: str | Path) -> DbfEncoding:
    """Decide the encoding of the DBF beside ``shp`` (see the module docstring)."""
    shp = Path(shp)
    dbf = next((p for p in (shp.with_suffix(".dbf"), shp.with_suffix(".DBF")) if p.exists()),
               None)
    declared, source = None, None
    cpg = next((p for p in (shp.with_suffix(".cpg"), shp.with_suffix(".CPG")) if p.exists()),
               None)
    if cpg is not None:
        text = cpg.read_bytes().decode("ascii", "ignore").strip().lower()
        declared, source = _CPG_ALIASES.get(text, text.upper() or None), "cpg"
    if dbf is None:
        return DbfEncoding(declared or "UTF-8", source or "default")
    with open(dbf, "rb") as f:
        head = f.read(32)
    if declared is None and len(head) > 29 and _LDID.get(head[29]):
        declared, source = _LDID[head[29]], "ldid"

    texts = [t for t in _texts(dbf) if any(b > 0x7F for b in t)]
    if not texts:  # plain ASCII: any declaration is as good as another
        return DbfEncoding(declared or "UTF-8", source or "ascii")
    utf8 = _decodes(texts, "utf-8")
    gb = _decodes(texts, "gb18030")
    if declared is not None:
        if declared == "UTF-8" and not utf8 and gb:
            return DbfEncoding("GB18030", "detected",
                               tr(".cpg 文件标明 UTF-8, 但文字实为 GBK/GB18030 编码; 已按 GB18030 读取",
                                  "the .cpg says UTF-8 but the text is GBK/GB18030; read as "
                                  "GB18030"))
        if declared == "GB18030" and not gb and utf8:
            return DbfEncoding("UTF-8", "detected",
                               tr("{where}标明 GBK, 但文字实为 UTF-8 编码; 已按 UTF-8 读取",
                                  "the {where_en} says GBK but the text is UTF-8; read as UTF-8",
                                  where=".cpg 文件" if source == "cpg" else "DBF 文件头",
                                  where_en=".cpg" if source == "cpg" else "DBF header"))
        if declared in ("UTF-8", "GB18030") or not (utf8 or gb):
            return DbfEncoding(declared, source)
    if utf8:
        return DbfEncoding("UTF-8", "detected")
    if gb:
        return DbfEncoding("GB18030", "detected")
    return DbfEncoding(declared or "UTF-8", source or "detected",
                       tr("文字既不是 UTF-8 也不是 GBK 编码; 请用 --encoding 指定",
                          "the text is neither UTF-8 nor GBK; pass --encoding"))
