"""Open-loop pacing with an injected clock: planned times, batching, drops, the measured window."""

from __future__ import annotations

import pytest

from harness.load import Pacer


def make(rate: float = 1000.0, warmup: float = 0.0, duration: float = 1.0, tol: float = 0.01) -> Pacer:
    return Pacer(
        start=100.0, rate=rate, stop=100.0 + warmup + duration, tolerance=tol, measure_start=100.0 + warmup
    )


def test_planned_times_and_totals() -> None:
    p = make(rate=1000, warmup=0.5, duration=1.0)
    assert p.total == 1500 and p.first_measured == 500 and p.measured_total == 1000
    assert p.planned(0) == 100.0 and p.planned(1) == pytest.approx(100.001)
    assert p.next_time() == 100.0
    assert make(rate=3, duration=1.0).total == 3  # 0, 1/3, 2/3; not 1.0 (the stop is exclusive)
    assert make(rate=2.5, duration=1.0).total == 3  # 0, 0.4, 0.8


def test_due_batches_everything_planned_up_to_now() -> None:
    p = make(rate=10_000)  # one every 100 us: a 1 ms tick carries ten
    assert p.due(99.9).send == []
    first = p.due(100.0)
    assert first.send == [100.0] and first.dropped == 0
    batch = p.due(100.001)
    assert len(batch.send) == 10
    assert batch.send[0] == pytest.approx(100.0001) and batch.send[-1] == pytest.approx(100.001)
    assert p.due(100.001).send == []  # nothing twice


def test_every_planned_send_is_either_sent_or_dropped_once() -> None:
    p = make(rate=5000, warmup=0.2, duration=1.0)
    sent = dropped = 0
    now = 99.99
    step = [0.001, 0.0013, 0.0007, 0.05, 0.001]  # one 50 ms stall of the generator
    i = 0
    while not p.finished:
        due = p.due(now)
        sent += len(due.send)
        dropped += due.dropped
        now += step[i % len(step)]
        i += 1
    assert sent + dropped == p.total == 6000
    assert dropped > 0
    assert p.next_time() is None


def test_late_sends_beyond_tolerance_are_dropped_and_counted() -> None:
    p = make(rate=1000, tol=0.010)
    p.due(100.0)
    # The generator wakes 30 ms late: sends planned more than 10 ms ago are dropped, the rest go.
    due = p.due(100.030)
    assert due.dropped == 19  # planned 100.001 .. 100.019
    assert len(due.send) == 11  # planned 100.020 .. 100.030
    assert due.send[0] == pytest.approx(100.020)
    assert due.dropped_measured == 19


def test_dropped_in_warmup_are_not_measured() -> None:
    p = make(rate=1000, warmup=0.01, tol=0.005)
    due = p.due(100.020)  # nothing sent yet: 0..20 due, 0..14 too late
    assert due.dropped == 15
    assert due.dropped_measured == 5  # planned 100.010 .. 100.014


def test_lookahead_sends_early_but_not_into_the_measured_window() -> None:
    p = make(rate=10_000, warmup=0.01)
    due = p.due(100.002, lookahead=0.0005)
    assert len(due.send) == 26  # 0 .. 2.5 ms
    due = p.due(100.0098, lookahead=0.0005)
    assert due.send[-1] < p.measure_start  # would reach 100.0103, stops before 100.010
    due = p.due(100.0101, lookahead=0.0005)
    assert due.send[0] == pytest.approx(100.010) and due.send[-1] == pytest.approx(100.0106)


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Pacer(0.0, 0.0, 1.0, 0.01, 0.0)
