"""Make a rendered folium page self-contained: no request leaves the machine.

folium writes ``<script src="https://cdn...">`` and ``<link rel="stylesheet"
href="https://cdn...">`` tags for Leaflet, its plugins and its default extras.  On the
county intranet none of those hosts answer, so :func:`inline_assets` rewrites the HTML
string of a rendered figure:

* every remote script/stylesheet that is **vendored** (``static/MANIFEST.json``, made by
  ``scripts/vendor_assets.py``) is replaced by an inline ``<script>``/``<style>`` holding
  the vendored file; images and fonts that the CSS references with ``url(...)`` become
  ``data:`` URIs;
* Leaflet's default marker icon (``L.Icon.Default``, which Leaflet would otherwise look
  for next to ``leaflet.css``) is pointed at ``data:`` URIs too;
* folium's default extras that our maps do not use are **dropped**: Bootstrap 5 (JS and
  CSS), the Bootstrap 3 glyphicons CSS, Font Awesome, Leaflet.awesome-markers and
  folium's awesome-rotate CSS — each group only when nothing in the page uses it (see
  ``_DROPPABLE``).  jQuery is vendored but also droppable: it is inlined only when the page
  calls ``$``/``jQuery`` (``folium.Popup`` does, ``GeoJsonPopup``/``GeoJsonTooltip`` do
  not);
* anything else — a remote script/stylesheet that is neither vendored nor droppable, or
  a droppable one the page does use (e.g. ``folium.Icon`` needs awesome-markers) —
  raises :class:`UnvendoredAssetError` (a :class:`RuntimeError`) naming the URL, so a
  new plugin can never silently turn into a network request.

Mapping a CDN URL to a vendored file (:mod:`ecomap.maps._vendored`) uses the package
name and the file name only (``cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js``,
``unpkg.com/leaflet@1.9.3/...`` and ``cdnjs.cloudflare.com/ajax/libs/leaflet/1.9.3/leaflet.js`` all map to
``static/leaflet/dist/leaflet.js``); ``x.js``/``x.min.js`` (and ``.css``) are
interchangeable.  The URL's major version must match the vendored one.

Why HTML post-processing and no ``strip_default_assets(m)`` that edits
``Map.default_js``: the rendered page is the only place where *all* assets of *all*
elements (plugins, branca colormaps, user ``Element``s in the header) are visible
together with the code that needs them, so the "is it used?" decision and the "is it
vendored?" check happen in one place, for any figure.  Editing ``default_js`` would drop
jQuery before we can see that a ``folium.Popup`` needs it.

:func:`asset_report` lists the remote URLs a browser would still fetch (scripts,
stylesheets, ``src=``, CSS ``url()``, tile/image-overlay URL templates, icon URLs,
``$.ajax``/``fetch`` targets); :func:`render_offline` renders, inlines and refuses to
return a page for which that list is not empty — but for the tile URL templates of an
online basemap the caller allows on purpose (``allow=``; the page then says it needs
the internet).  Inert ``<script type="application/json">`` data blocks (ecomap's plot
layers, megabytes) are skipped by both scans.

The offline overview map that replaces ``folium.plugins.MiniMap`` is
:class:`ecomap.maps._minimap.GeoJsonMiniMap`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecomap.maps._vendored import (
    _REMOTE,
    _major,
    _manifest,
    _parse_cdn_url,
    _script_tag,
    _style_tag,
    _Vendored,
)

if TYPE_CHECKING:
    import folium
    from branca.element import Element

__all__ = [
    "UnvendoredAssetError",
    "asset_report",
    "inline_assets",
    "render_offline",
]


class UnvendoredAssetError(RuntimeError):
    """The page needs a remote asset that is not vendored; ``url`` names it."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url


# ------------------------------------------------------------- droppable default extras


@dataclass(frozen=True)
class _Droppable:
    group: str
    package: re.Pattern[str]
    filename: re.Pattern[str]
    needed_by: re.Pattern[str]  # searched in the page without its external tags


