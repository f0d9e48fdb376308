"""The web service: pages for people and a JSON API for other systems, one FastAPI app.

``create_app(settings)`` builds it; ``ecomap serve`` runs it with uvicorn.  This module
holds what is the app's as a whole: the shared state (``app.state``), the middleware in
its order, and the one place where errors of the :class:`~ecomap.errors.EcomapError`
hierarchy become pages or JSON (:func:`error_response`).  The routes are in
:mod:`ecomap.web.routes`, one router per concern; who may ask what in
:mod:`ecomap.web.auth`.  The app only translates: files go through the same checks as
the CLI, questions through :mod:`ecomap.api`, maps through :mod:`ecomap.maps`.

Safety, in short: Argon2id password hashes and random session tokens (only their hash
stored); session cookie HttpOnly + SameSite=Lax; a CSRF token on every form (and the
``X-CSRF-Token`` header for API calls made with the cookie; bearer-token API calls need
none); failed sign-ins limited per account and place (see
:class:`~ecomap.web.accounts.LoginLimiter`); uploads authorized (session, role, CSRF)
and the size limit answered before the body is read (:mod:`ecomap.web.guard`);
archives unpacked by :mod:`ecomap.io.archive` (zip bomb and zip slip refused) in a
temporary directory that is removed; everything shown is escaped (Jinja2 autoescape,
and the map layers escape attribute values); pages may load nothing from other sites
(Content-Security-Policy, on every answer, errors included), and map documents run
sandboxed in an origin of their own.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecomap import __version__
from ecomap.errors import (
    AuthError,
    EcomapError,
    InputError,
    NotFoundError,
    PermissionDenied,
    StoreError,
    TooManyAttempts,
    ValidationError,
)
from ecomap.i18n import render, tr, use_lang
from ecomap.settings import Settings
from ecomap.web._lang import RequestLang, lang_of
from ecomap.web._text import text
from ecomap.web.accounts import Accounts, LoginLimiter
from ecomap.web.auth import authorize_upload, is_api
from ecomap.web.cache import AnswerCache
from ecomap.web.data import store_at
from ecomap.web.guard import Busy, UploadGate, UploadTooLarge, upload_too_large, year_problem
from ecomap.web.responses import PAGE_CSP, local, page, redirect, templates
from ecomap.web.routes import api, downloads, pages, patches, uploads, users
from ecomap.web.staging import Staging
from ecomap.web.uploads import Uploads

__all__ = ["create_app", "error_response"]

log = logging.getLogger(__name__)

UPLOAD_PATHS = ("/upload", "/api/uploads") + patches.PHOTO_PATHS
# Room for the multipart envelope and the small form fields around the file.
_FORM_OVERHEAD = 64 * 1024
# Largest body of a request that sends no file (sign-in, confirm, rollback …).
_FORM_LIMIT = 64 * 1024

_STATUS = {AuthError: 401, TooManyAttempts: 429, PermissionDenied: 403, NotFoundError: 404,
           ValidationError: 422, InputError: 400, StoreError: 503, Busy: 429,
           UploadTooLarge: 413}


def _status_of(exc: EcomapError) -> int:
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500


# --- size limit, before the body is read ----------------------------------------------

class _BodyLimit:
    """ASGI middleware: refuses a body larger than the limit with a readable answer,
    from its Content-Length before reading it, or while it streams in without one.

    Uploads may send ``limit_bytes``; every other request (forms of a few fields) at
    most :data:`_FORM_LIMIT`, so that nobody fills the memory or the disk through a
    form that takes no file.
    """

    def __init__(self, app, *, limit_bytes: int, answer) -> None:
        self.app, self.upload_limit, self.answer = app, limit_bytes, answer

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        upload = scope["path"].startswith(UPLOAD_PATHS)
        limit = self.upload_limit if upload else _FORM_LIMIT
        answer = self.answer if upload else _form_too_large
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return await self._refuse(scope, receive, send, answer)
        seen, over, started = 0, False, False

        async def counting_receive():
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                # Stop reading; whatever the app answers to the cut body is replaced below.
                over = True
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal started
            if over:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(scope, receive, send, answer)

    @staticmethod
    async def _refuse(scope, receive, send, answer):
        from starlette.requests import Request as _Request

        response = answer(_Request(scope))
        await response(scope, receive, send)


def _form_too_large(request) -> Response:
    return Response("request body too large for this form (at most 64 KB)\n",
                    status_code=413, media_type="text/plain; charset=utf-8")


class _SecurityHeaders:
    """ASGI middleware: the security headers of every answer (those a route set win)."""

    _ALWAYS = [(b"content-security-policy", PAGE_CSP.encode()),
               (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
               (b"x-frame-options", b"SAMEORIGIN")]

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # Pages carry CSRF tokens and people's data: not kept by caches (map documents
        # and static files set their own rule).
        extra = self._ALWAYS + ([] if scope["path"].startswith("/static/") else
                                [(b"cache-control", b"no-store")])

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in extra if k not in have]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class _App(FastAPI):
    """FastAPI with the security headers outermost — outside Starlette's error middleware,
    so that 500 answers carry them too."""

    def build_middleware_stack(self):
        return _SecurityHeaders(super().build_middleware_stack())


# --- the app ----------------------------------------------------------------------------

def create_app(settings: Settings | None = None, *, staging_root: str | Path | None = None
               ) -> FastAPI:
    """The ecomap web service over the store of ``settings`` (accounts in
    ``settings.users_path``; create the first with ``ecomap user add NAME --role admin``)."""
    settings = settings or Settings.from_env()
    app = _App(
        # Each router's routes, in the app's own list: ``app.routes`` names every route
        # (an included router would be one entry there), and they are matched in this
        # order.  (They are shared by every app made here: all they need is read from
        # ``request.app.state``.)
        routes=[route for module in (users, pages, patches, uploads, downloads, api)
                for route in module.router.routes],
        title="ecomap", version=__version__,
        description="Restoration plots of a county: upload and check plot files, store them "
                    "as batches, summaries and maps by township.  Sign in with POST "
                    "/api/login and send the token as `Authorization: Bearer …`.",
        # The interactive docs load scripts from a CDN: off (intranet, no internet).
        docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")

    # What the routes share (read through ecomap.web.deps and the helpers they call).
    state = app.state
    state.settings = settings
    state.accounts = Accounts(settings.users_path)
    state.limiter = LoginLimiter(state.accounts)
    state.staging = Staging(staging_root, mb_per_user=settings.staging_mb_per_user,
                            mb_total=settings.staging_mb)
    state.open_store = functools.partial(store_at, settings.store)
    state.write_lock = threading.Lock()  # one writer of the store in this process
    state.cache = AnswerCache()
    state.templates = templates()
    state.uploads = Uploads(settings, state.staging, store=state.open_store,
                            write_lock=state.write_lock,
                            too_large=functools.partial(upload_too_large,
                                                        settings.max_upload_mb))

    app.mount("/static", StaticFiles(packages=[("ecomap.web", "static")]), name="static")
    app.add_exception_handler(EcomapError, _on_error)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_invalid)
    app.add_exception_handler(Exception, _on_bug)

    # Added innermost first: the language outermost (its messages in the answers of
    # the two below), then the upload gate, then the size limit (security headers
    # are outside them all, see _App).
    app.add_middleware(_BodyLimit, limit_bytes=int(settings.max_upload_mb * 1e6) +
                       _FORM_OVERHEAD, answer=_too_large)
    app.add_middleware(UploadGate, paths=UPLOAD_PATHS, authorize=authorize_upload,
                       answer=error_response, total=settings.max_parallel_uploads,
                       per_user=settings.max_parallel_uploads_per_user)
    app.add_middleware(RequestLang, lang_of=lang_of)
    return app


# --- errors: translated here, once --------------------------------------------------------

def error_response(request: Request, exc: EcomapError, status: int | None = None
                   ) -> Response:
    """The answer to ``exc``: JSON for the API, a page (or the sign-in page) for people,
    in the request's language."""
    with use_lang(lang_of(request)):  # also outside the middleware (internal errors)
        return _error_response(request, exc, status)


