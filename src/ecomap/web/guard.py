"""Guards in front of the web routes: who may send an upload, before its body is read,
and how many uploads run at once; the query values every route shares.

FastAPI reads (and spools to temporary files) a multipart body before the route's
dependencies run, so the sign-in, role and CSRF checks of the upload routes cannot wait
for them: :class:`UploadGate` makes them from the request's headers and query string,
and answers a refusal without reading a byte of the body.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Annotated

from fastapi import Query
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ecomap.errors import EcomapError, InputError
from ecomap.i18n import tr

__all__ = ["YEAR_MAX", "YEAR_MIN", "Busy", "UploadGate", "UploadTooLarge", "Year",
           "upload_too_large", "year_problem"]

#: The years a question may ask about (the state's forestry records start in 1949).
YEAR_MIN, YEAR_MAX = 1949, 2100

#: A ``?year=`` of a question: optional, in the range above (else 422 with a message).
Year = Annotated[int | None, Query(ge=YEAR_MIN, le=YEAR_MAX)]


def year_problem(value) -> InputError:
    """The message of a ``?year=`` outside the range or not a number."""
    shown = str(value)[:32] + ("…" if len(str(value)) > 32 else "")
    return InputError(tr(
        "年份 {value} 无效: 请填写 {lo}–{hi} 之间的年份 (如 ?year=2023), 或不填以查看最新年度",
        "year {value} is not valid: give a year between {lo} and {hi} (e.g. ?year=2023), "
        "or leave it out for the latest year", value=shown, lo=YEAR_MIN, hi=YEAR_MAX))


class Busy(EcomapError):
    """Too many uploads running at once (for the account or in all); retry later."""

    def __init__(self, message, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = int(retry_after)


class UploadTooLarge(InputError):
    """An upload larger than ``max_upload_mb`` (answered before its body is read)."""


def upload_too_large(max_upload_mb: float, name: str = "the upload") -> UploadTooLarge:
    """The error of ``name``, larger than ``max_upload_mb``."""
    return UploadTooLarge(f"{name} is larger than the {max_upload_mb:,g} MB allowed; split "
                          "the file (by township or year) or zip it, and upload again")


class UploadGate:
    """ASGI middleware in front of the upload routes (POST to one of ``paths``).

    ``authorize(request)`` runs first, on the headers and query string only (session
    cookie or bearer token, role, CSRF token from the ``X-CSRF-Token`` header or the
    form action's ``?csrf=``); an :class:`EcomapError` it raises is answered by
    ``answer(request, exc)`` without reading the body.  Then at most ``per_user``
    uploads of one account and ``total`` in all run at once; one more is answered
    with :class:`Busy` (429).
    """

    def __init__(self, app, *, paths, authorize, answer, total: int, per_user: int) -> None:
        self.app, self.paths, self.authorize, self.answer = app, tuple(paths), authorize, answer
        self.total, self.per_user = total, per_user
        self._running: Counter = Counter()
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or \
                scope["path"].rstrip("/") not in self.paths:
            return await self.app(scope, receive, send)
        request = Request(scope)
        try:
            # The accounts file is SQLite: not on the event loop.
            session = await run_in_threadpool(self.authorize, request)
            name = session.user.name
            self._enter(name)
        except EcomapError as exc:
            response = await run_in_threadpool(self.answer, request, exc)
            return await response(scope, receive, send)
        try:
            await self.app(scope, receive, send)
        finally:
            with self._lock:
                self._running[name] -= 1
                if self._running[name] <= 0:
                    del self._running[name]

    def _enter(self, name: str) -> None:
        with self._lock:
            if self._running[name] >= self.per_user:
                raise Busy(tr(
                    "账号 {name} 已有 {n} 个上传正在检查: 请等它们完成后再上传",
                    "account {name} has {n} uploads being checked already; wait until they "
                    "are done and upload again", name=name, n=self._running[name]))
            if sum(self._running.values()) >= self.total:
                raise Busy(tr(
                    "服务器正在检查其他人的 {n} 个上传: 请稍后 (约半分钟) 再上传",
                    "the server is checking {n} other uploads; upload again in half a "
                    "minute or so", n=sum(self._running.values())))
            self._running[name] += 1