_DROPPABLE: tuple[_Droppable, ...] = (
    _Droppable(
        "jquery",
        re.compile(r"^jquery$"),
        re.compile(r"^jquery(\.slim)?(\.min)?\.js$"),
        re.compile(r"(?<![\w$])\$\s*\(|(?<![\w$])\$\.[A-Za-z_]|\bjQuery\b"),
    ),
    _Droppable(
        "awesome-markers",
        re.compile(r"^(leaflet\.awesome-markers|folium)$"),
        re.compile(r"^leaflet\.awesome(-markers|\.rotate)(\.min)?\.(js|css)$"),
        re.compile(r"AwesomeMarkers|awesome-marker|fa-rotate-"),
    ),
    _Droppable(
        "glyphicons",
        re.compile(r"^bootstrap$"),
        re.compile(r"^bootstrap-glyphicons(\.min)?\.css$"),
        re.compile(r"glyphicon"),
    ),
    _Droppable(
        "font-awesome",
        re.compile(r"^(@fortawesome/fontawesome-free|font-awesome|fontawesome)$"),
        re.compile(r"^.+\.css$"),
        re.compile(
            r"""(?<![\w-])fa-[a-z][a-z0-9-]*|["']?prefix["']?\s*:\s*["']fa[srb]?["']"""
            r"""|class\s*=\s*\\?["'](?:[^"'\\]*\s)?fa[srlbdt]?(?:\s|\\?["'])"""
        ),
    ),
    _Droppable(
        "bootstrap",
        re.compile(r"^bootstrap$"),
        re.compile(r"^bootstrap(\.bundle)?(\.min)?\.(js|css)$"),
        re.compile(
            r"data-bs-[a-z]|data-toggle\s*=|\bbootstrap\.[A-Z][a-z]+"
            r"""|class\s*=\s*\\?["'](?:[^"'\\]*\s)?"""
            r"(btn|btn-[a-z-]+|card|card-[a-z-]+|badge|alert|alert-[a-z-]+|navbar[a-z-]*"
            r"|nav-tabs|nav-pills|form-control|form-select|form-check|list-group[a-z-]*"
            r"|table-striped|table-bordered|table-hover|table-sm|modal[a-z-]*|d-flex|d-none"
            r"|col|col-[a-z0-9-]+|row|container(-fluid)?|text-bg-[a-z]+)"
            r"""(?=\s|\\?["'])"""
        ),
    ),
)


def _droppable(pkg: str | None, filename: str) -> _Droppable | None:
    if pkg is None:
        return None
    for d in _DROPPABLE:
        if d.package.match(pkg) and d.filename.match(filename):
            return d
    return None


# --------------------------------------------------------------------------- HTML scan

_SCRIPT_TAG = re.compile(r"<script\b(?P<attrs>[^>]*)>\s*</script\s*>", re.I)
#: Inert data blocks (``<script type="application/json">``): no fetch can start there.
_DATA_OPEN = re.compile(
    r"""<script\b[^>]*\btype\s*=\s*["']?application/(?:geo\+)?json["']?[^>]*>""", re.I)
_SCRIPT_END = re.compile(r"</script", re.I)


def _strip_data_blocks(html: str) -> str:
    """*html* without its JSON data blocks (which can be megabytes of plots).

    A block ends where the browser ends it: at the first ``</script``.
    """
    parts, pos = [], 0
    while (m := _DATA_OPEN.search(html, pos)) is not None:
        end = _SCRIPT_END.search(html, m.end())
        parts.append(html[pos:m.start()])
        if end is None:
            pos = len(html)
            break
        pos = end.start()
        parts.append("<script>")  # keeps the closing tag balanced for the scanners
    parts.append(html[pos:])
    return "".join(parts)
_LINK_TAG = re.compile(r"<link\b(?P<attrs>[^>]*)>", re.I)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
#: rel values of <link> that make the browser fetch the href
_FETCHING_RELS = {
    "stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "prefetch",
    "preconnect", "dns-prefetch", "modulepreload", "manifest", "prerender",
}  # fmt: skip


def _attrs(text: str) -> dict[str, str]:
    out = {}
    for m in _ATTR.finditer(text):
        value = next(v for v in m.groups()[1:] if v is not None)
        out[m.group(1).lower()] = value
    return out


