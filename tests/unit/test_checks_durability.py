from __future__ import annotations

import pytest

from harness.checks import check_durability
from harness.history import script

BEFORE = ["a write x 1", "a ok", "a write x 2", "a ok", "b write y 7", "b ok"]
CRASH = ["! crash start", "! crash stop"]


def after(*reads: str) -> list[str]:
    lines = []
    for i, read in enumerate(reads):
        key, value = read.split("=")
        lines += [f"r{i} read {key}", f"r{i} ok {value}"]
    return lines


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param([*BEFORE, *CRASH, *after("x=2", "y=7")], "pass", id="all-acknowledged-writes-survive"),
        pytest.param([*BEFORE, *CRASH, *after("x=nil", "y=7")], "fail", id="acknowledged-write-missing"),
        pytest.param([*BEFORE, *CRASH, *after("x=1", "y=7")], "fail", id="older-value-is-a-lost-write"),
        pytest.param(
            [*BEFORE, "c write x 3", "c info", *CRASH, *after("x=3", "y=7")],
            "pass",
            id="info-write-may-have-landed",
        ),
        pytest.param(
            [*BEFORE, "c write x 3", "c info", *CRASH, *after("x=2", "y=7")],
            "pass",
            id="info-write-may-have-been-lost",
        ),
        pytest.param(
            [*BEFORE, "c write x 3", "! crash start", "! crash stop", "c info", *after("x=3", "y=7")],
            "pass",
            id="write-in-flight-at-crash",
        ),
        pytest.param(
            ["a write x 1", "b write x 2", "a ok", "b ok", *CRASH, *after("x=1")],
            "pass",
            id="concurrent-acknowledged-writes-either-order-a",
        ),
        pytest.param(
            ["a write x 1", "b write x 2", "a ok", "b ok", *CRASH, *after("x=2")],
            "pass",
            id="concurrent-acknowledged-writes-either-order-b",
        ),
        pytest.param(
            [*BEFORE, *CRASH, "c write x 9", "c ok", *after("x=9", "y=7")],
            "pass",
            id="write-after-recovery-counts",
        ),
        pytest.param(
            ["a write x 1", "a ok", "a delete x", "a ok 1", *CRASH, *after("x=nil")],
            "pass",
            id="acknowledged-delete-survives",
        ),
        pytest.param(
            ["a write x 1", "a ok", "a delete x", "a ok 1", *CRASH, *after("x=1")],
            "fail",
            id="acknowledged-delete-undone",
        ),
        pytest.param(
            ["a incr n", "a ok 1", "a incr n", "a ok 2", *CRASH, *after("n=2")], "pass", id="counter-survives"
        ),
        pytest.param(
            ["a incr n", "a ok 1", "a incr n", "a ok 2", *CRASH, *after("n=1")],
            "fail",
            id="counter-lost-an-increment",
        ),
        pytest.param(
            ["a write x 1", "a ok", "b cas x 1 2", "b ok", *CRASH, *after("x=2")],
            "pass",
            id="acknowledged-cas-survives",
        ),
        pytest.param(
            ["a write x 1", "a ok", "b cas x 5 2", "b ok false", *CRASH, *after("x=1")],
            "pass",
            id="declined-cas-wrote-nothing",
        ),
        pytest.param(
            ["a write x 1", "a fail", "b write x 2", "b ok", *CRASH, *after("x=2")],
            "pass",
            id="failed-write-ignored",
        ),
        pytest.param([*BEFORE, *CRASH, *after("x=2")], "unknown", id="key-not-read-after-recovery"),
        pytest.param([*BEFORE, *after("x=2", "y=7")], "unknown", id="no-crash"),
        pytest.param(
            [*CRASH, "a write x 1", "a ok", *after("x=1")], "unknown", id="nothing-acknowledged-before"
        ),
    ],
)
def test_durability(lines: list[str], expected: str) -> None:
    result = check_durability(script(*lines))
    assert result.status == expected, f"{result.summary}\n{result.details}"


def test_loss_report_names_the_key_the_writes_and_the_read() -> None:
    result = check_durability(script(*BEFORE, *CRASH, *after("x=nil", "y=7")))
    assert result.status == "fail"
    assert result.summary.startswith("1 of 2 keys lost acknowledged writes, first 'x': read absent")
    assert "key 'x': missing after recovery" in result.details
    assert "write 'x' 2 -> ok" in result.details
    assert result.counterexample is not None
    assert [op.f for op in result.counterexample.operations] == ["write", "read"]
    assert [f.name for f in result.counterexample.faults] == ["crash", "crash"]


def test_crash_fault_names_are_configurable() -> None:
    lines = [*BEFORE, "! power-cut start", "! power-cut stop", *after("x=nil", "y=7")]
    assert check_durability(script(*lines)).status == "unknown"
    assert check_durability(script(*lines), crash_faults=["power-cut"]).status == "fail"


def test_reads_during_the_crash_are_not_the_final_reads() -> None:
    lines = [
        *BEFORE,
        "! crash start",
        *after("x=nil"),
        "! crash stop",
        "s read x",
        "s ok 2",
        "t read y",
        "t ok 7",
    ]
    assert check_durability(script(*lines)).status == "pass"
