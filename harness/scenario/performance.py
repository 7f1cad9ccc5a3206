"""The `performance` fixture: measure a service with one of the exercise's load profiles and compare it
with the reference measured on this machine (harness/calibration.py).

A measurement the load generator could not make fairly (it saturated, or fell behind its schedule) is
skipped, so its criterion is "unknown": the generator's limits are never blamed on the candidate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from harness.calibration import Baseline, ProfileFigures, measure
from harness.exercise import Exercise
from harness.load import LoadResult
from harness.scenario.evidence import EvidenceLog
from harness.scenario.service import ServiceHandle


def summary(name: str, result: LoadResult) -> str:
    latency = result.latency
    return (
        f"{name}: {result.throughput:,.0f} req/s over {result.spec.duration_s:g} s, "
        f"p50 {latency.p50_us} µs, p99 {latency.p99_us} µs (uncorrected p99 "
        f"{result.latency_uncorrected.p99_us} µs), errors {result.errors}, dropped {result.dropped}"
    )


@dataclass
class PerformanceProbe:
    exercise: Exercise
    reference: Callable[[], Baseline | None]
    seed: int
    evidence: EvidenceLog

    def measure(self, service: ServiceHandle, name: str) -> LoadResult:
        """Run profile `name` against `service`; skip (unknown) if the generator could not keep up."""
        performance = self.exercise.spec.performance
        if performance is None or name not in performance.profiles:
            raise KeyError(f"exercise '{self.exercise.name}' has no load profile '{name}'")
        result = measure(service, performance.profiles[name], self.seed)
        self.evidence.note(summary(name, result))
        if not result.valid:
            pytest.skip(f"the load generator could not measure fairly: {'; '.join(result.invalid_reasons)}")
        return result

    def baseline(self, name: str) -> ProfileFigures:
        """The reference's figures for profile `name`; skip (unknown) when there is none."""
        reference = self.reference()
        if reference is None or name not in reference.profiles:
            pytest.skip("no reference baseline on this machine (run `harness calibrate EXERCISE`)")
        figures = reference.profiles[name]
        if not figures.valid:
            pytest.skip(
                f"the reference's own measurement was not valid: {'; '.join(figures.invalid_reasons)}"
            )
        self.evidence.note(
            f"reference on this machine: {figures.throughput:,.0f} req/s, p50 {figures.p50_us} µs, "
            f"p99 {figures.p99_us} µs"
        )
        return figures
