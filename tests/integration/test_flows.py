"""The hiring manager's batch and the candidate's kit, end to end through the `harness` command: real
processes, real Docker, real builds. `-k` keeps each grade to a few scenarios."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.report.json_report import read_result

from .conftest import REPO, SUBMISSIONS

HARNESS = [sys.executable, "-m", "harness.cli"]
#: Wide output, so a failure's lines are not wrapped in the middle of what the assertions look for.
WIDE = {**os.environ, "COLUMNS": "200"}
BATCH_KEYWORD = "test_ping_replies_pong or test_echo_returns_its_argument"


def _wait_for(path: Path, process: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the batch ended before {path} appeared:\n{process.communicate()[0]}")
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout_s:g} s"
        time.sleep(0.2)


def test_killed_batch_keeps_finished_results_and_resumes_without_regrading(tmp_path: Path) -> None:
    out = tmp_path / "batch"
    submissions = [
        REPO / "exercises" / "kv-store" / "reference",
        SUBMISSIONS / "dockerfile-pong",
        REPO / "exercises" / "kv-store" / "starter",
    ]
    names = ["reference", "dockerfile-pong", "starter"]
    command = [
        *HARNESS,
        "grade-batch",
        *map(str, submissions),
        "-e",
        "kv-store",
        "--out",
        str(out),
        "--jobs",
        "1",
        "--seed",
        "7",
        "-k",
        BATCH_KEYWORD,
        "--junit",
        "junit.xml",
    ]
    first = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        # The stamp is written once the first grade's result is in: then kill the whole batch at once.
        _wait_for(out / "reference" / "batch.json", first, timeout_s=900)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate()
    finished = out / "reference" / "results.json"
    assert read_result(finished).complete
    finished_stat = finished.stat()
    # The grade in progress at the kill wrote no result, and the last one had not started.
    assert not (out / "dockerfile-pong" / "results.json").exists()
    assert not (out / "starter").exists()

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=1500, env=WIDE)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "2 graded, 1 kept from an earlier run, 0 not graded" in rerun.stdout
    # Not graded again: the very same file, untouched.
    assert finished.stat().st_mtime_ns == finished_stat.st_mtime_ns
    assert finished.stat().st_ino == finished_stat.st_ino
    for name in names:
        result = read_result(out / name / "results.json")
        assert result.complete and result.seed == 7
        assert {s.name for c in result.criteria for s in c.scenarios} <= {
            "test_ping_replies_pong",
            "test_echo_returns_its_argument",
        }
        assert (out / name / "junit.xml").is_file(), "--junit was not passed on to the grade"

    ranking = subprocess.run(
        [*HARNESS, "compare", str(out), "--csv", str(tmp_path / "r.csv")],
        capture_output=True,
        text=True,
        timeout=60,
        env=WIDE,
    )
    assert ranking.returncode == 0, ranking.stderr
    first_row = (tmp_path / "r.csv").read_text().splitlines()[1]
    assert first_row.startswith("1,reference,")


def test_starter_from_the_kit_passes_ping_and_explains_each_failure(tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    exported = subprocess.run(
        [*HARNESS, "kit", "kv-store", "-o", str(kit)], capture_output=True, text=True, timeout=60
    )
    assert exported.returncode == 0, exported.stderr
    selected = {
        "test_ping_replies_pong": "passed",
        "test_get_returns_the_value_set": "failed",
        "test_incr_creates_a_missing_key_and_counts_up": "failed",
    }
    checked = subprocess.run(
        [
            *HARNESS,
            "check",
            str(kit / "starter"),
            "-e",
            str(kit),
            "--out",
            str(tmp_path / "out"),
            "-k",
            " or ".join(selected),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        env=WIDE,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    result = read_result(tmp_path / "out" / "results.json")
    assert result.mode == "check" and result.complete
    assert {s.name: s.status for c in result.criteria for s in c.scenarios} == selected
    assert all(c.visibility == "public" for c in result.criteria)

    shown = checked.stdout
    assert "2 scenario(s) did not pass" in shown
    for name in ("test_get_returns_the_value_set", "test_incr_creates_a_missing_key_and_counts_up"):
        assert f"-k {name}" in shown, "each failure says how to rerun just it"
    assert "what was sent (>>) and what came back (<<)" in shown
    assert ">> SET" in shown and "<< " in shown
    assert "unknown command 'SET'" in shown, "what the starter answered is shown"
    assert "reproduce against your server" in shown
    assert "nc " in shown or "redis-cli" in shown
    assert "hidden" not in shown.lower()
