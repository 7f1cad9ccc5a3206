"""The kill matrix and repeatability verdicts, on synthetic results (the real calibration runs in
tests/integration/test_calibration.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ExerciseError
from harness.exercise import load_exercise
from harness.killmatrix import MutantSpec, column, judge, load_mutants, mutated_copy
from harness.killmatrix_view import print_matrix
from harness.repeat import summarize
from harness.report.model import CriterionStatus, GradeResult
from harness.rubric.model import Criterion, Rubric
from harness.terminal import Terminal

from .results_factory import sample_result

RUBRIC = Rubric(
    exercise="kv-store",
    role="senior-rust-backend",
    criteria=[
        Criterion(id=name, title=name, skill="rpc", points=10) for name in ("basics", "expiry", "durability")
    ],
)
STATUS_POINTS = {"passed": 10.0, "partial": 5.0, "failed": 0.0, "unknown": 0.0, "error": 0.0}


def result(seed: int = 1, **statuses: CriterionStatus) -> GradeResult:
    base = sample_result()
    template = base.criteria[0]
    criteria = [
        template.model_copy(update={"id": name, "status": status, "points": STATUS_POINTS[status]})
        for name, status in statuses.items()
    ]
    earned = sum(c.points for c in criteria)
    return base.model_copy(update={"criteria": criteria, "total": round(100 * earned / 30, 1), "seed": seed})


GREEN = {"basics": "passed", "expiry": "passed", "durability": "passed"}


def mutant(name: str, must: list[str], may: list[str] | None = None) -> MutantSpec:
    return MutantSpec(name=name, patch=f"{name}.patch", must_fail=must, may_fail=may or [])


def test_a_proven_grader_has_no_problems() -> None:
    reference = summarize([result(**GREEN), result(**GREEN)])
    columns = [
        column(mutant("no-expiry", ["expiry"]), result(**{**GREEN, "expiry": "failed"})),
        column(
            mutant("ack-early", ["durability"], ["basics"]),
            result(**{**GREEN, "durability": "partial", "basics": "failed"}),
        ),
    ]
    matrix = judge("kv-store", RUBRIC, reference, columns)
    assert matrix.problems == [] and matrix.passed
    assert matrix.killed_by == {"basics": ["ack-early"], "expiry": ["no-expiry"], "durability": ["ack-early"]}


def test_each_reason_not_to_trust_the_grader_is_named() -> None:
    reference = summarize([result(**GREEN), result(**{**GREEN, "basics": "failed"})])
    columns = [
        # passes what it must fail, and fails what nothing explains
        column(mutant("no-expiry", ["expiry"]), result(**{**GREEN, "durability": "failed"})),
        column(mutant("broken", ["basics"]), result(**{**GREEN, "basics": "failed", "expiry": "error"})),
    ]
    problems = judge("kv-store", RUBRIC, reference, columns).problems
    assert "the reference scored failed on basics" in problems
    assert "basics is flaky on the reference" in problems
    assert any("moved 33.3 points across 2 runs" in p for p in problems)
    assert "mutant no-expiry must fail expiry but it was passed" in problems
    assert any(p.startswith("mutant no-expiry failed durability") for p in problems)
    assert "mutant broken: harness error on expiry" in problems
    assert "no mutant fails expiry" in problems


def test_an_undecided_reference_run_is_not_a_flip_but_a_decided_flip_is() -> None:
    steady = summarize([result(**GREEN), result(**{**GREEN, "expiry": "unknown"})])
    assert steady.flaky_criteria == [] and steady.criteria[1].pass_rate == 1.0
    assert steady.criteria[1].decided == 1
    flipping = summarize([result(**GREEN), result(**{**GREEN, "expiry": "partial"})])
    assert flipping.flaky_criteria == ["expiry"] and flipping.criteria[1].pass_rate == 0.5


def test_the_matrix_prints_every_mutant_and_problem(tmp_path: Path) -> None:
    reference = summarize([result(**GREEN)])
    columns = [column(mutant("no-expiry", ["expiry"]), result(**GREEN))]
    matrix = judge("kv-store", RUBRIC, reference, columns)
    out = tmp_path / "out.txt"
    with out.open("w") as handle:
        print_matrix(Terminal(handle, width=120).out, matrix)
    text = out.read_text()
    assert "kill matrix: kv-store" in text and "no-expiry" in text
    assert "mutant no-expiry must fail expiry but it was passed" in text


def test_the_kv_store_manifest_names_real_patches_and_criteria(tmp_path: Path) -> None:
    from harness.rubric.model import load_rubric

    exercise = load_exercise("kv-store")
    rubric, _ = load_rubric(exercise.rubric_path)
    mutants = load_mutants(exercise, rubric)
    assert len(mutants) >= 4
    reference = exercise.reference_path
    assert reference is not None
    copy = mutated_copy(reference, exercise.root / "mutants" / mutants[0].patch, tmp_path)
    assert (copy / "Cargo.toml").is_file() and not (copy / "target").exists()


def test_a_patch_that_does_not_apply_is_one_clear_error(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    (reference / "src").mkdir(parents=True)
    (reference / "src" / "main.rs").write_text("fn main() {}\n")
    patch = tmp_path / "bad.patch"
    patch.write_text("--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-x\n+y\n")
    with pytest.raises(ExerciseError, match="does not apply"):
        mutated_copy(reference, patch, tmp_path / "work")


def test_a_repeated_grade_names_its_flaky_criteria_on_the_scorecard(tmp_path: Path) -> None:
    from harness.repeat import median_run

    runs = [result(seed=1, **GREEN), result(seed=1, **{**GREEN, "expiry": "failed"}), result(seed=1, **GREEN)]
    report = summarize(runs)
    shown = median_run(runs).model_copy(update={"repeated_runs": 3, "flaky_criteria": report.flaky_criteria})
    assert shown.total == 100.0  # the median of 66.7, 100, 100
    out = tmp_path / "out.txt"
    with out.open("w") as handle:
        Terminal(handle, width=120).scorecard(shown)
    assert "median of 3 runs; flaky criteria: expiry" in out.read_text()


def test_the_kv_store_mutants_cover_every_automated_criterion_on_paper() -> None:
    """The static half of the proof (the graded half is `harness calibrate`): each automated criterion is
    one that some mutant must fail."""
    from harness.rubric.model import load_rubric

    exercise = load_exercise("kv-store")
    rubric, _ = load_rubric(exercise.rubric_path)
    required = {criterion for mutant in load_mutants(exercise, rubric) for criterion in mutant.must_fail}
    automated = {c.id for c in rubric.criteria if c.kind != "manual"}
    assert automated - required == set()
