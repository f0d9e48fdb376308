"""Each web request rendered in its own language (``?lang=``, the cookie, the default)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from ecomap.i18n import use_lang

__all__ = ["RequestLang"]


class RequestLang:
    """ASGI middleware: messages raised or shown while answering a request are rendered
    in the request's language (``lang_of(request)``), whatever other requests ask."""

    def __init__(self, app, *, lang_of: Callable[[Request], str]) -> None:
        self.app, self.lang_of = app, lang_of

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with use_lang(self.lang_of(Request(scope))):
            await self.app(scope, receive, send)
