from __future__ import annotations

import pytest

from harness.report.model import ScenarioResult, Status
from harness.rubric.model import Criterion, RoleProfile, Rubric, Skill
from harness.rubric.scoring import score, score_criterion, skill_totals, total_score

CRITERION = Criterion(id="basics", title="Basics", skill="rpc", points=10, visibility="public")


def scenario(status: Status, criterion: str = "basics", name: str = "t") -> ScenarioResult:
    return ScenarioResult(
        nodeid=f"x::{name}",
        name=name,
        criterion=criterion,
        visibility="public",
        status=status,
        duration_s=0.1,
        message=None if status == "passed" else f"{status} because",
    )


@pytest.mark.parametrize(
    ("statuses", "expected_status", "expected_points"),
    [
        pytest.param(["passed", "passed"], "passed", 10.0, id="all-passed"),
        pytest.param(["passed", "failed"], "partial", 5.0, id="half-passed"),
        pytest.param(["failed", "failed"], "failed", 0.0, id="all-failed"),
        pytest.param(["passed", "error"], "error", 0.0, id="harness-error-is-undecided"),
        pytest.param(["failed", "error"], "error", 0.0, id="error-wins-over-failure"),
        pytest.param(["skipped"], "unknown", 0.0, id="only-skipped"),
        pytest.param([], "unknown", 0.0, id="no-scenarios"),
        pytest.param(["passed", "skipped", "passed", "failed"], "partial", 6.67, id="skips-not-counted"),
    ],
)
def test_criterion_status_and_points(
    statuses: list[Status], expected_status: str, expected_points: float
) -> None:
    result = score_criterion(CRITERION, [scenario(s, name=f"t{i}") for i, s in enumerate(statuses)])
    assert result.status == expected_status
    assert result.points == expected_points


def test_total_ignores_undecided_criteria() -> None:
    rubric = Rubric(
        exercise="x",
        role="r",
        criteria=[
            CRITERION,
            Criterion(id="durable", title="Durable", skill="dist", points=30, visibility="hidden"),
        ],
    )
    results = score(rubric, [scenario("passed"), scenario("error", criterion="durable")])
    total, undecided = total_score(results)
    assert (total, undecided) == (100.0, 30.0)


def test_check_mode_scores_only_public_criteria() -> None:
    rubric = Rubric(
        exercise="x",
        role="r",
        criteria=[CRITERION, Criterion(id="hidden1", title="H", skill="rpc", points=5, visibility="hidden")],
    )
    assert [c.id for c in score(rubric, [], visibilities=("public",))] == ["basics"]


def test_skill_totals_follow_role_order_and_skip_untouched_skills() -> None:
    role = RoleProfile(
        role="r",
        title="R",
        skills=[
            Skill(id="dist", title="Distributed"),
            Skill(id="rpc", title="RPC"),
            Skill(id="kafka", title="K"),
        ],
    )
    rubric = Rubric(
        exercise="x",
        role="r",
        criteria=[
            CRITERION,
            Criterion(id="durable", title="D", skill="dist", points=30, visibility="hidden"),
        ],
    )
    results = score(rubric, [scenario("passed"), scenario("failed", criterion="durable")])
    totals = skill_totals(role, results)
    assert [(s.id, s.points, s.max_points) for s in totals] == [("dist", 0.0, 30.0), ("rpc", 10.0, 10.0)]


def test_failed_criterion_summary_names_first_failure() -> None:
    result = score_criterion(CRITERION, [scenario("passed", name="a"), scenario("failed", name="b")])
    assert "b: failed because" in result.summary
