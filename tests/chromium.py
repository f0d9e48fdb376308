"""A real headless Chromium for the browser tests (Debian's package; `make browser`).

Driven by ecomap's own DevTools client (``ecomap.maps._chromium``), like the exports.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ecomap.maps._chromium import Chromium
from tests.components import need_chromium

ERROR_PROBE = (
    "<script>window.addEventListener('error', function (e) {"
    "var el = document.documentElement;"
    "el.setAttribute('data-js-errors', (el.getAttribute('data-js-errors') || '')"
    " + (e.message || ('failed to load ' + (e.target.src || e.target.href))) + ' | ');"
    "}, true);</script>"
)


def js_errors(dom: str) -> str | None:
    """What ERROR_PROBE recorded on <html>, if anything."""
    m = re.search(r'<html[^>]*\sdata-js-errors="([^"]*)"', dom)
    return m.group(1) if m else None


def chromium_binary() -> str:
    """The Chromium ecomap uses; a skip without one (a failure under CI)."""
    return need_chromium()


def load_page(page: Path, *, netlog: Path, size: tuple[int, int] = (1200, 800),
              ready: str | None = None, screenshot: Path | None = None) -> str:
    """The DOM of ``page`` once it has loaded and settled, in a fresh Chromium.

    The browser's network is on, as on a user's machine, and Chromium's own net log is
    written to ``netlog`` (read it with :func:`page_requests`).  ``ready``: a JavaScript
    condition to wait for first; ``screenshot``: where to write a PNG of the viewport.
    """
    with Chromium(chromium_binary(), args=[f"--log-net-log={netlog}"]) as browser:
        tab = browser.new_page(offline=False)
        tab.set_viewport(*size)
        tab.goto(page.as_uri())
        if ready:
            tab.wait_for(ready, timeout=60)
        tab.settle()
        dom = tab.content()
        if screenshot is not None:
            screenshot.write_bytes(tab.screenshot())
    return dom


def page_requests(netlog: Path) -> list[str]:
    """http(s) URLs the *page* requested (Chromium's own update pings have no origin)."""
    log = json.loads(netlog.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        p = event.get("params") or {}
        if event["type"] != start_job or not str(p.get("url", "")).startswith("http"):
            continue
        initiator = str(p.get("initiator"))
        if initiator == "null" or initiator.startswith("file:") or "file:" in str(
            p.get("network_isolation_key", "")
        ):
            urls.append(p["url"])
    return urls
