"""Submissions that do not build, crash at start, or never listen end as scored failures with evidence.

Only the criteria scored by scenarios must fail: code-quality facts are read from source that did build
(a crate that never listens may still be clippy-clean), and manual criteria wait for a reviewer."""

from __future__ import annotations

from harness.exercise import Exercise
from harness.report.model import GradeResult

from .conftest import SUBMISSIONS, grade_kv


def assert_every_scenario_criterion_failed(result: GradeResult) -> None:
    by_scenarios = [c for c in result.criteria if c.kind == "automated" and not c.checks]
    assert by_scenarios and {c.status for c in by_scenarios} == {"failed"}
    assert sum(c.points for c in by_scenarios) == 0
    assert {c.status for c in result.criteria if c.kind == "manual"} <= {"pending"}
    assert result.gates_failed and result.seniority is not None and result.seniority.level == "below"


def test_build_failure_is_scored_with_the_compiler_error(kv_store: Exercise) -> None:
    result = grade_kv(kv_store, submission=SUBMISSIONS / "build-fails")
    assert result.complete and result.total == 0
    assert result.submission.build is not None and result.submission.build.status == "failed"
    assert_every_scenario_criterion_failed(result)
    scenario = result.criteria[0].scenarios[0]
    assert scenario.message is not None and "cargo build failed" in scenario.message
    assert scenario.evidence is not None and "mismatched types" in scenario.evidence


def test_crash_at_start_shows_exit_code_and_log(kv_store: Exercise) -> None:
    result = grade_kv(kv_store, submission=SUBMISSIONS / "crashes-at-start")
    assert result.complete
    assert_every_scenario_criterion_failed(result)
    scenario = next(s for c in result.criteria for s in c.scenarios if s.status == "failed")
    assert scenario.message is not None and "exited during start-up with code 101" in scenario.message
    assert (
        scenario.evidence is not None
        and "configuration file /etc/kv-store.toml not found" in scenario.evidence
    )


def test_service_that_never_listens_fails_at_the_readiness_deadline(kv_store: Exercise) -> None:
    result = grade_kv(kv_store, submission=SUBMISSIONS / "never-listens")
    assert result.complete
    assert_every_scenario_criterion_failed(result)
    scenario = next(s for c in result.criteria for s in c.scenarios if s.status == "failed")
    assert scenario.message is not None and "did not accept connections on port 6379" in scenario.message
    assert scenario.evidence is not None and "warming caches" in scenario.evidence
