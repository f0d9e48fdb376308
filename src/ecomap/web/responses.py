"""How the web service answers: pages from the templates (escaped, in the request's
language), redirects, map documents and file downloads."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from ecomap import __version__
from ecomap.web._lang import LANG_COOKIE, lang_of
from ecomap.web._text import text
from ecomap.web.auth import session_of

if TYPE_CHECKING:
    from ecomap.web.cache import Rendered

__all__ = ["MAP_CSP", "PAGE_CSP", "attachment", "local", "map_response", "page",
           "redirect", "templates"]

PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-src 'self'; form-action 'self'; "
            "frame-ancestors 'self'; base-uri 'none'")
# Maps are one self-contained document: inline scripts and data URLs, nothing remote.
MAP_CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
           "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
           "connect-src 'none'; frame-ancestors 'self'; base-uri 'none'; "
           # Opened directly or in a frame, a map runs in an origin of its own: a script
           # slipped into it could not act as the signed-in user.
           "sandbox allow-scripts allow-popups")


def templates() -> Environment:
    """The page templates, every value escaped."""
    env = Environment(loader=PackageLoader("ecomap.web", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    # A path segment: everything escaped, "/" included (Jinja's urlencode keeps it).
    env.filters["q"] = lambda v: quote(str(v), safe="")
    return env


def page(request: Request, template: str, status: int = 200, **values) -> HTMLResponse:
    """The page ``template`` in the request's language, for the session asking (a
    ``?lang=`` is remembered in a cookie)."""
    lang = lang_of(request)
    s = getattr(request.state, "session", None) or session_of(request)
    body = request.app.state.templates.get_template(template).render(
        t=lambda key, **v: text(key, lang, **v), lang=lang, session=s,
        user=s.user if s else None, csrf=s.csrf if s else "", path=request.url.path,
        version=__version__, **values)
    response = HTMLResponse(body, status_code=status)
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def local(url: str) -> str:
    """Only same-site paths as redirect targets (no open redirect)."""
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else "/"


def map_response(request: Request, doc: Rendered) -> Response:
    """A map document: 304 when the browser has it, gzipped when it may be."""
    headers = {"Content-Security-Policy": MAP_CSP, "ETag": doc.etag,
               "Vary": "Accept-Encoding, Cookie", "Cache-Control": "private, no-cache"}
    if request.headers.get("if-none-match") == doc.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(doc.gzipped, media_type="text/html; charset=utf-8",
                        headers=headers)
    return Response(doc.body, media_type="text/html; charset=utf-8", headers=headers)


def attachment(data: bytes, filename: str, media: str) -> Response:
    """A file to download, named ``filename`` (any characters)."""
    return Response(data, media_type=media, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})
