"""Builders of damaged and hostile files, and a store and a runner to check them with.

Shared by the one-case-per-test module (test_damaged_files) and the fuzz test
(test_fuzz_readers).  Every file is built in a temporary folder from known geometry.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from ecomap.cli import cli
from ecomap.store import open_store
from tests.conftest import write_county_and_townships
from tests.uploads import frame, plot, shp_members, standard_rows, write_shp, zip_files


def make_store(path: Path) -> Path:
    """A store with the two test townships and the county as their union."""
    with open_store(path, create=True) as st:
        write_county_and_townships(st)
    return path


def copy_store(template: Path, folder: Path) -> Path:
    return Path(shutil.copy(template, folder / "ecomap.gpkg"))


def validate(file: Path, store: Path, *args: str):
    """``ecomap validate FILE`` in-process; exceptions become exit code 3 like in real use."""
    return CliRunner().invoke(cli, ["validate", str(file), "--store", str(store), *args],
                              env={"ECOMAP_LANG": "zh", "COLUMNS": "400"})


def shapefile(folder: Path, n: int = 2) -> Path:
    """A GBK Shapefile (with .cpg, .prj in EPSG:4547) of n 100 m × 100 m squares."""
    return write_shp(frame(standard_rows(n), [plot(-2000 + 200 * i, 1000) for i in range(n)]),
                     folder / "src" / "造林小班.shp")


def zipped_shapefile(folder: Path, name: str = "小班.zip", n: int = 2) -> Path:
    return zip_files(folder / name, shp_members(shapefile(folder, n)))


def member_data_offset(archive: Path, member_suffix: str) -> tuple[int, int]:
    """(offset, compressed size) of the data of the first member ending in ``member_suffix``."""
    with zipfile.ZipFile(archive) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(member_suffix))
    raw = archive.read_bytes()
    h = info.header_offset
    name_len = int.from_bytes(raw[h + 26:h + 28], "little")
    extra_len = int.from_bytes(raw[h + 28:h + 30], "little")
    return h + 30 + name_len + extra_len, info.compress_size


def damage_member(archive: Path, member_suffix: str, out: Path, *, start=3, length=24) -> Path:
    """A copy of ``archive`` with bytes of one member's compressed data inverted."""
    raw = bytearray(archive.read_bytes())
    offset, size = member_data_offset(archive, member_suffix)
    for k in range(offset + start, offset + min(size, start + length)):
        raw[k] ^= 0xFF
    out.write_bytes(bytes(raw))
    return out


def points_workbook(path: Path, rows: list[list]) -> Path:
    """An XLSX point table: 小班号, 经度, 纬度, 年度 (rows as Excel holds them)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["小班号", "经度", "纬度", "年度"])
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def points_csv(path: Path, rows: list[list[str]], encoding="gbk") -> Path:
    lines = ["小班号,经度,纬度,年度", *(",".join(r) for r in rows)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def with_dtd(workbook: Path, out: Path, *, part: str = "xl/worksheets/sheet1.xml") -> Path:
    """A copy of ``workbook`` whose ``part`` declares a DTD with an entity that would
    expand a thousandfold and one that reads a server file (XXE), used in cell A2."""
    dtd = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           b'<!DOCTYPE worksheet [<!ENTITY a "AAAAAAAAAA">'
           b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
           b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
           b'<!ENTITY xxe SYSTEM "file:///etc/passwd">]>')
    with zipfile.ZipFile(workbook) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == part:
                if data.startswith(b"<?xml"):
                    data = data[data.index(b"?>") + 2:]
                data = dtd + data.replace(b"<v>", b"<v>&c;&xxe;", 1)
            dst.writestr(info, data)
    return out
