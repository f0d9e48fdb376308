"""Who is asking, and whether they may: sessions (a bearer token for the API, the
session cookie for pages), roles, CSRF tokens and counted sign-in attempts.

Routes declare the role they need as a parameter (``s: Viewer``, ``Editor``, ``Admin``);
the upload routes are also checked before their body is read
(:func:`authorize_upload`, run by :class:`~ecomap.web.guard.UploadGate`).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from ecomap.errors import AuthError, PermissionDenied
from ecomap.i18n import tr
from ecomap.web.accounts import Accounts, Session, User, device_digest

__all__ = ["DEVICE_COOKIE", "LOGIN_CSRF_COOKIE", "SESSION_COOKIE", "Admin", "Editor",
           "Viewer", "authenticate", "authorize_upload", "check_csrf", "is_api", "need",
           "session_of"]

SESSION_COOKIE = "ecomap_session"
LOGIN_CSRF_COOKIE = "ecomap_login_csrf"
#: A random id of the browser, set at a successful sign-in: failed sign-ins elsewhere do
#: not hold up a device the account signed in from before.
DEVICE_COOKIE = "ecomap_device"


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
        raise AuthError(tr("请先登录", "please sign in first") if not is_api(request) else
                        tr("请先登录: POST /api/login, 然后以 'Authorization: Bearer <令牌>' "
                           "发送令牌",
                           "sign in first: POST /api/login, then send the token as "
                           "'Authorization: Bearer <token>'"))
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


def authorize_upload(request: Request) -> Session:
    """Sign-in, role and CSRF of an upload, from its headers and query string only."""
    s = need(request, "editor")
    check_csrf(request, s, request.query_params.get("csrf"))
    return s


def authenticate(request: Request, username: str, password: str) -> User:
    """The account, with failed attempts counted and limited (pages and API alike)."""
    accounts: Accounts = request.app.state.accounts
    limiter = request.app.state.limiter
    client = request.client.host if request.client else "?"
    device = device_digest(request.cookies.get(DEVICE_COOKIE))
    attempt = limiter.attempt(username, client, device)
    user = accounts.authenticate(username, password)
    limiter.succeeded(attempt, user, client, device)
    return user


def _viewer(request: Request) -> Session:
    return need(request, "viewer")


def _editor(request: Request) -> Session:
    return need(request, "editor")


def _admin(request: Request) -> Session:
    return need(request, "admin")


Viewer = Annotated[Session, Depends(_viewer)]
Editor = Annotated[Session, Depends(_editor)]
Admin = Annotated[Session, Depends(_admin)]
