"""Classic linearizability cases, judged by both searches: WGL (`check_linearizable`) and the
configuration-set replay (`check_model`), which must agree on every one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.checks import CheckResult, check_linearizable, check_model
from harness.history import History, script

CHECKERS: list[Callable[[History], CheckResult]] = [check_linearizable, check_model]

CASES = [
    # --- plain registers ---
    pytest.param(["a write x 1", "a ok", "b read x", "b ok 1"], "pass", id="write-then-read"),
    pytest.param(["a read x", "a ok nil"], "pass", id="read-of-absent-key"),
    pytest.param(
        ["a write x 1", "a ok", "a write x 2", "a ok", "b read x", "b ok 1"],
        "fail",
        id="stale-read-after-completed-write",
    ),
    pytest.param(["a read x", "a ok 7"], "fail", id="read-of-a-value-never-written"),
    pytest.param(
        ["a write x 1", "a ok", "b write x 2", "c read x", "c ok 1", "b ok"],
        "pass",
        id="concurrent-read-sees-old-value",
    ),
    pytest.param(
        ["a write x 1", "a ok", "b write x 2", "c read x", "c ok 2", "b ok"],
        "pass",
        id="concurrent-read-sees-new-value",
    ),
    pytest.param(
        ["a write x 1", "a ok", "b write x 2", "c read x", "c ok 2", "d read x", "d ok 1", "b ok"],
        "fail",
        id="new-then-old-inversion",
    ),
    pytest.param(
        ["a write x 1", "b write x 2", "c read x", "d read x", "c ok 1", "d ok 2", "a ok", "b ok"],
        "pass",
        id="two-concurrent-writes-two-reads",
    ),
    pytest.param(
        ["a write x 1", "a fail", "b read x", "b ok 1"],
        "fail",
        id="failed-write-never-happened",
    ),
    # --- indeterminate (info) operations ---
    pytest.param(["a write x 1", "a info", "b read x", "b ok nil"], "pass", id="info-write-maybe-never"),
    pytest.param(["a write x 1", "a info", "b read x", "b ok 1"], "pass", id="info-write-maybe-applied"),
    pytest.param(
        ["a write x 1", "a info", "b write x 2", "b ok", "c read x", "c ok 1"],
        "pass",
        id="info-write-may-apply-long-after-its-timeout",
    ),
    pytest.param(
        ["b read x", "b ok 1", "a write x 1", "a info"],
        "fail",
        id="info-write-cannot-precede-its-invoke",
    ),
    pytest.param(
        ["a write x 1", "a info", "b read x", "b ok 1", "c write x 2", "c ok", "d read x", "d ok 1"],
        "fail",
        id="info-write-takes-effect-once",
    ),
    pytest.param(["a write x 1", "b read x", "b ok 1"], "pass", id="unfinished-write-is-indeterminate"),
    pytest.param(["a read x", "a info", "b read x", "b ok nil"], "pass", id="info-read-constrains-nothing"),
    # --- compare-and-set ---
    pytest.param(
        ["a write x 0", "a ok", "a cas x 0 1", "a ok", "b cas x 1 2", "b ok", "c read x", "c ok 2"],
        "pass",
        id="cas-chain",
    ),
    pytest.param(["a write x 0", "a ok", "b cas x 1 2", "b ok"], "fail", id="cas-succeeds-from-wrong-value"),
    pytest.param(
        ["a write x 0", "a ok", "b cas x 0 1", "c cas x 0 2", "b ok", "c ok"],
        "fail",
        id="two-concurrent-cas-from-same-value-both-succeed",
    ),
    pytest.param(
        ["a write x 0", "a ok", "b cas x 0 1", "c cas x 0 2", "b ok", "c fail", "d read x", "d ok 1"],
        "pass",
        id="two-concurrent-cas-one-fails",
    ),
    pytest.param(
        ["a write x 0", "a ok", "b cas x 0 1", "b ok false"], "fail", id="cas-says-mismatch-but-matched"
    ),
    pytest.param(
        ["a write x 0", "a ok", "b cas x 5 1", "b ok false"], "pass", id="cas-says-mismatch-correctly"
    ),
    pytest.param(
        ["a write x 0", "a ok", "b cas x 0 1", "b info", "c read x", "c ok 1", "c read x", "c ok 1"],
        "pass",
        id="info-cas-applied",
    ),
    pytest.param(
        ["a write x 0", "a ok", "b cas x 0 1", "b info", "c read x", "c ok 0"],
        "pass",
        id="info-cas-not-applied",
    ),
    pytest.param(
        ["a write x 0", "a ok", "b cas x 0 1", "b info", "c cas x 0 2", "c ok", "d read x", "d ok 1"],
        "fail",
        id="info-cas-cannot-apply-after-value-changed",
    ),
    pytest.param(
        ["a cas x nil 1", "a ok", "b read x", "b ok 1"],
        "pass",
        id="cas-from-absent",
    ),
    # --- counters and deletes ---
    pytest.param(
        ["a incr x", "a ok 1", "b incr x 5", "b ok 6", "c read x", "c ok 6"], "pass", id="incr-chain"
    ),
    pytest.param(["a incr x", "b incr x", "a ok 1", "b ok 1"], "fail", id="incr-lost-update"),
    pytest.param(["a write x abc", "a ok", "b incr x", "b ok 1"], "fail", id="incr-of-non-integer-succeeded"),
    pytest.param(
        ["a write x abc", "a ok", "b incr x", "b fail not an integer"],
        "pass",
        id="incr-of-non-integer-failed",
    ),
    pytest.param(
        ["a write x 1", "a ok", "b delete x", "b ok 1", "c read x", "c ok nil"], "pass", id="delete"
    ),
    pytest.param(["a delete x", "a ok 1"], "fail", id="delete-of-absent-key-reports-one"),
    pytest.param(
        ["a write x 1", "a ok", "b delete x", "b ok", "c read x", "c ok 1"],
        "fail",
        id="read-after-delete-sees-old",
    ),
    # --- keys are independent ---
    pytest.param(
        ["a write x 1", "b write y 2", "a ok", "b ok", "c read y", "c ok 2", "c read x", "c ok 1"],
        "pass",
        id="keys-are-independent",
    ),
    pytest.param(
        ["a write x 1", "a ok", "b write y 1", "b ok", "c read y", "c ok nil"],
        "fail",
        id="stale-read-on-other-key",
    ),
]


@pytest.mark.parametrize("checker", CHECKERS, ids=["wgl", "replay"])
@pytest.mark.parametrize(("lines", "expected"), CASES)
def test_classic_cases(checker: Callable[[History], CheckResult], lines: list[str], expected: str) -> None:
    result = checker(script(*lines))
    assert result.status == expected, f"{result.summary}\n{result.details}"
    assert (result.counterexample is not None) == (expected == "fail")


def test_counterexample_shows_the_stale_read_and_what_the_key_held() -> None:
    ops = ["a write x 1", "a ok"] + [f"n{i} write y {i}" for i in range(20)] + [f"n{i} ok" for i in range(20)]
    ops += ["a write x 2", "a ok", "b read x", "b ok 1", "c read x", "c ok 2"]
    result = check_linearizable(script(*ops))
    assert result.status == "fail"
    assert "read 'x'" in result.summary and "ok 1" in result.summary
    assert "could hold: b'2'" in result.details
    assert result.counterexample is not None
    shown = {op.f for op in result.counterexample.operations}
    assert {op.key for op in result.counterexample.operations} == {"x"}
    assert shown == {"write", "read"}
    assert len(result.counterexample.operations) <= 4  # the stale read and the writes just before it


def test_first_failure_reported_is_the_earliest() -> None:
    history = script(
        "a write x 1",
        "a ok",
        "b read x",
        "b ok 9",  # x fails first
        "c write y 1",
        "c ok",
        "d read y",
        "d ok 8",
    )
    for checker in CHECKERS:
        result = checker(history)
        assert result.status == "fail"
        assert "'x'" in result.summary, checker


def test_initial_values() -> None:
    history = script("a read x", "a ok 5")
    assert check_linearizable(history, initial={"x": 5}).status == "pass"
    assert check_model(history, initial={"x": b"5"}).status == "pass"
    assert check_linearizable(history).status == "fail"


@pytest.mark.parametrize("checker", CHECKERS, ids=["wgl", "replay"])
def test_an_operation_the_model_does_not_know_is_unknown_not_pass(
    checker: Callable[[History], CheckResult],
) -> None:
    result = checker(script("a append x 1", "a ok"))
    assert result.status == "unknown"
    assert result.error is not None and "unknown function 'append'" in result.error
