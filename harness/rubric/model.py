"""Rubric files: a role profile (the skills of a role) and per-exercise criteria (docs/rubrics.md).

A criterion is `automated` (scored from evidence: the scenarios marked with its id, thresholds on
code-quality metrics, ratios against the reference) or `manual` (scored by a reviewer choosing one of its
behaviour-anchored levels, with a note). Every problem is reported with the file, line and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.errors import RubricError
from harness.report.quality import QualityMetric
from harness.yamlfile import load_located

ID_PATTERN = r"^[a-z][a-z0-9_.-]*$"
TOTAL_POINTS = 100.0
#: Seniority words the result uses itself, so no threshold may be called so.
RESERVED_LEVELS = frozenset({"below", "undetermined"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Seniority(_Strict):
    """A seniority level reached when the total is at least `at_least` (0-100)."""

    level: str = Field(pattern=ID_PATTERN)
    at_least: float = Field(ge=0, le=100)

    @field_validator("level")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_LEVELS:
            raise ValueError(f"'{value}' is reserved for results; name the level otherwise")
        return value


def _check_seniority(levels: list[Seniority]) -> list[Seniority]:
    if len({s.level for s in levels}) != len(levels) or len({s.at_least for s in levels}) != len(levels):
        raise ValueError("seniority levels and their thresholds must each be distinct")
    return sorted(levels, key=lambda s: s.at_least, reverse=True)


class Skill(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: str
    description: str = ""


class RoleProfile(_Strict):
    role: str
    title: str
    skills: list[Skill]
    seniority: list[Seniority] = []
    """Default thresholds for every exercise of the role; a rubric's own `seniority` replaces them."""

    @field_validator("seniority")
    @classmethod
    def _thresholds(cls, levels: list[Seniority]) -> list[Seniority]:
        return _check_seniority(levels)

    def skill(self, skill_id: str) -> Skill | None:
        return next((s for s in self.skills if s.id == skill_id), None)


class Level(_Strict):
    """What a reviewer (or the evidence) observed, and the fraction of the criterion's points it earns."""

    id: str = Field(pattern=ID_PATTERN)
    fraction: float = Field(ge=0, le=1)
    description: str = Field(min_length=1)


class _Threshold(_Strict):
    at_most: float | None = None
    at_least: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> _Threshold:
        if self.at_most is None and self.at_least is None:
            raise ValueError("give at_most, at_least or both")
        if self.at_most is not None and self.at_least is not None and self.at_least > self.at_most:
            raise ValueError("at_least is above at_most: nothing could meet it")
        return self

    def holds(self, value: float) -> bool:
        low_ok = self.at_least is None or value >= self.at_least - 1e-9
        high_ok = self.at_most is None or value <= self.at_most + 1e-9
        return low_ok and high_ok

    def describe(self, unit: str = "") -> str:
        parts = []
        if self.at_least is not None:
            parts.append(f"≥ {self.at_least:g}{unit}")
        if self.at_most is not None:
            parts.append(f"≤ {self.at_most:g}{unit}")
        return " and ".join(parts)


class ScenarioEvidence(_Strict):
    """The outcomes of the scenarios marked `@pytest.mark.criterion(<this id>)` (the default)."""

    kind: Literal["scenarios"]


class MetricEvidence(_Threshold):
    """A threshold on a code-quality fact of the submission (harness/report/quality.py)."""

    kind: Literal["metric"]
    name: QualityMetric


class RatioEvidence(_Threshold):
    """A threshold on submission / reference for a code-quality fact (both measured the same way)."""

    kind: Literal["ratio"]
    name: QualityMetric


Evidence = Annotated[ScenarioEvidence | MetricEvidence | RatioEvidence, Field(discriminator="kind")]


