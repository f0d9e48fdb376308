"""The web service: pages for people and a JSON API for other systems, one FastAPI app.

``create_app(settings)`` builds it; ``ecomap serve`` runs it with uvicorn.  The app
only translates: files go through :mod:`ecomap.ingest` (the same checks as the CLI),
questions through :mod:`ecomap.api`, maps through :mod:`ecomap.maps`.  Errors of the
:class:`~ecomap.errors.EcomapError` hierarchy become pages or JSON in one place
(:func:`_error_response`).

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

import contextlib
import gzip
import hashlib
import hmac
import io
import json
import logging
import secrets
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
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
from ecomap.web import signout
from ecomap.web._lang import RequestLang
from ecomap.web._text import text
from ecomap.web.accounts import ROLES, Accounts, LoginLimiter, Session, device_digest
from ecomap.web.guard import Busy, UploadGate, Year, year_problem
from ecomap.web.staging import Staged, Staging
from ecomap.web.uploads import Uploads

__all__ = ["create_app"]

log = logging.getLogger(__name__)

SESSION_COOKIE = "ecomap_session"
LOGIN_CSRF_COOKIE = "ecomap_login_csrf"
LANG_COOKIE = "ecomap_lang"
#: A random id of the browser, set at a successful sign-in: failed sign-ins elsewhere do
#: not hold up a device the account signed in from before.
DEVICE_COOKIE = "ecomap_device"
UPLOAD_PATHS = ("/upload", "/api/uploads")
# Room for the multipart envelope and the small form fields around the file.
_FORM_OVERHEAD = 64 * 1024
# Largest body of a request that sends no file (sign-in, confirm, rollback …).
_FORM_LIMIT = 64 * 1024

_STATUS = {AuthError: 401, TooManyAttempts: 429, PermissionDenied: 403, NotFoundError: 404,
           ValidationError: 422, InputError: 400, StoreError: 503, Busy: 429}

_PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
             "script-src 'self'; frame-src 'self'; form-action 'self'; "
             "frame-ancestors 'self'; base-uri 'none'")
# Maps are one self-contained document: inline scripts and data URLs, nothing remote.
_MAP_CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
            "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
            "connect-src 'none'; frame-ancestors 'self'; base-uri 'none'; "
            # Opened directly or in a frame, a map runs in an origin of its own: a script
            # slipped into it could not act as the signed-in user.
            "sandbox allow-scripts allow-popups")


class UploadTooLarge(InputError):
    """An upload larger than ``max_upload_mb`` (answered before its body is read)."""


_STATUS[UploadTooLarge] = 413


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

    _ALWAYS = [(b"content-security-policy", _PAGE_CSP.encode()),
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

@dataclass(frozen=True)
class _Rendered:
    """A rendered map document: its bytes, gzipped once, and an ETag."""

    body: bytes
    gzipped: bytes
    etag: str

    @classmethod
    def of(cls, html_text: str) -> _Rendered:
        body = html_text.encode("utf-8")
        return cls(body, gzip.compress(body, 6, mtime=0),
                   '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


class _Cache:
    """Answers by (question, store state): a map is drawn and a summary summed once per
    change of the store, however many people look."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict = {}

    def get(self, key, build):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            gate = self._building.setdefault(key, threading.Lock())
        with gate:  # one thread draws it; the others wait for that drawing
            with self._lock:
                if key in self._items:
                    return self._items[key]
            try:
                value, current = build()
            finally:
                with self._lock:
                    self._building.pop(key, None)
            if current:  # the store did not change while it was built
                with self._lock:
                    self._items[key] = value
                    while len(self._items) > self.size:
                        self._items.popitem(last=False)
            return value


# --- who is asking (module level, so that FastAPI resolves the annotations) -------------

def is_api(request: Request) -> bool:
    """Whether to answer as the JSON API: its paths, and any call with a bearer token."""
    return request.url.path.startswith("/api/") or \
        request.headers.get("authorization", "").lower().startswith("bearer ")