def _link_fetches(attrs: dict[str, str]) -> bool:
    return bool(set(attrs.get("rel", "").lower().split()) & _FETCHING_RELS)


def _resolve(url: str, kind: str, page_text: str) -> tuple[str, _Vendored | None]:
    """``("drop", None)`` or ``("inline", vendored)``; raises for anything else."""
    pkg, ver, filename = _parse_cdn_url(url)
    drop = _droppable(pkg, filename)
    if drop is not None:
        need = drop.needed_by.search(page_text)
        if need is None:
            return "drop", None
    vendored = _manifest().get((pkg, filename)) if pkg else None
    if vendored is None:
        if drop is not None:
            raise UnvendoredAssetError(
                url,
                f"the page uses {drop.group} (found {need.group(0)!r}) but {drop.group} is "
                "not vendored; remove that use (e.g. folium.Icon -> CircleMarker/DivIcon, "
                "no Font Awesome/Bootstrap classes in popups) or vendor it in "
                "scripts/vendor_assets.py",
            )
        raise UnvendoredAssetError(
            url,
            f"{kind} {filename!r} of package {pkg!r} is not vendored, so the map would "
            "need the internet; add the package to scripts/vendor_assets.py and run "
            "`make vendor`, or do not use the element that needs it",
        )
    if (vendored.path.suffix == ".js") != (kind == "script"):
        raise UnvendoredAssetError(url, f"vendored {vendored.rel} is not a {kind}")
    if _major(ver) is not None and _major(ver) != _major(vendored.version):
        raise UnvendoredAssetError(
            url,
            f"the page asks for {pkg} {ver} but {vendored.version} is vendored; "
            "update the pin in scripts/vendor_assets.py and run `make vendor`",
        )
    return "inline", vendored


def inline_assets(html: str) -> str:
    """Return *html* with every remote script and stylesheet inlined or dropped.

    *html* is a rendered folium figure (``m.get_root().render()``).  Vendored assets are
    inlined (CSS images as ``data:`` URIs, Leaflet's default icon patched to ``data:``
    URIs), unused folium extras (jQuery, Bootstrap, glyphicons, Font Awesome,
    awesome-markers) are removed, and :class:`UnvendoredAssetError` (a
    :class:`RuntimeError`) is raised naming the first URL that is needed but not
    vendored.  Each vendored file is inlined once even if referenced twice.  Other
    remote references (tile URLs, ``<img src>``) are left alone: see
    :func:`asset_report` / :func:`render_offline`.
    """
    page_text = _LINK_TAG.sub("", _SCRIPT_TAG.sub("", _strip_data_blocks(html)))
    seen: set[str] = set()

    def script(m: re.Match[str]) -> str:
        src = _attrs(m.group("attrs")).get("src")
        if not src or not _REMOTE.match(src):
            return m.group(0)
        action, vendored = _resolve(src.strip(), "script", page_text)
        if action == "drop" or vendored is None or vendored.rel in seen:
            return ""
        seen.add(vendored.rel)
        return _script_tag(vendored)

    def link(m: re.Match[str]) -> str:
        attrs = _attrs(m.group("attrs"))
        href = attrs.get("href", "")
        if not _REMOTE.match(href) or not _link_fetches(attrs):
            return m.group(0)
        if "stylesheet" not in attrs.get("rel", "").lower().split():
            raise UnvendoredAssetError(
                href, f"<link rel={attrs.get('rel')!r}> would fetch from the internet"
            )
        action, vendored = _resolve(href.strip(), "stylesheet", page_text)
        if action == "drop" or vendored is None or vendored.rel in seen:
            return ""
        seen.add(vendored.rel)
        return _style_tag(vendored)

    html = _SCRIPT_TAG.sub(script, html)
    return _LINK_TAG.sub(link, html)


# ----------------------------------------------------------------------------- report

