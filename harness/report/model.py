"""The one result model every report renders.

Pydantic models (frozen) rather than dataclasses because results are both written (results.json) and read
back (`harness report`, comparisons): validation and JSON round-trips come for free, and the JSON schema
published in `docs/` is generated from these classes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.report.charts import Chart
from harness.report.quality import CheckResult, QualityReport
from harness.report.review import LevelInfo, Review, SeniorityResult

SCHEMA_VERSION = 1

Status = Literal["passed", "failed", "error", "skipped"]
"""passed/failed: the candidate's doing. error: the harness's fault, never scored. skipped: not decided."""

CriterionStatus = Literal["passed", "partial", "failed", "error", "unknown", "pending"]
"""pending: a manual criterion no reviewer has decided yet. Like unknown and error, it is undecided:
reported as such and left out of the totals, never scored as zero."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScenarioResult(_Frozen):
    """One pytest scenario's outcome with the evidence a person needs to believe it."""

    nodeid: str
    name: str
    criterion: str
    visibility: Literal["public", "hidden"]
    status: Status
    duration_s: float
    message: str | None = None
    evidence: str | None = None
    reproduce: str | None = None
    details: str | None = None
    charts: list[Chart] = Field(default_factory=list)


class CriterionResult(_Frozen):
    id: str
    title: str
    skill: str
    visibility: Literal["public", "hidden"]
    status: CriterionStatus
    points: float
    max_points: float
    passed: int
    """Scenarios and metric checks passed (both are pooled: points = max * passed / (passed + failed))."""
    failed: int
    errors: int
    skipped: int
    summary: str
    scenarios: list[ScenarioResult]
    kind: Literal["automated", "manual"] = "automated"
    description: str = ""
    """From the rubric: for manual criteria, what the reviewer should look at."""
    checks: list[CheckResult] = []
    """Metric thresholds and ratios against the reference that fed this criterion."""
    levels: list[LevelInfo] = []
    level: str | None = None
    """The level reached: the reviewer's for manual criteria, the highest level whose fraction the earned
    points reach for automated ones; None while undecided."""
    gate: bool = False
    gate_at_least: float = 1.0
    """A gate is cleared when the criterion earns at least this fraction of its points."""
    review: Review | None = None


class SkillResult(_Frozen):
    id: str
    title: str
    points: float
    max_points: float
    """Over the decided criteria of the skill."""
    undecided_points: float = 0.0
    pending_points: float = 0.0
    """Part of `undecided_points` waiting for a reviewer."""


class BuildInfo(_Frozen):
    status: Literal["built", "failed", "prebuilt"]
    duration_s: float
    log_tail: str | None = None
    binary: str | None = None


class SubmissionInfo(_Frozen):
    source: str
    kind: Literal["cargo", "dockerfile", "image", "external"]
    revision: str | None = None
    source_digest: str | None = None
    image: str | None = None
    image_digest: str | None = None
    build: BuildInfo | None = None


class EnvironmentInfo(_Frozen):
    harness_version: str
    docker_version: str | None
    cpu_count: int
    platform: str
    python: str
    build_limits: dict[str, float]
    run_limits: dict[str, float]


class GradeResult(_Frozen):
    schema_version: int = SCHEMA_VERSION
    exercise: str
    mode: Literal["grade", "check"]
    started_at: str
    finished_at: str
    seed: int
    submission: SubmissionInfo
    environment: EnvironmentInfo
    criteria: list[CriterionResult]
    skills: list[SkillResult]
    total: float
    """0-100 over the criteria that were decided; undecided points are reported, not zeroed."""
    undecided_points: float
    complete: bool
    """False when a harness error left some criterion undecided: the grade must be rerun, not trusted."""
    problems: list[str]
    pending_points: float = 0.0
    """Part of `undecided_points` waiting for a reviewer (`harness review`); not a harness problem."""
    gates_failed: list[str] = []
    """Ids of gate criteria that were decided and not cleared."""
    gate_cap: float | None = None
    """From the rubric: the total is capped at this while a gate is failed."""
    uncapped_total: float | None = None
    """The total before the gate cap, when the cap lowered it."""
    seniority: SeniorityResult | None = None
    quality: QualityReport | None = None
    repeated_runs: int = 1
    """With `grade --repeat N`: this is the median run of N (the others are in run-K/ beside it)."""
    flaky_criteria: list[str] = []
    """Criteria whose decided outcome differed across the repeated runs: the grader, not the candidate,
    is in doubt there (see repeatability.json)."""
