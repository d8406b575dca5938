"""Drive a headless Chromium from tests: the DevTools protocol over ``--remote-debugging-pipe``.

Chromium reads JSON commands, each ended by a NUL byte, from file descriptor 3 and writes its
replies and events to descriptor 4; no websocket library is needed. One page target is
attached (flat sessions); downloads go to a folder the test names.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any


def chromium_path() -> str | None:
    """The Chromium binary on the PATH, None without one."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(RuntimeError):
    """A DevTools command failed, or Chromium stopped answering."""


class HeadlessChromium:
    """A headless Chromium with one page, driven over the DevTools pipe."""

    def __init__(self, binary: str, downloads: Path, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.profile = Path(tempfile.mkdtemp(prefix="mosaicflow-chromium-"))
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # the shell moves the pipe ends to Chromium's fds 3 and 4, by way of fds no pipe has
        moves = f"exec 90<&{to_browser_r} 91>&{from_browser_w}; "
        moves += 'exec "$0" "$@" 3<&90 4>&91 90<&- 91>&-'
        self.process = subprocess.Popen(
            [
                "bash", "-c", moves, binary, "--headless", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(to_browser_r, from_browser_w),
        )  # fmt: skip
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        try:
            self._attach(downloads)
        except BaseException:
            self.close()
            raise

    def _attach(self, downloads: Path) -> None:
        """Open the page target, route downloads to ``downloads``."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        downloads.mkdir(parents=True, exist_ok=True)
        self.call(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": True},
        )
        self.call("Page.enable", session=True)

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = False
    ) -> dict[str, Any]:
        """Send one command (to the page's session when ``session``) and return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=True,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, ready: str = "document.readyState === 'complete'") -> None:
        """Navigate to ``url`` and wait until ``ready`` is true in the page."""
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for(ready)

    def wait_for(self, expression: str) -> None:
        """Poll a JavaScript expression until it is true."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                if self.evaluate(expression):
                    return
            except BrowserError:
                pass
            time.sleep(0.1)
        raise BrowserError(f"never true: {expression}")

    def press(self, key: str, code: str | None = None, key_code: int | None = None) -> None:
        """Press and release one key (``key`` as in ``KeyboardEvent.key``)."""
        params: dict[str, Any] = {"key": key, "code": code or f"Key{key.upper()}"}
        params["windowsVirtualKeyCode"] = key_code or ord(key.upper()[0])
        if len(key) == 1:
            params["text"] = key
        self.call("Input.dispatchKeyEvent", {"type": "keyDown", **params}, session=True)
        self.call("Input.dispatchKeyEvent", {"type": "keyUp", **params}, session=True)

    def click(self, selector: str) -> None:
        """Click the middle of the element ``selector`` matches, as a mouse would."""
        x, y = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
                session=True,
            )

    def close(self) -> None:
        """Stop Chromium and remove its profile."""
        with contextlib.suppress(BrowserError, OSError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> HeadlessChromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
