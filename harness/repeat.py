"""Repeatability: the same submission graded N times, and how much its outcome moved.

A hiring decision rests on the score, so the grader must give the same answer twice. Per criterion the
report gives the pass rate over the runs that decided it and the spread of its points; a criterion whose
decided outcomes differ between runs (passed in one, failed in another) is *flaky*: the grader, not the
candidate, is in doubt. An undecided run (unknown, error) is counted apart, never as a flip.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, computed_field

from harness.report.model import CriterionStatus, GradeResult

if TYPE_CHECKING:
    from harness.grading import GradeRequest, Observer

DECIDED = ("passed", "partial", "failed")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Spread(_Frozen):
    low: float
    high: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def width(self) -> float:
        return round(self.high - self.low, 2)

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        return cls(low=min(values), high=max(values)) if values else None


class CriterionRepeat(_Frozen):
    id: str
    title: str
    statuses: list[CriterionStatus]
    """This criterion's status in each run, in run order."""
    points: Spread | None
    """Over the runs that decided it."""
    max_points: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def decided(self) -> int:
        return sum(status in DECIDED for status in self.statuses)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pass_rate(self) -> float | None:
        return sum(s == "passed" for s in self.statuses) / self.decided if self.decided else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def flaky(self) -> bool:
        """Decided outcomes that differ: a status flip, or the same status with different points."""
        decided = {s for s in self.statuses if s in DECIDED}
        return len(decided) > 1 or (self.points is not None and self.points.width > 0)


class ScenarioFlip(_Frozen):
    nodeid: str
    statuses: list[str]


class RepeatReport(_Frozen):
    runs: int
    seeds: list[int]
    totals: list[float]
    criteria: list[CriterionRepeat]
    flips: list[ScenarioFlip]
    """Scenarios whose decided outcome differed between runs (the evidence behind a flaky criterion)."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_spread(self) -> float:
        spread = Spread.of(self.totals)
        return spread.width if spread else 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def flaky_criteria(self) -> list[str]:
        return [criterion.id for criterion in self.criteria if criterion.flaky]


def summarize(results: Sequence[GradeResult]) -> RepeatReport:
    """The repeatability of several grades of one submission (criteria matched by id, in rubric order)."""
    if not results:
        raise ValueError("no results to summarize")
    criteria = []
    for first in results[0].criteria:
        runs = [next((c for c in r.criteria if c.id == first.id), None) for r in results]
        statuses: list[CriterionStatus] = [c.status if c else "unknown" for c in runs]
        decided_points = [c.points for c in runs if c is not None and c.status in DECIDED]
        criteria.append(
            CriterionRepeat(
                id=first.id,
                title=first.title,
                statuses=statuses,
                points=Spread.of(decided_points),
                max_points=first.max_points,
            )
        )
    return RepeatReport(
        runs=len(results),
        seeds=[r.seed for r in results],
        totals=[r.total for r in results],
        criteria=criteria,
        flips=_flips(results),
    )


def _flips(results: Sequence[GradeResult]) -> list[ScenarioFlip]:
    by_scenario: dict[str, list[str]] = {}
    for result in results:
        for criterion in result.criteria:
            for scenario in criterion.scenarios:
                by_scenario.setdefault(scenario.nodeid, []).append(scenario.status)
    return [
        ScenarioFlip(nodeid=nodeid, statuses=statuses)
        for nodeid, statuses in by_scenario.items()
        if len({s for s in statuses if s in ("passed", "failed")}) > 1
    ]


def grade_repeatedly(
    request: GradeRequest,
    runs: int,
    out: Path,
    observe: Callable[[str], AbstractContextManager[Observer]] | None = None,
) -> tuple[list[GradeResult], RepeatReport]:
    """Grade one submission `runs` times with the request's seed, writing each run's results under
    out/run-K/ and the summary to out/repeatability.json (atomically)."""
    from harness.grading import SilentObserver, grade
    from harness.report.json_report import write_atomically, write_result

    results = []
    for run in range(1, runs + 1):
        logs = out / f"run-{run}"
        repeated = dataclasses.replace(request, logs_dir=logs)
        label = f"run {run} of {runs}"
        with observe(label) if observe else contextlib.nullcontext(SilentObserver()) as observer:
            result = grade(repeated, observer)
        write_result(result, logs / "results.json")
        results.append(result)
    report = summarize(results)
    write_atomically(out / "repeatability.json", report.model_dump_json(indent=2) + "\n")
    return results, report


def median_run(results: Sequence[GradeResult]) -> GradeResult:
    """The run whose total is the median (the lower one for an even count): the one to show and gate on."""
    return sorted(results, key=lambda r: r.total)[(len(results) - 1) // 2]
