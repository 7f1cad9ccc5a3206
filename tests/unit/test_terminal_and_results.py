from __future__ import annotations

import io
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.report.json_report import read_result, write_result
from harness.report.model import (
    BuildInfo,
    CriterionResult,
    EnvironmentInfo,
    GradeResult,
    ScenarioResult,
    SkillResult,
    SubmissionInfo,
)
from harness.terminal import Terminal, visible


def sample_result() -> GradeResult:
    failing = ScenarioResult(
        nodeid="t::a",
        name="test_get_after_set",
        criterion="basics",
        visibility="public",
        status="failed",
        duration_s=0.2,
        message="expected b'v', got None\x1b[31m PASSED",
        evidence="sent: GET k\nreceived: $-1",
        reproduce="redis-cli -h 127.0.0.1 -p 6379 GET k",
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
        summary="1 passed, 1 failed",
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
        complete=True,
        problems=[],
    )


def test_visible_shows_control_characters() -> None:
    assert visible("ok\x1b[2Jdone\x07") == "ok\\x1b[2Jdone\\x07"
    assert visible("line\nnext\ttab") == "line\nnext\ttab"


def test_candidate_scorecard_shows_failure_story_without_raw_escapes() -> None:
    buffer = io.StringIO()
    Terminal(buffer, width=100).scorecard(sample_result(), for_candidate=True)
    text = buffer.getvalue()
    assert "test_get_after_set" in text
    assert "redis-cli -h 127.0.0.1 -p 6379 GET k" in text
    assert "received: $-1" in text
    assert "\x1b" not in text and "\\x1b[31m" in text
    assert "total: 50/100" in text


def test_results_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.json"
    write_result(sample_result(), path)
    assert read_result(path) == sample_result()
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


def test_reading_something_else_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(UsageError, match="not a harness results file"):
        read_result(path)
