"""A headless Chromium driven through chromedriver's W3C WebDriver HTTP API (plain httpx, no
selenium): Debian's ``chromium`` and ``chromium-driver``, which scripts/test installs when it
runs as root. Used by the page's browser tests and by ``benchmarks/bench_ui.py``.

The browser starts with a fresh profile, no background networking, no component updates, no
sync, no QUIC: it talks to the loopback server under test and nothing else.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = None if CHROMIUM and CHROMEDRIVER else (
    "Debian's chromium and chromium-driver are not installed (scripts/test installs them when it "
    "runs as root and apt-get can reach the Debian mirror)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


class WebDriverError(RuntimeError):
    pass


class Browser:
    """One WebDriver session."""

    def __init__(self, client: httpx.Client, session: str):
        self.client = client
        self.session = session

    def cmd(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        r = self.client.request(method, f"/session/{self.session}{path}", json=body)
        value = r.json().get("value")
        if r.status_code != 200:
            raise WebDriverError(f"{method} {path}: {r.status_code} {value}")
        return value

    def get(self, url: str) -> None:
        self.cmd("POST", "/url", {"url": url})

    def execute(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body; ``arguments`` holds ``args``) and return its value."""
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def execute_async(self, script: str, *args: Any) -> Any:
        """Run ``script``; it calls ``arguments[arguments.length - 1](value)`` when done."""
        return self.cmd("POST", "/execute/async", {"script": script, "args": list(args)})

    def wait_for(self, script: str, timeout: float = 20.0, *args: Any) -> Any:
        """Poll ``script`` until it returns something truthy; that value."""
        end = time.monotonic() + timeout
        while True:
            value = self.execute(script, *args)
            if value:
                return value
            if time.monotonic() > end:
                raise WebDriverError(f"timed out after {timeout} s waiting for: {script}")
            time.sleep(0.05)

    def screenshot(self) -> bytes:
        """The viewport as PNG."""
        return base64.b64decode(self.cmd("GET", "/screenshot"))

    def set_window(self, width: int, height: int) -> None:
        self.cmd("POST", "/window/rect", {"width": width, "height": height})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def chromium(width: int = 1280, height: int = 900, timeout: float = 30.0) -> Iterator[Browser]:
    """A headless Chromium session; the browser and chromedriver are stopped afterwards."""
    if MISSING:
        raise RuntimeError(MISSING)
    port = _free_port()
    profile = tempfile.mkdtemp(prefix="dsct-chromium-")
    log = open(os.path.join(profile, "chromedriver.log"), "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=timeout)
    session = None
    try:
        end = time.monotonic() + timeout
        while True:
            try:
                if client.get("/status").json()["value"]["ready"]:
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if proc.poll() is not None or time.monotonic() > end:
                raise WebDriverError("chromedriver did not start")
            time.sleep(0.05)
        caps = {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [*FLAGS, f"--user-data-dir={profile}/profile", f"--window-size={width},{height}"]}}
        r = client.post("/session", json={"capabilities": {"alwaysMatch": caps}})
        if r.status_code != 200:
            raise WebDriverError(f"no browser session: {r.text[:2000]}")
        session = r.json()["value"]["sessionId"]
        yield Browser(client, session)
    finally:
        if session is not None:
            try:
                client.delete(f"/session/{session}")
            except httpx.HTTPError:
                pass
        client.close()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()
        shutil.rmtree(profile, ignore_errors=True)
