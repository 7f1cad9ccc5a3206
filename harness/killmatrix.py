"""Prove the grader: grade the reference and every mutant of an exercise, and judge the kill matrix.

A mutant is a patch against the reference that makes one realistic mistake; its manifest entry names the
criteria it must fail (`must_fail`) and those its mistake may also explain (`may_fail`). The grader is
trusted only when
* the reference passes every criterion it decides, run after run (no flaky criterion, a small spread);
* every mutant fails each criterion it must, and nothing its mistake does not explain;
* every automated criterion is failed by at least one mutant (a criterion nothing can fail proves nothing).

Mutants are graded exactly like candidates (same sandbox, same scenarios): a matrix built on a shortcut
would prove a different grader.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, computed_field

from harness.errors import ExerciseError
from harness.exercise import Exercise
from harness.repeat import RepeatReport
from harness.report.model import CriterionStatus, GradeResult
from harness.rubric.model import Rubric
from harness.yamlfile import load_model

if TYPE_CHECKING:
    from harness.grading import Observer

KILLED: tuple[CriterionStatus, ...] = ("failed", "partial")
MAX_TOTAL_SPREAD = 2.0
"""Points out of 100 the reference's total may move across repeated runs."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MutantSpec(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    patch: str
    description: str = ""
    must_fail: list[str] = Field(min_length=1)
    may_fail: list[str] = []


class MutantManifest(_Strict):
    mutants: list[MutantSpec]


def manifest_path(exercise: Exercise) -> Path:
    return exercise.root / "mutants" / "mutants.yaml"


def load_mutants(exercise: Exercise, rubric: Rubric) -> list[MutantSpec]:
    """The exercise's mutants, checked against its rubric and its patch files (none: an empty list)."""
    path = manifest_path(exercise)
    if not path.is_file():
        return []
    manifest = load_model(path, MutantManifest, ExerciseError, "mutant manifest")
    known = {criterion.id for criterion in rubric.criteria}
    for mutant in manifest.mutants:
        if not (path.parent / mutant.patch).is_file():
            raise ExerciseError(
                f"{path}: mutant '{mutant.name}' names patch '{mutant.patch}', which is missing"
            )
        unknown = sorted(set(mutant.must_fail + mutant.may_fail) - known)
        if unknown:
            raise ExerciseError(
                f"{path}: mutant '{mutant.name}' names criteria {unknown} not in {exercise.rubric_path.name}"
            )
    unlisted = sorted({p.name for p in path.parent.glob("*.patch")} - {m.patch for m in manifest.mutants})
    if unlisted:
        # A patch nobody grades is a mistake the grader was never shown to catch.
        raise ExerciseError(f"{path}: patches {unlisted} are not listed", hint="add an entry for each")
    return manifest.mutants


def mutated_copy(reference: Path, patch: Path, workdir: Path) -> Path:
    """A copy of the reference (without build output) with the patch applied."""
    copy = workdir / patch.stem
    shutil.copytree(reference, copy, ignore=shutil.ignore_patterns("target", ".git"))
    applied = subprocess.run(
        ["git", "apply", "--whitespace=nowarn", str(patch.resolve())],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
    )
    if applied.returncode != 0:
        reason = applied.stderr.strip().splitlines()[0] if applied.stderr.strip() else "git apply failed"
        raise ExerciseError(f"mutant patch {patch} does not apply to {reference}: {reason}")
    return copy


class MutantColumn(_Strict):
    name: str
    description: str
    must_fail: list[str]
    may_fail: list[str]
    statuses: dict[str, CriterionStatus]
    total: float
    results: str | None = None
    """Where this grade's results.json was written."""


class KillMatrix(_Strict):
    exercise: str
    criteria: list[str]
    automated: list[str]
    """The criteria a mutant must be able to fail (manual ones are scored by people)."""
    reference: RepeatReport
    mutants: list[MutantColumn]
    problems: list[str]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def killed_by(self) -> dict[str, list[str]]:
        return {
            criterion: [m.name for m in self.mutants if m.statuses.get(criterion) in KILLED]
            for criterion in self.criteria
        }

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        return not self.problems


def column(spec: MutantSpec, result: GradeResult, results_path: Path | None = None) -> MutantColumn:
    return MutantColumn(
        name=spec.name,
        description=spec.description,
        must_fail=spec.must_fail,
        may_fail=spec.may_fail,
        statuses={criterion.id: criterion.status for criterion in result.criteria},
        total=result.total,
        results=str(results_path) if results_path else None,
    )


