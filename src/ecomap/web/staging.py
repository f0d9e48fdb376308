"""Uploads waiting for review: each in its own temporary directory until it is
confirmed (stored as one batch) or discarded, then removed.

Staged uploads live on disk for one server process (in memory only their reports); a
restart drops them (their folders are under one temporary root, removed when the
process ends).  What they take on disk is bounded per account and in all
(:meth:`Staging.charge`), besides their number per account.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from ecomap.errors import InputError, NotFoundError, PermissionDenied
from ecomap.i18n import tr
from ecomap.io.vector import ACCEPTED

__all__ = ["Staged", "Staging"]


@dataclass
class Staged:
    """One uploaded file and what the checks said of it.

    After the check only the checked copy (``checked.pickle`` in the upload's folder,
    with ``checked_sha256``) is kept; it is what confirm stores.  ``sha256`` is the hash
    of the file as sent, recorded with the batch.
    """

    token: str
    owner: str
    name: str  # the file name as sent, for messages and provenance
    path: Path
    category: str
    year: int
    created: float = field(default_factory=time.time)
    report: dict = field(default_factory=dict)  # Outcome.to_json()
    replaceable: list = field(default_factory=list)  # stored batches the file repeats
    #: The report in each language (messages rendered), by language code.
    reports: dict = field(default_factory=dict)
    sha256: str = ""  # of the file as sent
    checked_sha256: str | None = None  # of the checked copy; None: nothing kept
    bytes: int = 0  # on disk, counted against the staging budget
    #: The one stored batch this file may replace, checked as its replacement (the
    #: report in each language, the SHA-256 of that checked copy); None: none.
    replace_batch: int | None = None
    replace_reports: dict = field(default_factory=dict)
    replace_sha256: str | None = None

    def keep_report(self, outcome) -> None:
        """Keep the report of ``outcome`` (an :class:`~ecomap.checks.Outcome`) in every
        language, so each request shows it in its own."""
        from ecomap.i18n import LANGS

        self.reports = {lang: outcome.to_json(lang) for lang in LANGS}
        self.report = outcome.to_json()

    def report_in(self, lang: str) -> dict:
        """The report with its messages in ``lang``."""
        return self.reports.get(lang) or self.report

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def has_preview(self) -> bool:
        return self.checked_sha256 is not None or self.replace_sha256 is not None


def _mb(nbytes: float) -> str:
    mb = nbytes / 1e6
    return f"{mb:,.0f} MB" if mb >= 10 else f"{mb:.2g} MB"


def safe_name(filename: str | None) -> str:
    """The base name of an uploaded file, without folders or odd characters."""
    name = PurePath(str(filename or "").replace("\\", "/")).name.strip()
    name = "".join(c for c in name if c.isprintable() and c not in '/\\:*?"<>|')
    return name[:120] or "upload"


class Staging:
    """Staged uploads under one temporary root; ``hours`` old ones are dropped."""

    def __init__(self, root: str | Path | None = None, *, hours: float = 24.0,
                 per_user: int = 10, mb_per_user: float = 1000.0,
                 mb_total: float = 4000.0) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="ecomap-web-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.hours, self.per_user = hours, per_user
        self.bytes_per_user, self.bytes_total = mb_per_user * 1e6, mb_total * 1e6
        # Removed when the server process ends (or this object goes).
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.root), True)
        self._items: dict[str, Staged] = {}
        self._lock = threading.Lock()

    def new(self, *, owner: str, filename: str | None, category: str, year: int) -> Staged:
        """A staged upload with an empty file to write into (its type checked first)."""
        name = safe_name(filename)
        suffix = PurePath(name).suffix.lower()
        if suffix not in ACCEPTED:
            raise InputError(tr("{name}: 不接受 {suffix} 类型的文件; 请发送以下格式之一: "
                                "{choices}",
                                "{name}: files of type {suffix} are not accepted; send one of "
                                "{choices}", name=name, suffix=suffix or tr("(无)", "(none)"),
                                choices=", ".join(ACCEPTED)))
        if suffix == ".shp":
            raise InputError(tr("{name}: Shapefile 由多个文件组成; 请把 .shp 和它的 .dbf、.shx、"
                                ".prj、.cpg 一起压缩成 .zip 再上传",
                                "{name}: a Shapefile is several files; zip the .shp together "
                                "with its .dbf, .shx, .prj and .cpg and upload the .zip",
                                name=name))
        self.expire()
        with self._lock:
            waiting = sum(1 for i in self._items.values() if i.owner == owner)
        if waiting >= self.per_user:
            raise InputError(tr("您已有 {waiting} 个上传在等待确认; 请先在上传页面确认或放弃",
                                "{waiting} uploads of yours are already waiting for review; "
                                "confirm or discard them first (on the upload page)",
                                waiting=waiting))
        token = secrets.token_urlsafe(16)
        self.root.mkdir(parents=True, exist_ok=True)  # again after close(): a restarted app
        folder = Path(tempfile.mkdtemp(prefix="upload-", dir=self.root))
        # Under its own (cleaned) name, so that messages of the readers name it as sent.
        item = Staged(token, owner, name, folder / name, category, int(year))
        with self._lock:
            self._items[token] = item
        return item

    def charge(self, item: Staged, nbytes: int) -> None:
        """Count ``nbytes`` more on disk for ``item``; :class:`InputError` (nothing
        counted) when that would pass the budget of its owner or of everybody."""
        with self._lock:
            items = list(self._items.values())
            mine = sum(i.bytes for i in items if i.owner == item.owner)
            everyone = sum(i.bytes for i in items)
            this, waiting = item.bytes + nbytes, mine - item.bytes
            if mine + nbytes > self.bytes_per_user:
                raise InputError(tr(
                    "{file}: 此文件({this})加上您待确认的上传({waiting})超过每个账号允许的 "
                    "{limit}; 请先在上传页面确认或放弃之前的上传, 或把文件拆分后再上传",
                    "{file}: this file ({this}) and your uploads waiting for review "
                    "({waiting}) take more than the {limit} allowed per account; confirm or "
                    "discard those first (on the upload page), or split the file",
                    file=item.name, this=_mb(this), waiting=_mb(waiting),
                    limit=_mb(self.bytes_per_user)))
            if everyone + nbytes > self.bytes_total:
                raise InputError(tr(
                    "{file}: 服务器上待确认的上传已达到允许的 {limit}; 请稍后再上传, "
                    "或请管理员处理待确认的上传",
                    "{file}: uploads waiting for review on the server have reached the "
                    "{limit} allowed; upload again later, or ask an administrator",
                    file=item.name, limit=_mb(self.bytes_total)))
            item.bytes += int(nbytes)

    def recount(self, item: Staged) -> None:
        """Count what ``item``'s folder holds now (after its check); InputError, as
        :meth:`charge`, when that passes a budget."""
        size = sum(p.stat().st_size for p in item.folder.rglob("*") if p.is_file())
        with self._lock:
            before, item.bytes = item.bytes, 0
        try:
            self.charge(item, size)
        except InputError:
            with self._lock:
                item.bytes = before
            raise

    def get(self, token: str, user) -> Staged:
        """The staged upload ``token``: its owner's, or any for an admin."""
        self.expire()
        with self._lock:
            item = self._items.get(token)
        return self._allowed(item, user)

    def take(self, token: str, user) -> Staged:
        """Like :meth:`get`, and no longer waiting: whoever takes it stores it (a second
        confirm of the same upload finds nothing).  :meth:`put_back` undoes it."""
        with self._lock:
            item = self._allowed(self._items.get(token), user)
            del self._items[token]
        return item

    def put_back(self, item: Staged) -> None:
        with self._lock:
            self._items[item.token] = item

    @staticmethod
    def _allowed(item: Staged | None, user) -> Staged:
        if item is None:
            raise NotFoundError(tr("这次上传已不在等待确认 (已确认、已放弃或已过期); "
                                   "请重新上传文件",
                                   "this upload is no longer waiting for review (it was "
                                   "confirmed, discarded or expired); upload the file again"))
        if item.owner != user.name and not user.can("admin"):
            raise PermissionDenied("this upload belongs to another account")
        return item

    def pending(self, user) -> list[Staged]:
        self.expire()
        with self._lock:
            items = list(self._items.values())
        return sorted((i for i in items if i.owner == user.name or user.can("admin")),
                      key=lambda i: i.created)

    def drop(self, token: str | Staged) -> None:
        """Forget the upload and remove its folder."""
        with self._lock:
            item = token if isinstance(token, Staged) else self._items.get(token)
            if item is not None:
                self._items.pop(item.token, None)
        if item is not None:
            shutil.rmtree(item.path.parent, ignore_errors=True)

    def expire(self) -> None:
        limit = time.time() - self.hours * 3600
        with self._lock:
            old = [t for t, i in self._items.items() if i.created < limit]
        for token in old:
            self.drop(token)

    def close(self) -> None:
        """Forget every staged upload and remove the root folder."""
        with self._lock:
            self._items.clear()
        self._finalizer()
