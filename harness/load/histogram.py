"""A typed veneer over the ``hdrhistogram`` package: integer-microsecond latencies, 3 significant digits.

The hot path never touches a histogram: it counts latencies in a plain ``dict`` per second, and those
counts are recorded here once a second. Histograms cross process boundaries encoded (V2, compressed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

from harness.load.model import LatencySummary

LOWEST_US: Final = 1
HIGHEST_US: Final = 3_600_000_000  # one hour; larger values are clamped to it
DIGITS: Final = 3


class LatencyHistogram:
    """Latencies in microseconds; values above an hour are recorded as an hour."""

    def __init__(self, encoded: str | bytes | None = None) -> None:
        if encoded:
            self._h = HdrHistogram.decode(encoded)
        else:
            self._h = HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)

    def record(self, value_us: int, count: int = 1) -> None:
        self._h.record_value(min(max(value_us, 0), HIGHEST_US), count)

    def record_counts(self, counts: Mapping[int, int]) -> None:
        """Record ``{latency_us: how_many}``."""
        record = self._h.record_value
        for value, count in counts.items():
            record(min(max(value, 0), HIGHEST_US), count)

    def add(self, other: LatencyHistogram) -> None:
        self._h.add(other._h)

    @property
    def count(self) -> int:
        return int(self._h.get_total_count())

    def percentile(self, p: float) -> int:
        return int(self._h.get_value_at_percentile(p)) if self.count else 0

    def max(self) -> int:
        return int(self._h.get_max_value()) if self.count else 0

    def encode(self) -> str:
        blob = self._h.encode()
        return blob.decode("ascii") if isinstance(blob, bytes) else str(blob)

    def summary(self) -> LatencySummary:
        if not self.count:
            return LatencySummary(0, 0.0, 0, 0, 0, 0, 0)
        return LatencySummary(
            count=self.count,
            mean_us=round(float(self._h.get_mean_value()), 1),
            p50_us=self.percentile(50),
            p90_us=self.percentile(90),
            p99_us=self.percentile(99),
            p999_us=self.percentile(99.9),
            max_us=self.max(),
        )


def merge(encoded: list[str]) -> LatencyHistogram:
    """One histogram holding every encoded histogram's counts."""
    total = LatencyHistogram()
    for blob in encoded:
        total.add(LatencyHistogram(blob))
    return total
