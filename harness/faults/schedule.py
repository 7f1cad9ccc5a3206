"""Fault schedules as data: a seeded list of (start offset, fault, duration), and the runner that plays it.

A schedule names faults; the caller maps names to `Fault` objects, so the same schedule (and its seed) can
be replayed against another service. Running one always ends with a heal: every fault that may be active
is stopped in a `finally`, whatever went wrong. Then, unless the run itself failed, the runner waits for
recovery and calls the final checks.

Timeline events are reported to a `Recorder` as `on_event(name, phase, monotonic_ns, details)`:
`start` just before a fault is applied and `stop` just after it is undone (so [start, stop] bounds the
window in which the fault may have been in force), `heal` for a fault stopped by the heal, `error` when
applying or undoing failed; name `schedule` with phases `begin`, `end`, `recovered`, `unrecovered`, `checks`.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.faults.base import Fault, Recorder

MAX_ENTRIES = 1000
MAX_TOTAL_S = 3600.0
RECOVERY_POLL_S = 0.1


@dataclass(frozen=True)
class FaultChoice:
    """One fault a schedule may pick, how often (relative weight) and for how long."""

    fault: str
    weight: float = 1.0
    min_duration_s: float = 1.0
    max_duration_s: float = 5.0


@dataclass(frozen=True)
class ScheduleSpec:
    """`count` faults, one at a time, separated by gaps drawn from [min_gap_s, max_gap_s]."""

    choices: Sequence[FaultChoice]
    count: int
    min_gap_s: float = 0.5
    max_gap_s: float = 2.0
    initial_delay_s: float = 0.0


@dataclass(frozen=True)
class ScheduledFault:
    offset_s: float
    """From the start of the run."""
    fault: str
    duration_s: float


@dataclass(frozen=True)
class Schedule:
    seed: int
    entries: tuple[ScheduledFault, ...]

    @property
    def total_s(self) -> float:
        return max((e.offset_s + e.duration_s for e in self.entries), default=0.0)

    def as_data(self) -> list[dict[str, Any]]:
        return [asdict(entry) for entry in self.entries]


def build_schedule(spec: ScheduleSpec, seed: int) -> Schedule:
    """The same spec and seed always give the same schedule (times rounded to the millisecond)."""
    if not spec.choices:
        raise ValueError("a schedule needs at least one fault to choose from")
    if not 0 <= spec.count <= MAX_ENTRIES:
        raise ValueError(f"count must be between 0 and {MAX_ENTRIES}")
    rng = random.Random(seed)
    weights = [choice.weight for choice in spec.choices]
    offset = spec.initial_delay_s
    entries = []
    for _ in range(spec.count):
        choice = rng.choices(list(spec.choices), weights)[0]
        duration = round(rng.uniform(choice.min_duration_s, choice.max_duration_s), 3)
        entries.append(ScheduledFault(round(offset, 3), choice.fault, duration))
        offset += duration + rng.uniform(spec.min_gap_s, spec.max_gap_s)
    schedule = Schedule(seed, tuple(entries))
    if schedule.total_s > MAX_TOTAL_S:
        raise ValueError(f"the schedule would run {schedule.total_s:.0f} s; the limit is {MAX_TOTAL_S:.0f} s")
    return schedule


@dataclass(frozen=True)
class TimelineEvent:
    name: str
    phase: str
    monotonic_ns: int
    details: dict[str, Any]


@dataclass
class Timeline:
    """A recorder that keeps every event, and passes each on to `forward` (e.g. a history writer)."""

    forward: Recorder | None = None
    events: list[TimelineEvent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_event(self, name: str, phase: str, monotonic_ns: int, details: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(TimelineEvent(name, phase, monotonic_ns, details))
        if self.forward is not None:
            self.forward.on_event(name, phase, monotonic_ns, details)


@dataclass
class ScheduleResult:
    timeline: Timeline
    errors: list[str] = field(default_factory=list)
    """Faults that could not be applied or undone (harness problems, never the candidate's)."""
    aborted: bool = False
    recovered: bool | None = None
    """None when there was no recovery probe or it was not reached."""


@dataclass
class _Runner:
    faults: Mapping[str, Fault]
    timeline: Timeline
    stop: threading.Event
    active: dict[str, Fault] = field(default_factory=dict)
    result: ScheduleResult | None = None

    def emit(self, name: str, phase: str, details: dict[str, Any] | None = None) -> None:
        self.timeline.on_event(name, phase, time.monotonic_ns(), details or {})

    def play(self, schedule: Schedule) -> bool:
        """Apply the entries in order; False when `stop` was set before the end."""
        began = time.monotonic()
        for entry in schedule.entries:
            if self.stop.wait(max(0.0, began + entry.offset_s - time.monotonic())):
                return False
            fault = self.faults[entry.fault]
            self.emit(entry.fault, "start", {**fault.details(), "duration_s": entry.duration_s})
            self.active[entry.fault] = fault
            try:
                fault.start()
            except Exception as exc:
                self.emit(entry.fault, "error", {"during": "start", "error": repr(exc)})
                raise
            interrupted = self.stop.wait(entry.duration_s)
            try:
                fault.stop()
            except Exception as exc:
                self.emit(entry.fault, "error", {"during": "stop", "error": repr(exc)})
                raise
            del self.active[entry.fault]
            self.emit(entry.fault, "stop")
            if interrupted:
                return False
        return True

    def heal(self, errors: list[str]) -> None:
        """Stop every fault that may still be in force; one failing does not keep the others on."""
        for name, fault in list(self.active.items()):
            try:
                fault.stop()
                self.emit(name, "heal")
            except Exception as exc:
                errors.append(f"healing {name} failed: {exc!r}")
                self.emit(name, "error", {"during": "heal", "error": repr(exc)})
            del self.active[name]


def run_schedule(
    schedule: Schedule,
    faults: Mapping[str, Fault],
    *,
    recorder: Recorder | None = None,
    recovered: Callable[[], bool] | None = None,
    recovery_timeout_s: float = 30.0,
    final_checks: Callable[[], None] | None = None,
    stop: threading.Event | None = None,
) -> ScheduleResult:
    """Play `schedule` in this thread. Setting `stop` cuts it short (then heal, recovery, checks as usual).

    An exception from a fault or the checks propagates, after the heal.
    """
    missing = sorted({e.fault for e in schedule.entries} - set(faults))
    if missing:
        raise ValueError(f"the schedule names faults that were not given: {', '.join(missing)}")
    runner = _Runner(faults, Timeline(recorder), stop or threading.Event())
    result = ScheduleResult(runner.timeline)
    runner.emit("schedule", "begin", {"seed": schedule.seed, "entries": len(schedule.entries)})
    try:
        result.aborted = not runner.play(schedule)
    finally:
        runner.heal(result.errors)
        runner.emit("schedule", "end", {"aborted": result.aborted, "heal_errors": list(result.errors)})
    if recovered is not None:
        result.recovered = wait_until(recovered, recovery_timeout_s)
        runner.emit("schedule", "recovered" if result.recovered else "unrecovered")
    if final_checks is not None:
        runner.emit("schedule", "checks")
        final_checks()
    return result


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if condition():
                return True
        except Exception:
            pass  # a probe that raises has simply not seen recovery yet
        if time.monotonic() >= deadline:
            return False
        time.sleep(RECOVERY_POLL_S)


class ScheduleRun:
    """Play a schedule on a background thread while the scenario drives its workload:

    with ScheduleRun(schedule, faults, recorder=history) as run:
        workload()
    run.result   # available after the block; leaving the block cuts the schedule short and heals
    """

    def __init__(self, schedule: Schedule, faults: Mapping[str, Fault], **options: Any) -> None:
        self._stop = threading.Event()
        self._result: ScheduleResult | None = None
        self._error: BaseException | None = None

        def target() -> None:
            try:
                self._result = run_schedule(schedule, faults, stop=self._stop, **options)
            except BaseException as exc:
                self._error = exc

        self._thread = threading.Thread(target=target, name="fault-schedule", daemon=True)

    def __enter__(self) -> ScheduleRun:
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the schedule to finish on its own; True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._error is not None and exc[0] is None:
            raise self._error

    @property
    def result(self) -> ScheduleResult:
        if self._result is None:
            raise RuntimeError("the schedule has not finished")
        return self._result
