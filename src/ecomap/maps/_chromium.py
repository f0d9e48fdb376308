"""Headless Chromium over the DevTools protocol on a pipe: exports, tests, benchmarks.

No browser-automation package: Chromium is started with ``--remote-debugging-pipe``,
reads commands from file descriptor 3 and writes answers and events to descriptor 4,
as NUL-terminated JSON.  :class:`Chromium` speaks that protocol with the standard
library; :class:`Page` wraps the few commands ecomap needs (navigate, evaluate, wait,
screenshot, print to PDF, metrics, network and console log).

The binary is ``$ECOMAP_CHROMIUM``, else the first of ``chromium``,
``chromium-browser``, ``google-chrome`` on ``PATH`` (Debian: ``apt-get install
chromium``).  ``--no-sandbox`` is passed because the county's servers run it as root
in containers; it only ever opens pages ecomap wrote itself.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ecomap.errors import EcomapError

__all__ = ["Chromium", "ChromiumError", "Page", "find_chromium"]

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
    "--disable-quic", "--disable-features=Translate,MediaRouter,OptimizationHints",
]


class ChromiumError(EcomapError):
    """Chromium is missing, failed to start, or a page did not do what was expected."""


def find_chromium() -> str:
    """Path of the Chromium binary, or :class:`ChromiumError` saying how to get one."""
    env = os.environ.get("ECOMAP_CHROMIUM")
    if env:
        if Path(env).is_file():
            return env
        raise ChromiumError(f"ECOMAP_CHROMIUM={env} does not exist; point it at a Chromium "
                            "or Chrome binary, or unset it")
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise ChromiumError("PNG and PDF export need Chromium: install it (Debian/Ubuntu: "
                        "apt-get install chromium fonts-wqy-zenhei) or set ECOMAP_CHROMIUM to "
                        "a Chrome/Chromium binary")


# Puts the pipe ends on descriptors 3 and 4, where Chromium expects them, then becomes
# Chromium (a shell cannot: POSIX sh only redirects descriptors 0-9).
_TRAMPOLINE = ("import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); os.dup2(r, 3); "
               "os.dup2(w, 4); os.close(r); os.close(w); os.execv(sys.argv[3], sys.argv[3:])")


def _high_fd(fd: int) -> int:
    """A duplicate of ``fd`` numbered 10 or more (3 and 4 are the child's pipe ends)."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return new


class Chromium:
    """A headless Chromium process; use as a context manager.

    ``events`` collects every protocol event received (dicts with ``method``,
    ``params`` and, for page events, ``sessionId``).
    """

    def __init__(self, binary: str | None = None, *, args=(), timeout: float = 60.0) -> None:
        self.binary = binary or find_chromium()
        self.timeout = timeout
        self._tmp = tempfile.TemporaryDirectory(prefix="ecomap-chromium-")
        self._buf = b""
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self.events: list[dict] = []
        r_cmd, w_cmd = (_high_fd(fd) for fd in os.pipe())
        r_res, w_res = (_high_fd(fd) for fd in os.pipe())
        cmd = [self.binary, *FLAGS, f"--user-data-dir={self._tmp.name}/profile",
               "--remote-debugging-pipe", *args, "about:blank"]
        self._log = open(Path(self._tmp.name) / "chromium.log", "wb")  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _TRAMPOLINE, str(r_cmd), str(w_res), *cmd],
                pass_fds=(r_cmd, w_res),
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        except OSError as exc:
            raise ChromiumError(f"cannot start {self.binary}: {exc}") from exc
        finally:
            os.close(r_cmd)
            os.close(w_res)
        self._w, self._r = w_cmd, r_res

    # -------------------------------------------------------------------- protocol

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "proc", None) is None:
            return
        try:
            if self.proc.poll() is None:
                try:
                    self._send("Browser.close", {}, None)
                    self.proc.wait(timeout=10)
                except (ChromiumError, OSError, subprocess.TimeoutExpired):
                    self.proc.kill()
                    self.proc.wait(timeout=10)
        finally:
            for fd in (self._w, self._r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()
            self._tmp.cleanup()
            self.proc = None

    def log_tail(self, n: int = 2000) -> str:
        try:
            return (Path(self._tmp.name) / "chromium.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def _send(self, method: str, params: dict | None, session: str | None) -> int:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._w, data):]
        except BrokenPipeError as exc:
            raise ChromiumError(f"Chromium has exited: {self.log_tail()}") from exc
        return self._next_id

    def _pump(self, deadline: float) -> None:
        """Read what Chromium has sent; wait until something arrives or ``deadline``."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([self._r], [], [], min(left, 1.0))
        if not ready:
            if self.proc.poll() is not None:
                raise ChromiumError(f"Chromium has exited ({self.proc.returncode}): "
                                    f"{self.log_tail()}")
            return
        chunk = os.read(self._r, 1 << 22)
        if not chunk:
            raise ChromiumError(f"Chromium closed the pipe: {self.log_tail()}")
        self._buf += chunk
        *messages, self._buf = self._buf.split(b"\0")
        for raw in messages:
            msg = json.loads(raw)
            if "id" in msg:
                self._replies[msg["id"]] = msg
            else:
                self.events.append(msg)

    def call(self, method: str, params: dict | None = None, *, session: str | None = None,
             timeout: float | None = None) -> dict:
        """Send one command and return its result (raises :class:`ChromiumError`)."""
        mid = self._send(method, params, session)
        deadline = time.monotonic() + (timeout or self.timeout)
        while mid not in self._replies:
            try:
                self._pump(deadline)
            except TimeoutError:
                raise ChromiumError(f"Chromium did not answer {method} in time") from None
        reply = self._replies.pop(mid)
        if "error" in reply:
            raise ChromiumError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def wait_event(self, method: str, *, session: str | None = None,
                   timeout: float | None = None, start: int = 0) -> dict:
        """The first event ``method`` (of ``session``) at or after index ``start``."""
        deadline = time.monotonic() + (timeout or self.timeout)
        i = start
        while True:
            while i < len(self.events):
                ev = self.events[i]
                i += 1
                if ev.get("method") == method and (session is None
                                                   or ev.get("sessionId") == session):
                    return ev
            try:
                self._pump(deadline)
            except TimeoutError:
                raise ChromiumError(f"no {method} from Chromium in time") from None

    def new_page(self, *, offline: bool = True) -> Page:
        """A new tab, attached; with ``offline`` its network is switched off."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target,
                                                      "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.call(f"{domain}.enable")
        if offline:
            page.call("Network.emulateNetworkConditions", {
                "offline": True, "latency": 0, "downloadThroughput": -1,
                "uploadThroughput": -1})
        return page


class Page:
    """One tab of a :class:`Chromium`."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def call(self, method: str, params: dict | None = None, *,
             timeout: float | None = None) -> dict:
        return self.browser.call(method, params, session=self.session, timeout=timeout)

    def goto(self, url: str, *, timeout: float | None = None) -> None:
        """Navigate and wait for the load event."""
        start = len(self.browser.events)
        result = self.call("Page.navigate", {"url": url}, timeout=timeout)
        if result.get("errorText"):
            raise ChromiumError(f"cannot open {url}: {result['errorText']}")
        self.browser.wait_event("Page.loadEventFired", session=self.session,
                                timeout=timeout, start=start)

    def evaluate(self, expression: str, *, timeout: float | None = None):
        """The value of a JavaScript expression (promises awaited)."""
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in res:
            det = res["exceptionDetails"]
            text = det.get("exception", {}).get("description") or det.get("text")
            raise ChromiumError(f"JavaScript error in {expression[:60]!r}: {text}")
        return res.get("result", {}).get("value")

    def wait_for(self, expression: str, *, timeout: float = 60.0, interval: float = 0.02):
        """Poll ``expression`` until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise ChromiumError(f"timed out waiting for {expression!r}")
            time.sleep(interval)

    def screenshot(self, *, clip: dict | None = None) -> bytes:
        params: dict = {"format": "png", "captureBeyondViewport": False}
        if clip:
            params["clip"] = clip
        return base64.b64decode(self.call("Page.captureScreenshot", params)["data"])

    def pdf(self, **params) -> bytes:
        return base64.b64decode(self.call("Page.printToPDF", params, timeout=300)["data"])

    def metrics(self) -> dict[str, float]:
        self.call("Performance.enable")
        return {m["name"]: m["value"] for m in self.call("Performance.getMetrics")["metrics"]}

    def _events(self, method: str) -> list[dict]:
        return [e["params"] for e in self.browser.events
                if e.get("method") == method and e.get("sessionId") == self.session]

    def requests(self) -> list[str]:
        """URLs the page asked for, other than ``data:``/``blob:``/``about:``."""
        urls = [e["request"]["url"] for e in self._events("Network.requestWillBeSent")]
        return [u for u in urls if not u.startswith(("data:", "blob:", "about:"))]

    def failed_requests(self) -> list[str]:
        return [e.get("errorText", "") for e in self._events("Network.loadingFailed")]

    def errors(self) -> list[str]:
        """Uncaught exceptions, console errors and error log entries."""
        out = [e["exceptionDetails"].get("exception", {}).get("description")
               or e["exceptionDetails"].get("text", "")
               for e in self._events("Runtime.exceptionThrown")]
        out += [" ".join(str(a.get("value", a.get("description", ""))) for a in e["args"])
                for e in self._events("Runtime.consoleAPICalled") if e["type"] == "error"]
        out += [e["entry"]["text"] for e in self._events("Log.entryAdded")
                if e["entry"]["level"] == "error"]
        return out
