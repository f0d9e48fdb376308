"""Unpacking uploads safely: zip slip, zip bombs and the junk archives carry.

An archive is opened in a temporary directory; every member is checked before a
byte is written: no absolute paths or ``..`` (zip slip), no more members or
uncompressed bytes than the settings allow (zip bombs).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from ecomap.errors import InputError
from ecomap.i18n import tr

__all__ = ["DATA_SUFFIXES", "extract_zip", "find_datasets", "is_junk"]

#: What counts as a dataset inside an archive or a folder.
DATA_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".kml", ".kmz", ".csv", ".xlsx")
_JUNK_NAMES = {"thumbs.db", ".ds_store", "desktop.ini"}


def is_junk(name: str) -> bool:
    """True for OS clutter: ``__MACOSX/``, ``._x``, ``Thumbs.db``, ``.DS_Store`` …"""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return (any(p == "__MACOSX" for p in parts) or not parts
            or parts[-1].lower() in _JUNK_NAMES or parts[-1].startswith("._"))


def _member_name(info: zipfile.ZipInfo) -> str:
    """Member name, decoded as GBK when the zip did not flag UTF-8 (Windows zips)."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("gbk")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


@contextmanager
def extract_zip(path: str | os.PathLike, *, max_bytes: float, max_members: int):
    """Extract a zip into a temporary directory (removed afterwards); yields its path.

    Raises
    ------
    InputError
        For an unreadable archive, a member escaping the directory, or more members or
        uncompressed bytes than allowed.
    """
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(tr("{file}: 不是可读取的 zip 压缩包 ({exc}); 请重新发送或重新压缩",
                            "{file}: not a readable zip archive ({exc}); send the file again "
                            "or zip it anew", file=path.name, exc=exc)) from exc
    tmp = Path(tempfile.mkdtemp(prefix="ecomap-upload-"))
    try:
        with zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if len(infos) > max_members:
                raise InputError(tr("{file}: 压缩包中有 {n} 个文件, 超过允许的 {max} 个; 请只发送"
                                    "图斑图层",
                                    "{file}: {n} files in the archive, more than the {max} "
                                    "allowed; send only the plot layer", file=path.name,
                                    n=len(infos), max=max_members))
            total = sum(i.file_size for i in infos)
            if total > max_bytes:
                raise InputError(tr(
                    "{file}: 解压后有 {mb:,.0f} MB, 超过允许的 {max:,.0f} MB (zip 炸弹?); "
                    "请只发送图斑图层",
                    "{file}: unpacks to {mb:,.0f} MB, more than the {max:,.0f} MB allowed "
                    "(a zip bomb?); send only the plot layer", file=path.name, mb=total / 1e6,
                    max=max_bytes / 1e6))
            root = tmp.resolve()
            written = 0
            for info in infos:
                name = _member_name(info)
                if is_junk(name):
                    continue
                target = (tmp / name).resolve()
                if not target.is_relative_to(root) or PurePosixPath(name).is_absolute():
                    raise InputError(tr(
                        "{file}: 成员 {name!r} 指向压缩包之外 (zip slip); 已拒绝该压缩包",
                        "{file}: member {name!r} points outside the archive (zip slip); the "
                        "archive was refused", file=path.name, name=name))
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > max_bytes:  # sizes in the header can lie
                            raise InputError(tr(
                                "{file}: 解压后超过允许的 {max:,.0f} MB (zip 炸弹?); 已拒绝",
                                "{file}: unpacks to more than the {max:,.0f} MB allowed (a "
                                "zip bomb?); refused", file=path.name, max=max_bytes / 1e6))
                        dst.write(chunk)
        yield tmp
    except zipfile.BadZipFile as exc:
        raise InputError(tr("{file}: 压缩包已损坏 ({exc}); 请重新发送",
                            "{file}: the archive is damaged ({exc}); send it again",
                            file=path.name, exc=exc)) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def find_datasets(folder: Path) -> list[Path]:
    """Datasets in ``folder`` and its subfolders, junk skipped, in a stable order."""
    found = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and p.suffix.lower() in DATA_SUFFIXES and not is_junk(rel):
            found.append(p)
    # A .json beside .geojson/.shp is usually metadata; keep it only when alone.
    if any(p.suffix.lower() != ".json" for p in found):
        found = [p for p in found if p.suffix.lower() != ".json"]
    return found
