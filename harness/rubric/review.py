"""Recording a reviewer's decision on a manual criterion into a result, and saving it.

Only the reviewed criterion and what follows from it (skills, total, seniority) change: automated
criteria, scenarios and quality facts are left exactly as graded. The results file is rewritten
atomically under a lock on its folder, so two reviewers saving at once never lose each other's work.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from harness.errors import UsageError
from harness.report.json_report import read_result, write_atomically
from harness.report.model import CriterionResult, CriterionStatus, GradeResult
from harness.report.review import Review
from harness.rubric.scoring import rescore


def manual_criteria(result: GradeResult) -> list[CriterionResult]:
    return [c for c in result.criteria if c.kind == "manual"]


def pending_criteria(result: GradeResult) -> list[CriterionResult]:
    return [c for c in result.criteria if c.status == "pending"]


def _status(fraction: float) -> CriterionStatus:
    if fraction >= 1.0:
        return "passed"
    return "failed" if fraction <= 0.0 else "partial"


def manual_criterion(result: GradeResult, criterion_id: str) -> CriterionResult:
    found = next((c for c in result.criteria if c.id == criterion_id), None)
    choices = ", ".join(c.id for c in manual_criteria(result)) or "none"
    if found is None:
        raise UsageError(
            f"no criterion '{criterion_id}' in these results", hint=f"manual criteria: {choices}"
        )
    if found.kind != "manual":
        raise UsageError(
            f"criterion '{criterion_id}' is scored automatically, not by a reviewer",
            hint=f"manual criteria: {choices}",
        )
    return found


def record_review(
    result: GradeResult,
    criterion_id: str,
    level_id: str,
    note: str,
    reviewer: str,
    at: datetime | None = None,
) -> GradeResult:
    """`result` with the reviewer's level and note on one manual criterion, and its scores recomputed."""
    criterion = manual_criterion(result, criterion_id)
    level = next((lv for lv in criterion.levels if lv.id == level_id), None)
    if level is None:
        raise UsageError(
            f"'{level_id}' is not a level of '{criterion_id}'",
            hint=f"levels: {', '.join(lv.id for lv in criterion.levels)}",
        )
    if not note.strip():
        raise UsageError(
            f"a note is mandatory for '{criterion_id}': say what you saw that earns '{level_id}'"
        )
    if not reviewer.strip():
        raise UsageError("the reviewer's name is missing", hint="give --reviewer NAME")
    when = (at or datetime.now(UTC)).isoformat(timespec="seconds")
    review = Review(reviewer=reviewer.strip(), level=level.id, note=note.strip(), at=when)
    earned = round(criterion.max_points * level.fraction, 2)
    reviewed = criterion.model_copy(
        update={
            "status": _status(level.fraction),
            "points": earned,
            "level": level.id,
            "review": review,
            "summary": f"{level.id} ({earned:g}/{criterion.max_points:g}) by {review.reviewer}: "
            f"{review.note.splitlines()[0][:160]}",
        }
    )
    return rescore(result, {criterion.id: reviewed})


def results_path(given: Path) -> Path:
    """RESULTS may be the results.json file or the folder holding it (`--out` of a grade)."""
    path = given / "results.json" if given.is_dir() else given
    if not path.is_file():
        raise UsageError(
            f"no results file at {path}", hint="give the results.json a grade wrote, or its folder"
        )
    return path


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on the folder: the file itself is replaced on every save, so cannot carry it."""
    handle = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def save_review(
    path: Path, criterion_id: str, level_id: str, note: str, reviewer: str, at: datetime | None = None
) -> GradeResult:
    """Read the current file, record one review and write it back atomically, all under the lock (a
    reviewer working from a copy read minutes ago would otherwise undo another reviewer's save)."""
    with locked(path):
        updated = record_review(read_result(path), criterion_id, level_id, note, reviewer, at)
        write_atomically(path, updated.model_dump_json(indent=2) + "\n")
    return updated
