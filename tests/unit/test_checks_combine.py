from __future__ import annotations

import json

import pytest

from harness.checks import CheckResult, CheckStatus, combine, guarded
from harness.history import History, script


def result(status: CheckStatus, name: str = "c", counterexample: History | None = None) -> CheckResult:
    return CheckResult(
        name, status, f"{name} says {status}", details=f"{name} details", counterexample=counterexample
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param(["pass"], "pass", id="pass"),
        pytest.param(["pass", "pass"], "pass", id="all-pass"),
        pytest.param(["pass", "unknown"], "unknown", id="unknown-beats-pass"),
        pytest.param(["unknown", "fail", "pass"], "fail", id="fail-beats-unknown"),
        pytest.param(["fail", "fail"], "fail", id="all-fail"),
        pytest.param([], "unknown", id="nothing-checked-is-not-a-pass"),
    ],
)
def test_combine_precedence(statuses: list[CheckStatus], expected: str) -> None:
    combined = combine(result(s, f"c{i}") for i, s in enumerate(statuses))
    assert combined.status == expected


def test_combine_keeps_the_deciding_summaries_every_detail_and_the_counterexample() -> None:
    witness = script("a read x", "a ok 1")
    combined = combine(
        [result("pass", "model"), result("fail", "linearizable", witness), result("unknown", "durability")],
        checker="kv",
    )
    assert combined.checker == "kv"
    assert combined.summary == "linearizable: linearizable says fail"
    assert "[model: pass]" in combined.details and "[durability: unknown]" in combined.details
    assert combined.counterexample == witness


def test_a_crashing_checker_is_unknown_with_the_error() -> None:
    @guarded("fragile")
    def fragile(history: History) -> CheckResult:
        raise ZeroDivisionError("division by zero")

    verdict = fragile(History())
    assert verdict.status == "unknown"
    assert verdict.error == "ZeroDivisionError: division by zero"
    assert "Traceback" in verdict.details
    assert combine([result("pass"), verdict]).status == "unknown"


def test_results_serialise_to_json() -> None:
    data = result("fail", "x", script("a read x", "a ok 1")).to_dict()
    text = json.dumps(data)
    assert json.loads(text)["counterexample"]["events"][1]["value"] == 1
    assert result("pass").to_dict()["counterexample"] is None