class Criterion(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str
    skill: str
    points: float = Field(gt=0)
    visibility: Literal["public", "hidden"] = "hidden"
    description: str = ""
    kind: Literal["automated", "manual"] = "automated"
    evidence: list[Evidence] = []
    """Automated: what scores it (default: its scenarios). Manual: what the reviewer is shown (metrics
    and ratios with their verdicts, as hints; never scored)."""
    levels: list[Level] = []
    """Manual: the choices a reviewer has (required). Automated: optional names for how far it got."""
    gate: bool = False
    """Required: a decided gate below `gate_at_least` fails the result (see docs/rubrics.md)."""
    gate_at_least: float = Field(default=1.0, gt=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _default_evidence(cls, data: Any) -> Any:
        # Automated criteria without `evidence` keep the original meaning: their scenarios.
        if isinstance(data, dict) and "evidence" not in data and data.get("kind", "automated") == "automated":
            return {**data, "evidence": [{"kind": "scenarios"}]}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Criterion:
        if len({level.id for level in self.levels}) != len(self.levels):
            raise ValueError("level ids must be distinct")
        if self.kind == "manual":
            if len(self.levels) < 2:
                raise ValueError("a manual criterion needs at least two levels for the reviewer to choose")
            if max(level.fraction for level in self.levels) != 1.0:
                raise ValueError("one level must earn the full points (fraction: 1)")
            if any(isinstance(e, ScenarioEvidence) for e in self.evidence):
                raise ValueError("a manual criterion is scored by a reviewer, not by scenarios")
        elif not self.evidence:
            raise ValueError("an automated criterion needs evidence (scenarios, metric or ratio)")
        if self.gate_at_least != 1.0 and not self.gate:
            raise ValueError("gate_at_least without gate: true")
        return self

    @property
    def scored_by_scenarios(self) -> bool:
        return any(isinstance(e, ScenarioEvidence) for e in self.evidence)

    def thresholds(self) -> list[MetricEvidence | RatioEvidence]:
        return [e for e in self.evidence if isinstance(e, MetricEvidence | RatioEvidence)]


class Rubric(_Strict):
    exercise: str
    role: str
    criteria: list[Criterion]
    seniority: list[Seniority] = []
    """Thresholds on the total naming the level reached (e.g. senior ≥ 80); replaces the role's."""
    gate_cap: float | None = Field(default=None, ge=0, le=100)
    """When set, the total is capped at this while a gate is failed (the failure is flagged regardless)."""

    @field_validator("seniority")
    @classmethod
    def _thresholds(cls, levels: list[Seniority]) -> list[Seniority]:
        return _check_seniority(levels)

    @field_validator("criteria")
    @classmethod
    def _unique_ids(cls, criteria: list[Criterion]) -> list[Criterion]:
        seen: set[str] = set()
        for criterion in criteria:
            if criterion.id in seen:
                raise ValueError(f"criterion id '{criterion.id}' appears twice")
            seen.add(criterion.id)
        return criteria

    def weight_problem(self) -> str | None:
        """Points are percentages of the grade: weights that drift from 100 are a typo, not a choice,
        and every score would silently mean something else. Checked when a rubric file is loaded."""
        total = sum(c.points for c in self.criteria)
        if abs(total - TOTAL_POINTS) > 1e-6:
            return f"points add up to {total:g}; they must add up to {TOTAL_POINTS:g}"
        return None

    def criterion(self, criterion_id: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)

    def needs_quality(self, visibilities: tuple[str, ...]) -> bool:
        """Whether a criterion in scope uses code-quality facts (so the quality step must run)."""
        return any(c.thresholds() for c in self.criteria if c.visibility in visibilities)

    def needs_reference_quality(self, visibilities: tuple[str, ...]) -> bool:
        return any(
            isinstance(e, RatioEvidence)
            for c in self.criteria
            if c.visibility in visibilities
            for e in c.evidence
        )


def load_rubric(path: Path) -> tuple[Rubric, RoleProfile]:
    """Load an exercise rubric and the role profile it names (`<rubrics>/roles/<role>.yaml`)."""
    if not path.is_file():
        raise RubricError(f"rubric {path} does not exist", hint="add it or set 'rubric:' in exercise.yaml")
    rubric, located = load_located(path, Rubric, RubricError, "rubric")
    role_path = path.parent / "roles" / f"{rubric.role}.yaml"
    if not role_path.is_file():
        raise RubricError(
            f"{located.where(('role',))}: field 'role': profile '{rubric.role}' not found at {role_path}"
        )
    role, _ = load_located(role_path, RoleProfile, RubricError, "role profile")
    for index, criterion in enumerate(rubric.criteria):
        if role.skill(criterion.skill) is None:
            raise RubricError(
                f"{located.where(('criteria', index, 'skill'))}: field 'criteria.{index}.skill': "
                f"criterion '{criterion.id}' names skill '{criterion.skill}', "
                f"which role '{role.role}' does not list"
            )
    if (problem := rubric.weight_problem()) is not None:
        raise RubricError(f"{located.where(('criteria',))}: field 'criteria': {problem}")
    return rubric, role


def seniority_of(rubric: Rubric, role: RoleProfile) -> list[Seniority]:
    """The thresholds in force: the rubric's own, else the role's (highest first)."""
    return list(rubric.seniority or role.seniority)
