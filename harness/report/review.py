"""What a result keeps for reviewers: manual criteria's levels, reviews, and the seniority reached.

Levels are copied from the rubric into the result so that `harness review` can score a results.json on
its own, without the rubric it was graded with (which may have changed since).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LevelInfo(_Frozen):
    """A behaviour-anchored level: what was observed, and the fraction of the points it earns."""

    id: str
    fraction: float
    description: str


class Review(_Frozen):
    """A reviewer's decision on a manual criterion. The note is the evidence and is never empty."""

    reviewer: str
    level: str
    note: str
    at: str
    """ISO 8601 time (UTC) the decision was recorded."""


class SeniorityThreshold(_Frozen):
    level: str
    at_least: float


class SeniorityResult(_Frozen):
    """The seniority level the total reaches, by the rubric's or role's thresholds."""

    level: str
    """A threshold's level, "below" (none reached, or a gate failed) or "undetermined" (manual criteria
    pending, a gate undecided, or the result incomplete)."""
    reason: str
    thresholds: list[SeniorityThreshold]
