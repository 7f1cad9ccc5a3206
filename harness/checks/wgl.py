"""The Wing & Gong linearizability search with Lowe's memoisation, for one key's operations.

The history becomes a doubly linked list of call and return entries in history order. The search walks
it: at a call, it tries to linearize that operation next (apply it to the model; lift its call and return
out of the list; push a backtrack point); at a return whose operation is not yet linearized, no
linearization of the current prefix can continue, so it backtracks. Lowe's cache of (set of linearized
operations, model state) prunes every configuration already explored: two paths reaching the same set
with the same state have the same futures. That is what makes histories of thousands of operations
cheap when concurrency is light.

An ``info`` operation's return is placed after everything: it may take effect at any point after its call,
including never (linearizing it last is indistinguishable from never, since nothing observes it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from harness.checks.model import State, step
from harness.checks.result import Budget
from harness.history import Operation

_MAX_STATES_REPORTED = 5


class _Entry:
    __slots__ = ("is_call", "match", "next", "op", "prev")

    def __init__(self, op: int, is_call: bool) -> None:
        self.op = op
        self.is_call = is_call
        self.match: _Entry | None = None
        self.prev: _Entry | None = None
        self.next: _Entry | None = None


@dataclass(frozen=True)
class Stuck:
    """Where the search failed: the operation no linearization can place, and the states it met."""

    op: Operation
    states: tuple[State, ...]


def _build(ops: Sequence[Operation]) -> _Entry:
    after_everything = 1 + max((max(op.invoke_index, op.complete_index or 0) for op in ops), default=0)
    keyed: list[tuple[int, int, _Entry]] = []
    for i, op in enumerate(ops):
        call, ret = _Entry(i, True), _Entry(i, False)
        call.match = ret
        end = op.complete_index if op.status == "ok" else None
        keyed.append((op.invoke_index, 0, call))
        keyed.append((after_everything + i if end is None else end, 1, ret))
    keyed.sort(key=lambda k: (k[0], k[1]))
    head = _Entry(-1, False)
    last = head
    for _, _, entry in keyed:
        last.next, entry.prev = entry, last
        last = entry
    return head


def _lift(entry: _Entry) -> None:
    match = entry.match
    assert entry.prev is not None and match is not None and match.prev is not None
    entry.prev.next = entry.next
    if entry.next is not None:
        entry.next.prev = entry.prev
    match.prev.next = match.next
    if match.next is not None:
        match.next.prev = match.prev


def _unlift(entry: _Entry) -> None:
    # The exact reverse of _lift: the return goes back first, then the call.
    match = entry.match
    assert entry.prev is not None and match is not None and match.prev is not None
    match.prev.next = match
    if match.next is not None:
        match.next.prev = match
    entry.prev.next = entry
    if entry.next is not None:
        entry.next.prev = entry


@dataclass(frozen=True)
class Outcome:
    """A search's verdict. On failure, ``deepest`` is the operation whose return stopped the longest
    partial linearization (usually the culprit), and ``refused`` the states in which the watched
    operation was tried and did not fit."""

    linearizable: bool
    deepest: Operation | None = None
    refused: tuple[State, ...] = ()


def search(ops: Sequence[Operation], initial: State, budget: Budget, watch: int | None = None) -> Outcome:
    """Is there a linearization of ``ops`` (ok and info operations of one key) from ``initial``?

    Raises `OutOfBudget` when the budget runs out first.
    """
    head = _build(ops)
    state = initial
    linearized = 0
    cache: set[tuple[int, State]] = set()
    stack: list[tuple[_Entry, State]] = []
    entry = head.next
    refused: list[State] = []
    deepest, depth = None, -1
    while head.next is not None:
        budget.spend()
        assert entry is not None  # the list ends with a return entry, which never advances
        if entry.is_call:
            consistent, new_state = step(state, ops[entry.op])
            if consistent:
                new_linearized = linearized | (1 << entry.op)
                if (new_linearized, new_state) not in cache:
                    cache.add((new_linearized, new_state))
                    stack.append((entry, state))
                    state, linearized = new_state, new_linearized
                    _lift(entry)
                    entry = head.next
                    continue
            elif entry.op == watch and state not in refused:
                refused.append(state)
            entry = entry.next
        else:
            if len(stack) > depth:
                deepest, depth = ops[entry.op], len(stack)
            if not stack:
                return Outcome(False, deepest, tuple(refused[:_MAX_STATES_REPORTED]))
            entry, state = stack.pop()
            linearized &= ~(1 << entry.op)
            _unlift(entry)
            entry = entry.next
    return Outcome(True)


def prefix(ops: Sequence[Operation], cut: int) -> list[Operation]:
    """The operations invoked before history position ``cut``; those completing later become ``info``.

    If this prefix has no linearization, neither has any longer one: operations completed before ``cut``
    must precede everything invoked after it, so extending the history cannot explain them.
    """
    out = []
    for op in ops:
        if op.invoke_index >= cut:
            continue
        if op.status == "ok" and op.complete_index is not None and op.complete_index >= cut:
            if op.f == "read":
                continue  # an unfinished read observed nothing yet
            op = dataclasses.replace(op, status="info", result=None)
        out.append(op)
    return out


def find_stuck(ops: Sequence[Operation], initial: State, budget: Budget, hint: Operation | None) -> Stuck:
    """For ops with no linearization: the earliest completion after which none exists, with the model
    states in which that operation could not be applied.

    A binary search over prefixes finds it. Proving a prefix has no linearization is the expensive part
    (the search must exhaust it) while finding one is usually quick, so the ``hint`` (the failed search's
    deepest operation) is tried first: one cheap probe before it and one failing probe at it.
    """
    cuts = sorted(op.complete_index for op in ops if op.status == "ok" and op.complete_index is not None)
    low, high = 0, len(cuts) - 1  # invariants: the prefix through cuts[high] fails, through cuts[low-1] not

    by_cut = {op.complete_index: op for op in ops if op.status == "ok"}
    probes: dict[int, Outcome] = {}

    def fails(index: int) -> bool:
        # Each probe watches the operation completing at its cut: if the probe fails and that operation
        # is the answer, the states it reports are the ones wanted and the probe need not run again.
        trimmed = prefix(ops, cuts[index] + 1)
        probes[index] = search(trimmed, initial, budget, watch=trimmed.index(by_cut[cuts[index]]))
        return not probes[index].linearizable

    if hint is not None and hint.status == "ok" and hint.complete_index in cuts:
        at = cuts.index(hint.complete_index)
        if at == 0 or not fails(at - 1):
            low = at
            if fails(at):
                high = at
        else:
            high = at - 1
    while low < high:
        middle = (low + high) // 2
        if fails(middle):
            high = middle
        else:
            low = middle + 1
    if high not in probes:
        fails(high)
    return Stuck(by_cut[cuts[high]], probes[high].refused)