def session_of(request: Request) -> Session | None:
    """The session of a bearer token (API) or of the session cookie (pages)."""
    accounts: Accounts = request.app.state.accounts
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        s = accounts.session(auth[7:].strip())
        return s if s is not None and s.kind == "api" else None
    s = accounts.session(request.cookies.get(SESSION_COOKIE))
    # A bearer token set as the cookie would skip the CSRF check: not accepted there.
    return s if s is not None and s.kind == "browser" else None


def need(request: Request, role: str = "viewer") -> Session:
    """The caller's session when it has ``role``; AuthError / PermissionDenied otherwise."""
    s = session_of(request)
    if s is None:
        raise AuthError("please sign in first" if not is_api(request) else
                        "sign in first: POST /api/login, then send the token as "
                        "'Authorization: Bearer <token>'")
    if not s.user.can(role):
        raise PermissionDenied(
            f"account {s.user.name!r} ({s.user.role}) may not do this; it needs the "
            f"{role} role — ask an administrator")
    request.state.session = s
    return s


def check_csrf(request: Request, s: Session, token: str | None) -> None:
    """Forms carry the session's CSRF token; API calls with the cookie send it as the
    ``X-CSRF-Token`` header; bearer-token calls need none (no browser sends those)."""
    if s.kind == "api":
        return
    token = token or request.headers.get("x-csrf-token")
    if not token or not hmac.compare_digest(token.encode(), s.csrf.encode()):
        raise PermissionDenied("the form was not sent from this site or has expired (CSRF "
                               "check); reload the page and try again")


def _viewer(request: Request) -> Session:
    return need(request, "viewer")


def _editor(request: Request) -> Session:
    return need(request, "editor")


def _admin(request: Request) -> Session:
    return need(request, "admin")


Viewer = Annotated[Session, Depends(_viewer)]
Editor = Annotated[Session, Depends(_editor)]
Admin = Annotated[Session, Depends(_admin)]


