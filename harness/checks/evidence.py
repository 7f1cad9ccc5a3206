"""Turning a checker's findings into text and counter-example histories people can read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from harness.checks.model import State
from harness.history import FaultEvent, History, Operation, OpEvent


def show_state(state: State) -> str:
    return "absent" if state is None else repr(state)


def show_states(states: Iterable[State]) -> str:
    return ", ".join(show_state(s) for s in states) or "none"


def describe(ops: Iterable[Operation]) -> str:
    return "\n".join(f"  {op.describe()}" for op in ops)


def around(ops: Sequence[Operation], focus: Operation, before: int) -> list[Operation]:
    """``focus``, the operations overlapping it, and the last ``before`` that completed before its call:
    the smallest slice of one key's history that shows what ``focus`` ran against."""
    end = focus.complete_index if focus.complete_index is not None else focus.invoke_index
    overlapping = [
        op
        for op in ops
        if op.invoke_index <= end and (op.open_ended or (op.complete_index or 0) >= focus.invoke_index)
    ]
    earlier = [
        op
        for op in ops
        if op.status == "ok" and op.complete_index is not None and op.complete_index < focus.invoke_index
    ]
    earlier.sort(key=lambda op: op.complete_index or 0)
    chosen = {op.op_id: op for op in [*earlier[max(0, len(earlier) - before) :], *overlapping]}
    return sorted(chosen.values(), key=lambda op: op.invoke_index)


def sub_history(history: History, ops: Iterable[Operation]) -> History:
    """The events of ``ops``, plus the fault events between the first and the last of them."""
    wanted = {op.op_id for op in ops}
    positions = [i for i, e in enumerate(history.events) if isinstance(e, OpEvent) and e.op_id in wanted]
    if not positions:
        return History()
    first, last = positions[0], positions[-1]

    def keep(index: int, event: OpEvent | FaultEvent) -> bool:
        if isinstance(event, OpEvent):
            return event.op_id in wanted
        return first <= index <= last

    return History(tuple(e for i, e in enumerate(history.events) if keep(i, e)))
