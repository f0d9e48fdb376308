"""Sign-in and accounts: signing in and out (pages and API), signing an account out
everywhere ("sign out everywhere", 退出所有设备 — for people on their own account and
for an administrator acting on any account; ``ecomap user logout NAME`` does the same
from the server), and the administrators' list of accounts.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from ecomap.errors import AuthError, InputError, PermissionDenied, TooManyAttempts
from ecomap.i18n import tr
from ecomap.web.accounts import ROLES, Accounts, Session, device_digest
from ecomap.web.auth import (
    DEVICE_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Admin,
    Viewer,
    authenticate,
    check_csrf,
)
from ecomap.web.deps import AccountsDep, SettingsDep
from ecomap.web.responses import local, page, redirect

__all__ = ["router"]

router = APIRouter()


def remove_user(accounts: Accounts, s: Session, name: str) -> None:
    if name == s.user.name:
        raise InputError(tr("不能删除当前登录使用的账号",
                            "you cannot remove your own account while signed in with it"))
    accounts.remove(name)


def store_township(request: Request, value: str | None) -> str | None:
    """The official name of township ``value`` among the store's (None for none)."""
    from ecomap.townnames import official_township
    from ecomap.web.data import store_of

    if not value or not value.strip():
        return None
    with store_of(request) as st:
        return official_township(value, st.townships()["name"])


def signed_out_page(url: str):
    response = redirect(url)
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- pages: sign-in and out -----------------------------------------------------------

@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str = "/"):
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", login_csrf=token, next=local(next))
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.post("/login", include_in_schema=False)
def login(request: Request, username: Annotated[str, Form()],
          password: Annotated[str, Form()], accounts: AccountsDep, settings: SettingsDep,
          csrf: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"):
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
                    next=local(next), failed=True, username=username)
    # The browser's earlier session ends: the one it sends, and any other of this
    # account on this device.
    accounts.close_session(request.cookies.get(SESSION_COOKIE))
    device = request.cookies.get(DEVICE_COOKIE) or secrets.token_urlsafe(24)
    token, _ = accounts.open_session(user, hours=settings.session_hours,
                                     device=device_digest(device))
    accounts.remember(user, client="", device=device_digest(device))
    response = redirect(local(next))
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        max_age=int(settings.session_hours * 3600), secure=secure)
    response.set_cookie(DEVICE_COOKIE, device, httponly=True, samesite="lax",
                        max_age=400 * 86400, secure=secure)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, s: Viewer, accounts: AccountsDep,
           csrf: Annotated[str, Form()] = ""):
    check_csrf(request, s, csrf)
    accounts.close_session(request.cookies.get(SESSION_COOKIE))
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/logout/all", include_in_schema=False)
def logout_everywhere(request: Request, s: Viewer, accounts: AccountsDep,
                      csrf: Annotated[str, Form()] = ""):
    check_csrf(request, s, csrf)
    accounts.close_all_sessions(s.user.name)
    return signed_out_page("/login")


@router.post("/users/{name}/logout", include_in_schema=False)
def users_logout(request: Request, name: str, s: Admin, accounts: AccountsDep,
                 csrf: Annotated[str, Form()] = ""):
    check_csrf(request, s, csrf)
    accounts.close_all_sessions(name)
    if name == s.user.name:
        return signed_out_page("/login")
    return redirect(f"/users?signed_out={name}")


# --- pages: accounts ------------------------------------------------------------------

@router.get("/users", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, s: Admin, accounts: AccountsDep):
    from ecomap.web.data import store_of

    with store_of(request) as st:
        towns = [str(n) for n in st.townships()["name"]]
    return page(request, "users.html", accounts=accounts.list(), roles=ROLES, towns=towns)


@router.post("/users", include_in_schema=False)
def users_add(request: Request, s: Admin, username: Annotated[str, Form()],
              password: Annotated[str, Form()], role: Annotated[str, Form()],
              accounts: AccountsDep, csrf: Annotated[str, Form()] = "",
              township: Annotated[str, Form()] = ""):
    check_csrf(request, s, csrf)
    accounts.add(username, password, role, store_township(request, township))
    return redirect("/users")


@router.post("/users/{name}/remove", include_in_schema=False)
def users_remove(request: Request, name: str, s: Admin, accounts: AccountsDep,
                 csrf: Annotated[str, Form()] = ""):
    check_csrf(request, s, csrf)
    remove_user(accounts, s, name)
    return redirect("/users")


# --- JSON API -------------------------------------------------------------------------

@router.post("/api/login", tags=["accounts"])
def api_login(request: Request, username: Annotated[str, Form()],
              password: Annotated[str, Form()], accounts: AccountsDep,
              settings: SettingsDep) -> dict:
    """Exchange a name and password for a bearer token (valid ``session_hours``)."""
    user = authenticate(request, username, password)
    token, _ = accounts.open_session(user, hours=settings.session_hours, kind="api")
    return {"token": token, "user": user.name, "role": user.role,
            "expires_in": int(settings.session_hours * 3600)}


@router.post("/api/logout", tags=["accounts"])
def api_logout(request: Request, s: Viewer, accounts: AccountsDep) -> dict:
    """End the session of this call: the bearer token sent (or the session cookie,
    with its ``X-CSRF-Token``)."""
    check_csrf(request, s, None)
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else \
        request.cookies.get(SESSION_COOKIE)
    if not token:  # not reached: the session was found by one of them
        raise AuthError(tr("没有可退出的会话", "no session to sign out of"))
    accounts.close_session(token)
    return {"signed_out": s.user.name, "sessions_closed": 1}


@router.post("/api/logout/all", tags=["accounts"])
def api_logout_everywhere(request: Request, s: Viewer, accounts: AccountsDep) -> dict:
    """Sign one's own account out everywhere: every browser session and API token."""
    check_csrf(request, s, None)
    return {"signed_out": s.user.name,
            "sessions_closed": accounts.close_all_sessions(s.user.name)}


@router.get("/api/users", tags=["accounts"])
def api_users(s: Admin, accounts: AccountsDep) -> list[dict]:
    """The accounts and their roles (admins)."""
    return accounts.list()


@router.post("/api/users", tags=["accounts"])
def api_add_user(request: Request, s: Admin, username: Annotated[str, Form()],
                 password: Annotated[str, Form()], accounts: AccountsDep,
                 role: Annotated[str, Form()] = "viewer",
                 township: Annotated[str, Form()] = "") -> dict:
    """Create an account (admins); ``township`` binds it to one of the store's
    townships."""
    check_csrf(request, s, None)
    user = accounts.add(username, password, role, store_township(request, township))
    return {"name": user.name, "role": user.role, "township": user.township}


@router.delete("/api/users/{name}", tags=["accounts"])
def api_remove_user(request: Request, name: str, s: Admin, accounts: AccountsDep) -> dict:
    """Remove an account (admins; not one's own)."""
    check_csrf(request, s, None)
    remove_user(accounts, s, name)
    return {"removed": name}


@router.post("/api/users/{name}/logout", tags=["accounts"])
def api_users_logout(request: Request, name: str, s: Admin, accounts: AccountsDep) -> dict:
    """Sign an account out everywhere (admins)."""
    check_csrf(request, s, None)
    return {"signed_out": name, "sessions_closed": accounts.close_all_sessions(name)}