def create_app(settings: Settings | None = None, *, staging_root: str | Path | None = None
               ) -> FastAPI:
    """The ecomap web service over the store of ``settings`` (accounts in
    ``settings.users_path``; create the first with ``ecomap user add NAME --role admin``)."""
    settings = settings or Settings.from_env()
    accounts = Accounts(settings.users_path)
    limiter = LoginLimiter(accounts)
    staging = Staging(staging_root, mb_per_user=settings.staging_mb_per_user,
                      mb_total=settings.staging_mb)
    write_lock = threading.Lock()
    cache = _Cache()
    env = Environment(loader=PackageLoader("ecomap.web", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    # A path segment: everything escaped, "/" included (Jinja's urlencode keeps it).
    env.filters["q"] = lambda v: quote(str(v), safe="")

    app = _App(
        title="ecomap", version=__version__,
        description="Restoration plots of a county: upload and check plot files, store them "
                    "as batches, summaries and maps by township.  Sign in with POST "
                    "/api/login and send the token as `Authorization: Bearer …`.",
        # The interactive docs load scripts from a CDN: off (intranet, no internet).
        docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.settings, app.state.accounts, app.state.staging = settings, accounts, staging
    app.state.limiter = limiter
    app.mount("/static", StaticFiles(packages=[("ecomap.web", "static")]), name="static")

    # --- request helpers ------------------------------------------------------------
    def lang_of(request: Request) -> str:
        q = request.query_params.get("lang")
        if q in ("zh", "en"):
            return q
        c = request.cookies.get(LANG_COOKIE)
        return c if c in ("zh", "en") else settings.lang

    @contextlib.contextmanager
    def store():
        from ecomap.store import open_store

        st = open_store(settings.store)
        try:
            yield st
        finally:
            st.close()

    def state_key(st) -> tuple:
        """Changes whenever a batch is stored or rolled back."""
        b = st.batches()
        return (len(b), tuple(b["batch_id"].tolist()[-3:]) if len(b) else ())

    def cached(st, what: tuple, build):
        """``build()`` once per state of the store; kept only when the store did not
        change while it was built (else the answer is given but not kept)."""
        state = state_key(st)
        return cache.get((*what, state), lambda: (build(), state_key(st) == state))

    def page(request: Request, template: str, status: int = 200, **values) -> HTMLResponse:
        lang = lang_of(request)
        s = getattr(request.state, "session", None) or session_of(request)
        body = env.get_template(template).render(
            t=lambda key, **v: text(key, lang, **v), lang=lang, session=s,
            user=s.user if s else None, csrf=s.csrf if s else "", path=request.url.path,
            version=__version__, **values)
        response = HTMLResponse(body, status_code=status)
        if request.query_params.get("lang") in ("zh", "en"):
            response.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
        return response

    def redirect(url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303)

    def map_response(request: Request, doc: _Rendered) -> Response:
        """A map document: 304 when the browser has it, gzipped when it may be."""
        headers = {"Content-Security-Policy": _MAP_CSP, "ETag": doc.etag,
                   "Vary": "Accept-Encoding, Cookie", "Cache-Control": "private, no-cache"}
        if request.headers.get("if-none-match") == doc.etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(doc.gzipped, media_type="text/html; charset=utf-8",
                            headers=headers)
        return Response(doc.body, media_type="text/html; charset=utf-8", headers=headers)

    # --- errors: translated here, once ----------------------------------------------
    def error_response(request: Request, exc: EcomapError, status: int | None = None
                       ) -> Response:
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
                back = _local(urlsplit(request.headers.get("referer", "")).path or "/")
            return redirect(f"/login?next={quote(back)}")
        response = page(request, "error.html", status=status, message=str(exc))
        response.headers.update(headers)
        return response

    @app.exception_handler(EcomapError)
    async def _on_error(request: Request, exc: EcomapError):
        if _status_of(exc) >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _on_http(request: Request, exc: StarletteHTTPException):
        # Unknown pages, wrong methods … answered like our own errors (zh pages, JSON).
        if exc.status_code == 404:
            err: EcomapError = NotFoundError(tr("没有页面 {path}; 请从总览页 (/) 开始",
                                                "no page {path}; start from the overview (/)",
                                                path=request.url.path))
        else:
            err = InputError(f"{request.method} {request.url.path}: {exc.detail}")
        return error_response(request, err, status=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _on_invalid(request: Request, exc: RequestValidationError):
        for e in exc.errors():
            if tuple(e.get("loc", ())) == ("query", "year"):
                return error_response(request, year_problem(e.get("input")), status=422)
        fields = sorted({str(e.get("loc", ["", "?"])[-1]) for e in exc.errors()})
        return error_response(request, InputError(tr(
            "缺少或无效: {fields}; 请填写表单的每一项后重新提交",
            "missing or invalid: {fields}; fill in every field of the form and send it again",
            fields=", ".join(fields))), status=422)

    @app.exception_handler(Exception)
    async def _on_bug(request: Request, exc: Exception):
        # A bug, not something people can fix: answered plainly; the server logs the
        # traceback (Starlette raises it on to uvicorn after this answer).
        return error_response(request, EcomapError(tr(
            "服务器无法处理此请求 (内部错误, 已记录在服务器日志中); 请重试, 如反复出现请告知管理员",
            "the server could not answer this request (an internal error, logged on the "
            "server); try again, and tell the administrator if it keeps happening")),
            status=500)

    def too_large_error(name: str = "the upload") -> UploadTooLarge:
        return UploadTooLarge(f"{name} is larger than the {settings.max_upload_mb:,g} MB "
                              "allowed; split the file (by township or year) or zip it, and "
                              "upload again")

    def too_large(request: Request) -> Response:
        mb = settings.max_upload_mb
        exc = too_large_error()
        if is_api(request):
            return error_response(request, exc)
        return page(request, "error.html", status=413,
                    message=text("too_large", lang_of(request), mb=mb))

    app.add_middleware(_BodyLimit, limit_bytes=int(settings.max_upload_mb * 1e6) +
                       _FORM_OVERHEAD, answer=too_large)

    def authorize_upload(request: Request) -> Session:
        """Sign-in, role and CSRF of an upload, from its headers and query string only."""
        s = need(request, "editor")
        check_csrf(request, s, request.query_params.get("csrf"))
        return s

    app.add_middleware(UploadGate, paths=("/upload", "/api/uploads"),
                       authorize=authorize_upload, answer=error_response,
                       total=settings.max_parallel_uploads,
                       per_user=settings.max_parallel_uploads_per_user)
    app.add_middleware(RequestLang, lang_of=lang_of)

    # --- shared actions (pages and API) ---------------------------------------------
    uploads = Uploads(settings, staging, store=store, write_lock=write_lock,
                      too_large=too_large_error)
    app.state.uploads = uploads

    def stage_upload(s: Session, upload: UploadFile, category: str, year: int,
                     lang: str) -> Staged:
        return uploads.stage(s.user.name, upload, category, year, lang)

    def may_replace(s: Session, batches, batch_id: int) -> bool:
        """Whether ``s`` may replace the batch: an editor their own plot batch, an admin
        any plot batch (as for rollback)."""
        row = batches[batches["batch_id"] == int(batch_id)]
        if row.empty or row["kind"].iloc[0] != "plots":
            return False
        return s.user.can("admin") or (s.user.can("editor")
                                       and row["user"].iloc[0] == s.user.name)

    def check_may_replace(s: Session, st, batch_id: int) -> None:
        b = st.batches()
        row = b[b["batch_id"] == int(batch_id)]
        if row.empty:
            raise NotFoundError(tr("没有批次 {batch}; 入库批次页列出了已入库的批次",
                                   "no batch {batch}; the batch list shows those stored",
                                   batch=int(batch_id)))
        if not may_replace(s, b, batch_id):
            raise PermissionDenied(tr(
                "批次 {batch} 由 {owner} 入库; 编辑只能替换自己入库的图斑批次, 请联系管理员",
                "batch {batch} was stored by {owner!r}; an editor may replace only plot "
                "batches of their own — ask an administrator", batch=int(batch_id),
                owner=row["user"].iloc[0]))

    def confirm_upload(s: Session, token: str, lang: str = "zh",
                       batch_to_replace: int | None = None) -> dict:
        with use_lang(lang):
            return uploads.confirm(s.user, token, replace=batch_to_replace,
                                   check_replace=lambda st, b: check_may_replace(s, st, b))

    def remove_user(s: Session, name: str) -> None:
        if name == s.user.name:
            raise InputError("you cannot remove your own account while signed in with it")
        accounts.remove(name)

    def rollback_batch(s: Session, batch_id: int) -> dict:
        with write_lock, store() as st:
            b = st.batches()
            row = b[b["batch_id"] == int(batch_id)]
            if row.empty:
                raise NotFoundError(f"no batch {batch_id}; the batch list shows those stored")
            owner = row["user"].iloc[0]
            if not s.user.can("admin") and (owner != s.user.name or
                                            row["kind"].iloc[0] != "plots"):
                raise PermissionDenied(
                    f"batch {batch_id} was stored by {owner!r}; an editor may roll back only "
                    "plot batches of their own — ask an administrator")
            return st.rollback(int(batch_id))

    def summary_frame(st, year):
        """The summary of ``year`` (None: every year); callers must not change it."""
        from ecomap import api

        return cached(st, ("summary", year), lambda: api.summary(st, year=year))

    def latest_year(st) -> int | None:
        from ecomap import api

        return cached(st, ("latest",), lambda: api.latest_year(st))

    def county_map_doc(lang: str, year: int | None) -> _Rendered:
        from ecomap import api
        from ecomap.maps import to_html

        with store() as st:
            return cached(st, ("county", year, lang), lambda: _Rendered.of(to_html(
                api.county_map(st, year=year, lang=lang))))

    def township_map_doc(name: str, lang: str, year: int | None) -> _Rendered:
        from ecomap import api
        from ecomap.maps import to_html

        with store() as st:
            known_township(st, name)
            return cached(st, ("township", name, year, lang), lambda: _Rendered.of(to_html(
                api.township_map(st, name, year=year, lang=lang))))

    def known_township(st, name: str) -> None:
        names = st.townships()["name"].tolist()
        if name not in names:
            raise NotFoundError(tr("没有乡镇 {name!r}; 现有乡镇: {names}",
                                   "no township {name!r}; the townships are {names}",
                                   name=name, names=", ".join(names) or "-"))

    def table_rows(summary, lang: str) -> tuple[list[str], list[list]]:
        from ecomap.aggregate import display_table

        shown = display_table(summary, lang=lang)
        return list(shown.columns), shown.astype(object).where(shown.notna(), "").values.tolist()

    # --- pages: sign-in ---------------------------------------------------------------
    def authenticate(request: Request, username: str, password: str):
        """The account, with failed attempts counted and limited (pages and API alike)."""
        client = request.client.host if request.client else "?"
        device = device_digest(request.cookies.get(DEVICE_COOKIE))
        attempt = limiter.attempt(username, client, device)
        user = accounts.authenticate(username, password)
        limiter.succeeded(attempt, user, client, device)
        return user

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "/"):
        token = secrets.token_urlsafe(24)
        response = page(request, "login.html", login_csrf=token, next=_local(next))
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.post("/login", include_in_schema=False)
    def login(request: Request, username: Annotated[str, Form()],
              password: Annotated[str, Form()], csrf: Annotated[str, Form()] = "",
              next: Annotated[str, Form()] = "/"):
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        if not csrf or not hmac.compare_digest(csrf.encode(), cookie.encode()):
            raise PermissionDenied("the sign-in form has expired (CSRF check); reload the page "
                                   "and sign in again")
        try:
            user = authenticate(request, username, password)
        except TooManyAttempts:
            raise
        except AuthError:
            return page(request, "login.html", status=401, login_csrf=cookie,
                        next=_local(next), failed=True, username=username)
        # The browser's earlier session ends: the one it sends, and any other of this
        # account on this device.
        accounts.close_session(request.cookies.get(SESSION_COOKIE))
        device = request.cookies.get(DEVICE_COOKIE) or secrets.token_urlsafe(24)
        token, _ = accounts.open_session(user, hours=settings.session_hours,
                                         device=device_digest(device))
        accounts.remember(user, client="", device=device_digest(device))
        response = redirect(_local(next))
        secure = request.url.scheme == "https"
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                            max_age=int(settings.session_hours * 3600), secure=secure)
        response.set_cookie(DEVICE_COOKIE, device, httponly=True, samesite="lax",
                            max_age=400 * 86400, secure=secure)
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, s: Viewer, csrf: Annotated[str, Form()] = ""):
        check_csrf(request, s, csrf)
        accounts.close_session(request.cookies.get(SESSION_COOKIE))
        response = redirect("/login")
        response.delete_cookie(SESSION_COOKIE)
        return response

    signout.register(app, accounts=accounts, redirect=redirect, check_csrf=check_csrf,
                     cookie=SESSION_COOKIE)

    # --- pages: overview, townships, maps --------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request, s: Viewer, year: Year = None):

        lang = lang_of(request)
        with store() as st:
            year = year or latest_year(st)
            cols, rows, towns = cached(
                st, ("dashboard", year, lang),
                lambda: (*table_rows(summary_frame(st, year), lang),
                         st.townships()["name"].tolist()))
        return page(request, "dashboard.html", year=year, cols=cols, rows=rows, towns=towns,
                    pending=staging.pending(s.user))

    @app.get("/maps/county.html", response_class=HTMLResponse, include_in_schema=False)
    def county_map_page(request: Request, s: Viewer, year: Year = None):
        return map_response(request, county_map_doc(lang_of(request), year))

    @app.get("/townships/{name}", response_class=HTMLResponse, include_in_schema=False)
    def township_page(request: Request, name: str, s: Viewer, year: Year = None):
        from ecomap.schema import category_label
        from ecomap.units import mu_from_m2

        lang = lang_of(request)
        with store() as st:
            known_township(st, name)
            year = year or latest_year(st)
            summary = summary_frame(st, year)
            cols, rows = table_rows(summary[summary["township"] == name], lang)
            plots = st.plots(year=year, township=name)
        plot_rows = [[str(r.get("plot_id") or ""), category_label(r.get("category"), lang),
                      round(float(mu_from_m2(r["area_m2"])), 2)]
                     for r in plots.drop(columns="geometry").to_dict("records")]
        return page(request, "township.html", name=name, year=year, cols=cols, rows=rows,
                    plots=plot_rows)

    @app.get("/maps/township/{name}.html", response_class=HTMLResponse,
             include_in_schema=False)
    def township_map_page(request: Request, name: str, s: Viewer, year: Year = None):
        return map_response(request, township_map_doc(name, lang_of(request), year))

    # --- pages: upload and review -----------------------------------------------------
    @app.get("/upload", response_class=HTMLResponse, include_in_schema=False)
    def upload_page(request: Request, s: Editor):
        from ecomap.schema import CATEGORIES

        lang = lang_of(request)
        cats = [(c.code, c.name(lang)) for c in CATEGORIES.values()]
        return page(request, "upload.html", categories=cats, max_mb=settings.max_upload_mb,
                    pending=staging.pending(s.user))

    @app.post("/upload", include_in_schema=False)
    def upload_form(request: Request, s: Editor, file: Annotated[UploadFile, File()],
                    category: Annotated[str, Form()], year: Annotated[int, Form()],
                    csrf: Annotated[str, Form()] = ""):
        # The token of the action URL was checked before the body was read (UploadGate).
        check_csrf(request, s, csrf or request.query_params.get("csrf"))
        item = stage_upload(s, file, category, year, lang_of(request))
        return redirect(f"/uploads/{item.token}")

    @app.get("/uploads/{token}", response_class=HTMLResponse, include_in_schema=False)
    def review_page(request: Request, token: str, s: Editor):
        from ecomap.schema import category_label

        item = staging.get(token, s.user)
        offers = []
        if item.replaceable:
            with store() as st:
                b = st.batches()
            offers = [n for n in item.replaceable if may_replace(s, b, n)]
        return page(request, "review.html", item=item, r=item.report_in(lang_of(request)),
                    offers=offers,
                    category=category_label(item.category, lang_of(request)))

    @app.get("/uploads/{token}/preview.html", response_class=HTMLResponse,
             include_in_schema=False)
    def review_preview(request: Request, token: str, s: Editor):
        item = staging.get(token, s.user)
        if not item.has_preview:
            raise NotFoundError(f"{item.name}: nothing to draw (the file could not be read)")
        return map_response(request, _Rendered.of(uploads.preview_html(item,
                                                                       lang_of(request))))

    @app.post("/uploads/{token}/confirm", include_in_schema=False)
    def review_confirm(request: Request, token: str, s: Editor,
                       csrf: Annotated[str, Form()] = "",
                       replace: Annotated[int | None, Form()] = None):
        check_csrf(request, s, csrf)
        done = confirm_upload(s, token, lang_of(request), replace)
        return redirect(f"/batches?stored={done['batch_id']}"
                        + (f"&replaced={replace}" if replace is not None else ""))

    @app.post("/uploads/{token}/discard", include_in_schema=False)
    def review_discard(request: Request, token: str, s: Editor,
                       csrf: Annotated[str, Form()] = ""):
        check_csrf(request, s, csrf)
        item = staging.get(token, s.user)
        staging.drop(item.token)
        return redirect("/upload")

    # --- pages: batches and accounts --------------------------------------------------
    @app.get("/batches", response_class=HTMLResponse, include_in_schema=False)
    def batches_page(request: Request, s: Viewer, stored: int | None = None,
                     rolled_back: int | None = None, replaced: int | None = None):
        with store() as st:
            rows = batch_records(st)
        for r in rows:
            r["can_rollback"] = s.user.can("admin") or (
                s.user.can("editor") and r["user"] == s.user.name and r["kind"] == "plots")
        return page(request, "batches.html", batches=rows[::-1], stored=stored,
                    rolled_back=rolled_back, replaced=replaced)

    @app.post("/batches/{batch_id}/rollback", include_in_schema=False)
    def batches_rollback(request: Request, batch_id: int, s: Editor,
                         csrf: Annotated[str, Form()] = ""):
        check_csrf(request, s, csrf)
        rollback_batch(s, batch_id)
        return redirect(f"/batches?rolled_back={batch_id}")

    @app.get("/users", response_class=HTMLResponse, include_in_schema=False)
    def users_page(request: Request, s: Admin):
        return page(request, "users.html", accounts=accounts.list(), roles=ROLES)

    @app.post("/users", include_in_schema=False)
    def users_add(request: Request, s: Admin, username: Annotated[str, Form()],
                  password: Annotated[str, Form()], role: Annotated[str, Form()],
                  csrf: Annotated[str, Form()] = ""):
        check_csrf(request, s, csrf)
        accounts.add(username, password, role)
        return redirect("/users")

    @app.post("/users/{name}/remove", include_in_schema=False)
    def users_remove(request: Request, name: str, s: Admin, csrf: Annotated[str, Form()] = ""):
        check_csrf(request, s, csrf)
        remove_user(s, name)
        return redirect("/users")

    # --- downloads ----------------------------------------------------------------------
    @app.get("/downloads/summary.{fmt}", tags=["downloads"],
             response_class=Response, responses={200: {"description": "CSV or XLSX"}})
    def download_summary(request: Request, fmt: str, s: Viewer, year: Year = None):
        from ecomap.aggregate import display_table
        from ecomap.io.export import table_bytes

        if fmt not in ("csv", "xlsx"):
            raise NotFoundError(f"no summary as .{fmt}; use summary.csv or summary.xlsx")
        with store() as st:
            shown = display_table(summary_frame(st, year), lang=lang_of(request))
        media = "text/csv; charset=utf-8" if fmt == "csv" else \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return _attachment(table_bytes(shown, f".{fmt}"), f"summary.{fmt}", media)

    @app.get("/townships/{name}/plots.gpkg", tags=["downloads"], response_class=Response,
             responses={200: {"description": "GeoPackage"}})
    def download_township_plots(request: Request, name: str, s: Viewer,
                                year: Year = None):
        from ecomap.io.export import layer_bytes

        with store() as st:
            known_township(st, name)
            plots = st.plots(year=year, township=name)
        return _attachment(layer_bytes(plots, layer="plots", driver="GPKG"),
                           f"{name}_plots.gpkg", "application/geopackage+sqlite3")

    @app.get("/downloads/briefing.zip", tags=["downloads"], response_class=Response,
             responses={200: {"description": "zip"}})
    def download_briefing(request: Request, s: Viewer, year: Year = None):
        from ecomap import api

        with store() as st:
            files = api.briefing_files(st, year=year, lang=lang_of(request))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in files.items():
                zf.writestr(name, data)
        return _attachment(buf.getvalue(), "briefing.zip", "application/zip")

    def batch_records(st) -> list[dict]:
        from ecomap.units import mu_from_m2

        b = st.batches()
        b["area_mu"] = mu_from_m2(b["area_m2"].astype(float)).round(2)
        b["year"] = b["year"].astype("Int64")
        b = b.drop(columns=["area_m2"])
        b = b.astype(object).where(b.notna(), None)
        return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
                for r in b.to_dict("records")]

    # --- JSON API -------------------------------------------------------------------------
    @app.post("/api/login", tags=["accounts"])
    def api_login(request: Request, username: Annotated[str, Form()],
                  password: Annotated[str, Form()]) -> dict:
        """Exchange a name and password for a bearer token (valid ``session_hours``)."""
        user = authenticate(request, username, password)
        token, _ = accounts.open_session(user, hours=settings.session_hours, kind="api")
        return {"token": token, "user": user.name, "role": user.role,
                "expires_in": int(settings.session_hours * 3600)}

    @app.get("/api/summary", tags=["data"])
    def api_summary(s: Viewer, year: Year = None) -> list[dict]:
        """Area (mu, ha) and plot count by township, category and year: records of
        ``township, category, year, count, area_mu, area_ha`` (category codes as in
        ``ecomap summary --format json``)."""
        from ecomap.aggregate import summary_records

        with store() as st:
            body = cached(st, ("summary.json", year), lambda: json.dumps(
                summary_records(summary_frame(st, year)), ensure_ascii=False).encode())
        return Response(body, media_type="application/json")

    @app.get("/api/townships", tags=["data"])
    def api_townships(s: Viewer) -> list[dict]:
        with store() as st:
            t = st.townships()
        return [{"name": r["name"], "name_en": r.get("name_en")}
                for r in t.drop(columns="geometry").to_dict("records")]

    @app.get("/api/users", tags=["accounts"])
    def api_users(s: Admin) -> list[dict]:
        """The accounts and their roles (admins)."""
        return accounts.list()

    @app.post("/api/users", tags=["accounts"])
    def api_add_user(request: Request, s: Admin, username: Annotated[str, Form()],
                     password: Annotated[str, Form()],
                     role: Annotated[str, Form()] = "viewer") -> dict:
        """Create an account (admins)."""
        check_csrf(request, s, None)
        user = accounts.add(username, password, role)
        return {"name": user.name, "role": user.role}

    @app.delete("/api/users/{name}", tags=["accounts"])
    def api_remove_user(request: Request, name: str, s: Admin) -> dict:
        """Remove an account (admins; not one's own)."""
        check_csrf(request, s, None)
        remove_user(s, name)
        return {"removed": name}

    @app.get("/api/batches", tags=["batches"])
    def api_batches(s: Viewer) -> list[dict]:
        with store() as st:
            return batch_records(st)

    @app.post("/api/batches/{batch_id}/rollback", tags=["batches"])
    def api_rollback(request: Request, batch_id: int, s: Editor) -> dict:
        """Remove one batch (editors: their own plot batches; admins: any)."""
        check_csrf(request, s, None)
        return rollback_batch(s, batch_id)

    @app.post("/api/uploads", tags=["uploads"])
    def api_upload(request: Request, s: Editor, file: Annotated[UploadFile, File()],
                   category: Annotated[str, Form()], year: Annotated[int, Form()],
                   confirm: Annotated[bool, Form()] = False,
                   replace: Annotated[int | None, Form()] = None) -> dict:
        """Check a plot file (the JSON report of ``ecomap validate``); with
        ``confirm=true`` store it at once when it is not rejected (with ``replace=N``,
        replacing the plot batch N; ``replaceable`` lists the stored batches the file
        repeats)."""
        check_csrf(request, s, None)
        lang = lang_of(request)
        item = stage_upload(s, file, category, year, lang)
        out = {"upload_id": item.token, "report": item.report, "batch_id": None,
               "replaceable": item.replaceable}
        if confirm and (item.report["status"] != "reject" or replace is not None):
            out["batch_id"] = confirm_upload(s, item.token, lang, replace)["batch_id"]
        elif item.report["status"] == "reject" and not item.replaceable:
            staging.drop(item.token)
            out["upload_id"] = None
        return out

    @app.get("/api/uploads/{token}", tags=["uploads"])
    def api_upload_report(request: Request, token: str, s: Editor) -> dict:
        return staging.get(token, s.user).report_in(lang_of(request))

    @app.post("/api/uploads/{token}/confirm", tags=["uploads"])
    def api_confirm(request: Request, token: str, s: Editor,
                    replace: Annotated[int | None, Form()] = None) -> dict:
        """Store a checked upload as one batch; ``replace=N`` rolls back the plot batch N
        in the same transaction (editors: their own batches; admins: any)."""
        check_csrf(request, s, None)
        return confirm_upload(s, token, lang_of(request), replace)

    @app.delete("/api/uploads/{token}", tags=["uploads"])
    def api_discard(request: Request, token: str, s: Editor) -> dict:
        check_csrf(request, s, None)
        staging.drop(staging.get(token, s.user).token)
        return {"discarded": token}

    return app


def _problem_dict(problem) -> dict:
    """A problem (a :class:`~ecomap.checks.Problem` or a dict) for JSON, its message
    rendered in the request's language."""
    d = dict(problem) if isinstance(problem, dict) else dict(getattr(problem, "__dict__", {}))
    if "message" in d:
        d["message"] = render(d["message"])
    return d if d else {"message": render(problem)}


def _local(url: str) -> str:
    """Only same-site paths as redirect targets (no open redirect)."""
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else "/"


def _attachment(data: bytes, filename: str, media: str) -> Response:
    return Response(data, media_type=media, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})
