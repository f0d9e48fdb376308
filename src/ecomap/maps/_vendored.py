"""The vendored browser files (``static/``) and how a CDN URL maps to one of them.

``static/MANIFEST.json`` (made by ``scripts/vendor_assets.py``) lists every vendored
file with its package, version and sha256; :func:`vendored_packages` reads it (hashes
are checked once per process).  :func:`_parse_cdn_url` turns a CDN URL into
``(package, version, file name)``: ``cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js``,
``unpkg.com/leaflet@1.9.3/...`` and ``cdnjs.cloudflare.com/ajax/libs/leaflet/1.9.3/leaflet.js``
all name ``static/leaflet/dist/leaflet.js``; ``x.js``/``x.min.js`` (and ``.css``) are
interchangeable.  The ``<script>``/``<style>`` builders return a vendored file ready to
sit inside an HTML page: CSS ``url(...)`` images and fonts as ``data:`` URIs, Leaflet's
default marker icon pointed at ``data:`` URIs too.  :mod:`ecomap.maps._assets` decides
which tags of a page are replaced by these.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["MANIFEST_PATH", "STATIC_DIR", "vendored_packages"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
MANIFEST_PATH = STATIC_DIR / "MANIFEST.json"
#: an http(s) or protocol-relative URL
_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.I)


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class _Vendored:
    package: str
    version: str
    path: Path  # absolute
    rel: str  # path under static/, e.g. "leaflet/dist/leaflet.js"
    sha256: str


@functools.lru_cache(maxsize=1)
def _manifest() -> dict[tuple[str, str], _Vendored]:
    """``(package, file name) -> vendored file``; hashes are verified once per process."""
    if not MANIFEST_PATH.is_file():
        raise RuntimeError(
            f"{MANIFEST_PATH} is missing: run `make vendor` (python3 scripts/vendor_assets.py)"
        )
    data = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    index: dict[tuple[str, str], _Vendored] = {}
    aliases: dict[tuple[str, str], _Vendored] = {}
    for pkg in data["packages"]:
        name = pkg["package"].lower()
        for f in pkg["files"]:
            path = STATIC_DIR / f["path"]
            blob = path.read_bytes() if path.is_file() else None
            if blob is None or hashlib.sha256(blob).hexdigest() != f["sha256"]:
                raise RuntimeError(
                    f"vendored file {path} is missing or modified: run `make vendor`"
                )
            entry = _Vendored(pkg["package"], pkg["version"], path, f["path"], f["sha256"])
            base = posixpath.basename(f["path"]).lower()
            index[(name, base)] = entry
            for alt in _min_variants(base):
                aliases.setdefault((name, alt), entry)
    for key, entry in aliases.items():
        index.setdefault(key, entry)
    return index


def _min_variants(name: str) -> list[str]:
    m = re.match(r"^(?P<stem>.+?)(?P<min>\.min)?\.(?P<ext>js|css)$", name)
    if not m:
        return []
    if m.group("min"):
        return [f"{m.group('stem')}.{m.group('ext')}"]
    return [f"{m.group('stem')}.min.{m.group('ext')}"]


def vendored_packages() -> dict[str, str]:
    """``{package: version}`` of everything vendored."""
    return {v.package: v.version for v in _manifest().values()}


# ------------------------------------------------------------------------ URL → package

_VERSION = re.compile(r"^v?\d+(\.\d+)*([-.+][\w.]+)?$")


def _split_at_version(segment: str) -> tuple[str, str | None]:
    if "@" in segment[1:]:
        name, _, ver = segment.rpartition("@")
        return name, ver or None
    return segment, None


def _parse_cdn_url(url: str) -> tuple[str | None, str | None, str]:
    """``(package, version, file name)`` of a CDN URL; package ``None`` if unknown.

    Understands jsDelivr (``/npm/pkg@v/``, ``/gh/owner/repo@v/``), unpkg
    (``/pkg@v/``), cdnjs (``/ajax/libs/pkg/v/``), code.jquery.com and the
    ``host/pkg/version/...`` layout of bootstrapcdn-style hosts.
    """
    parts = urlsplit(url if not url.startswith("//") else "https:" + url)
    host = parts.netloc.lower()
    segs = [s for s in parts.path.split("/") if s]
    if not segs:
        return None, None, ""
    filename = segs[-1].lower()
    pkg: str | None = None
    ver: str | None = None
    if host == "code.jquery.com":
        m = re.match(r"^(jquery(?:-ui|-migrate)?)-(\d[\d.]*?)((?:\.slim)?(?:\.min)?\.js)$",
                     filename)
        if m:
            return m.group(1), m.group(2), m.group(1) + m.group(3)
        return None, None, filename
    if segs[0] == "npm" and len(segs) > 2:  # jsDelivr npm
        rest = segs[1:]
        if rest[0].startswith("@") and len(rest) > 2:
            name, ver = _split_at_version(rest[1])
            pkg = f"{rest[0]}/{name}"
        else:
            pkg, ver = _split_at_version(rest[0])
    elif segs[0] == "gh" and len(segs) > 3:  # jsDelivr GitHub: /gh/owner/repo@ver/...
        pkg, ver = _split_at_version(segs[2])
    elif segs[:2] == ["ajax", "libs"] and len(segs) > 3:  # cdnjs
        pkg = segs[2]
        ver = segs[3] if _VERSION.match(segs[3]) else None
    elif len(segs) > 1:  # unpkg.com/pkg@ver/..., netdna.bootstrapcdn.com/bootstrap/3.0.0/...
        if segs[0].startswith("@") and len(segs) > 2:
            name, ver = _split_at_version(segs[1])
            pkg = f"{segs[0]}/{name}"
        else:
            pkg, ver = _split_at_version(segs[0])
            if ver is None and _VERSION.match(segs[1]):
                ver = segs[1]
    return (pkg.lower() if pkg else None), ver, filename


def _major(version: str | None) -> str | None:
    if not version:
        return None
    m = re.match(r"^v?(\d+)", version)
    return m.group(1) if m else None


# ------------------------------------------------------------------------ inlining


_MIME = {
    ".png": "image/png",
    ".gif": "image/gif",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".cur": "image/x-icon",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
}
_CSS_URL = re.compile(r"""url\(\s*(?P<q>['"]?)(?P<ref>[^'")]+?)(?P=q)\s*\)""", re.I)


@functools.lru_cache(maxsize=64)
def _data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise RuntimeError(f"no MIME type known for vendored file {path}")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


@functools.lru_cache(maxsize=64)
def _inline_css(path: Path) -> str:
    """The vendored CSS with every local ``url()`` turned into a ``data:`` URI."""
    css = path.read_text(encoding="utf-8")

    def repl(m: re.Match[str]) -> str:
        ref = m.group("ref").strip()
        if ref.startswith(("data:", "#")):
            return m.group(0)
        if _REMOTE.match(ref):
            raise RuntimeError(f"vendored {path} references remote url({ref})")
        target = (path.parent / ref.split("?", 1)[0].split("#", 1)[0]).resolve()
        if STATIC_DIR not in target.parents or not target.is_file():
            raise RuntimeError(f"vendored {path} references {ref}, which is not vendored")
        return f'url("{_data_uri(target)}")'

    css = _CSS_URL.sub(repl, css)
    if re.search(r"</style", css, re.I):
        raise RuntimeError(f"vendored {path} contains '</style'; cannot inline it")
    return css


@functools.lru_cache(maxsize=64)
def _inline_js(path: Path) -> tuple[str, bool]:
    """``(text, as_data_uri)``: the script made safe inside ``<script>...</script>``."""
    js = path.read_text(encoding="utf-8")
    if "<!--" in js:
        # "<!--" + "<script" would switch the HTML parser into double-escaped mode;
        # a data: URI script is equally offline and needs no escaping.
        return base64.b64encode(js.encode("utf-8")).decode("ascii"), True
    # "</script" can only appear inside a string, regex or comment: "<\/" is equivalent.
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.I), False


def _script_tag(v: _Vendored) -> str:
    label = f"{v.package}@{v.version}/{v.rel.split('/', 1)[1]}"
    text, as_uri = _inline_js(v.path)
    if as_uri:
        return (
            f'<script data-ecomap-asset="{label}" '
            f'src="data:text/javascript;base64,{text}"></script>'
        )
    tag = f'<script data-ecomap-asset="{label}">{text}\n</script>'
    if v.package == "leaflet" and v.path.name.startswith("leaflet"):
        tag += _leaflet_icon_patch(v.path.parent / "images")
    return tag


def _leaflet_icon_patch(images: Path) -> str:
    """Point ``L.Icon.Default`` at data: URIs (Leaflet derives a path from leaflet.css)."""
    opts = {
        "iconUrl": _data_uri(images / "marker-icon.png"),
        "iconRetinaUrl": _data_uri(images / "marker-icon-2x.png"),
        "shadowUrl": _data_uri(images / "marker-shadow.png"),
    }
    return (
        '<script data-ecomap-asset="leaflet-default-icon">'
        'L.Icon.Default.imagePath = "";'
        f"L.Icon.Default.mergeOptions({json.dumps(opts)});</script>"
    )


def _style_tag(v: _Vendored) -> str:
    label = f"{v.package}@{v.version}/{v.rel.split('/', 1)[1]}"
    return f'<style data-ecomap-asset="{label}">{_inline_css(v.path)}\n</style>'
