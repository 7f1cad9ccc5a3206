"""`History`: an immutable snapshot of recorded events, with the views checkers need."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from harness.history.events import (
    CLOSING_PHASES,
    Completion,
    Event,
    FaultEvent,
    FaultWindow,
    Operation,
    OpEvent,
    Value,
)


class HistoryError(ValueError):
    """A sequence of events that is not a history: a completion without its invocation, two completions."""


@dataclass(frozen=True)
class History:
    """Events in the order they happened. Validated on construction, so checkers can trust the pairing."""

    events: tuple[Event, ...] = ()

    def __post_init__(self) -> None:
        open_ops: dict[int, OpEvent] = {}
        seen: set[int] = set()
        for index, event in enumerate(self.events):
            if not isinstance(event, OpEvent):
                continue
            if event.type == "invoke":
                if event.op_id in seen:
                    raise HistoryError(f"event {index}: operation {event.op_id} invoked twice")
                seen.add(event.op_id)
                open_ops[event.op_id] = event
            elif open_ops.pop(event.op_id, None) is None:
                raise HistoryError(f"event {index}: {event.type} of operation {event.op_id}, not open")

    def __len__(self) -> int:
        return len(self.events)

    @cached_property
    def operations(self) -> tuple[Operation, ...]:
        """Every operation, in order of invocation; unfinished ones are ``info``."""
        invokes: dict[int, tuple[int, OpEvent]] = {}
        done: dict[int, tuple[int, OpEvent]] = {}
        for index, event in enumerate(self.events):
            if isinstance(event, OpEvent):
                (invokes if event.type == "invoke" else done)[event.op_id] = (index, event)
        ops = []
        for op_id, (index, call) in invokes.items():
            end_index, end = done.get(op_id, (None, None))
            status: Completion = "info"
            result: Value = None
            error: str | None = "no completion recorded"
            end_time: int | None = None
            if end is not None:
                assert end.type != "invoke"
                status, error, end_time = end.type, end.error, end.time
                result = end.value if end.type == "ok" else None
            ops.append(
                Operation(
                    op_id=op_id,
                    process=call.process,
                    f=call.f,
                    key=call.key,
                    value=call.value,
                    status=status,
                    result=result,
                    invoke_time=call.time,
                    complete_time=end_time,
                    invoke_index=index,
                    complete_index=end_index,
                    error=error,
                )
            )
        return tuple(ops)

    def completed(self) -> tuple[tuple[OpEvent, OpEvent], ...]:
        """Pairs of (invocation, completion) for the operations that completed, in order of completion."""
        invokes: dict[int, OpEvent] = {}
        pairs = []
        for event in self.events:
            if isinstance(event, OpEvent):
                if event.type == "invoke":
                    invokes[event.op_id] = event
                else:
                    pairs.append((invokes[event.op_id], event))
        return tuple(pairs)

    @property
    def faults(self) -> tuple[FaultEvent, ...]:
        return tuple(e for e in self.events if isinstance(e, FaultEvent))

    def keys(self) -> tuple[Value, ...]:
        """The keys operated on, in order of first use."""
        return tuple(dict.fromkeys(e.key for e in self.events if isinstance(e, OpEvent)))

    def by_key(self) -> dict[Value, History]:
        """One sub-history per key: its operations plus every fault event (faults belong to all keys).

        Checking keys separately is sound for any model whose operations each touch one key (a register,
        a key-value store): a history is linearizable iff each key's is (P-compositionality).
        """
        per_key: dict[Value, list[Event]] = {key: [] for key in self.keys()}
        for event in self.events:
            if isinstance(event, OpEvent):
                per_key[event.key].append(event)
            else:
                for events in per_key.values():
                    events.append(event)
        return {key: History(tuple(events)) for key, events in per_key.items()}

    def fault_windows(self, names: Iterable[str] | None = None) -> tuple[FaultWindow, ...]:
        """Faults as intervals, in order of start. A stop (or heal) closes the oldest open fault of its
        name; other phases are markers and make no window."""
        wanted = None if names is None else set(names)
        open_faults: dict[str, list[FaultEvent]] = {}
        windows: list[tuple[FaultEvent, int | None]] = []
        for event in self.faults:
            if wanted is not None and event.name not in wanted:
                continue
            if event.phase == "start":
                open_faults.setdefault(event.name, []).append(event)
            elif event.phase in CLOSING_PHASES and open_faults.get(event.name):
                windows.append((open_faults[event.name].pop(0), event.time))
        windows.extend((start, None) for starts in open_faults.values() for start in starts)
        windows.sort(key=lambda w: w[0].time)
        return tuple(FaultWindow(s.name, s.time, stop, s.details) for s, stop in windows)

    def to_json(self) -> str:
        from harness.history.codec import history_to_json

        return history_to_json(self)

    @classmethod
    def from_json(cls, text: str) -> History:
        from harness.history.codec import history_from_json

        return history_from_json(text)
