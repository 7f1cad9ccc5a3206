"""Evidence a scenario gathers while it runs: transcripts of what was sent and received, notes, charts,
and the services it used (whose log tail is shown when the scenario fails)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from harness.history import History
from harness.report.charts import MAX_POINTS, Chart, Window, line_chart
from harness.report.text import clip
from harness.scenario.service import ServiceHandle

__all__ = ["EvidenceLog", "EvidenceSource", "clip", "history_latency_chart"]

#: Evidence is for people: keep each failure's story short enough to read.
MAX_EVIDENCE_CHARS = 6000
LOG_TAIL_BYTES = 2000
#: Charts one scenario may record; each is bounded in size (harness/report/charts.py).
MAX_CHARTS = 8


class EvidenceSource(Protocol):
    """Anything that can tell what it sent and received (protocol clients)."""

    def transcript(self) -> str: ...

    def reproduce(self) -> str | None: ...


def _percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def history_latency_chart(history: History, *, title: str, bucket_s: float = 0.1) -> Chart:
    """Latency of the operations that completed (``ok``), by completion time in ``bucket_s`` buckets,
    with the history's fault windows shaded. A bucket where nothing completed is a gap, not a zero:
    during a partition that gap is the point of the chart."""
    times = [e.time for e in history.events]
    origin = min(times, default=0)
    span_s = (max(times, default=origin) - origin) / 1e9
    bucket_s = max(bucket_s, span_s / MAX_POINTS)  # a long history gets wider buckets, not more of them
    buckets: dict[int, list[float]] = {}
    for op in history.operations:
        if op.status == "ok" and op.complete_time is not None:
            index = int((op.complete_time - origin) / 1e9 / bucket_s)
            buckets.setdefault(index, []).append((op.complete_time - op.invoke_time) / 1e6)
    last = max(buckets, default=-1)
    end = int((max(times, default=origin) - origin) / 1e9 / bucket_s)
    p50: list[tuple[float, float | None]] = []
    worst: list[tuple[float, float | None]] = []
    for index in range(max(last, end) + 1):
        values = sorted(buckets.get(index, []))
        x = round(index * bucket_s, 3)
        p50.append((x, _percentile(values, 0.5) if values else None))
        worst.append((x, values[-1] if values else None))
    windows = [
        Window(
            label=w.name,
            start=round((w.start - origin) / 1e9, 3),
            end=None if w.stop is None else round((w.stop - origin) / 1e9, 3),
        )
        for w in history.fault_windows()
    ]
    return line_chart(
        title, {"p50": p50, "max": worst}, y_label="latency (ms)", windows=windows, reduce="max"
    )


@dataclass
class EvidenceLog:
    notes: list[str] = field(default_factory=list)
    sources: list[EvidenceSource] = field(default_factory=list)
    services: list[ServiceHandle] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def chart(self, chart: Chart) -> None:
        """Record a chart for the reports (kept whatever the outcome). A chart with the same title as an
        earlier one replaces it, so a scenario can refine a chart as it learns more (a reference line)."""
        for index, earlier in enumerate(self.charts):
            if earlier.title == chart.title:
                self.charts[index] = chart
                return
        if len(self.charts) < MAX_CHARTS:
            self.charts.append(chart)
        else:
            self.note(f"chart '{chart.title}' not kept: a scenario keeps at most {MAX_CHARTS}")

    def attach(self, source: EvidenceSource) -> None:
        self.sources.append(source)

    def watch(self, service: ServiceHandle) -> None:
        if all(s is not service for s in self.services):
            self.services.append(service)

    def render(self, *, with_logs: bool) -> str:
        parts = list(self.notes)
        parts += [t for t in (s.transcript() for s in self.sources) if t]
        if with_logs:
            for service in self.services:
                if service.managed:
                    tail = service.logs(LOG_TAIL_BYTES).strip()
                    parts.append(f"service log ({service.name}, tail):\n{tail or '(empty)'}")
        return clip("\n\n".join(parts), MAX_EVIDENCE_CHARS)

    def reproduce(self) -> str | None:
        # The last client is usually the one that saw the failure.
        for source in reversed(self.sources):
            command = source.reproduce()
            if command:
                return command
        return None
