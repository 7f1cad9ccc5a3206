"""The events a history is made of, and the paired view checkers read.

A client operation is recorded as two events sharing an ``op_id``: an ``invoke`` when the client sends it
and a completion when it knows the outcome: ``ok`` (it happened, ``value`` is the result), ``fail`` (it
definitely did not happen) or ``info`` (indeterminate: it may have happened, now or at any later time,
e.g. a timeout during a partition). Faults are recorded in the same sequence, so checkers can line up
operations with the faults that were active when they ran.

Times are integers from a monotonic clock (nanoseconds by default). Checkers order events by their
position in the history, which the recorder makes agree with time; times only measure durations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

Value: TypeAlias = "bool | int | float | str | bytes | tuple[Value, ...] | None"
"""What an operation carries: JSON-like, hashable (tuples, not lists), bytes allowed for RESP values."""

Process: TypeAlias = int | str
Completion = Literal["ok", "fail", "info"]
OpType = Literal["invoke", "ok", "fail", "info"]
Phase: TypeAlias = str
"""``start`` opens a fault window; ``stop`` (or ``heal``: stopped by a schedule's final heal) closes it.
Any other phase (``error``, a schedule's ``begin``/``end``/``recovered``) is a marker on the timeline."""
CLOSING_PHASES = frozenset({"stop", "heal"})


@dataclass(frozen=True)
class OpEvent:
    """One half of a client operation: its invocation or its completion."""

    type: OpType
    op_id: int
    process: Process
    f: str
    key: Value
    value: Value
    time: int
    error: str | None = None


@dataclass(frozen=True)
class FaultEvent:
    """A fault starting or stopping (a partition, a kill -9, a pause), or another timeline marker,
    recorded beside the operations.

    ``details`` (JSON-friendly, treated as read-only) says what the fault did; it takes no part in
    hashing, so events stay hashable.
    """

    name: str
    phase: Phase
    time: int
    details: Mapping[str, Any] = field(default_factory=dict, hash=False)


Event: TypeAlias = OpEvent | FaultEvent


@dataclass(frozen=True)
class Operation:
    """An invocation paired with its completion, as checkers consume it.

    ``value`` is what was asked (the written value, ``(expected, new)`` for cas); ``result`` is what came
    back with ``ok`` (the value read, the incremented value). An invocation that never completed (the
    history was taken mid-run) is ``info``: as far as anyone knows, it may still take effect.
    ``invoke_index``/``complete_index`` are positions in the history's event sequence; an ``info``
    operation's completion says nothing about when it took effect, so checkers treat it as open-ended.
    """

    op_id: int
    process: Process
    f: str
    key: Value
    value: Value
    status: Completion
    result: Value
    invoke_time: int
    complete_time: int | None
    invoke_index: int
    complete_index: int | None
    error: str | None = None

    @property
    def open_ended(self) -> bool:
        """True when the operation may take effect at any time after its invocation."""
        return self.status == "info"

    def describe(self) -> str:
        """One line for evidence: ``#12 p3 write 'k' b'v' -> ok``."""
        asked = "" if self.value is None else f" {self.value!r}"
        if self.status == "ok":
            if self.result is not None:
                outcome = f"ok {self.result!r}"
            else:  # a read that found nothing is evidence too; a write simply succeeded
                outcome = "ok nil" if self.f == "read" else "ok"
        else:
            outcome = self.status + (f" ({self.error})" if self.error else "")
        return f"#{self.op_id} p{self.process} {self.f} {self.key!r}{asked} -> {outcome}"


@dataclass(frozen=True)
class FaultWindow:
    """A fault from its start to its stop; ``stop`` is None while it was still active at the end."""

    name: str
    start: int
    stop: int | None
    details: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def covers(self, time: int) -> bool:
        return self.start <= time and (self.stop is None or time < self.stop)
