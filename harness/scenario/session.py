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
    from harness.calibration import Baseline


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
    baseline: Baseline | None = None
    """The reference's performance on this machine, for criteria graded relative to it."""


SESSION_KEY = pytest.StashKey[ScenarioSession]()
