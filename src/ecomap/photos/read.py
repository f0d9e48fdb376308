"""Reading evidence photos: position and time from a phone's EXIF, a thumbnail and a
stored copy.

Positions are WGS 84 latitude/longitude (the EXIF GPS IFD).  They are used as CGCS2000
(EPSG:4490) without a transformation: both datums are realisations of the ITRF and lie
less than 1 m apart in China, far below a phone's GPS error and the matching tolerance.

Pillow is imported inside the functions: ``pip install 'ecomap[photos]'`` adds it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from ecomap.errors import InputError
from ecomap.i18n import tr

__all__ = ["IMAGE_MAX_PX", "PHOTO_SUFFIXES", "THUMB_MAX_PX", "PhotoInfo", "id_in_name",
           "read_photo", "require_pillow"]

log = logging.getLogger(__name__)

#: Longest side of a thumbnail (popups, lists), in pixels.
THUMB_MAX_PX = 320
#: Longest side of the stored copy of a photo, in pixels (larger originals are scaled).
IMAGE_MAX_PX = 1600
#: File suffixes taken as photos when a folder is given.
PHOTO_SUFFIXES = (".jpg", ".jpeg")

_THUMB_QUALITY = 75
_IMAGE_QUALITY = 85
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME, _DATETIME_ORIGINAL = 0x0132, 0x9003
_OFFSET_TIME, _OFFSET_TIME_ORIGINAL = 0x9010, 0x9011
_ID_SPLIT = re.compile(r"[_\s]+")


@dataclass(frozen=True)
class PhotoInfo:
    """One photo as read: what the ``photos`` table stores, without its target."""

    file_name: str
    sha256: str
    lon: float | None
    lat: float | None
    taken_at: str | None  # ISO 8601 with the UTC offset
    width: int
    height: int
    thumbnail: bytes
    image: bytes

    @property
    def has_position(self) -> bool:
        return self.lon is not None and self.lat is not None


def require_pillow():
    """The ``PIL.Image`` module, or an :class:`~ecomap.errors.InputError` saying how to get it."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise InputError(tr("读取照片需要 Pillow; 请运行 pip install 'ecomap[photos]' 安装",
                            "reading photos needs Pillow; install it with: "
                            "pip install 'ecomap[photos]'")) from exc
    return Image


def id_in_name(file_name: str) -> str | None:
    """The patch ID a file name starts with: the part of the stem before the first ``_``
    or space (``DY2022-007_现场.jpg`` → ``DY2022-007``), or None for an empty stem."""
    stem = Path(file_name).stem.strip()
    head = _ID_SPLIT.split(stem, maxsplit=1)[0] if stem else ""
    return head or None


def read_photo(data: bytes, *, file_name: str, timezone: str = "Asia/Shanghai") -> PhotoInfo:
    """Read one JPEG's bytes: position, time, size, thumbnail and stored copy.

    Parameters
    ----------
    data
        The file's bytes.
    file_name
        The name as the user sent it (for messages and the store; no server path).
    timezone
        IANA name of the local time of photos whose EXIF time has no offset.

    Raises :class:`~ecomap.errors.InputError` naming the file when it is not a JPEG
    Pillow can read (damaged, truncated, another format).
    """
    image_mod = require_pillow()
    from PIL import ImageOps, UnidentifiedImageError

    # Pillow warns of a corrupt EXIF block and reads on: such a photo has no position
    # or time (it needs the patch ID in its name), which is logged.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with image_mod.open(io.BytesIO(data)) as im:
                if im.format != "JPEG":
                    raise InputError(tr(
                        "{file} 不是 JPEG 照片 (而是 {fmt}); 请上传手机拍摄的 .jpg 原图",
                        "{file} is not a JPEG photo (it is {fmt}); upload the phone's "
                        "original .jpg", file=file_name, fmt=im.format))
                exif = im.getexif()
                lon, lat = _position(exif.get_ifd(_GPS_IFD))
                taken_at = _taken_at(exif, timezone)
                width, height = im.size
                im.load()
                upright = ImageOps.exif_transpose(im).convert("RGB")
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            # Pillow's documented failures: unidentified or truncated image data
            # (OSError, of which UnidentifiedImageError is one) and a malformed EXIF
            # block (SyntaxError).
            raise InputError(tr(
                "{file} 无法读取: 文件已损坏或不是 JPEG 照片 ({exc}); 请重新拷贝手机中的原图",
                "{file} cannot be read: the file is damaged or not a JPEG photo ({exc}); "
                "copy the original from the phone again", file=file_name, exc=exc)) from exc
    for w in caught:
        log.info("%s: %s", file_name, w.message)
    return PhotoInfo(
        file_name=file_name, sha256=hashlib.sha256(data).hexdigest(), lon=lon, lat=lat,
        taken_at=taken_at, width=int(width), height=int(height),
        thumbnail=_jpeg(upright, THUMB_MAX_PX, _THUMB_QUALITY),
        image=data if max(width, height) <= IMAGE_MAX_PX else _jpeg(
            upright, IMAGE_MAX_PX, _IMAGE_QUALITY))


def _jpeg(image, max_px: int, quality: int) -> bytes:
    """``image`` scaled to at most ``max_px`` on its long side, as JPEG bytes (no EXIF)."""
    copy = image.copy()
    copy.thumbnail((max_px, max_px))
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _degrees(value) -> float | None:
    """Degrees from an EXIF (degrees, minutes, seconds) triple of rationals."""
    try:
        parts = [float(v) for v in value]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not parts or len(parts) > 3 or not all(math.isfinite(p) for p in parts):
        return None
    return sum(p / 60 ** i for i, p in enumerate(parts))


def _position(gps) -> tuple[float | None, float | None]:
    """(lon, lat) in degrees from the GPS IFD, or (None, None) without a usable fix."""
    lat, lon = _degrees(gps.get(2)), _degrees(gps.get(4))
    if lat is None or lon is None or (lat == 0 and lon == 0):  # no fix: zeros
        return None, None
    if str(gps.get(1, "N")).strip().upper().startswith("S"):
        lat = -lat
    if str(gps.get(3, "E")).strip().upper().startswith("W"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return lon, lat


def _taken_at(exif, timezone: str) -> str | None:
    """ISO 8601 time (with offset) of DateTimeOriginal (else DateTime): its own
    OffsetTime when present, else the local time of ``timezone``."""
    from zoneinfo import ZoneInfo

    sub = exif.get_ifd(_EXIF_IFD)
    text = sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    offset = sub.get(_OFFSET_TIME_ORIGINAL) or sub.get(_OFFSET_TIME)
    if not text:
        return None
    try:
        when = dt.datetime.strptime(str(text).strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        log.info("unreadable EXIF time %r", text)
        return None
    tz = None
    if offset:
        try:
            tz = dt.datetime.strptime(str(offset).strip("\x00 "), "%z").tzinfo
        except ValueError:
            tz = None
    return when.replace(tzinfo=tz or ZoneInfo(timezone)).isoformat()
