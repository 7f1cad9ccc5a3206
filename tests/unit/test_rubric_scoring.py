"""Scoring with metric evidence, manual criteria, gates and seniority thresholds."""

from __future__ import annotations

import pytest

from harness.report.model import CriterionResult, ScenarioResult, Status
from harness.report.quality import QualityReport
from harness.report.review import SeniorityThreshold
from harness.rubric.model import Criterion, Level, MetricEvidence, RatioEvidence, Rubric
from harness.rubric.scoring import evaluate, score, totals

SKILLS = [("rpc", "RPC"), ("code", "Code")]
THRESHOLDS = [SeniorityThreshold(level="senior", at_least=80), SeniorityThreshold(level="mid", at_least=60)]
LEVELS = [
    Level(id="great", fraction=1.0, description="great"),
    Level(id="fine", fraction=0.5, description="fine"),
    Level(id="poor", fraction=0.0, description="poor"),
]
QUALITY_CHECKS = [
    MetricEvidence(kind="metric", name="clippy_warnings", at_most=0),
    MetricEvidence(kind="metric", name="tests_passed", at_least=1),
    MetricEvidence(kind="metric", name="tests_failed", at_most=0),
    MetricEvidence(kind="metric", name="fmt_clean", at_least=1),
]


def scenario(status: Status, criterion: str = "basics", name: str = "t") -> ScenarioResult:
    return ScenarioResult(
        nodeid=f"x::{name}", name=name, criterion=criterion, visibility="hidden", status=status, duration_s=0
    )


def rubric(*, gate: bool = False, gate_at_least: float = 1.0) -> Rubric:
    return Rubric(
        exercise="x",
        role="r",
        criteria=[
            Criterion(id="basics", title="B", skill="rpc", points=60, gate=gate, gate_at_least=gate_at_least),
            Criterion(
                id="quality",
                title="Q",
                skill="code",
                points=20,
                evidence=QUALITY_CHECKS,
                levels=[
                    Level(id="clean", fraction=1, description="c"),
                    Level(id="some", fraction=0.5, description="s"),
                ],
            ),
            Criterion(id="design", title="D", skill="code", points=20, kind="manual", levels=LEVELS),
        ],
    )


def facts(**values: object) -> QualityReport:
    base: dict[str, object] = {
        "source_digest": "d",
        "clippy_warnings": 0,
        "tests_passed": 5,
        "tests_failed": 0,
        "fmt_clean": True,
    }
    return QualityReport.model_validate({**base, **values})


def by_id(results: list[CriterionResult]) -> dict[str, CriterionResult]:
    return {c.id: c for c in results}


def test_metric_checks_pool_into_points_and_name_the_level() -> None:
    results = by_id(score(rubric(), [scenario("passed")], quality=facts(clippy_warnings=3, fmt_clean=False)))
    quality = results["quality"]
    assert (quality.status, quality.points, quality.passed, quality.failed) == ("partial", 10.0, 2, 2)
    assert quality.level == "some"
    assert "clippy_warnings = 3 (misses ≤ 0)" in quality.summary


def test_unknown_metric_is_undecided_not_failed() -> None:
    results = by_id(score(rubric(), [], quality=facts(tests_passed=None, tests_failed=None)))
    quality = results["quality"]
    assert (quality.status, quality.points, quality.skipped) == ("passed", 20.0, 2)
    results = by_id(score(rubric(), [], quality=None))
    assert results["quality"].status == "unknown"


def test_manual_criterion_is_pending_and_left_out_of_the_total() -> None:
    criteria = score(rubric(), [scenario("passed")], quality=facts())
    summary = totals(criteria, SKILLS, THRESHOLDS, gate_cap=None, complete=True)
    design = by_id(criteria)["design"]
    assert (design.status, design.level) == ("pending", None)
    assert (summary.total, summary.undecided_points, summary.pending_points) == (100.0, 20.0, 20.0)
    code = next(s for s in summary.skills if s.id == "code")
    assert (code.points, code.max_points, code.pending_points) == (20.0, 20.0, 20.0)
    assert summary.seniority is not None
    assert summary.seniority.level == "undetermined" and "design" in summary.seniority.reason


@pytest.mark.parametrize(
    ("statuses", "complete", "expected"),
    [
        pytest.param(["passed"] * 4, True, "senior", id="all-passed"),
        pytest.param(["passed", "passed", "passed", "failed"], True, "mid", id="three-quarters"),
        pytest.param(["passed", "failed", "failed", "failed"], True, "below", id="a-quarter"),
        pytest.param(["passed"] * 4, False, "undetermined", id="incomplete"),
    ],
)
def test_seniority_level_from_the_total(statuses: list[Status], complete: bool, expected: str) -> None:
    no_manual = rubric().model_copy(update={"criteria": rubric().criteria[:1]})
    criteria = score(no_manual, [scenario(s, name=f"t{i}") for i, s in enumerate(statuses)])
    summary = totals(criteria, SKILLS, THRESHOLDS, gate_cap=None, complete=complete)
    assert summary.seniority is not None and summary.seniority.level == expected


def test_failed_gate_caps_the_total_and_the_level() -> None:
    gated = rubric(gate=True)
    only_automated = gated.model_copy(update={"criteria": gated.criteria[:2]})
    scenarios = [scenario("passed", name=f"p{i}") for i in range(9)] + [scenario("failed", name="f")]
    criteria = score(only_automated, scenarios, quality=facts())
    summary = totals(criteria, SKILLS, THRESHOLDS, gate_cap=50, complete=True)
    assert summary.gates_failed == ["basics"]
    assert (summary.total, summary.uncapped_total) == (50, 92.5)
    assert summary.seniority is not None and summary.seniority.level == "below"
    assert "gate failed: basics" in summary.seniority.reason
    # A lower bar clears the same gate: 90% of basics is enough.
    lenient = rubric(gate=True, gate_at_least=0.9)
    criteria = score(
        lenient.model_copy(update={"criteria": lenient.criteria[:2]}), scenarios, quality=facts()
    )
    cleared = totals(criteria, SKILLS, THRESHOLDS, gate_cap=50, complete=True)
    assert (cleared.gates_failed, cleared.total, cleared.uncapped_total) == ([], 92.5, None)
    assert cleared.seniority is not None and cleared.seniority.level == "senior"


def test_undecided_gate_leaves_the_level_undetermined() -> None:
    gated = rubric(gate=True)
    criteria = score(
        gated.model_copy(update={"criteria": gated.criteria[:2]}), [scenario("error")], quality=facts()
    )
    summary = totals(criteria, SKILLS, THRESHOLDS, gate_cap=None, complete=True)
    assert summary.gates_failed == []
    assert summary.seniority is not None and summary.seniority.level == "undetermined"


@pytest.mark.parametrize(
    ("value", "reference", "status"),
    [
        pytest.param(3000, 2000, "passed", id="1.5x-the-reference"),
        pytest.param(5000, 2000, "failed", id="2.5x-the-reference"),
        pytest.param(None, 2000, "unknown", id="no-value"),
        pytest.param(3000, None, "unknown", id="no-reference"),
    ],
)
def test_ratio_against_the_reference(value: int | None, reference: int | None, status: str) -> None:
    check = evaluate(
        RatioEvidence(kind="ratio", name="lines_of_code", at_most=2),
        facts(lines_of_code=value),
        facts(lines_of_code=reference) if reference is not None else None,
    )
    assert check.status == status
    if status != "unknown":
        assert check.reference == reference and "reference" in check.describe()