def _error_response(request: Request, exc: EcomapError, status: int | None) -> Response:
    status = status or _status_of(exc)
    retry = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry)} if retry else {}
    if is_api(request):
        body = {"error": type(exc).__name__, "message": str(exc)}
        if isinstance(exc, ValidationError):
            body["problems"] = [_problem_dict(p) for p in exc.problems]
        return JSONResponse(body, status_code=status, headers=headers)
    if isinstance(exc, AuthError) and not isinstance(exc, TooManyAttempts):
        # Back to this page after signing in; after a form (its session expired),
        # back to the page that sent the form.
        if request.method == "GET":
            back = request.url.path + (f"?{request.url.query}" if request.url.query
                                       else "")
        else:
            back = local(urlsplit(request.headers.get("referer", "")).path or "/")
        return redirect(f"/login?next={quote(back)}")
    response = page(request, "error.html", status=status, message=str(exc))
    response.headers.update(headers)
    return response


def _too_large(request: Request) -> Response:
    """The answer to an upload over the size limit, before its body is read."""
    mb = request.app.state.settings.max_upload_mb
    exc = upload_too_large(mb)
    if is_api(request):
        return error_response(request, exc)
    return page(request, "error.html", status=413,
                message=text("too_large", lang_of(request), mb=mb))


