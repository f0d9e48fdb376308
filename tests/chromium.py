"""A real headless Chromium for the browser tests (Debian's package; `make browser`)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.components import need_chromium

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
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


def run_chromium(binary: str, page: Path, tmp: Path, *args: str,
                 size: str = "1200,800") -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
           "--virtual-time-budget=5000", *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True)


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
