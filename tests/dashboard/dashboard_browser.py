"""Drive headless Chromium over the DevTools protocol (tornado's websocket client, no extra package).

``open_page(chromium, url, screenshot)`` loads ``url``, waits (bounded) until
Bokeh has rendered — every Bokeh document idle and at least one canvas or
table row, looked for inside shadow roots too, where Bokeh 3 draws — saves a PNG
screenshot, and returns what the page did: canvases, Bokeh roots, console
errors and uncaught exceptions. The browser is always stopped.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from tornado.websocket import websocket_connect

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--enable-logging=stderr", "--v=0", "--window-size=1400,1100", "--hide-scrollbars"]

#: Counts canvases in the page and in every shadow root below it.
RENDERED_JS = """((needle) => {
  let canvases = 0, tableRows = 0, found = false;
  const walk = (root) => {
    if (needle && root.textContent && root.textContent.includes(needle)) found = true;
    for (const el of root.querySelectorAll('*')) {
      if (el.tagName === 'CANVAS') canvases++;
      if (el.classList.contains('slick-row')) tableRows++;
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  const docs = (window.Bokeh && Bokeh.documents) || [];
  return {canvases, table_rows: tableRows, text_found: found, documents: docs.length, idle: docs.length > 0 && docs.every(d => d.is_idle),
          roots: docs.reduce((n, d) => n + d.roots().length, 0)};
})"""


def rendered_expression(needle: str | None) -> str:
    return f"{RENDERED_JS}({json.dumps(needle)})"


class DevTools:
    """One page target's DevTools websocket: commands with ids, events kept in order."""

    def __init__(self, connection):
        self.connection = connection
        self.ids = itertools.count(1)
        self.events: list = []

    async def call(self, method: str, timeout: float = 20.0, **params):
        call_id = next(self.ids)
        await self.connection.write_message(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw = await asyncio.wait_for(self.connection.read_message(), deadline - time.monotonic())
            if raw is None:
                raise ConnectionError(f"Chromium closed the DevTools connection during {method}")
            message = json.loads(raw)
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method} failed: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(f"no answer to {method} within {timeout} s")

    def errors(self) -> list:
        """Console errors, uncaught exceptions and error log entries, as text."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                     for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append("exception: " + str(details.get("exception", {}).get("description", details)))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                found.append(f"log: {entry.get('text')} ({entry.get('url', '')})")
        return found


def _wait_for_port(profile: Path, process: subprocess.Popen, timeout: float = 30.0) -> int:
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Chromium exited with code {process.returncode} before listening")
        if active.exists():
            text = active.read_text().split()
            if text:
                return int(text[0])
        time.sleep(0.05)
    raise TimeoutError("Chromium did not open its DevTools port")


async def _drive(port: int, url: str, screenshot: Path, timeout: float, wait_for_text: str | None) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
        targets = json.loads(response.read())
    page = next(t for t in targets if t.get("type") == "page")
    connection = await websocket_connect(page["webSocketDebuggerUrl"], max_message_size=256 * 2**20)
    tools = DevTools(connection)
    try:
        for domain in ("Runtime", "Log", "Page"):
            await tools.call(f"{domain}.enable")
        await tools.call("Page.navigate", url=url)
        state: dict = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = await tools.call("Runtime.evaluate", expression=rendered_expression(wait_for_text),
                                      returnByValue=True)
            state = result.get("result", {}).get("value") or {}
            drawn = (state.get("text_found") if wait_for_text
                     else state.get("canvases", 0) + state.get("table_rows", 0) > 0)
            if state.get("idle") and drawn:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)  # one more periodic update drawn before the picture
        shot = await tools.call("Page.captureScreenshot", format="png")
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        state = (await tools.call("Runtime.evaluate", expression=rendered_expression(wait_for_text),
                                  returnByValue=True)).get("result", {}).get("value") or state
        return {**state, "errors": tools.errors()}
    finally:
        connection.close()


def open_page(chromium: str, url: str, screenshot: Path, *, timeout: float = 20.0, inside=None,
              wait_for_text: str | None = None) -> dict:
    """Load ``url`` in headless Chromium; ``inside()`` (if given) runs while the page
    is still open (to inspect the server's session) and its result is returned as
    ``"inside"``. With ``wait_for_text``, the page is ready once that text shows
    (in shadow roots too) instead of once a canvas or table row does.
    Returns canvases, table_rows, text_found, documents, roots, idle, errors, stderr."""
    # Chromium's helper processes may still write to the profile for a moment after the browser exits
    with tempfile.TemporaryDirectory(prefix="shoal-chromium-", ignore_cleanup_errors=True) as profile:
        stderr_path = Path(profile) / "stderr.txt"
        with open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(
                [chromium, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        try:
            port = _wait_for_port(Path(profile), process)
            result = asyncio.run(_drive(port, url, screenshot, timeout, wait_for_text))
            if inside is not None:
                result["inside"] = inside()
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            try:  # and its zygote, renderer and crash-handler children, in the same session
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        result["stderr"] = stderr_path.read_text(errors="replace")
    return result


def console_errors_in_stderr(stderr: str) -> list:
    """Console errors Chromium logged with ``--enable-logging=stderr`` (its own
    D-Bus/GPU noise is not from the page and is ignored)."""
    return [line for line in stderr.splitlines()
            if ":CONSOLE" in line and ("Uncaught" in line or "ERROR:CONSOLE" in line)]
