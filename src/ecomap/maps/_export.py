"""PNG and PDF of a rendered page, printed by headless Chromium (no other dependency).

The page is laid out as it prints: print media is emulated from the start, so Leaflet
sizes the map to the paper (``@page`` of the page, A4 landscape for a map, A4 portrait
for a briefing) and never has to redraw for printing.  Then, once ``<html data-ecomap-ready>`` says every
map has drawn:

* PNG: a screenshot of the first page at ``dpi`` (device scale ``dpi / 96``; the canvas
  layers draw at that resolution too), with a ``pHYs`` chunk so that the file prints at
  A4 size;
* PDF: ``Page.printToPDF`` with the page's own paper size and margins, backgrounds on;
  a page that asks for a footer (a ``<template id="ecomap-pdf-footer">``, as the
  briefing has: issuing unit and "第 N 页 共 M 页") gets it on every page, in a bottom
  margin made tall enough for it.  A single map has none: it is one page, whose notes
  already say what it is.

Chinese text needs a CJK font on the machine that exports (Debian:
``fonts-wqy-zenhei``, which ``make browser`` installs); the browser's own network is
switched off, so no web font can be fetched either.
"""

from __future__ import annotations

import re
import struct
import tempfile
import zlib
from pathlib import Path

from ecomap.i18n import tr
from ecomap.maps._chromium import Chromium, ChromiumError
from ecomap.maps._furniture import MARGIN_MM, PAPER_MM

__all__ = ["html_to_pdf", "html_to_png", "page_size", "pdf_footer"]

_PAGE = re.compile(r"@page\s*\{[^}]*?size\s*:\s*(A[34])\s+(landscape|portrait)", re.I)
_CSS_PX_PER_MM = 96 / 25.4
_FOOTER = re.compile(r'<template id="ecomap-pdf-footer">(.*?)</template>', re.S)
#: Bottom margin of a page with a footer: the footer's line and some air above it.
FOOTER_MARGIN_MM = 16.0


def pdf_footer(html: str) -> str | None:
    """The footer the page asks for in its PDF (Chromium ``footerTemplate`` HTML, with
    ``<span class="pageNumber">`` and ``<span class="totalPages">``), or None."""
    m = _FOOTER.search(html)
    return m.group(1) if m else None


def page_size(html: str) -> tuple[str, bool]:
    """``(paper, landscape)`` from the page's first ``@page`` rule (default A4 landscape)."""
    m = _PAGE.search(html)
    if not m:
        return "A4", True
    return m.group(1).upper(), m.group(2).lower() == "landscape"


def _page_px(paper: str, landscape: bool) -> tuple[int, int]:
    w, h = PAPER_MM[paper]
    if landscape:
        w, h = h, w
    return round(w * _CSS_PX_PER_MM), round(h * _CSS_PX_PER_MM)


def _open(browser: Chromium, html: str, tmp: Path, *, width: int, height: int,
          scale: float, png: bool, timeout: float):
    path = tmp / "page.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(offline=True)
    page.call("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": scale, "mobile": False})
    page.call("Emulation.setEmulatedMedia", {"media": "print"})
    page.goto(path.as_uri(), timeout=timeout)
    try:
        page.wait_for("document.documentElement.getAttribute('data-ecomap-ready') === '1'",
                      timeout=timeout)
    except ChromiumError as exc:
        errors = "; ".join(page.errors()[:3])
        raise ChromiumError(tr("地图在 {seconds:.0f} 秒内未绘制完成{errors}",
                               "the map did not finish drawing in {seconds:.0f} s{errors}",
                               seconds=timeout, errors=": " + errors if errors else "")
                            ) from exc
    if png:  # the page's margins as white padding (only the map moves, not its size)
        page.evaluate("new Promise(function (done) {"
                      "document.documentElement.classList.add('ecomap-png');"
                      "requestAnimationFrame(function () { requestAnimationFrame(done); });})")
    return page


def html_to_png(html: str, *, dpi: int = 300, timeout: float = 120.0) -> bytes:
    """The first printed page of ``html`` as a PNG at ``dpi`` (300: 3508 × 2480 for A4)."""
    paper, landscape = page_size(html)
    width, height = _page_px(paper, landscape)
    with tempfile.TemporaryDirectory(prefix="ecomap-export-") as tmp, \
            Chromium(timeout=timeout) as browser:
        page = _open(browser, html, Path(tmp), width=width, height=height, scale=dpi / 96,
                     png=True, timeout=timeout)
        png = page.screenshot(clip={"x": 0, "y": 0, "width": width, "height": height,
                                    "scale": 1})
    return with_dpi(png, dpi)


def html_to_pdf(html: str, *, timeout: float = 120.0) -> bytes:
    """``html`` printed to PDF on its own paper (``@page``), backgrounds included."""
    paper, landscape = page_size(html)
    width, height = _page_px(paper, landscape)
    margin_in = MARGIN_MM / 25.4
    w_mm, h_mm = PAPER_MM[paper]
    if landscape:
        w_mm, h_mm = h_mm, w_mm
    with tempfile.TemporaryDirectory(prefix="ecomap-export-") as tmp, \
            Chromium(timeout=timeout) as browser:
        page = _open(browser, html, Path(tmp), width=width, height=height, scale=2,
                     png=False, timeout=timeout)
        footer = pdf_footer(html)
        extra = {"displayHeaderFooter": False}
        if footer is not None:
            # The page's @page margin-bottom should be as tall (CSS margins win).
            extra = {"displayHeaderFooter": True, "headerTemplate": "<span></span>",
                     "footerTemplate": footer, "marginBottom": FOOTER_MARGIN_MM / 25.4}
        return page.pdf(**{"printBackground": True, "preferCSSPageSize": True,
                           "paperWidth": w_mm / 25.4, "paperHeight": h_mm / 25.4,
                           "marginTop": margin_in, "marginBottom": margin_in,
                           "marginLeft": margin_in, "marginRight": margin_in, **extra})


def with_dpi(png: bytes, dpi: int) -> bytes:
    """``png`` with a ``pHYs`` chunk saying ``dpi`` (replacing any there was)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    ppm = round(dpi / 0.0254)
    body = b"pHYs" + struct.pack(">IIB", ppm, ppm, 1)
    phys = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    out, pos, placed = [png[:8]], 8, False
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        chunk = png[pos:pos + 12 + length]
        pos += 12 + length
        if kind == b"pHYs":
            continue
        out.append(chunk)
        if kind == b"IHDR" and not placed:
            out.append(phys)
            placed = True
    return b"".join(out)
