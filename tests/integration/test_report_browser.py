"""The HTML report in a real browser: headless Chromium (Debian's `chromium`, installed by
`scripts/install --test`) opens it, draws it, prints it, and makes no network request.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages
separated by NUL bytes on file descriptors 3 and 4). A client of a few lines is written here because the
Python CDP libraries either bring their own browser download (Playwright, which cannot run here) or only
wrap messages; the pipe needs no port and no websocket. A screenshot is kept in test-artifacts/.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.report.html_report import render_html
from tests.unit.test_report_html import charted_result

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
TIMEOUT_S = 60.0


class DevTools:
    """A DevTools-protocol session with one page, over Chromium's debugging pipe."""

    def __init__(self, process: subprocess.Popen[bytes], to_browser: int, from_browser: int) -> None:
        self.process = process
        self._out, self._in = to_browser, from_browser
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._in], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise ConnectionError(f"chromium closed its pipe (exit {self.process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        request: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self.session is not None and not method.startswith("Target."):
            request["sessionId"] = self.session
        os.write(self._out, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            message = self._read_message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def wait_for(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            message = self._read_message(deadline)
            self.events.append(message)
            if message.get("method") == method:
                return message

    def open(self, url: str, *domains: str) -> None:
        """Load `url` in a laptop-sized page with the given DevTools domains (and Page) enabled."""
        for domain in ("Page", *domains):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False
        )
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def requested(self) -> list[str]:
        """Every URL the page asked for (needs the Network domain)."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


def _as_fds_3_and_4(commands: int, replies: int) -> None:
    """In the child, before exec: put the pipe ends where Chromium expects them. Both are first moved
    above 10, so that neither is overwritten by the other's dup2 whatever numbers they had."""
    high_commands = fcntl.fcntl(commands, fcntl.F_DUPFD, 10)
    high_replies = fcntl.fcntl(replies, fcntl.F_DUPFD, 10)
    os.dup2(high_commands, 3)
    os.dup2(high_replies, 4)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    executable = shutil.which("chromium")
    if executable is None:
        message = "chromium is not installed (bash scripts/install --test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()
    # The pipe must be file descriptors 3 (commands) and 4 (replies) in the browser.
    process = subprocess.Popen(
        [
            executable,
            "--headless",
            "--remote-debugging-pipe",
            "--no-sandbox",  # the test may run as root in a container; the page is our own file
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # were a request made, it could reach nobody
            f"--user-data-dir={tmp_path / 'profile'}",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(3, 4),
        preexec_fn=lambda: _as_fds_3_and_4(to_browser_r, from_browser_w),
    )
    os.close(to_browser_r)
    os.close(from_browser_w)
    tools = DevTools(process, to_browser_w, from_browser_r)
    try:
        target = tools.call("Target.createTarget", url="about:blank")["targetId"]
        tools.session = tools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        yield tools
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        os.close(to_browser_w)
        os.close(from_browser_r)


def test_the_report_renders_its_plots_prints_and_fetches_nothing(tmp_path: Path, browser: DevTools) -> None:
    report = tmp_path / "report.html"
    report.write_text(render_html(charted_result()), encoding="utf-8")
    url = report.as_uri()

    browser.open(url, "Network", "Runtime", "Log")

    # It rendered: the title, the scorecard and four inline plots with a real size on the page.
    assert browser.evaluate("document.title").startswith("kv-store — grade — 50 / 100")
    assert browser.evaluate("document.querySelectorAll('#scorecard tr').length") >= 6
    sizes = browser.evaluate(
        "[...document.querySelectorAll('#plots svg')].map(s => {"
        "const r = s.getBoundingClientRect(); return [r.width, r.height]; })"
    )
    assert len(sizes) == 4 and all(w > 300 and h > 100 for w, h in sizes), sizes
    shaded = browser.evaluate("document.querySelector('#plots figcaption').textContent")
    assert "shaded: partition (2 to 3.5 s)" in " ".join(shaded.split())

    # Candidate text stayed text: no element or handler came out of it.
    assert browser.evaluate("document.querySelectorAll('script, img, iframe, object, embed').length") == 0
    assert "<script>alert(1)</script>" in browser.evaluate("document.body.innerText")

    # Nothing but the file itself was requested, and no reference names a remote address.
    assert browser.requested() == [url], browser.requested()
    references = browser.evaluate(
        "[...document.querySelectorAll('*')].flatMap(e => [...e.attributes])"
        ".filter(a => ['src', 'href', 'xlink:href', 'action', 'srcset', 'poster', 'data'].includes(a.name))"
        ".map(a => a.value)"
    )
    assert references and all(ref.startswith("#") for ref in references), references
    problems = [
        e["params"]["entry"]["text"]
        for e in browser.events
        if e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"
    ]
    assert problems == []  # a blocked fetch or a CSP violation would be logged here

    # It prints (the print style sheet applies) and a screenshot is kept for people to look at.
    pdf = base64.b64decode(browser.call("Page.printToPDF", printBackground=True)["data"])
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    shot = base64.b64decode(
        browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
    )
    assert shot.startswith(b"\x89PNG") and len(shot) > 20_000
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report-browser.png").write_bytes(shot)
    (ARTIFACTS / "report-browser.html").write_text(report.read_text(encoding="utf-8"), encoding="utf-8")
