"""Durability: every write acknowledged before a crash must be readable after recovery.

For each key with a write acknowledged (``ok``) before the last crash, the first ``ok`` read invoked after
recovery must return a value some write could have left there. Which writes could have been last: any
acknowledged write that no other acknowledged write started after (writes concurrent with it could have
landed in either order), and any ``info`` write (a timeout may have applied it, at any time, or not).
Writes after recovery, before that read, count the same way, so a scenario may keep writing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from harness.checks.evidence import describe, show_state, sub_history
from harness.checks.model import MUTATING, State, check_op, normalise
from harness.checks.result import CheckResult, guarded
from harness.history import History, Operation, Value

NAME = "durability"
CRASH_FAULTS = ("crash", "kill", "kill-restart", "power-loss", "restart")  # kill-restart: harness.faults

_ANY_INTEGER = object()  # an incr whose result is unknown may have left any integer


@dataclass(frozen=True)
class _Loss:
    key: Value
    read: Operation
    candidates: list[Operation]


def _left(op: Operation) -> State | object:
    """The value ``op`` leaves in its key if it is the last write."""
    if op.f == "write":
        return normalise(op.value)
    if op.f == "delete":
        return None
    if op.f == "incr":
        return _ANY_INTEGER if op.status != "ok" or op.result is None else normalise(op.result)
    assert op.f == "cas" and isinstance(op.value, tuple)
    return normalise(op.value[1])


def _is_integer(state: State) -> bool:
    return state is not None and state.lstrip(b"-").isdigit()


def _possible_last(writes: list[Operation]) -> list[Operation]:
    acked = [w for w in writes if w.status == "ok"]
    latest_start = max((w.invoke_time for w in acked), default=None)
    # An acknowledged write was superseded if another acknowledged write started after it finished.
    last = [w for w in acked if latest_start is None or (w.complete_time or 0) >= latest_start]
    return last + [w for w in writes if w.status == "info"]


@guarded(NAME)
def check_durability(history: History, *, crash_faults: Collection[str] = CRASH_FAULTS) -> CheckResult:
    """Are writes acknowledged before the last crash (a fault named in ``crash_faults``) still there?"""
    crashes = history.fault_windows(crash_faults)
    if not crashes:
        return CheckResult(NAME, "unknown", f"no crash recorded (faults named {', '.join(crash_faults)})")
    crash = crashes[-1]
    recovered = crash.stop if crash.stop is not None else crash.start
    by_key: dict[Value, list[Operation]] = {}
    for op in history.operations:
        by_key.setdefault(op.key, []).append(op)
    losses: list[_Loss] = []
    unread: list[Value] = []
    checked = 0
    for key, ops in by_key.items():
        writes = [op for op in ops if op.f in MUTATING and op.status != "fail"]
        for op in writes:
            check_op(op)
        if not any(w.status == "ok" and (w.complete_time or 0) < crash.start for w in writes):
            continue
        reads = (op for op in ops if op.f == "read" and op.status == "ok" and op.invoke_time >= recovered)
        read = next(reads, None)
        if read is None:
            unread.append(key)
            continue
        checked += 1
        assert read.complete_time is not None
        before_read = [w for w in writes if w.invoke_time < read.complete_time and not _declined(w)]
        candidates = _possible_last(before_read)
        allowed = [_left(w) for w in candidates]
        got = normalise(read.result)
        if got not in allowed and not (_ANY_INTEGER in allowed and _is_integer(got)):
            losses.append(_Loss(key, read, candidates))
    if losses:
        return _failed(history, losses, checked)
    if unread:
        return CheckResult(
            NAME,
            "unknown",
            f"{len(unread)} keys with acknowledged writes were not read after recovery",
            details="Not read after recovery: " + ", ".join(repr(k) for k in unread),
        )
    if not checked:
        return CheckResult(NAME, "unknown", f"no write was acknowledged before the {crash.name}")
    summary = f"all {checked} keys written before the {crash.name} read back after recovery"
    return CheckResult(NAME, "pass", summary)


def _declined(op: Operation) -> bool:
    """A cas that answered "not swapped" wrote nothing."""
    return op.f == "cas" and op.status == "ok" and op.result is False


def _failed(history: History, losses: list[_Loss], checked: int) -> CheckResult:
    lines = []
    for loss in losses:
        got = normalise(loss.read.result)
        kind = "missing" if got is None else f"wrong ({show_state(got)})"
        lines.append(
            f"key {loss.key!r}: {kind} after recovery; it should hold what one of these left:\n"
            f"{describe(loss.candidates)}\n  read after recovery: {loss.read.describe()}"
        )
    first = losses[0]
    return CheckResult(
        NAME,
        "fail",
        f"{len(losses)} of {checked} keys lost acknowledged writes, first {first.key!r}: "
        f"read {show_state(normalise(first.read.result))} after recovery",
        details="\n".join(lines),
        counterexample=sub_history(history, [*first.candidates, first.read]),
    )
