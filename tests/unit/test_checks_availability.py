from __future__ import annotations

import pytest

from harness.checks import check_availability
from harness.history import History, script


def timeline(
    *,
    until: float = 10.0,
    fault: tuple[float, float | None] | None = (3.0, 5.0),
    down_until: float = 5.5,
    flaky_after: float | None = None,
) -> History:
    """One read every 0.1 s: ok, except from the fault's start until ``down_until`` (timeouts), and every
    other one after ``flaky_after``."""
    lines: list[str] = []
    start, stop = fault if fault else (None, None)
    for tick in range(int(until * 10)):
        now = tick / 10
        if start is not None and abs(now - start) < 1e-9:
            lines.append(f"@ {now - 0.01} ! partition start")
        if stop is not None and abs(now - stop) < 1e-9:
            lines.append(f"@ {now - 0.01} ! partition stop")
        down = start is not None and start <= now < down_until
        flaky = flaky_after is not None and now >= flaky_after and tick % 2 == 0
        lines += [f"@ {now} p read k", f"@ {now + 0.05} p {'info' if down or flaky else 'ok nil'}"]
    return script(*lines)


def test_recovery_within_budget_passes_with_numbers() -> None:
    result = check_availability(timeline(), recover_within_s=1.0)
    assert result.status == "pass", result.summary
    assert "recovered within 0.56 s" in result.summary
    assert "partition (2.00 s): during 0/20 ok (0.0%); healed, first ok 0.56 s later" in result.details


def test_slow_recovery_fails_with_the_numbers() -> None:
    result = check_availability(timeline(down_until=8.0), recover_within_s=1.0)
    assert result.status == "fail"
    assert result.summary.startswith("first ok 3.06 s after partition healed (budget 1 s); ")
    assert "after recovering from partition: 20/40 ok (50.0%), below 95%" in result.summary


def test_no_ok_after_the_heal_fails_once_the_budget_has_elapsed() -> None:
    result = check_availability(timeline(down_until=99.0), recover_within_s=1.0)
    assert result.status == "fail"
    assert "no ok operation in the 4.96 s after partition healed" in result.summary


def test_history_ending_before_the_budget_is_unknown() -> None:
    result = check_availability(timeline(until=5.5, down_until=99.0), recover_within_s=2.0)
    assert result.status == "unknown"
    assert "only 0.46 s observed after partition healed" in result.summary


def test_fault_never_healed_is_unknown() -> None:
    result = check_availability(timeline(fault=(3.0, None), down_until=3.0), recover_within_s=1.0)
    assert result.status == "unknown"
    assert result.summary == "partition was never healed"


def test_low_success_rate_after_recovery_fails() -> None:
    result = check_availability(timeline(flaky_after=7.0), recover_within_s=1.0, min_ok_fraction_after=0.9)
    assert result.status == "fail"
    assert "after recovering from partition: 25/40 ok (62.5%), below 90%" in result.summary


@pytest.mark.parametrize(
    ("max_gap_s", "expected"),
    [pytest.param(0.5, "fail", id="gap-over-budget"), pytest.param(2.0, "pass", id="ok")],
)
def test_gap_outside_faults(max_gap_s: float, expected: str) -> None:
    lines = [
        "@ 0 a read k",
        "@ 0.1 a ok nil",
        "@ 1.0 a read k",
        "@ 1.9 a info",
        "@ 2.0 a read k",
        "@ 2.1 a ok 1",
    ]
    result = check_availability(script(*lines), recover_within_s=1.0, max_gap_s=max_gap_s)
    assert result.status == expected
    assert "longest gap without an ok 2.00 s" in result.details


def test_gap_inside_a_fault_and_its_allowance_is_not_counted() -> None:
    result = check_availability(timeline(), recover_within_s=1.0, max_gap_s=0.5)
    assert result.status == "pass", result.summary
    assert "(0.10 s outside faults and recovery)" in result.details


def test_only_the_named_faults_are_judged() -> None:
    result = check_availability(timeline(down_until=8.0), recover_within_s=1.0, faults=["kill"])
    assert result.status == "pass"


def test_no_operations_is_unknown() -> None:
    assert check_availability(script("! kill start", "! kill stop"), recover_within_s=1.0).status == "unknown"
