"""Classifies what happened in a scenario into passed / failed / error / skipped.

The line between *failed* (the candidate's fault) and *error* (the harness's) is drawn here and nowhere
else: assertions and `CandidateFailure` are the candidate's; a scenario's timeout is the candidate's (the
service stopped answering); every other exception is a harness or scenario bug and is never scored.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pytest

from harness.errors import CandidateFailure
from harness.report.model import Status

TIMEOUT_MARK = "Timeout (>"


@dataclass(frozen=True)
class PhaseOutcome:
    status: Status
    message: str | None = None
    evidence: str | None = None
    reproduce: str | None = None
    details: str | None = None


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def classify(excinfo: pytest.ExceptionInfo[BaseException] | None, longrepr: str) -> PhaseOutcome:
    if excinfo is None:
        return PhaseOutcome("passed")
    exc = excinfo.value
    if isinstance(exc, pytest.skip.Exception):
        return PhaseOutcome("skipped", message=_first_line(str(exc.msg)))
    if isinstance(exc, CandidateFailure):
        return PhaseOutcome(
            "failed", message=_first_line(exc.message), evidence=exc.evidence, reproduce=exc.reproduce
        )
    if isinstance(exc, pytest.fail.Exception) and str(exc.msg).startswith(TIMEOUT_MARK):
        seconds = str(exc.msg)[len(TIMEOUT_MARK) :].split("s", 1)[0]
        with contextlib.suppress(ValueError):
            seconds = f"{float(seconds):g}"
        return PhaseOutcome("failed", message=f"the scenario did not finish within its {seconds} s budget")
    if isinstance(exc, AssertionError | pytest.fail.Exception):
        message = _first_line(str(exc) or excinfo.exconly())
        return PhaseOutcome("failed", message=message, details=longrepr)
    return PhaseOutcome(
        "error",
        message=f"harness error: {_first_line(excinfo.exconly())}",
        details=longrepr,
    )
