"""`CheckResult`, how results combine, and the guard that turns a crashing checker into "unknown"."""

from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal, ParamSpec

from harness.history import History, history_to_dict

CheckStatus = Literal["pass", "fail", "unknown"]
_RANK: Final[dict[CheckStatus, int]] = {"pass": 0, "unknown": 1, "fail": 2}

P = ParamSpec("P")


@dataclass(frozen=True)
class CheckResult:
    """A checker's verdict on a history.

    ``unknown`` means the checker could not decide (out of budget, too little data, a checker bug): it
    must never be read as a pass. ``counterexample`` is the smallest slice of the history that shows a
    failure, when the checker can name one; ``error`` holds a checker's own crash, never the candidate's.
    """

    checker: str
    status: CheckStatus
    summary: str
    details: str = ""
    counterexample: History | None = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly, for results and evidence."""
        return {
            "checker": self.checker,
            "status": self.status,
            "summary": self.summary,
            "details": self.details,
            "counterexample": None if self.counterexample is None else history_to_dict(self.counterexample),
            "error": self.error,
        }


def combine(results: Iterable[CheckResult], checker: str = "combined") -> CheckResult:
    """One verdict from several: fail beats unknown beats pass. Nothing checked is unknown, not a pass."""
    results = list(results)
    if not results:
        return CheckResult(checker, "unknown", "no checks ran")
    worst = max(results, key=lambda r: _RANK[r.status])
    deciding = [r for r in results if r.status == worst.status]
    summary = "; ".join(f"{r.checker}: {r.summary}" for r in deciding)
    details = "\n\n".join(f"[{r.checker}: {r.status}] {r.summary}\n{r.details}".rstrip() for r in results)
    errors = [f"{r.checker}: {r.error}" for r in results if r.error]
    return CheckResult(
        checker,
        worst.status,
        summary,
        details,
        counterexample=next((r.counterexample for r in deciding if r.counterexample is not None), None),
        error="\n".join(errors) or None,
    )


def guarded(name: str) -> Callable[[Callable[P, CheckResult]], Callable[P, CheckResult]]:
    """Make a checker total: if it raises, the verdict is ``unknown`` with the error attached.

    A checker bug must never pass a candidate, and must never fail one either.
    """

    def decorate(check: Callable[P, CheckResult]) -> Callable[P, CheckResult]:
        @functools.wraps(check)
        def run(*args: P.args, **kwargs: P.kwargs) -> CheckResult:
            try:
                return check(*args, **kwargs)
            except Exception as exc:  # any checker crash becomes "unknown"
                return CheckResult(
                    name,
                    "unknown",
                    f"the checker failed: {type(exc).__name__}: {exc}",
                    details=traceback.format_exc(),
                    error=f"{type(exc).__name__}: {exc}",
                )

        return run

    return decorate


class OutOfBudget(Exception):
    """A search ran out of steps or time; its checker reports ``unknown``."""


class Budget:
    """Steps and wall-clock time a search may spend; `spend` raises `OutOfBudget` past either.

    The clock is only consulted every 1,024 steps: reading it on every step would cost more than the
    step itself.
    """

    def __init__(self, max_steps: int | None = 5_000_000, max_seconds: float | None = 10.0) -> None:
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self.steps = 0
        self._deadline = None if max_seconds is None else time.monotonic() + max_seconds

    def spend(self, steps: int = 1) -> None:
        before = self.steps
        self.steps += steps
        if self.max_steps is not None and self.steps > self.max_steps:
            raise OutOfBudget(f"more than {self.max_steps} search steps")
        if (
            self._deadline is not None
            and (before >> 10) != (self.steps >> 10)
            and time.monotonic() > self._deadline
        ):
            raise OutOfBudget(f"more than {self.max_seconds:g} s")
