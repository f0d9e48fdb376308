"""Headless Chromium over the DevTools protocol on a pipe: exports, tests, benchmarks.

No browser-automation package: Chromium is started with ``--remote-debugging-pipe``,
reads commands from file descriptor 3 and writes answers and events to descriptor 4,
as NUL-terminated JSON.  :class:`Chromium` speaks that protocol with the standard
library; :class:`Page` wraps the few commands ecomap needs: navigate, evaluate, wait,
screenshot, print to PDF, metrics, network and console log for the exports and the
benchmarks, and what the browser tests do as a user would (fill a form, choose a file,
click, move the mouse, read an element's text, look into a map's iframe).  It is the
only way ecomap and its tests drive a browser.

A JavaScript dialog (``alert``, ``confirm``) would stall the page; it is dismissed at
once and its message kept (:meth:`Page.dialogs`).

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
from ecomap.i18n import tr

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
        raise ChromiumError(tr("ECOMAP_CHROMIUM={env} 不存在; 请指向 Chromium 或 Chrome "
                               "程序, 或者取消这个设置",
                               "ECOMAP_CHROMIUM={env} does not exist; point it at a Chromium "
                               "or Chrome binary, or unset it", env=env))
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise ChromiumError(tr("导出 PNG 和 PDF 需要 Chromium: 请安装 (Debian/Ubuntu: "
                           "apt-get install chromium fonts-wqy-zenhei), 或把 ECOMAP_CHROMIUM "
                           "设为 Chrome/Chromium 程序的路径",
                           "PNG and PDF export need Chromium: install it (Debian/Ubuntu: "
                           "apt-get install chromium fonts-wqy-zenhei) or set ECOMAP_CHROMIUM "
                           "to a Chrome/Chromium binary"))


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
        self._ignored: set[int] = set()
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
            raise ChromiumError(tr("无法启动 {binary}: {detail}", "cannot start {binary}: {detail}",
                                   binary=self.binary, detail=exc)) from exc
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
            raise ChromiumError(tr("Chromium 已退出: {log}", "Chromium has exited: {log}",
                                   log=self.log_tail())) from exc
        return self._next_id

    def _pump(self, deadline: float) -> None:
        """Read what Chromium has sent; wait until something arrives or ``deadline``."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([self._r], [], [], min(left, 1.0))
        if not ready:
            if self.proc.poll() is not None:
                raise ChromiumError(tr("Chromium 已退出 ({code}): {log}",
                                       "Chromium has exited ({code}): {log}",
                                       code=self.proc.returncode, log=self.log_tail()))
            return
        chunk = os.read(self._r, 1 << 22)
        if not chunk:
            raise ChromiumError(tr("Chromium 关闭了管道: {log}", "Chromium closed the pipe: {log}",
                                   log=self.log_tail()))
        self._buf += chunk
        *messages, self._buf = self._buf.split(b"\0")
        for raw in messages:
            msg = json.loads(raw)
            if "id" in msg:
                if msg["id"] in self._ignored:
                    self._ignored.discard(msg["id"])
                else:
                    self._replies[msg["id"]] = msg
                continue
            self.events.append(msg)
            if msg.get("method") == "Page.javascriptDialogOpening":
                self._ignored.add(self._send("Page.handleJavaScriptDialog", {"accept": False},
                                             msg.get("sessionId")))

    def call(self, method: str, params: dict | None = None, *, session: str | None = None,
             timeout: float | None = None) -> dict:
        """Send one command and return its result (raises :class:`ChromiumError`)."""
        mid = self._send(method, params, session)
        deadline = time.monotonic() + (timeout or self.timeout)
        while mid not in self._replies:
            try:
                self._pump(deadline)
            except TimeoutError:
                raise ChromiumError(tr("Chromium 未及时响应 {method}",
                                       "Chromium did not answer {method} in time",
                                       method=method)) from None
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
    """One tab of a :class:`Chromium`, or one frame of it (:meth:`frame`)."""

    def __init__(self, browser: Chromium, session: str, *, context: int | None = None) -> None:
        self.browser = browser
        self.session = session
        self.context = context  # a frame's execution context; None: the main frame
        self._frames: list[str] = []  # sessions of the frames found in a process of their own

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
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        if self.context is not None:
            params["contextId"] = self.context
        res = self.call("Runtime.evaluate", params, timeout=timeout)
        if "exceptionDetails" in res:
            det = res["exceptionDetails"]
            text = det.get("exception", {}).get("description") or det.get("text")
            raise ChromiumError(f"JavaScript error in {expression[:60]!r}: {text}")
        return res.get("result", {}).get("value")

    def wait_for(self, expression: str, *, timeout: float = 60.0, interval: float = 0.02):
        """Poll ``expression`` until it is truthy; its value.

        A JavaScript error (e.g. while the page is still navigating, or before the
        script that defines a name has run) counts as "not yet".
        """
        deadline = time.monotonic() + timeout
        error = ""
        while True:
            try:
                value = self.evaluate(expression)
            except ChromiumError as exc:
                value, error = None, f" (last: {exc})"
            if value:
                return value
            if time.monotonic() > deadline:
                raise ChromiumError(f"timed out waiting for {expression!r}{error}")
            time.sleep(interval)

    def screenshot(self, *, clip: dict | None = None, full_page: bool = False) -> bytes:
        """A PNG of the viewport, of ``clip``, or of the whole page (``full_page``)."""
        params: dict = {"format": "png", "captureBeyondViewport": full_page}
        if full_page and not clip:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                    "scale": 1}
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

    def exceptions(self) -> list[str]:
        """Uncaught JavaScript exceptions, of the page and of the frames :meth:`frame` found."""
        sessions = {self.session, *self._frames}
        return [e["params"]["exceptionDetails"].get("exception", {}).get("description")
                or e["params"]["exceptionDetails"].get("text", "")
                for e in self.browser.events
                if e.get("method") == "Runtime.exceptionThrown"
                and e.get("sessionId") in sessions]

    def dialogs(self) -> list[str]:
        """Messages of the JavaScript dialogs the page opened (each was dismissed)."""
        return [e.get("message", "") for e in self._events("Page.javascriptDialogOpening")]

    def errors(self) -> list[str]:
        """Uncaught exceptions, console errors and error log entries."""
        out = self.exceptions()
        out += [" ".join(str(a.get("value", a.get("description", ""))) for a in e["args"])
                for e in self._events("Runtime.consoleAPICalled") if e["type"] == "error"]
        out += [e["entry"]["text"] for e in self._events("Log.entryAdded")
                if e["entry"]["level"] == "error"]
        return out

    # ------------------------------------------------------------- as a user would

    def set_viewport(self, width: int, height: int, *, scale: float = 1) -> None:
        self.call("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": scale, "mobile": False})

    def set_locale(self, locale: str) -> None:
        """``navigator.language`` and the ``Accept-Language`` header, e.g. ``zh-CN``."""
        self.call("Emulation.setLocaleOverride", {"locale": locale})
        self.call("Network.setExtraHTTPHeaders", {"headers": {"Accept-Language": locale}})

    @property
    def url(self) -> str:
        return self.evaluate("location.href")

    def content(self) -> str:
        """The page's DOM as HTML, as it is now (what ``--dump-dom`` prints)."""
        return self.evaluate("document.documentElement.outerHTML")

    def settle(self, ms: int = 300) -> None:
        """Wait until the document has loaded, two frames are drawn and ``ms`` passed."""
        self.wait_for("document.readyState === 'complete'")
        self.evaluate("new Promise(function (done) { requestAnimationFrame(function () {"
                      f"requestAnimationFrame(function () {{ setTimeout(done, {int(ms)}); }});"
                      "});})")

    def wait_for_url(self, matches, *, timeout: float = 60.0) -> str:
        """Wait until the URL satisfies ``matches`` (a predicate) and the page has loaded."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                href, state = self.evaluate("[location.href, document.readyState]")
            except ChromiumError:  # between two documents
                href, state = "", ""
            if state == "complete" and matches(href):
                return href
            if time.monotonic() > deadline:
                raise ChromiumError(f"timed out waiting for the page to load; at {href!r}")
            time.sleep(0.05)

    def _element(self, selector: str, what: str, *, timeout: float = 30.0):
        """``what`` evaluated with ``el`` bound to the first match of ``selector``."""
        sel = json.dumps(selector)
        self.wait_for(f"!!document.querySelector({sel})", timeout=timeout)
        return self.evaluate(f"(function (el) {{ {what} }})(document.querySelector({sel}))")

    def text(self, selector: str) -> str:
        """The ``innerText`` of the first element matching ``selector``."""
        return self._element(selector, "return el.innerText;")

    def is_visible(self, selector: str) -> bool:
        return bool(self.evaluate(
            f"(function (el) {{ if (!el) return false; var r = el.getBoundingClientRect();"
            "return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';"
            f"}})(document.querySelector({json.dumps(selector)}))"))

    def bounding_box(self, selector: str) -> dict[str, float]:
        """``{x, y, width, height}`` of the element in viewport pixels."""
        return self._element(selector, "var r = el.getBoundingClientRect();"
                             "return {x: r.x, y: r.y, width: r.width, height: r.height};")

    def mouse_move(self, x: float, y: float) -> None:
        self.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})

    def click_at(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y,
                                                   "button": "left", "clickCount": 1})

    def click(self, selector: str) -> None:
        """Scroll the element into view and click its centre with the mouse."""
        box = self._element(selector, "el.scrollIntoView({block: 'center'});"
                            "var r = el.getBoundingClientRect();"
                            "return {x: r.x + r.width / 2, y: r.y + r.height / 2};")
        self.click_at(box["x"], box["y"])

    def fill(self, selector: str, text: str) -> None:
        """Replace the value of an input with ``text``, typed (``input`` events fire)."""
        self._element(selector, "el.focus(); el.select(); return true;")
        self.call("Input.insertText", {"text": text})

    def select(self, selector: str, value: str) -> None:
        """Choose ``value`` in a ``<select>`` (``input`` and ``change`` fire)."""
        ok = self._element(selector, f"el.value = {json.dumps(value)};"
                           "el.dispatchEvent(new Event('input', {bubbles: true}));"
                           "el.dispatchEvent(new Event('change', {bubbles: true}));"
                           f"return el.value === {json.dumps(value)};")
        if not ok:
            raise ChromiumError(f"{selector} has no option {value!r}")

    def set_files(self, selector: str, *paths: str | Path) -> None:
        """Choose files in an ``<input type=file>``."""
        self._element(selector, "return true;")
        root = self.call("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = self.call("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        self.call("DOM.setFileInputFiles", {"nodeId": node,
                                            "files": [str(Path(p).resolve()) for p in paths]})

    def frame(self, part: str, *, timeout: float = 30.0) -> Page:
        """The (first) iframe whose URL contains ``part``, as a :class:`Page` to evaluate in.

        A sandboxed frame may run in a process of its own (a target of its own) or in the
        page's process (an execution context of the page); both are found.
        """
        deadline = time.monotonic() + timeout
        while True:
            for t in self.browser.call("Target.getTargets")["targetInfos"]:
                if t["type"] == "iframe" and part in t.get("url", ""):
                    session = self.browser.call("Target.attachToTarget", {
                        "targetId": t["targetId"], "flatten": True})["sessionId"]
                    self.browser.call("Runtime.enable", session=session)  # its exceptions
                    self._frames.append(session)
                    return Page(self.browser, session)
            ctx = self._frame_context(part)
            if ctx is not None:
                return Page(self.browser, self.session, context=ctx)
            if time.monotonic() > deadline:
                raise ChromiumError(f"no frame with {part!r} in its URL")
            time.sleep(0.1)

    def _frame_context(self, part: str) -> int | None:
        def frames(node):
            yield node["frame"]
            for child in node.get("childFrames") or ():
                yield from frames(child)

        tree = self.call("Page.getFrameTree")["frameTree"]
        ids = {f["id"] for f in frames(tree) if f.get("parentId") and part in f.get("url", "")}
        live: dict[int, str] = {}  # execution context -> frame, of the current document
        for e in self.browser.events:
            if e.get("sessionId") != self.session:
                continue
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.executionContextsCleared":
                live.clear()
            elif method == "Runtime.executionContextDestroyed":
                live.pop(params["executionContextId"], None)
            elif method == "Runtime.executionContextCreated":
                aux = params["context"].get("auxData") or {}
                if aux.get("isDefault"):
                    live[params["context"]["id"]] = aux.get("frameId")
        found = [ctx for ctx, frame in live.items() if frame in ids]
        return found[-1] if found else None
