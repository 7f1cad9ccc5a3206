"""Per-process HdrHistograms merge into the same distribution one histogram would have recorded."""

from __future__ import annotations

import random

from harness.load.histogram import HIGHEST_US, LatencyHistogram, merge


def test_merged_encoded_histograms_equal_one_histogram() -> None:
    rng = random.Random(1)
    values = [int(rng.lognormvariate(6, 1.2)) for _ in range(20_000)]
    whole = LatencyHistogram()
    parts = [LatencyHistogram() for _ in range(4)]
    for i, v in enumerate(values):
        whole.record(v)
        parts[i % 4].record(v)
    merged = merge([p.encode() for p in parts])
    assert merged.count == whole.count == len(values)
    assert merged.summary() == whole.summary()
    values.sort()
    # three significant digits: within 0.1% of the exact order statistic
    exact_p99 = values[int(0.99 * len(values)) - 1]
    assert abs(merged.percentile(99) - exact_p99) <= exact_p99 * 0.001 + 1


def test_record_counts_and_clamping() -> None:
    h = LatencyHistogram()
    h.record_counts({100: 3, 200: 1, -5: 1, HIGHEST_US * 10: 1})
    assert h.count == 6
    assert h.percentile(50) == 100
    assert h.max() >= HIGHEST_US * 0.999


def test_empty_summary_is_zeros() -> None:
    s = LatencyHistogram().summary()
    assert (s.count, s.p50_us, s.p99_us, s.max_us) == (0, 0, 0, 0)
    assert merge([]).count == 0
