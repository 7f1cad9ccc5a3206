"""Scores scenario outcomes against a rubric.

Rules (written down in docs/scoring.md):
* A criterion earns `points * passed / (passed + failed)`; errors and skips are not decided outcomes.
* A criterion with any harness error is `error` and leaves its points undecided: it is never scored as the
  candidate's fault, and the result is marked incomplete.
* A criterion none of whose scenarios decided anything is `unknown`; its points are undecided too.
* The total is 100 * earned / decided maximum, so an undecided criterion neither helps nor hurts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from harness.report.model import CriterionResult, CriterionStatus, ScenarioResult, SkillResult
from harness.rubric.model import Criterion, RoleProfile, Rubric


def _criterion_status(passed: int, failed: int, errors: int) -> CriterionStatus:
    if errors:
        return "error"
    if passed + failed == 0:
        return "unknown"
    if failed == 0:
        return "passed"
    return "failed" if passed == 0 else "partial"


def _summary(scenarios: Sequence[ScenarioResult], status: CriterionStatus) -> str:
    if status == "passed":
        return f"all {len(scenarios)} scenarios passed"
    if status == "unknown":
        return "no scenario decided this criterion"
    first_bad = next((s for s in scenarios if s.status in ("error", "failed")), None)
    detail = f": {first_bad.name}: {first_bad.message}" if first_bad and first_bad.message else ""
    counts = ", ".join(
        f"{n} {label}"
        for n, label in (
            (sum(s.status == "passed" for s in scenarios), "passed"),
            (sum(s.status == "failed" for s in scenarios), "failed"),
            (sum(s.status == "error" for s in scenarios), "harness errors"),
        )
        if n
    )
    return f"{counts}{detail}"


def score_criterion(criterion: Criterion, scenarios: Sequence[ScenarioResult]) -> CriterionResult:
    passed = sum(s.status == "passed" for s in scenarios)
    failed = sum(s.status == "failed" for s in scenarios)
    errors = sum(s.status == "error" for s in scenarios)
    skipped = sum(s.status == "skipped" for s in scenarios)
    status = _criterion_status(passed, failed, errors)
    earned = (
        criterion.points * passed / (passed + failed) if status in ("passed", "partial", "failed") else 0.0
    )
    return CriterionResult(
        id=criterion.id,
        title=criterion.title,
        skill=criterion.skill,
        visibility=criterion.visibility,
        status=status,
        points=round(earned, 2),
        max_points=criterion.points,
        passed=passed,
        failed=failed,
        errors=errors,
        skipped=skipped,
        summary=_summary(scenarios, status),
        scenarios=list(scenarios),
    )


def is_decided(result: CriterionResult) -> bool:
    return result.status in ("passed", "partial", "failed")


def score(
    rubric: Rubric, scenarios: Iterable[ScenarioResult], *, visibilities: Iterable[str] = ("public", "hidden")
) -> list[CriterionResult]:
    """One result per rubric criterion in scope, in rubric order."""
    in_scope = set(visibilities)
    by_criterion: dict[str, list[ScenarioResult]] = {}
    for scenario in scenarios:
        by_criterion.setdefault(scenario.criterion, []).append(scenario)
    return [
        score_criterion(c, by_criterion.get(c.id, [])) for c in rubric.criteria if c.visibility in in_scope
    ]


def skill_totals(role: RoleProfile, criteria: Sequence[CriterionResult]) -> list[SkillResult]:
    """Per-skill earned and decided maximum, in the role profile's order, skipping untouched skills."""
    totals: list[SkillResult] = []
    for skill in role.skills:
        mine = [c for c in criteria if c.skill == skill.id and is_decided(c)]
        if not any(c.skill == skill.id for c in criteria):
            continue
        totals.append(
            SkillResult(
                id=skill.id,
                title=skill.title,
                points=round(sum(c.points for c in mine), 2),
                max_points=round(sum(c.max_points for c in mine), 2),
            )
        )
    return totals


def total_score(criteria: Sequence[CriterionResult]) -> tuple[float, float]:
    """(total 0-100 over decided criteria, undecided points)."""
    decided = [c for c in criteria if is_decided(c)]
    earned = sum(c.points for c in decided)
    maximum = sum(c.max_points for c in decided)
    undecided = sum(c.max_points for c in criteria if not is_decided(c))
    total = 100.0 * earned / maximum if maximum else 0.0
    return round(total, 1), round(undecided, 2)
