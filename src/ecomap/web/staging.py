"""Uploads waiting for review: each in its own temporary directory until it is
confirmed (stored as one batch) or discarded, then removed.

Staged uploads live in memory and on disk for one server process; a restart drops
them (their folders are under one temporary root, removed when the process ends).
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
from ecomap.io.vector import ACCEPTED

__all__ = ["Staged", "Staging"]


@dataclass
class Staged:
    """One uploaded file and what the checks said of it."""

    token: str
    owner: str
    name: str  # the file name as sent, for messages and provenance
    path: Path
    category: str
    year: int
    created: float = field(default_factory=time.time)
    report: dict = field(default_factory=dict)  # Outcome.to_json()
    preview: object = None  # the preview map, rendered (web.app._Rendered)
    replaceable: list = field(default_factory=list)  # stored batches the file repeats
    #: The report in each language (messages rendered), by language code.
    reports: dict = field(default_factory=dict)

    def keep_report(self, outcome) -> None:
        """Keep the report of ``outcome`` (an :class:`~ecomap.validate.Outcome`) in every
        language, so each request shows it in its own."""
        from ecomap.i18n import LANGS

        self.reports = {lang: outcome.to_json(lang) for lang in LANGS}
        self.report = outcome.to_json()

    def report_in(self, lang: str) -> dict:
        """The report with its messages in ``lang``."""
        return self.reports.get(lang) or self.report


def safe_name(filename: str | None) -> str:
    """The base name of an uploaded file, without folders or odd characters."""
    name = PurePath(str(filename or "").replace("\\", "/")).name.strip()
    name = "".join(c for c in name if c.isprintable() and c not in '/\\:*?"<>|')
    return name[:120] or "upload"


class Staging:
    """Staged uploads under one temporary root; ``hours`` old ones are dropped."""

    def __init__(self, root: str | Path | None = None, *, hours: float = 24.0,
                 per_user: int = 10) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="ecomap-web-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.hours, self.per_user = hours, per_user
        # Removed when the server process ends (or this object goes).
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.root), True)
        self._items: dict[str, Staged] = {}
        self._lock = threading.Lock()

    def new(self, *, owner: str, filename: str | None, category: str, year: int) -> Staged:
        """A staged upload with an empty file to write into (its type checked first)."""
        name = safe_name(filename)
        suffix = PurePath(name).suffix.lower()
        if suffix not in ACCEPTED:
            raise InputError(f"{name}: files of type {suffix or '(none)'} are not accepted; "
                             f"send one of {', '.join(ACCEPTED)}")
        if suffix == ".shp":
            raise InputError(f"{name}: a Shapefile is several files; zip the .shp together "
                             "with its .dbf, .shx, .prj and .cpg and upload the .zip")
        self.expire()
        with self._lock:
            waiting = sum(1 for i in self._items.values() if i.owner == owner)
        if waiting >= self.per_user:
            raise InputError(f"{waiting} uploads of yours are already waiting for review; "
                             "confirm or discard them first (on the upload page)")
        token = secrets.token_urlsafe(16)
        self.root.mkdir(parents=True, exist_ok=True)  # again after close(): a restarted app
        folder = Path(tempfile.mkdtemp(prefix="upload-", dir=self.root))
        item = Staged(token, owner, name, folder / f"upload{suffix}", category, int(year))
        with self._lock:
            self._items[token] = item
        return item

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
            raise NotFoundError("this upload is no longer waiting for review (it was "
                                "confirmed, discarded or expired); upload the file again")
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
