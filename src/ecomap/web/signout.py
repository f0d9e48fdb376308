"""Signing out: the API token in use, and every session of an account ("sign out
everywhere", 退出所有设备) — for people on their own account and for an administrator
acting on any account.  ``ecomap user logout NAME`` does the same from the server.
"""

from typing import Annotated

from fastapi import Depends, FastAPI, Form, Request

from ecomap.errors import AuthError
from ecomap.i18n import tr
from ecomap.web.accounts import Accounts, Session

__all__ = ["register"]


def register(app: FastAPI, *, accounts: Accounts, redirect, check_csrf, cookie: str) -> None:
    """Add the sign-out routes to ``app`` (``cookie``: the session cookie's name)."""
    from ecomap.web.app import _admin, _viewer

    Viewer = Annotated[Session, Depends(_viewer)]
    Admin = Annotated[Session, Depends(_admin)]

    def signed_out_page(request: Request, url: str):
        response = redirect(url)
        response.delete_cookie(cookie)
        return response

    @app.post("/logout/all", include_in_schema=False)
    def logout_everywhere(request: Request, s: Viewer, csrf: Annotated[str, Form()] = ""):
        check_csrf(request, s, csrf)
        accounts.close_all_sessions(s.user.name)
        return signed_out_page(request, "/login")

    @app.post("/users/{name}/logout", include_in_schema=False)
    def users_logout(request: Request, name: str, s: Admin, csrf: Annotated[str, Form()] = ""):
        check_csrf(request, s, csrf)
        accounts.close_all_sessions(name)
        if name == s.user.name:
            return signed_out_page(request, "/login")
        return redirect(f"/users?signed_out={name}")

    @app.post("/api/logout", tags=["accounts"])
    def api_logout(request: Request, s: Viewer) -> dict:
        """End the session of this call: the bearer token sent (or the session cookie,
        with its ``X-CSRF-Token``)."""
        check_csrf(request, s, None)
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else \
            request.cookies.get(cookie)
        if not token:  # not reached: the session was found by one of them
            raise AuthError(tr("没有可退出的会话", "no session to sign out of"))
        accounts.close_session(token)
        return {"signed_out": s.user.name, "sessions_closed": 1}

    @app.post("/api/logout/all", tags=["accounts"])
    def api_logout_everywhere(request: Request, s: Viewer) -> dict:
        """Sign one's own account out everywhere: every browser session and API token."""
        check_csrf(request, s, None)
        return {"signed_out": s.user.name,
                "sessions_closed": accounts.close_all_sessions(s.user.name)}

    @app.post("/api/users/{name}/logout", tags=["accounts"])
    def api_users_logout(request: Request, name: str, s: Admin) -> dict:
        """Sign an account out everywhere (admins)."""
        check_csrf(request, s, None)
        return {"signed_out": name, "sessions_closed": accounts.close_all_sessions(name)}
