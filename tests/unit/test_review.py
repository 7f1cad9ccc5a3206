"""`harness review`: a reviewer's level and note land in results.json and rescore it; nothing else moves."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.exercise import load_exercise
from harness.grading import GradeRequest, assemble
from harness.report.json_report import read_result, write_result
from harness.report.model import GradeResult, ScenarioResult, SubmissionInfo
from harness.report.quality import QualityReport
from harness.rubric.model import load_rubric
from harness.terminal import Terminal

CLEAN = QualityReport(
    source_digest="d",
    clippy_warnings=0,
    tests_passed=3,
    tests_failed=0,
    fmt_clean=True,
    design_notes=["NOTES.md"],
)


def graded(quality: QualityReport | None = CLEAN) -> GradeResult:
    """A real kv-store grade assembled from one passed scenario per scenario-scored criterion."""
    exercise = load_exercise("kv-store")
    rubric, role = load_rubric(exercise.rubric_path)
    scenarios = [
        ScenarioResult(
            nodeid=f"s::{c.id}",
            name=f"test_{c.id}",
            criterion=c.id,
            visibility=c.visibility,
            status="passed",
            duration_s=0,
        )
        for c in rubric.criteria
        if c.scored_by_scenarios
    ]
    request = GradeRequest(exercise=exercise, mode="grade", seed=1)
    info = SubmissionInfo(source="cand", kind="cargo")
    return assemble(request, rubric, role, scenarios, info, None, "t0", quality)


@pytest.fixture
def results(tmp_path: Path) -> Path:
    path = tmp_path / "out" / "results.json"
    write_result(graded(), path)
    return path


def review(*args: str) -> tuple[int, str]:
    outcome = CliRunner().invoke(main, ["review", *args])
    return outcome.exit_code, outcome.output


def test_a_fresh_grade_has_pending_criteria_and_no_level() -> None:
    result = graded()
    pending = [c.id for c in result.criteria if c.status == "pending"]
    assert pending == ["design-readability", "written-notes"]
    assert (result.total, result.pending_points, result.undecided_points) == (100.0, 9.0, 9.0)
    assert result.seniority is not None and result.seniority.level == "undetermined"
    out = io.StringIO()
    Terminal(out, width=200).scorecard(result)
    text = out.getvalue()
    assert "review/6" in text and "9 awaiting review" in text and "level: undetermined" in text
    assert "0/6" not in text, "a pending criterion must not read as zero"


def test_set_records_the_review_and_rescores_leaving_automated_results_alone(results: Path) -> None:
    before = read_result(results)
    code, output = review(
        str(results.parent),
        "--set",
        "design-readability=solid",
        "--note",
        "clear modules; unwrap() on the AOF path",
        "--set",
        "written-notes=partial",
        "--note",
        "durability explained, trade-offs not",
        "--reviewer",
        "ana",
    )
    assert code == 0, output
    after = read_result(results)
    design = next(c for c in after.criteria if c.id == "design-readability")
    assert (design.status, design.points, design.level) == ("partial", 4.2, "solid")
    assert design.review is not None
    assert (design.review.reviewer, design.review.level) == ("ana", "solid")
    assert design.review.note == "clear modules; unwrap() on the AOF path" and design.review.at.startswith(
        "20"
    )
    # 91 automated points, all earned, + 4.2/6 + 1.5/3 => 96.7 of 100.
    assert (after.total, after.pending_points, after.undecided_points) == (96.7, 0.0, 0.0)
    assert after.seniority is not None and after.seniority.level == "senior"
    automated = [c for c in before.criteria if c.kind == "automated"]
    assert [c for c in after.criteria if c.kind == "automated"] == automated
    assert (after.quality, after.submission, after.seed) == (before.quality, before.submission, before.seed)
    assert "level: senior" in output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(
            ["--set", "design-readability=solid", "--note", "   "], "a note is mandatory", id="blank-note"
        ),
        pytest.param(["--set", "design-readability=solid"], "1 --set but 0 --note", id="missing-note"),
        pytest.param(
            ["--set", "design-readability=superb", "--note", "n"], "levels: exemplary", id="bad-level"
        ),
        pytest.param(["--set", "basics=solid", "--note", "n"], "scored automatically", id="automated"),
        pytest.param(["--set", "nope=solid", "--note", "n"], "no criterion 'nope'", id="unknown-criterion"),
        pytest.param(["--set", "design-readability", "--note", "n"], "not CRITERION=LEVEL", id="no-level"),
        pytest.param([], "no terminal to ask in", id="no-terminal"),
    ],
)
def test_bad_review_input_is_one_line_exit_2_and_changes_nothing(
    results: Path, args: list[str], words: str
) -> None:
    before = results.read_bytes()
    code, output = review(str(results), *args)
    assert code == 2 and words in output, output
    assert output.strip().count("\n") == 0, output
    assert results.read_bytes() == before


def test_missing_results_file(tmp_path: Path) -> None:
    code, output = review(str(tmp_path / "nothing"))
    assert code == 2 and "no results file" in output


def test_interactive_review_in_a_terminal(results: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "harness.cli", "review", str(results)],
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
        env={"PATH": "/usr/bin:/bin", "TERM": "dumb", "COLUMNS": "200"},
    )
    child.expect("Reviewer")
    child.sendline("bo")
    # The first pending criterion, its levels and the evidence are shown before the question.
    child.expect("design-readability")
    child.expect("exemplary")
    child.expect("clippy warnings: 0")
    child.expect(r"Level \[")
    child.sendline("superb")
    child.expect("Please select one of the available options")
    child.sendline("exemplary")
    child.expect("Note")
    child.sendline("")
    child.expect("a note is mandatory")
    child.expect("Note")
    child.sendline("one job per module; request path easy to follow")
    child.expect("saved: design-readability = exemplary")
    child.expect("written-notes")
    child.expect(r"Level \[")
    child.sendline("skip")
    child.expect("left pending")
    child.expect("total:")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    saved = json.loads(results.read_text())
    by_id = {c["id"]: c for c in saved["criteria"]}
    assert by_id["design-readability"]["review"]["reviewer"] == "bo"
    assert by_id["design-readability"]["points"] == 6.0
    assert by_id["written-notes"]["status"] == "pending"
    assert saved["seniority"]["level"] == "undetermined" and saved["pending_points"] == 3.0
