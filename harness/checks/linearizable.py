"""Linearizability of single-key registers (read, write, cas; incr and delete too), key by key.

Each key is checked on its own (P-compositionality: a history of single-key operations is linearizable
iff every key's sub-history is), which keeps every search small. ``info`` operations may or may not have
taken effect, at any time after their call (Knossos and Porcupine treat them alike). Running out of
budget is ``unknown``: a search that did not finish has proved nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.checks.evidence import around, describe, show_states, sub_history
from harness.checks.model import check_op, normalise, relevant
from harness.checks.result import Budget, CheckResult, OutOfBudget, guarded
from harness.checks.wgl import Stuck, find_stuck, search
from harness.history import History, Operation, Value

NAME = "linearizable"


@dataclass(frozen=True)
class _Failure:
    key: Value
    stuck: Stuck
    ops: list[Operation]
    history: History


@guarded(NAME)
def check_linearizable(
    history: History,
    *,
    initial: Mapping[Value, Value] | None = None,
    budget: Budget | None = None,
    context: int = 3,
) -> CheckResult:
    """Is every key's sub-history linearizable against the key-value model (`harness.checks.model`)?

    ``initial`` gives keys' values before the history (default: absent). On failure the counter-example
    is the operation no linearization can place, those overlapping it and the ``context`` operations
    completed just before it; the details say which values the key could hold there.
    """
    budget = budget or Budget()
    initial = initial or {}
    failures: list[_Failure] = []
    checked = 0
    per_key = history.by_key()
    for key, sub in per_key.items():
        ops = [op for op in sub.operations if relevant(op)]
        for op in ops:
            check_op(op)
        start = normalise(initial.get(key))
        try:
            outcome = search(ops, start, budget)
            if outcome.linearizable:
                checked += 1
                continue
            failures.append(_Failure(key, find_stuck(ops, start, budget, outcome.deepest), ops, sub))
        except OutOfBudget as exc:
            if failures:
                break  # a failure found so far stands; the rest is not needed to fail
            return CheckResult(
                NAME,
                "unknown",
                f"out of budget on key {key!r} ({exc}); {checked} of {len(per_key)} keys were linearizable",
                details=f"{budget.steps} search steps spent",
            )
    if not failures:
        return CheckResult(NAME, "pass", f"all {checked} keys linearizable ({budget.steps} search steps)")
    failures.sort(key=lambda f: f.stuck.op.complete_time or 0)
    first = failures[0]
    window = around(first.ops, first.stuck.op, context)
    keys = ", ".join(repr(f.key) for f in failures)
    details = (
        f"No order of the operations on key {first.key!r} that respects real time explains\n"
        f"  {first.stuck.op.describe()}\n"
        f"Where it could take effect, the key could hold: {show_states(first.stuck.states)}.\n"
        f"Operations around it (with the {context} completed just before):\n{describe(window)}\n"
        f"Keys that are not linearizable: {keys}"
    )
    return CheckResult(
        NAME,
        "fail",
        f"key {first.key!r} is not linearizable: {first.stuck.op.describe()} "
        f"({len(failures)} of {len(per_key)} keys fail)",
        details=details,
        counterexample=sub_history(first.history, window),
    )