async def _on_error(request: Request, exc: EcomapError):
    if _status_of(exc) >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
    return error_response(request, exc)


async def _on_http(request: Request, exc: StarletteHTTPException):
    # Unknown pages, wrong methods … answered like our own errors (zh pages, JSON).
    if exc.status_code == 404:
        err: EcomapError = NotFoundError(tr("没有页面 {path}; 请从总览页 (/) 开始",
                                            "no page {path}; start from the overview (/)",
                                            path=request.url.path))
    else:
        err = InputError(tr("{method} {path}: 请求无法处理 (HTTP {status} {detail})",
                            "{method} {path}: {detail}", method=request.method,
                            path=request.url.path, status=exc.status_code, detail=exc.detail))
    return error_response(request, err, status=exc.status_code)


async def _on_invalid(request: Request, exc: RequestValidationError):
    for e in exc.errors():
        if tuple(e.get("loc", ())) == ("query", "year"):
            return error_response(request, year_problem(e.get("input")), status=422)
    fields = sorted({str(e.get("loc", ["", "?"])[-1]) for e in exc.errors()})
    return error_response(request, InputError(tr(
        "缺少或无效: {fields}; 请填写表单的每一项后重新提交",
        "missing or invalid: {fields}; fill in every field of the form and send it again",
        fields=", ".join(fields))), status=422)


async def _on_bug(request: Request, exc: Exception):
    # A bug, not something people can fix: answered plainly; the server logs the
    # traceback (Starlette raises it on to uvicorn after this answer).
    return error_response(request, EcomapError(tr(
        "服务器无法处理此请求 (内部错误, 已记录在服务器日志中); 请重试, 如反复出现请告知管理员",
        "the server could not answer this request (an internal error, logged on the "
        "server); try again, and tell the administrator if it keeps happening")),
        status=500)


def _problem_dict(problem) -> dict:
    """A problem (a :class:`~ecomap.checks.Problem` or a dict) for JSON, its message
    rendered in the request's language."""
    d = dict(problem) if isinstance(problem, dict) else dict(getattr(problem, "__dict__", {}))
    if "message" in d:
        d["message"] = render(d["message"])
    return d if d else {"message": render(problem)}
