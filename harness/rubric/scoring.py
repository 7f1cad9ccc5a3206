"""Scores evidence against a rubric.

Rules (written down in docs/scoring.md and docs/rubrics.md):
* An automated criterion pools its evidence: each scenario and each metric/ratio check is one passed or
  failed outcome, and it earns `points * passed / (passed + failed)`. Errors, skips and unknown metrics
  are not decided outcomes.
* A criterion with any harness error is `error` and leaves its points undecided: it is never scored as the
  candidate's fault, and the result is marked incomplete.
* A criterion none of whose evidence decided anything is `unknown`; its points are undecided too.
* A manual criterion is `pending` until a reviewer picks a level; it then earns `points * fraction`.
* The total is 100 * earned / decided maximum, so an undecided criterion neither helps nor hurts.
* A decided gate criterion earning less than its `gate_at_least` fails the result's gates: the seniority
  level is "below" whatever the total, and the rubric's `gate_cap` (if any) caps the total.
* Seniority is "undetermined" while the result is incomplete, a manual criterion is pending, or a gate is
  undecided; otherwise the highest threshold the total reaches, or "below".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.report.model import CriterionResult, CriterionStatus, GradeResult, ScenarioResult, SkillResult
from harness.report.quality import CheckResult, CheckStatus, QualityReport
from harness.report.review import LevelInfo, SeniorityResult, SeniorityThreshold
from harness.rubric.model import Criterion, MetricEvidence, RatioEvidence, RoleProfile, Rubric, Seniority

_EPSILON = 1e-9


def _criterion_status(passed: int, failed: int, errors: int) -> CriterionStatus:
    if errors:
        return "error"
    if passed + failed == 0:
        return "unknown"
    if failed == 0:
        return "passed"
    return "failed" if passed == 0 else "partial"


def _summary(
    scenarios: Sequence[ScenarioResult], checks: Sequence[CheckResult], status: CriterionStatus
) -> str:
    if status == "passed" and not checks:
        passed = sum(s.status == "passed" for s in scenarios)
        undecided = len(scenarios) - passed
        if undecided:
            return f"all {passed} decided scenarios passed, {undecided} undecided"
        return f"all {passed} scenarios passed"
    if status == "unknown" and not checks:
        return "no scenario decided this criterion"
    parts: list[str] = []
    if scenarios:
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
        parts.append(f"{counts or 'no scenario decided'}{detail}")
    parts.extend(check.describe() for check in checks)
    return "; ".join(parts)


def evaluate(
    evidence: MetricEvidence | RatioEvidence,
    quality: QualityReport | None,
    reference: QualityReport | None = None,
) -> CheckResult:
    """One threshold against the facts; a missing fact (or reference) makes it unknown, not failed."""
    value = quality.metric(evidence.name) if quality is not None else None
    if isinstance(evidence, MetricEvidence):
        status: CheckStatus = (
            "unknown" if value is None else ("passed" if evidence.holds(value) else "failed")
        )
        return CheckResult(
            kind="metric", metric=evidence.name, status=status, threshold=evidence.describe(), value=value
        )
    base = reference.metric(evidence.name) if reference is not None else None
    threshold = evidence.describe("x") + " the reference"
    if value is None or base is None:
        return CheckResult(
            kind="ratio", metric=evidence.name, status="unknown", threshold=threshold, value=value
        )
    # A reference of 0 (no clippy warnings) makes any ratio infinite but 0/0, which counts as equal.
    ratio = 1.0 if value == base == 0 else (value / base if base else float("inf"))
    return CheckResult(
        kind="ratio",
        metric=evidence.name,
        status="passed" if evidence.holds(ratio) else "failed",
        threshold=threshold,
        value=value,
        reference=base,
    )


def _levels(criterion: Criterion) -> list[LevelInfo]:
    return [LevelInfo(id=lv.id, fraction=lv.fraction, description=lv.description) for lv in criterion.levels]


def level_reached(levels: Sequence[LevelInfo], fraction: float) -> str | None:
    """The highest level whose fraction the earned fraction reaches."""
    reached = [lv for lv in levels if lv.fraction <= fraction + _EPSILON]
    return max(reached, key=lambda lv: lv.fraction).id if reached else None


def score_criterion(
    criterion: Criterion,
    scenarios: Sequence[ScenarioResult],
    quality: QualityReport | None = None,
    reference: QualityReport | None = None,
) -> CriterionResult:
    checks = [evaluate(e, quality, reference) for e in criterion.thresholds()]
    common: dict[str, Any] = {
        "id": criterion.id,
        "title": criterion.title,
        "skill": criterion.skill,
        "visibility": criterion.visibility,
        "max_points": criterion.points,
        "kind": criterion.kind,
        "description": criterion.description,
        "checks": checks,
        "levels": _levels(criterion),
        "gate": criterion.gate,
        "gate_at_least": criterion.gate_at_least,
    }
    if criterion.kind == "manual":
        # Checks on a manual criterion are hints for the reviewer; only the review scores it.
        return CriterionResult(
            **common,
            status="pending",
            points=0.0,
            passed=0,
            failed=0,
            errors=0,
            skipped=0,
            summary="awaits a reviewer (harness review)",
            scenarios=[],
        )
    passed = sum(s.status == "passed" for s in scenarios) + sum(c.status == "passed" for c in checks)
    failed = sum(s.status == "failed" for s in scenarios) + sum(c.status == "failed" for c in checks)
    errors = sum(s.status == "error" for s in scenarios)
    skipped = sum(s.status == "skipped" for s in scenarios) + sum(c.status == "unknown" for c in checks)
    status = _criterion_status(passed, failed, errors)
    decided = status in ("passed", "partial", "failed")
    fraction = passed / (passed + failed) if decided else 0.0
    return CriterionResult(
        **common,
        status=status,
        points=round(criterion.points * fraction, 2),
        passed=passed,
        failed=failed,
        errors=errors,
        skipped=skipped,
        summary=_summary(scenarios, checks, status),
        scenarios=list(scenarios),
        level=level_reached(common["levels"], fraction) if decided else None,
    )


def is_decided(result: CriterionResult) -> bool:
    return result.status in ("passed", "partial", "failed")


def score(
    rubric: Rubric,
    scenarios: Iterable[ScenarioResult],
    *,
    visibilities: Iterable[str] = ("public", "hidden"),
    quality: QualityReport | None = None,
    reference: QualityReport | None = None,
) -> list[CriterionResult]:
    """One result per rubric criterion in scope, in rubric order."""
    in_scope = set(visibilities)
    by_criterion: dict[str, list[ScenarioResult]] = {}
    for scenario in scenarios:
        by_criterion.setdefault(scenario.criterion, []).append(scenario)
    return [
        score_criterion(c, by_criterion.get(c.id, []), quality, reference)
        for c in rubric.criteria
        if c.visibility in in_scope
    ]


def _skill_totals(
    skills: Sequence[tuple[str, str]], criteria: Sequence[CriterionResult]
) -> list[SkillResult]:
    totals: list[SkillResult] = []
    for skill_id, title in skills:
        mine = [c for c in criteria if c.skill == skill_id]
        if not mine:
            continue
        decided = [c for c in mine if is_decided(c)]
        totals.append(
            SkillResult(
                id=skill_id,
                title=title,
                points=round(sum(c.points for c in decided), 2),
                max_points=round(sum(c.max_points for c in decided), 2),
                undecided_points=round(sum(c.max_points for c in mine if not is_decided(c)), 2),
                pending_points=round(sum(c.max_points for c in mine if c.status == "pending"), 2),
            )
        )
    return totals


def skill_totals(role: RoleProfile, criteria: Sequence[CriterionResult]) -> list[SkillResult]:
    """Per-skill earned and decided maximum, in the role profile's order, skipping untouched skills."""
    return _skill_totals([(s.id, s.title) for s in role.skills], criteria)