def judge(
    exercise: str,
    rubric: Rubric,
    reference: RepeatReport,
    mutants: Sequence[MutantColumn],
    *,
    automated: Callable[[str], bool] = lambda criterion: True,
    max_total_spread: float = MAX_TOTAL_SPREAD,
) -> KillMatrix:
    """Every reason not to trust the grader, in the order a reader should fix them."""
    problems: list[str] = []
    for repeated in reference.criteria:
        bad = sorted({s for s in repeated.statuses if s in (*KILLED, "error")})
        if bad:
            problems.append(f"the reference scored {'/'.join(bad)} on {repeated.id}")
    problems += [f"{criterion} is flaky on the reference" for criterion in reference.flaky_criteria]
    if reference.total_spread > max_total_spread:
        problems.append(
            f"the reference's total moved {reference.total_spread} points across {reference.runs} runs "
            f"(at most {max_total_spread})"
        )
    for mutant in mutants:
        for criterion in mutant.must_fail:
            status = mutant.statuses.get(criterion, "unknown")
            if status not in KILLED:
                problems.append(f"mutant {mutant.name} must fail {criterion} but it was {status}")
        explained = set(mutant.must_fail) | set(mutant.may_fail)
        for criterion, status in mutant.statuses.items():
            if status in KILLED and criterion not in explained:
                problems.append(
                    f"mutant {mutant.name} failed {criterion}, which its mistake does not explain"
                )
            elif status == "error":
                problems.append(f"mutant {mutant.name}: harness error on {criterion}")
    criteria = [criterion.id for criterion in rubric.criteria]
    matrix = KillMatrix(
        exercise=exercise,
        criteria=criteria,
        automated=[c for c in criteria if automated(c)],
        reference=reference,
        mutants=list(mutants),
        problems=problems,
    )
    unkilled = [c for c in matrix.automated if not matrix.killed_by[c]] if mutants else []
    if unkilled:
        matrix = matrix.model_copy(
            update={"problems": problems + [f"no mutant fails {criterion}" for criterion in unkilled]}
        )
    return matrix


def run_kill_matrix(
    exercise: Exercise,
    out: Path,
    *,
    seed: int,
    repeat: int = 1,
    only: Sequence[str] = (),
    observe: Callable[[str], AbstractContextManager[Observer]] | None = None,
) -> KillMatrix:
    """Grade the reference `repeat` times and each mutant once (all with one seed), write every result
    and the matrix under `out`, and judge it. `only` limits the mutants (and the coverage check)."""
    from harness.grading import GradeRequest, SilentObserver, grade
    from harness.repeat import summarize
    from harness.report.json_report import write_atomically, write_result
    from harness.rubric.model import load_rubric

    rubric, _ = load_rubric(exercise.rubric_path)
    reference = exercise.reference_path
    if reference is None or not reference.is_dir():
        raise ExerciseError(f"exercise '{exercise.name}' has no reference solution to calibrate against")
    mutants = load_mutants(exercise, rubric)
    unknown = sorted(set(only) - {m.name for m in mutants})
    if unknown:
        raise ExerciseError(f"no mutant named {', '.join(unknown)} in {manifest_path(exercise)}")
    chosen = [m for m in mutants if not only or m.name in only]

    def graded(label: str, submission: Path, results: Path) -> GradeResult:
        request = GradeRequest(
            exercise=exercise, mode="grade", seed=seed, submission=str(submission), logs_dir=results.parent
        )
        with observe(label) if observe else contextlib.nullcontext(SilentObserver()) as observer:
            result = grade(request, observer)
        write_result(result, results)
        return result

    runs = [
        graded(
            f"reference, run {i + 1} of {repeat}",
            reference,
            out / "reference" / f"run-{i + 1}" / "results.json",
        )
        for i in range(repeat)
    ]
    columns = []
    with tempfile.TemporaryDirectory(prefix="harness-mutants-") as workdir:
        for index, spec in enumerate(chosen, 1):
            copy = mutated_copy(reference, manifest_path(exercise).parent / spec.patch, Path(workdir))
            results = out / "mutants" / spec.name / "results.json"
            result = graded(f"mutant {spec.name} ({index} of {len(chosen)})", copy, results)
            columns.append(column(spec, result, results))
    matrix = judge(
        exercise.name,
        rubric,
        summarize(runs),
        columns,
        # With a subset of mutants, coverage cannot be judged; manual criteria are scored by people.
        automated=lambda criterion: not only and _is_automated(rubric, criterion),
    )
    write_atomically(out / "calibration.json", matrix.model_dump_json(indent=2) + "\n")
    return matrix


def _is_automated(rubric: Rubric, criterion_id: str) -> bool:
    criterion = rubric.criterion(criterion_id)
    return getattr(criterion, "kind", "automated") != "manual"
