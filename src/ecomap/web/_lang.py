"""The language of each web request (``?lang=``, the cookie, the default), and every
request rendered in its own language."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from ecomap.i18n import use_lang

__all__ = ["LANG_COOKIE", "RequestLang", "lang_of"]

LANG_COOKIE = "ecomap_lang"


def lang_of(request: Request) -> str:
    """``?lang=`` of the request, else its language cookie, else the default of the
    app's settings."""
    q = request.query_params.get("lang")
    if q in ("zh", "en"):
        return q
    c = request.cookies.get(LANG_COOKIE)
    return c if c in ("zh", "en") else request.app.state.settings.lang


class RequestLang:
    """ASGI middleware: messages raised or shown while answering a request are rendered
    in the request's language (``lang_of(request)``), whatever other requests ask."""

    def __init__(self, app, *, lang_of: Callable[[Request], str] = lang_of) -> None:
        self.app, self.lang_of = app, lang_of

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with use_lang(self.lang_of(Request(scope))):
            await self.app(scope, receive, send)
