"""Per-run state shared between the runner and the pytest plugin (kept in `config.stash`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from harness.exercise import Exercise
from harness.report.model import ScenarioResult
from harness.scenario.service import ServiceFactory

if TYPE_CHECKING:
    from harness.calibration import Baseline, ProfileFigures


@dataclass
class ScenarioSession:
    exercise: Exercise
    services: ServiceFactory
    seed: int
    known_criteria: frozenset[str]
    on_result: Callable[[ScenarioResult], None] | None = None
    on_collected: Callable[[int], None] | None = None
    results: list[ScenarioResult] = field(default_factory=list)
    collection_problems: list[str] = field(default_factory=list)
    baseline: Callable[[], Baseline | None] = lambda: None
    """The reference's performance on this machine, for criteria graded relative to it. A callable,
    asked only when a scenario needs it: a run without performance scenarios measures nothing."""
    reference_now: Callable[[str], ProfileFigures | None] = lambda profile: None
    """One profile of the reference measured now (not cached), to confirm a shortfall against the
    baseline under the machine's present load; None where the reference cannot be run."""


SESSION_KEY = pytest.StashKey[ScenarioSession]()
