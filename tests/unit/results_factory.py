"""One place that builds GradeResults for tests of what renders them."""

from __future__ import annotations

from harness.report.model import (
    BuildInfo,
    CriterionResult,
    EnvironmentInfo,
    GradeResult,
    ScenarioResult,
    SkillResult,
    SubmissionInfo,
)


def sample_result(
    *,
    message: str = "expected b'v', got None\x1b[31m PASSED",
    evidence: str = "sent: GET k\nreceived: $-1",
    reproduce: str = "redis-cli -h 127.0.0.1 -p 6379 GET k",
    summary: str = "1 passed, 1 failed",
    problems: tuple[str, ...] = (),
) -> GradeResult:
    """A check-mode result with one partially passed criterion whose failing scenario carries the given
    (candidate-controlled) texts."""
    failing = ScenarioResult(
        nodeid="t::a",
        name="test_get_after_set",
        criterion="basics",
        visibility="public",
        status="failed",
        duration_s=0.2,
        message=message,
        evidence=evidence,
        reproduce=reproduce,
    )
    criterion = CriterionResult(
        id="basics",
        title="Basics",
        skill="rpc",
        visibility="public",
        status="partial",
        points=5,
        max_points=10,
        passed=1,
        failed=1,
        errors=0,
        skipped=0,
        summary=summary,
        scenarios=[failing],
    )
    return GradeResult(
        exercise="kv-store",
        mode="check",
        started_at="t0",
        finished_at="t1",
        seed=42,
        submission=SubmissionInfo(source=".", kind="cargo", build=BuildInfo(status="built", duration_s=1.0)),
        environment=EnvironmentInfo(
            harness_version="0",
            docker_version="20",
            cpu_count=2,
            platform="linux",
            python="3.11",
            build_limits={},
            run_limits={},
        ),
        criteria=[criterion],
        skills=[SkillResult(id="rpc", title="RPC", points=5, max_points=10)],
        total=50.0,
        undecided_points=0.0,
        complete=not problems,
        problems=list(problems),
    )
