"""What a candidate reads after `harness check` (from the kit or not): each distinct failure once, with
what was sent, what came back, how to reproduce it and how to rerun just it."""

from __future__ import annotations

import io

from harness.report.model import CriterionResult, GradeResult, ScenarioResult
from harness.terminal import CHECK_FULL_FAILURES, Terminal

from .results_factory import sample_result


def _printed(result: GradeResult) -> str:
    buffer = io.StringIO()
    Terminal(buffer, width=120).scorecard(result, for_candidate=True)
    return buffer.getvalue()


def _with_scenarios(scenarios: list[ScenarioResult], criteria_ids: list[str]) -> GradeResult:
    base = sample_result()
    template = base.criteria[0]
    criteria: list[CriterionResult] = []
    for criterion_id in criteria_ids:
        mine = [s for s in scenarios if s.criterion == criterion_id]
        criteria.append(
            template.model_copy(
                update={
                    "id": criterion_id,
                    "title": f"title of {criterion_id}",
                    "scenarios": mine,
                    "status": "failed" if any(s.status == "failed" for s in mine) else "passed",
                    "passed": sum(s.status == "passed" for s in mine),
                    "failed": sum(s.status == "failed" for s in mine),
                }
            )
        )
    return base.model_copy(update={"criteria": criteria})


def _scenario(name: str, criterion: str, status: str = "failed", **fields: str) -> ScenarioResult:
    return ScenarioResult(
        nodeid=fields.pop("nodeid", f"t::{name}"),
        name=name,
        criterion=criterion,
        visibility="public",
        status=status,  # type: ignore[arg-type]
        duration_s=0.1,
        **fields,
    )


def test_a_failure_shows_what_was_sent_received_and_how_to_reproduce_and_rerun() -> None:
    text = _printed(sample_result())
    assert "1. ✘ test_get_after_set" in text
    assert "what was sent (>>) and what came back (<<)" in text and "received: $-1" in text
    assert "reproduce against your server" in text and "redis-cli -h 127.0.0.1 -p 6379 GET k" in text
    assert "-k test_get_after_set" in text
    assert "total: 50/100" in text and "0 of 1 criteria pass" in text


def test_a_build_failure_behind_every_criterion_is_shown_once() -> None:
    build = {"message": "the submission did not build", "evidence": "error[E0425]: cannot find value `x`"}
    scenarios = [_scenario("submission builds", c, nodeid=f"build::{c}", **build) for c in ("a", "b", "c")]
    text = _printed(_with_scenarios(scenarios, ["a", "b", "c"]))
    assert text.count("error[E0425]") == 1
    assert "1 scenario(s) did not pass" in text
    assert "title of a, title of b, title of c" in text
    assert "the build's output (tail)" in text
    assert "-k submission builds" not in text, "no scenario to rerun alone"


def test_many_failures_beyond_the_first_few_are_one_line_each() -> None:
    scenarios = [_scenario(f"test_{n:02d}", "a", message=f"why {n}", evidence=f"sent {n}") for n in range(12)]
    text = _printed(_with_scenarios(scenarios, ["a"]))
    assert text.count("what was sent (>>)") == CHECK_FULL_FAILURES
    assert f"{CHECK_FULL_FAILURES + 1}. test_{CHECK_FULL_FAILURES:02d}: why {CHECK_FULL_FAILURES}" in text
    assert "sent 11" not in text


def test_all_passing_says_so_and_lists_skips() -> None:
    passing = _with_scenarios([_scenario("test_ok", "a", status="passed")], ["a"])
    assert "Every public scenario passes" in _printed(passing)
    skipped = _with_scenarios(
        [
            _scenario("test_ok", "a", status="passed"),
            _scenario("test_restart", "a", status="skipped", message="needs a service the harness runs"),
        ],
        ["a"],
    )
    text = _printed(skipped)
    assert "1 scenario(s) skipped" in text and "test_restart: needs a service the harness runs" in text
