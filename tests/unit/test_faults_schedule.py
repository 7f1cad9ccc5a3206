"""Fault schedules: deterministic from a seed, always healed, events reported to a recorder."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.faults.schedule import (
    FaultChoice,
    ScheduleRun,
    ScheduleSpec,
    build_schedule,
    run_schedule,
)

pytestmark = pytest.mark.timeout(30)

SPEC = ScheduleSpec(
    choices=[
        FaultChoice("a", weight=2, min_duration_s=0.01, max_duration_s=0.03),
        FaultChoice("b", min_duration_s=0.01, max_duration_s=0.02),
    ],
    count=6,
    min_gap_s=0.0,
    max_gap_s=0.01,
)


@dataclass
class FakeFault:
    name: str
    fail_start: bool = False
    log: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.log.append(f"start {self.name}")
        if self.fail_start:
            raise RuntimeError("cannot apply")

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")

    def details(self) -> dict[str, Any]:
        return {"fake": True}


@dataclass
class ListRecorder:
    events: list[tuple[str, str, int, dict[str, Any]]] = field(default_factory=list)

    def on_event(self, name: str, phase: str, monotonic_ns: int, details: dict[str, Any]) -> None:
        self.events.append((name, phase, monotonic_ns, details))


def test_same_seed_same_schedule_and_another_seed_another() -> None:
    first = build_schedule(SPEC, seed=42)
    assert first == build_schedule(SPEC, seed=42)
    assert first.as_data() == build_schedule(SPEC, seed=42).as_data()
    assert first != build_schedule(SPEC, seed=43)
    assert len(first.entries) == 6
    offsets = [e.offset_s for e in first.entries]
    assert offsets == sorted(offsets)
    for before, after in itertools.pairwise(first.entries):
        assert after.offset_s >= before.offset_s + before.duration_s - 0.001  # one fault at a time


def test_run_records_start_and_stop_of_each_fault_in_order() -> None:
    log: list[str] = []
    faults = {name: FakeFault(name, log=log) for name in ("a", "b")}
    recorder = ListRecorder()
    schedule = build_schedule(SPEC, seed=1)
    result = run_schedule(schedule, faults, recorder=recorder, recovered=lambda: True)
    assert log == [f"{verb} {e.fault}" for e in schedule.entries for verb in ("start", "stop")]
    phases = [(name, phase) for name, phase, _, _ in recorder.events]
    assert phases[0] == ("schedule", "begin")
    assert phases[-2:] == [("schedule", "end"), ("schedule", "recovered")]
    times = [ns for _, _, ns, _ in recorder.events]
    assert times == sorted(times)
    assert result.recovered is True and result.errors == [] and not result.aborted
    assert recorder.events[1][3]["fake"] is True and "duration_s" in recorder.events[1][3]


def test_a_failing_fault_is_healed_and_the_error_propagates() -> None:
    log: list[str] = []
    schedule = build_schedule(SPEC, seed=3)
    failing = schedule.entries[0].fault
    faults = {name: FakeFault(name, fail_start=name == failing, log=log) for name in ("a", "b")}
    recorder = ListRecorder()
    checks: list[str] = []
    with pytest.raises(RuntimeError, match="cannot apply"):
        run_schedule(schedule, faults, recorder=recorder, final_checks=lambda: checks.append("ran"))
    assert log == [f"start {failing}", f"stop {failing}"]  # stopped by the heal in the finally
    phases = [(name, phase) for name, phase, _, _ in recorder.events]
    assert (failing, "error") in phases and (failing, "heal") in phases
    assert phases[-1] == ("schedule", "end")
    assert checks == []  # no verdict on the service after a harness failure


def test_stopping_early_heals_then_waits_for_recovery_and_checks() -> None:
    log: list[str] = []
    long = ScheduleSpec([FaultChoice("a", min_duration_s=5, max_duration_s=5)], count=2)
    stop = threading.Event()
    checks: list[str] = []
    timer = threading.Timer(0.1, stop.set)
    timer.start()
    result = run_schedule(
        build_schedule(long, seed=0),
        {"a": FakeFault("a", log=log)},
        stop=stop,
        recovered=lambda: True,
        final_checks=lambda: checks.append("ran"),
    )
    assert result.aborted and log == ["start a", "stop a"] and checks == ["ran"]


def test_background_run_is_cut_short_and_healed_when_the_workload_ends() -> None:
    log: list[str] = []
    long = ScheduleSpec([FaultChoice("a", min_duration_s=5, max_duration_s=5)], count=3)
    with ScheduleRun(build_schedule(long, seed=0), {"a": FakeFault("a", log=log)}) as run:
        threading.Event().wait(0.1)
    assert run.result.aborted
    assert log == ["start a", "stop a"]


def test_unknown_fault_names_are_refused_before_anything_runs() -> None:
    with pytest.raises(ValueError, match="b"):
        run_schedule(build_schedule(SPEC, seed=1), {"a": FakeFault("a")})