def total_score(criteria: Sequence[CriterionResult]) -> tuple[float, float]:
    """(total 0-100 over decided criteria, undecided points)."""
    decided = [c for c in criteria if is_decided(c)]
    earned = sum(c.points for c in decided)
    maximum = sum(c.max_points for c in decided)
    undecided = sum(c.max_points for c in criteria if not is_decided(c))
    total = 100.0 * earned / maximum if maximum else 0.0
    return round(total, 1), round(undecided, 2)


def gates_failed(criteria: Sequence[CriterionResult]) -> list[str]:
    return [
        c.id
        for c in criteria
        if c.gate and is_decided(c) and c.points < c.max_points * c.gate_at_least - 0.005
    ]


def seniority(
    thresholds: Sequence[SeniorityThreshold],
    total: float,
    criteria: Sequence[CriterionResult],
    *,
    complete: bool,
) -> SeniorityResult | None:
    if not thresholds:
        return None
    ordered = sorted(thresholds, key=lambda t: t.at_least, reverse=True)

    def result(level: str, reason: str) -> SeniorityResult:
        return SeniorityResult(level=level, reason=reason, thresholds=ordered)

    failed = gates_failed(criteria)
    if failed:
        return result("below", f"gate failed: {', '.join(failed)}")
    if not complete:
        return result("undetermined", "the grade is incomplete (harness errors)")
    pending = [c.id for c in criteria if c.status == "pending"]
    if pending:
        return result("undetermined", f"awaiting review: {', '.join(pending)}")
    open_gates = [c.id for c in criteria if c.gate and not is_decided(c)]
    if open_gates:
        return result("undetermined", f"gate undecided: {', '.join(open_gates)}")
    for threshold in ordered:
        if total >= threshold.at_least - _EPSILON:
            return result(threshold.level, f"total {total:g} ≥ {threshold.at_least:g}")
    return result("below", f"total {total:g} < {ordered[-1].at_least:g}")


