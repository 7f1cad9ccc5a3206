"""Availability around faults: how many operations succeeded during and after each fault, how long the
service took to answer again after the heal, and the longest stretch with no successful operation.

A service may refuse everything while a fault is active (a consistent system facing a partition should),
so by default only recovery is judged: within ``recover_within_s`` of each heal an operation must succeed,
and after that allowance the ok fraction must be at least ``min_ok_fraction_after``. ``max_gap_s`` bounds
the longest stretch without an ok outside faults and their recovery allowance.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from harness.checks.result import CheckResult, guarded
from harness.history import FaultWindow, History, Operation

NAME = "availability"
_NS = 1_000_000_000


@dataclass(frozen=True)
class _Window:
    fault: FaultWindow
    during: tuple[int, int]  # (ok, total) invoked while the fault was active
    after: tuple[int, int]  # (ok, total) invoked after the recovery allowance, before the next fault
    recovery_s: float | None  # heal to the first ok completion; None: no ok after the heal


def _ratio(counts: tuple[int, int]) -> str:
    ok, total = counts
    return f"{ok}/{total} ok ({100 * ok / total:.1f}%)" if total else "no operations"


def _count(ops: Sequence[Operation], start: int, stop: int | None) -> tuple[int, int]:
    inside = [op for op in ops if op.invoke_time >= start and (stop is None or op.invoke_time < stop)]
    return sum(op.status == "ok" for op in inside), len(inside)


def _longest_gap(oks: list[int], start: int, end: int, excluded: list[tuple[int, int]]) -> int:
    """The longest time in [start, end] with no ok completion, not counting ``excluded`` intervals."""
    longest = 0
    for low, high in zip([start, *oks], [*oks, end], strict=True):
        pieces = [(low, high)]
        for ex_low, ex_high in excluded:
            pieces = [
                part
                for a, b in pieces
                for part in ((a, min(b, ex_low)), (max(a, ex_high), b))
                if part[1] > part[0]
            ]
        longest = max([longest, *(b - a for a, b in pieces)])
    return longest


def _judge(
    fault: FaultWindow,
    following: int | None,
    end: int,
    ops: Sequence[Operation],
    oks: list[int],
    allowance: int,
    problems: list[str],
    undecided: list[str],
) -> _Window:
    """One fault's numbers; what misses the recovery budget goes to ``problems``, what cannot be told
    (the fault never healed, the history stops too soon after the heal) to ``undecided``."""
    if fault.stop is None:
        undecided.append(f"{fault.name} was never healed")
        return _Window(fault, _count(ops, fault.start, None), (0, 0), None)
    budget_s = allowance / _NS
    first_ok = next((t for t in oks if t >= fault.stop), None)
    recovery = None if first_ok is None else (first_ok - fault.stop) / _NS
    if recovery is None:
        observed = ((following or end) - fault.stop) / _NS
        if observed >= budget_s:
            problems.append(f"no ok operation in the {observed:.2f} s after {fault.name} healed")
        else:
            undecided.append(f"only {observed:.2f} s observed after {fault.name} healed")
    elif recovery > budget_s:
        problems.append(f"first ok {recovery:.2f} s after {fault.name} healed (budget {budget_s:g} s)")
    after = _count(ops, fault.stop + allowance, following)
    return _Window(fault, _count(ops, fault.start, fault.stop), after, recovery)


@guarded(NAME)
def check_availability(
    history: History,
    *,
    recover_within_s: float,
    faults: Collection[str] | None = None,
    min_ok_fraction_after: float = 0.95,
    max_gap_s: float | None = None,
) -> CheckResult:
    """Judge availability around the faults named in ``faults`` (default: every fault)."""
    ops = history.operations
    if not ops:
        return CheckResult(NAME, "unknown", "no operations recorded")
    windows = history.fault_windows(faults)
    start = min(op.invoke_time for op in ops)
    end = max(max(op.invoke_time, op.complete_time or 0) for op in ops)
    oks = sorted(op.complete_time for op in ops if op.status == "ok" and op.complete_time is not None)
    allowance = int(recover_within_s * _NS)
    problems: list[str] = []
    undecided: list[str] = []
    rows: list[_Window] = []
    for i, fault in enumerate(windows):
        following = windows[i + 1].start if i + 1 < len(windows) else None
        rows.append(_judge(fault, following, end, ops, oks, allowance, problems, undecided))
        after = rows[-1].after
        if after[1] and after[0] / after[1] < min_ok_fraction_after:
            problems.append(
                f"after recovering from {fault.name}: {_ratio(after)}, below {min_ok_fraction_after:.0%}"
            )
    excluded = [(w.start, end if w.stop is None else w.stop + allowance) for w in windows]
    gap_s = _longest_gap(oks, start, end, []) / _NS
    steady_gap_s = _longest_gap(oks, start, end, excluded) / _NS
    if max_gap_s is not None and steady_gap_s > max_gap_s:
        problems.append(f"{steady_gap_s:.2f} s without an ok outside faults (budget {max_gap_s:g} s)")
    if not oks:
        problems.append("no operation succeeded")
    details = _details(rows, gap_s, steady_gap_s, len(oks), len(ops))
    if problems:
        return CheckResult(NAME, "fail", "; ".join(problems), details=details)
    if undecided:
        return CheckResult(NAME, "unknown", "; ".join(undecided), details=details)
    worst = max((w.recovery_s or 0.0 for w in rows), default=0.0)
    summary = (
        f"recovered within {worst:.2f} s of every heal ({len(rows)} faults); "
        f"longest gap without an ok {gap_s:.2f} s"
    )
    return CheckResult(NAME, "pass", summary, details=details)


def _details(rows: list[_Window], gap_s: float, steady_gap_s: float, oks: int, total: int) -> str:
    lines = [
        f"{oks}/{total} operations ok; longest gap without an ok {gap_s:.2f} s "
        f"({steady_gap_s:.2f} s outside faults and recovery)"
    ]
    for row in rows:
        fault = row.fault
        length = "never healed" if fault.stop is None else f"{(fault.stop - fault.start) / _NS:.2f} s"
        recovery = "no ok since" if row.recovery_s is None else f"first ok {row.recovery_s:.2f} s later"
        lines.append(
            f"{fault.name} ({length}): during {_ratio(row.during)}; healed, {recovery}; "
            f"after recovery {_ratio(row.after)}"
        )
    return "\n".join(lines)
