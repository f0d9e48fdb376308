"""Adding a folder of photos to a store: read, attach, refuse what cannot be stored, and
store the rest as one batch.  What the command line and the web call."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ecomap.errors import InputError
from ecomap.i18n import tr
from ecomap.photos.attach import Attachment, _Projected, attach_photo
from ecomap.photos.read import PHOTO_SUFFIXES, PhotoInfo, read_photo

__all__ = ["PhotoResult", "PhotosAdded", "add_photos", "photo_files"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhotoResult:
    """One photo of an upload: where it went (``kind``/``key``), or why not (``reason``)."""

    file_name: str
    kind: str | None = None
    key: str | None = None
    name: str | None = None  # the plot's 小班号 (or the patch ID)
    how: str | None = None
    distance_m: float | None = None
    taken_at: str | None = None
    warning: str | None = None
    reason: str | None = None

    @property
    def stored(self) -> bool:
        return self.kind is not None and self.reason is None


@dataclass(frozen=True)
class PhotosAdded:
    """An upload of photos: the batch stored (None: nothing stored) and every photo's
    result, in the order given."""

    batch_id: int | None
    results: list[PhotoResult] = field(default_factory=list)

    @property
    def refused(self) -> list[PhotoResult]:
        return [r for r in self.results if not r.stored]


def photo_files(paths) -> list[Path]:
    """The photos among ``paths``: files as given, and the JPEGs of folders (not their
    subfolders), by name."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted((f for f in p.iterdir()
                               if f.is_file() and f.suffix.lower() in PHOTO_SUFFIXES),
                              key=lambda f: f.name))
        elif p.is_file():
            out.append(p)
        else:
            raise InputError(tr("{path} 不存在", "{path} does not exist", path=os.fspath(p)))
    return out


def add_photos(files, store, *, user: str, tolerance_m: float = 50.0,
               timezone: str = "Asia/Shanghai", patch: str | None = None,
               source: str | None = None) -> PhotosAdded:
    """Read, attach and store photos as one batch of kind ``photos``.

    Parameters
    ----------
    files
        Paths of the photos, or ``(file name, bytes)`` pairs (the web's uploads).
    store
        The :class:`~ecomap.store.base.Store`.
    tolerance_m
        How far from a target a photo's position may be and still attach to it.
    patch
        Attach every photo to this patch (``--patch``).
    source
        The batch's ``source_file`` (default: the file names, shortened).

    A photo that cannot be read, has nowhere to go, or is already stored (same SHA-256)
    is refused with the reason and the others are stored: one bad photo of a folder
    does not hold up the rest.  When every photo is refused, nothing is stored
    (``batch_id`` None).
    """
    from ecomap.store import Provenance
    from ecomap.store._photos import stored_photo_text

    # Names now, bytes one photo at a time: a folder of phone originals (5 MB each) is
    # never in memory at once; what is kept is the thumbnail and the stored copy.
    items = [(Path(f).name, f) if not isinstance(f, tuple) else f for f in files]
    if not items:
        raise InputError(tr("没有照片 (.jpg/.jpeg) 可入库", "no photos (.jpg/.jpeg) to store"))
    targets = store.photo_targets()
    proj = _Projected(targets)
    names = dict(zip(zip(targets["kind"], targets["key"], strict=True), targets["name"],
                     strict=True))
    results: list[PhotoResult] = []
    accepted: list[tuple[PhotoInfo, Attachment]] = []
    infos: list[PhotoInfo | InputError] = []
    for name, data in items:
        try:
            if not isinstance(data, bytes | bytearray):
                data = Path(data).read_bytes()
            infos.append(read_photo(bytes(data), file_name=name, timezone=timezone))
        except InputError as exc:
            infos.append(exc)
    stored = store.stored_photos([i.sha256 for i in infos if isinstance(i, PhotoInfo)])
    seen: dict[str, str] = {}
    for (name, _), info in zip(items, infos, strict=True):
        if isinstance(info, InputError):
            results.append(PhotoResult(name, reason=str(info)))
            continue
        if info.sha256 in stored:
            results.append(PhotoResult(name, taken_at=info.taken_at,
                                       reason=str(stored_photo_text(name, stored[info.sha256]))))
            continue
        if info.sha256 in seen:
            results.append(PhotoResult(name, taken_at=info.taken_at, reason=str(tr(
                "{file} 与 {other} 是同一张照片; 只入库一次",
                "{file} is the same photo as {other}; it is stored once", file=name,
                other=seen[info.sha256]))))
            continue
        where = attach_photo(info, targets, tolerance_m=tolerance_m, patch=patch,
                             _projected=proj)
        if where.kind is None:
            results.append(PhotoResult(name, taken_at=info.taken_at, reason=str(where.reason)))
            continue
        seen[info.sha256] = name
        accepted.append((info, where))
        results.append(PhotoResult(name, where.kind, where.key, names.get((where.kind, where.key)),
                                   where.how, where.distance_m,
                                   info.taken_at, None if where.warning is None
                                   else str(where.warning)))
    if not accepted:
        return PhotosAdded(None, results)
    frame = pd.DataFrame({
        "photo_id": [i.sha256[:16] for i, _ in accepted],
        "sha256": [i.sha256 for i, _ in accepted],
        "target_kind": [w.kind for _, w in accepted],
        "target_key": [w.key for _, w in accepted],
        "lon": pd.Series([i.lon for i, _ in accepted], dtype="float64"),
        "lat": pd.Series([i.lat for i, _ in accepted], dtype="float64"),
        "taken_at": pd.Series([i.taken_at for i, _ in accepted], dtype=object),
        "file_name": [i.file_name for i, _ in accepted],
        "width": [i.width for i, _ in accepted],
        "height": [i.height for i, _ in accepted],
        "thumbnail": pd.Series([i.thumbnail for i, _ in accepted], dtype=object),
        "image": pd.Series([i.image for i, _ in accepted], dtype=object),
    })
    files = [i.file_name for i, _ in accepted]
    if source is None:
        source = "、".join(files[:3]) + (f" … (+{len(files) - 3})" if len(files) > 3 else "")
    batch = store.add_photos(frame, provenance=Provenance(str(source), None, user))
    log.info("photos: %d stored as batch %d, %d refused", len(accepted), batch,
             len(results) - len(accepted))
    return PhotosAdded(batch, results)