@dataclass(frozen=True)
class Totals:
    """Everything in a result that follows from its criteria; recomputed after each review."""

    skills: list[SkillResult]
    total: float
    uncapped_total: float | None
    undecided_points: float
    pending_points: float
    gates_failed: list[str]
    seniority: SeniorityResult | None

    def fields(self) -> dict[str, Any]:
        return {
            "skills": self.skills,
            "total": self.total,
            "uncapped_total": self.uncapped_total,
            "undecided_points": self.undecided_points,
            "pending_points": self.pending_points,
            "gates_failed": self.gates_failed,
            "seniority": self.seniority,
        }


def totals(
    criteria: Sequence[CriterionResult],
    skills: Sequence[tuple[str, str]],
    thresholds: Sequence[SeniorityThreshold],
    *,
    gate_cap: float | None,
    complete: bool,
) -> Totals:
    total, undecided = total_score(criteria)
    failed = gates_failed(criteria)
    uncapped = None
    if failed and gate_cap is not None and total > gate_cap:
        uncapped, total = total, gate_cap
    return Totals(
        skills=_skill_totals(skills, criteria),
        total=total,
        uncapped_total=uncapped,
        undecided_points=undecided,
        pending_points=round(sum(c.max_points for c in criteria if c.status == "pending"), 2),
        gates_failed=failed,
        seniority=seniority(thresholds, total, criteria, complete=complete),
    )


def thresholds_of(levels: Sequence[Seniority]) -> list[SeniorityThreshold]:
    return [SeniorityThreshold(level=s.level, at_least=s.at_least) for s in levels]


def rescore(result: GradeResult, criteria: Mapping[str, CriterionResult]) -> GradeResult:
    """`result` with some criteria replaced and everything that follows from them recomputed. Uses only
    what the result holds (skill order and titles, thresholds, gate cap), never the rubric."""
    merged = [criteria.get(c.id, c) for c in result.criteria]
    thresholds = result.seniority.thresholds if result.seniority is not None else []
    recomputed = totals(
        merged,
        [(s.id, s.title) for s in result.skills],
        thresholds,
        gate_cap=result.gate_cap,
        complete=result.complete,
    )
    return result.model_copy(update={"criteria": merged, **recomputed.fields()})