_Q = r"""(?P<q>\\?["'`])"""
# A URL inside quotes; JS string escapes (\u0026, \/) are part of it.
_URL_IN_Q = r"(?P<url>(?:https?:)?//(?:[^\"'`\s\\]|\\u[0-9a-fA-F]{4}|\\/)+)"
_REPORT_PATTERNS = (
    # src / srcset / poster attributes (also inside HTML built in JS strings)
    re.compile(r"\b(?:src|poster)\s*=\s*" + _Q + r"?\s*" + _URL_IN_Q, re.I),
    re.compile(r"\bsrcset\s*=\s*" + _Q + r"\s*" + _URL_IN_Q, re.I),
    # CSS url() and @import, anywhere (style tags, style attributes, JS strings)
    re.compile(r"""url\(\s*\\?["']?\s*(?P<url>(?:https?:)?//[^"')\s\\]+)""", re.I),
    re.compile(r"@import\s+" + _Q + _URL_IN_Q, re.I),
    # Leaflet layers and overlays whose first argument is a URL (template)
    re.compile(
        r"L\.(?:tileLayer(?:\.wms)?|imageOverlay|videoOverlay|svgOverlay)\s*\(\s*"
        + _Q + _URL_IN_Q
    ),
    # icon URLs and ajax/fetch targets
    re.compile(
        r"""["']?(?:iconUrl|iconRetinaUrl|shadowUrl|shadowRetinaUrl)["']?\s*:\s*"""
        + _Q + _URL_IN_Q
    ),
    re.compile(
        r"(?:\$\.ajax|\$\.getJSON|\$\.get|\bfetch|d3\.(?:json|csv|tsv|xml|text|html))"
        r"\s*\(\s*" + _Q + _URL_IN_Q
    ),
)


def asset_report(html: str) -> list[str]:
    """Remote (http, https or protocol-relative) URLs the browser would fetch.

    Looks at ``<script src>``, fetching ``<link href>`` (stylesheet, icon, preload…),
    ``src``/``srcset``/``poster`` attributes, CSS ``url()``/``@import``, the URL
    templates of ``L.tileLayer``/``L.tileLayer.wms``/image and video overlays, marker
    icon URLs and ``$.ajax``/``fetch``/``d3.json`` targets; inert JSON data blocks
    (``<script type="application/json">``) are skipped.  Plain links
    (``<a href>``, attribution text) are not fetches and are not reported.  Returns the
    URLs in order of first appearance, without duplicates; ``[]`` means offline-safe.
    """
    found: dict[str, None] = {}
    html = _strip_data_blocks(html)
    for m in _SCRIPT_TAG.finditer(html):
        src = _attrs(m.group("attrs")).get("src", "")
        if _REMOTE.match(src):
            found.setdefault(src.strip())
    for m in _LINK_TAG.finditer(html):
        attrs = _attrs(m.group("attrs"))
        if _REMOTE.match(attrs.get("href", "")) and _link_fetches(attrs):
            found.setdefault(attrs["href"].strip())
    hits: list[tuple[int, str]] = []
    for pattern in _REPORT_PATTERNS:
        hits.extend((m.start(), m.group("url")) for m in pattern.finditer(html))
    for _, url in sorted(hits):
        found.setdefault(url)
    return list(found)


def _unescape_js_url(url: str) -> str:
    """A URL as written inside a JS string (``\\u0026``, ``\\/``) → as the browser uses it."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), url).replace(
        "\\/", "/")


def render_offline(m: folium.Map | folium.Figure | Element, *, allow=()) -> str:
    """Render *m*'s root figure, inline its assets and insist nothing remote is left.

    *allow* lists remote URLs that may stay on purpose: the tile URL templates of an
    online basemap the user asked for (the page says it needs the internet).

    Raises :class:`UnvendoredAssetError` for an unvendored script/stylesheet and
    :class:`RuntimeError` listing every other remote URL (tiles, images, ...).
    """
    html = inline_assets(m.get_root().render())
    allowed = {_unescape_js_url(u) for u in allow}
    remote = [u for u in asset_report(html) if _unescape_js_url(u) not in allowed]
    if remote:
        raise RuntimeError(
            "the map would still fetch from the network: "
            + ", ".join(remote)
            + " (use tiles=None or an intranet tile server with a relative URL, and "
            "GeoJsonMiniMap instead of MiniMap)"
        )
    return html
