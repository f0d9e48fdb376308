"""Unpacking uploads safely: zip slip, zip bombs and the junk archives carry.

An archive is opened in a temporary directory; every member is checked before a
byte is written: no absolute paths or ``..`` (zip slip), no more members or
uncompressed bytes than the settings allow (zip bombs).
"""

from __future__ import annotations

import lzma
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from ecomap.errors import InputError
from ecomap.i18n import tr

__all__ = ["DATA_SUFFIXES", "extract_zip", "find_datasets", "is_junk", "scrub_paths"]

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


#: What zipfile and the decompressors under it raise for a damaged member: a bad CRC
#: (BadZipFile), a damaged deflate/bzip2/LZMA stream, a stream that ends too soon.
#: A name in a member's local header that is not the UTF-8 it claims: UnicodeDecodeError.
_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError,
                  UnicodeDecodeError)
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


@contextmanager
def extract_zip(path: str | os.PathLike, *, max_bytes: float, max_members: int,
                name: str | None = None):
    """Extract a zip into a temporary directory (removed afterwards); yields its path.

    ``name`` is the archive's name as the user sent it, for messages (default: the
    file's name).

    Raises
    ------
    InputError
        For an unreadable or damaged archive, an encrypted member, a member escaping the
        directory or clashing with another, or more members or uncompressed bytes than
        allowed.
    """
    path = Path(path)
    shown = name or path.name
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, UnicodeDecodeError, EOFError, OSError,
            NotImplementedError) as exc:  # NotImplementedError: an unknown zip version
        raise InputError(tr("{file}：不是可读的 zip 压缩包（{detail}）；请重新发送或重新压缩",
                            "{file}: not a readable zip archive ({detail}); send the file "
                            "again or zip it anew", file=shown, detail=_detail(exc))) from exc
    tmp = Path(tempfile.mkdtemp(prefix="ecomap-upload-"))
    try:
        with zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if len(infos) > max_members:
                raise InputError(tr("{file}：压缩包中有 {n} 个文件，超过允许的 {max} 个；请只发送"
                                    "图斑图层",
                                    "{file}: {n} files in the archive, more than the {max} "
                                    "allowed; send only the plot layer", file=shown,
                                    n=len(infos), max=max_members))
            total = sum(i.file_size for i in infos)
            if total > max_bytes:
                raise InputError(tr(
                    "{file}：解压后有 {mb:,.0f} MB，超过允许的 {max:,.0f} MB（zip 炸弹？）；"
                    "请只发送图斑图层",
                    "{file}: unpacks to {mb:,.0f} MB, more than the {max:,.0f} MB allowed "
                    "(a zip bomb?); send only the plot layer", file=shown, mb=total / 1e6,
                    max=max_bytes / 1e6))
            root = tmp.resolve()
            members = _plan(infos, root, shown)
            written = 0
            for info, member, target in members:
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with zf.open(info) as src, open(target, "wb") as dst:
                        while chunk := src.read(1 << 20):
                            written += len(chunk)
                            if written > max_bytes:  # sizes in the header can lie
                                raise InputError(tr(
                                    "{file}：解压后超过允许的 {max:,.0f} MB（zip 炸弹？）；已拒绝",
                                    "{file}: unpacks to more than the {max:,.0f} MB allowed "
                                    "(a zip bomb?); refused", file=shown,
                                    max=max_bytes / 1e6))
                            dst.write(chunk)
                except _MEMBER_ERRORS as exc:
                    raise InputError(tr(
                        "{file}：压缩包中的 {member} 已损坏（{detail}）；压缩包在传输中可能被截断或"
                        "损坏，请重新压缩后再发送",
                        "{file}: {member} in the archive is damaged ({detail}); the archive "
                        "was probably cut off or damaged in transfer — zip it anew and send "
                        "it again", file=shown, member=member, detail=_detail(exc))) from exc
        yield tmp
    except zipfile.BadZipFile as exc:
        raise InputError(tr("{file}：压缩包已损坏（{detail}）；请重新发送",
                            "{file}: the archive is damaged ({detail}); send it again",
                            file=shown, detail=_detail(exc))) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _detail(exc: BaseException) -> str:
    """A library's message, first line, without the server's folders."""
    text = str(exc).strip()
    return scrub_paths(text.splitlines()[0][:200] if text else type(exc).__name__)


# An absolute path's folders (POSIX or Windows), e.g. the temporary folder an archive
# was unpacked into.
_FOLDERS = re.compile(r"(?:[A-Za-z]:)?(?:[/\\][^/\\\s'\"`:,;()]+)+[/\\]")


def scrub_paths(text: str) -> str:
    """``text`` with the folders taken out of every absolute path it names: a library's
    message names the file it read by its full (often temporary) path, which users must
    never see."""
    return _FOLDERS.sub("", text)


def _plan(infos: list[zipfile.ZipInfo], root: Path, shown: str):
    """(info, name, target) of each member to write, every name checked first: inside
    the folder (no zip slip), not encrypted, a known compression, and no member that is
    a file in one place and a folder in another (``dir`` and ``dir/x``)."""
    planned, files = [], {}
    for info in infos:
        member = _member_name(info)
        if is_junk(member):
            continue
        target = (root / member).resolve()
        if (not target.is_relative_to(root) or target == root
                or PurePosixPath(member).is_absolute()):
            raise InputError(tr(
                "{file}：成员 {name!r} 指向压缩包之外（zip slip）；已拒绝该压缩包",
                "{file}: member {name!r} points outside the archive (zip slip); the archive "
                "was refused", file=shown, name=member))
        if info.flag_bits & 0x1:
            raise InputError(tr("{file}：压缩包中的 {member} 设有密码；请不加密重新压缩后再发送",
                                "{file}: {member} in the archive is password-protected; zip "
                                "it again without a password", file=shown, member=member))
        if info.compress_type not in _METHODS:
            raise InputError(tr(
                "{file}：压缩包中的 {member} 使用了不支持的压缩方式；请用普通 zip（deflate）重新压缩",
                "{file}: {member} in the archive uses a compression method that is not "
                "supported; zip it again as a plain (deflate) zip", file=shown, member=member))
        files.setdefault(target, member)
        planned.append((info, member, target))
    for target, member in files.items():
        for parent in target.parents:
            if parent == root:
                break
            if parent in files:
                raise InputError(tr(
                    "{file}：压缩包中 {a} 既是文件又是文件夹（还有 {b}）；请删去多余的一项后重新压缩",
                    "{file}: {a} in the archive is both a file and a folder (there is also "
                    "{b}); remove the stray one and zip it again",
                    file=shown, a=files[parent], b=member))
    return planned


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
