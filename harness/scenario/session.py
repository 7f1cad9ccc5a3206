"""Per-run state shared between the runner and the pytest plugin (kept in `config.stash`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from harness.exercise import Exercise
from harness.report.model import ScenarioResult
from harness.scenario.service import ServiceFactory


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


SESSION_KEY = pytest.StashKey[ScenarioSession]()
