"""Charts a scenario records for the reports: series of numbers over time (or over categories) with
fault windows to shade. Data only: `harness/report/plots.py` draws them.

Results are kept small on purpose: every series is downsampled to at most ``MAX_POINTS`` points when it
is built, and the model refuses more, so a long load run cannot make results.json huge.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Points per series: plenty for a plot a laptop screen wide, and small in results.json.
MAX_POINTS = 240
#: Series per chart and windows per chart: more would be unreadable anyway.
MAX_SERIES = 8
MAX_WINDOWS = 32

Reduce = Literal["max", "mean"]
"""How buckets are merged when downsampling: ``max`` keeps spikes (latency), ``mean`` keeps rates."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Window(_Frozen):
    """An interval to shade (a fault: a partition, a kill -9), in the chart's x units."""

    label: str
    start: float
    end: float | None = None
    """None: still active when the chart ends."""


class Series(_Frozen):
    """One line (or one set of bars). ``y`` is None where nothing was measured: a gap, never a zero."""

    name: str
    x: list[float] = Field(default_factory=list, max_length=MAX_POINTS)
    y: list[float | None] = Field(max_length=MAX_POINTS)


class Chart(_Frozen):
    """A line chart over ``x`` (usually seconds), or a bar chart over named ``categories``."""

    title: str
    kind: Literal["line", "bar"] = "line"
    x_label: str = ""
    y_label: str = ""
    categories: list[str] = Field(default_factory=list, max_length=MAX_POINTS)
    series: list[Series] = Field(max_length=MAX_SERIES)
    windows: list[Window] = Field(default_factory=list, max_length=MAX_WINDOWS)

    @model_validator(mode="after")
    def _aligned(self) -> Chart:
        for series in self.series:
            expected = len(self.categories) if self.kind == "bar" else len(series.x)
            if len(series.y) != expected:
                raise ValueError(
                    f"series '{series.name}' has {len(series.y)} values for {expected} "
                    f"{'categories' if self.kind == 'bar' else 'x positions'}"
                )
        return self


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def downsample(
    points: Sequence[tuple[float, float | None]], limit: int = MAX_POINTS, reduce: Reduce = "max"
) -> list[tuple[float, float | None]]:
    """At most ``limit`` points, by merging runs of consecutive points into one (at the run's first x).

    Gaps (None) stay gaps unless the run has a measured value; non-finite values become gaps.
    """
    clean = [(float(x), _finite(y)) for x, y in points if math.isfinite(x)]
    if len(clean) <= limit:
        return clean
    size = math.ceil(len(clean) / limit)
    merged: list[tuple[float, float | None]] = []
    for start in range(0, len(clean), size):
        run = clean[start : start + size]
        values = [y for _, y in run if y is not None]
        if not values:
            merged.append((run[0][0], None))
        elif reduce == "max":
            merged.append((run[0][0], max(values)))
        else:
            merged.append((run[0][0], sum(values) / len(values)))
    return merged


def line_chart(
    title: str,
    series: Mapping[str, Iterable[tuple[float, float | None]]],
    *,
    x_label: str = "time (s)",
    y_label: str = "",
    windows: Iterable[Window] = (),
    reduce: Reduce = "max",
) -> Chart:
    """A line chart from ``{name: [(x, y), ...]}``, each series downsampled to ``MAX_POINTS``."""
    built = []
    for name, points in list(series.items())[:MAX_SERIES]:
        kept = downsample(list(points), reduce=reduce)
        built.append(Series(name=name, x=[x for x, _ in kept], y=[y for _, y in kept]))
    return Chart(
        title=title,
        x_label=x_label,
        y_label=y_label,
        series=built,
        windows=list(windows)[:MAX_WINDOWS],
    )


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    y_label: str = "",
) -> Chart:
    """Grouped bars: one bar per category per series; None is a missing bar, not a zero."""
    return Chart(
        title=title,
        kind="bar",
        y_label=y_label,
        categories=list(categories)[:MAX_POINTS],
        series=[
            Series(name=name, y=[_finite(v) for v in values][:MAX_POINTS])
            for name, values in list(series.items())[:MAX_SERIES]
        ],
    )
