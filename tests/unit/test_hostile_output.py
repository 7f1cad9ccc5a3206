"""Candidate text printed by the harness can neither drive the terminal nor issue CI workflow commands,
and the containment helpers behave without Docker (the /data watchdog, the host firewall rule text)."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.report.model import GradeResult
from harness.sandbox import hostguard
from harness.sandbox.service import DataWatchdog
from harness.terminal import Terminal, visible

from .results_factory import sample_result

HOSTILE_TEXT = (
    "\x1b[2J\x1b]0;title\x07ANSI\n"
    "::error file=a.rs,line=1::forged\n"
    "  ::set-output name=score::100\n"
    "::add-mask::x\n"
    "##vso[task.complete result=Succeeded;]done\n"
    "text ##VSO[task.setvariable variable=a]1\n"
    "##[error]azure\n"
    "tests/test_kv.py::test_all PASSED [100%]\n"
    "<script>alert(1)</script>\n"
)


def assert_no_command_line(printed: str) -> None:
    assert "\x1b" not in printed and "\x07" not in printed
    for line in printed.splitlines():
        assert not line.lstrip().startswith(("::", "##[")), line
        assert "##vso[" not in line.lower(), line


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("::error::x", "\\x3a:error::x"),
        ("  ::warning::x", "  \\x3a:warning::x"),
        ("a ::notice::x", "a \\x3a:notice::x"),
        ("##[error]x", "\\x23#[error]x"),
        ("text ##vso[task.complete]", "text \\x23#vso[task.complete]"),
        ("std::io::Error and tests/a.py::test_b", "std::io::Error and tests/a.py::test_b"),
        ("\x1b[31mred", "\\x1b[31mred"),
    ],
)
def test_visible_defuses_workflow_commands_and_escapes(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def _result(text: str) -> GradeResult:
    flat = text.replace("\n", " ")
    return sample_result(
        message=flat, evidence=text, reproduce=text, summary=flat, problems=(f"basics: {text}",)
    )


@pytest.mark.parametrize("width", [40, 80, 200])
def test_scorecard_and_errors_print_no_workflow_command(width: int) -> None:
    buffer = io.StringIO()
    terminal = Terminal(buffer, width=width)
    terminal.scorecard(_result(HOSTILE_TEXT), for_candidate=True)
    terminal.scorecard(_result(HOSTILE_TEXT), for_candidate=False)
    # A long message whose wrap point falls just before a command: no wrapping may start a line there.
    terminal.error("x" * (width - 10) + " ::error::forged " + HOSTILE_TEXT)
    printed = buffer.getvalue()
    assert_no_command_line(printed)
    assert "\\x1b[2J" in printed and "<script>" in printed


def test_progress_detail_is_defused() -> None:
    buffer = io.StringIO()
    with Terminal(buffer, width=120).progress() as progress:
        progress.stage("build the submission")
        for line in HOSTILE_TEXT.splitlines():
            progress.detail(line)
    assert_no_command_line(buffer.getvalue())


# --- /data watchdog and host firewall, without Docker --------------------------------------------------


class _FakeContainer:
    def __init__(self) -> None:
        self.killed = False

    def kill(self, **_: Any) -> None:
        self.killed = True


class _FakeService:
    def __init__(self) -> None:
        self.container = _FakeContainer()
        self.violation: str | None = None
        self.violation_settled = threading.Event()


def test_watchdog_kills_a_service_past_the_quota(tmp_path: Path) -> None:
    watchdog = DataWatchdog(quota_mb=1)
    service = _FakeService()
    (tmp_path / "small").write_bytes(b"x" * 1000)
    assert not watchdog.check(service, str(tmp_path))  # type: ignore[arg-type]
    assert not service.container.killed
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "big").write_bytes(b"x" * (2 << 20))
    assert watchdog.check(service, str(tmp_path))  # type: ignore[arg-type]
    assert service.container.killed
    assert service.violation is not None and "exceeded the /data quota of 1 MiB" in service.violation
    assert re.search(r"\(2 MiB in \d+ files when stopped\)", service.violation)


def test_watchdog_counts_files_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.sandbox.service.DATA_QUOTA_FILES", 50)
    service = _FakeService()
    for i in range(60):
        (tmp_path / f"f{i}").touch()
    assert DataWatchdog(quota_mb=100).check(service, str(tmp_path))  # type: ignore[arg-type]
    assert service.violation is not None and "quota of 50 files" in service.violation


def test_watchdog_ignores_folders_it_cannot_read(tmp_path: Path) -> None:
    assert not DataWatchdog(quota_mb=1).watch(_FakeService(), str(tmp_path / "missing"))  # type: ignore[arg-type]


def test_host_rule_names_the_bridge_and_the_run() -> None:
    rule = hostguard._rule("0123abcd")
    assert rule[:2] == ["-i", "hb-0123abcd"] and len(hostguard.bridge_name("0123abcd")) <= 15
    assert "NEW" in rule and rule[-1] == "DROP"
    listing = f"-A INPUT {' '.join(rule[:-2])} -j DROP".replace(
        "--comment harness-run:0123abcd", '--comment "harness-run:0123abcd"'
    )
    assert hostguard._COMMENTED.findall(listing) == ["0123abcd"]
