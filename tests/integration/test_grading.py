"""Real grades of real implementations: the reference and redis-server score full marks; mini-redis
(a real, known-incomplete server from crates.io) passes exactly what it implements."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.exercise import Exercise
from harness.report.model import GradeResult
from harness.rubric.model import load_rubric

from .conftest import REPO, SUBMISSIONS, grade_kv

# What mini-redis 0.4.1 implements: GET, SET (with EX/PX), PUBLISH, SUBSCRIBE, UNSUBSCRIBE. It has no
# PING, no inline commands, no length caps, no persistence, and at most 250 connections.
MINI_REDIS_PASSES = {
    "test_get_returns_the_value_set",
    "test_get_of_a_missing_key_is_null",
    "test_pipeline_of_one_hundred_sets_and_gets",
    "test_px_deadline_is_kept_to_the_millisecond",
    "test_large_value_arriving_in_random_pieces",
    "test_large_pipeline_written_before_any_reply_is_read",
    "test_subscribe_confirms_each_channel_with_a_running_count",
    "test_publish_reaches_every_subscriber_and_returns_their_number",
    "test_message_payloads_are_binary_safe",
    "test_concurrent_publishers_each_keep_their_order",
    "test_unsubscribed_channel_delivers_nothing_more",
    "test_subscribing_twice_to_a_channel_counts_once",
    "test_a_stalled_client_does_not_block_others",
    "test_a_client_that_stops_reading_does_not_block_others",
    "test_sigterm_with_idle_busy_and_subscribed_clients_connected",
    "test_memory_stays_bounded_under_huge_declared_lengths",
    "test_registers_are_linearizable_under_latency_and_a_partition",
}
#: mini-redis merges its channels' streams in a tokio StreamMap, which polls them in turn: order across
#: channels holds only by luck, so this scenario may go either way for it.
MINI_REDIS_MAY_PASS = {"test_messages_keep_publish_order_across_channels_and_publishers"}
#: Performance depends on the machine's load at the time; mini-redis's is not part of this claim.
UNASSERTED_CRITERIA = {"performance"}


#: Performance is measured on a shared machine: a run the generator could not make fairly is unknown
#: (skipped), which is honest, not a failure. Every other criterion is about correctness.
TIMING_CRITERIA = {"performance"}


def correctness_problems(result: GradeResult) -> list[str]:
    problems = [
        f"{s.name}: {s.status}: {s.message}"
        for c in result.criteria
        for s in c.scenarios
        if s.status != "passed" and not (c.id in TIMING_CRITERIA and s.status == "skipped")
    ]
    return problems


def test_reference_scores_full_marks(kv_store: Exercise, tmp_path: Path) -> None:
    result = grade_kv(kv_store, submission=REPO / "exercises" / "kv-store" / "reference", logs=tmp_path)
    assert correctness_problems(result) == []
    assert result.total == 100 and result.complete
    assert result.submission.image_digest and result.submission.build and result.submission.build.binary
    assert (tmp_path / "build.log").is_file() and (tmp_path / "pytest.log").is_file()


def test_redis_server_oracle_scores_full_marks(kv_store: Exercise, redis_oracle_image: str) -> None:
    result = grade_kv(kv_store, image=redis_oracle_image)
    assert correctness_problems(result) == [], "a scenario disagrees with real redis-server: it is wrong"
    assert result.total == 100


def test_mini_redis_fails_exactly_what_it_lacks(kv_store: Exercise) -> None:
    result = grade_kv(kv_store, submission=SUBMISSIONS / "mini-redis")
    assert result.complete, result.problems
    passed = {
        s.name
        for c in result.criteria
        if c.id not in UNASSERTED_CRITERIA
        for s in c.scenarios
        if s.status == "passed"
    }
    assert passed - MINI_REDIS_MAY_PASS == MINI_REDIS_PASSES
    every = [s for c in result.criteria for s in c.scenarios]
    # Skipped means undecided (no file writes to trace, a generator that could not keep up): never an error.
    assert all(s.status in ("passed", "failed", "skipped") for s in every)
    assert all(s.message for s in every if s.status == "failed")


def test_check_mode_shows_only_public_criteria(kv_store: Exercise) -> None:
    rubric, _ = load_rubric(kv_store.rubric_path)
    public = {c.id for c in rubric.criteria if c.visibility == "public"}
    result = grade_kv(kv_store, submission=SUBMISSIONS / "mini-redis", mode="check")
    assert {c.id for c in result.criteria} == public
    assert all(s.visibility == "public" for c in result.criteria for s in c.scenarios)
    failure = next(s for c in result.criteria for s in c.scenarios if s.status == "failed")
    assert failure.reproduce and ("nc " in failure.reproduce or "redis-cli" in failure.reproduce)
    assert failure.evidence


def test_cli_exit_codes_and_results_file(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "grade",
        str(SUBMISSIONS / "build-fails"),
        "-e",
        "kv-store",
    ]
    graded = subprocess.run(
        [*command, "--out", str(tmp_path / "a")], capture_output=True, text=True, timeout=600
    )
    assert graded.returncode == 0, graded.stderr
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    assert results["total"] == 0 and results["submission"]["build"]["status"] == "failed"
    gated = subprocess.run(
        [*command, "--out", str(tmp_path / "b"), "--fail-under", "50"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert gated.returncode == 1 and "below --fail-under 50" in gated.stderr


def test_submission_with_its_own_dockerfile_is_built_offline(kv_store: Exercise) -> None:
    request_keyword = "test_ping_replies_pong"
    from harness.grading import GradeRequest, grade

    result = grade(
        GradeRequest(
            exercise=kv_store,
            mode="grade",
            seed=1,
            submission=str(SUBMISSIONS / "dockerfile-pong"),
            keyword=request_keyword,
        )
    )
    assert result.submission.kind == "dockerfile"
    assert result.submission.build is not None and result.submission.build.status == "built"
    (scenario,) = [s for c in result.criteria for s in c.scenarios]
    # It built, started and answered: PONG to everything, which is wrong for PING with an argument.
    assert scenario.status == "failed" and scenario.message is not None and "got PONG" in scenario.message
