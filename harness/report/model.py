"""The one result model every report renders.

Pydantic models (frozen) rather than dataclasses because results are both written (results.json) and read
back (`harness report`, comparisons): validation and JSON round-trips come for free, and the JSON schema
published in `docs/` is generated from these classes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

SCHEMA_VERSION = 1

Status = Literal["passed", "failed", "error", "skipped"]
"""passed/failed: the candidate's doing. error: the harness's fault, never scored. skipped: not decided."""

CriterionStatus = Literal["passed", "partial", "failed", "error", "unknown"]


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


class CriterionResult(_Frozen):
    id: str
    title: str
    skill: str
    visibility: Literal["public", "hidden"]
    status: CriterionStatus
    points: float
    max_points: float
    passed: int
    failed: int
    errors: int
    skipped: int
    summary: str
    scenarios: list[ScenarioResult]


class SkillResult(_Frozen):
    id: str
    title: str
    points: float
    max_points: float


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
