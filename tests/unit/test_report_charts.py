"""Charts get from scenarios into the result model: `evidence.chart`, the history and load helpers."""

from __future__ import annotations

from pathlib import Path

from harness.history import HistoryRecorder, ManualClock
from harness.load.model import LatencySummary, LoadResult, LoadSpec, SecondSample
from harness.report.charts import line_chart
from harness.scenario.evidence import MAX_CHARTS, EvidenceLog, history_latency_chart
from harness.scenario.performance import over_time_charts, percentile_chart

from .test_scenario_plugin import echo_server, make_exercise, run  # noqa: F401  (echo_server: a fixture)

SCENARIOS = """
import pytest
from harness.report.charts import Window, line_chart


@pytest.mark.criterion("echo")
def test_records_a_chart_and_fails(evidence):
    evidence.chart(line_chart("latency", {"p99": [(0, 1.0), (1, None), (2, 3.0)]},
                              windows=[Window(label="kill -9", start=0.5, end=1.5)]))
    assert False, "failed after recording"


@pytest.mark.criterion("echo")
def test_records_nothing(service):
    pass
"""


def test_charts_recorded_by_a_scenario_reach_its_result(tmp_path: Path, echo_server: int) -> None:  # noqa: F811
    results = run(make_exercise(tmp_path, SCENARIOS), echo_server)
    failed = results["test_records_a_chart_and_fails"]
    assert failed.status == "failed"  # type: ignore[attr-defined]
    (chart,) = failed.charts  # type: ignore[attr-defined]
    assert chart.title == "latency" and chart.series[0].y == [1.0, None, 3.0]
    assert chart.windows[0].label == "kill -9"
    assert results["test_records_nothing"].charts == []  # type: ignore[attr-defined]


def test_a_chart_with_the_same_title_replaces_the_earlier_one_and_the_count_is_capped() -> None:
    log = EvidenceLog()
    log.chart(line_chart("a", {"s": [(0, 1.0)]}))
    log.chart(line_chart("a", {"s": [(0, 2.0)]}))
    assert [c.series[0].y for c in log.charts] == [[2.0]]
    for index in range(MAX_CHARTS + 3):
        log.chart(line_chart(f"c{index}", {"s": [(0, 1.0)]}))
    assert len(log.charts) == MAX_CHARTS
    assert any("not kept" in note for note in log.notes)


def test_history_chart_shades_the_fault_and_leaves_a_gap_where_nothing_completed() -> None:
    clock = ManualClock(step_ns=1_000)
    recorder = HistoryRecorder(clock=clock)
    for _ in range(10):  # one op every 0.1 s for a second, 2 ms each
        op = recorder.invoke(0, "read", "k")
        clock.advance(0.002)
        op.ok(None)
        clock.advance(0.098)
    recorder.fault_start("partition")
    stuck = recorder.invoke(1, "write", "k", "v")
    clock.advance(0.5)
    stuck.info("timeout")
    recorder.fault_stop("partition")
    op = recorder.invoke(0, "read", "k")
    clock.advance(0.004)
    op.ok("v")
    chart = history_latency_chart(recorder.snapshot(), title="t")
    (window,) = chart.windows
    assert window.label == "partition" and 0.99 < window.start < 1.01 and 1.49 < (window.end or 0) < 1.51
    p50 = dict(zip(chart.series[0].x, chart.series[0].y, strict=True))
    assert p50[0.0] is not None and 1.9 < p50[0.0] < 2.1  # ms
    assert p50[1.2] is None  # inside the partition: nothing completed, a gap rather than 0
    assert p50[1.5] is not None and 3.9 < p50[1.5] < 4.1


def _summary(p50: int, p99: int, count: int = 100) -> LatencySummary:
    return LatencySummary(count, float(p50), p50, p99, p99, p99, p99 * 2)


def _load(samples: list[SecondSample]) -> LoadResult:
    return LoadResult(
        host="h", port=1, spec=LoadSpec(), event_loop="asyncio", planned=0, requests=0, completed=0,
        error_replies=0, connection_errors=0, lost=0, timeouts=0, dropped=0, unsent=0,
        throughput=1000.0, latency=_summary(200, 900), latency_uncorrected=_summary(200, 900),
        send_lag=_summary(0, 0), time_series=tuple(samples), valid=True, invalid_reasons=(),
        processes=(), histogram="", histogram_uncorrected="",
    )  # fmt: skip


def test_load_charts_show_latency_and_throughput_over_time_with_gaps_for_idle_seconds() -> None:
    busy = SecondSample(0, 1000, 0, 0, 1000.0, 200, 900, 150, 800)
    idle = SecondSample(1, 0, 5, 0, 0.0, 0, 0, 0, 0)
    latency, throughput = over_time_charts("throughput", _load([busy, idle]))
    assert latency.title == "throughput: latency over time"
    assert [s.name for s in latency.series] == ["p50", "p99"]
    assert latency.series[1].y == [0.9, None]  # no reply that second: no latency, not 0 ms
    assert throughput.series[0].y == [1000.0, 0.0] and throughput.series[1].y == [0.0, 5.0]


def test_percentile_chart_leaves_out_what_the_reference_did_not_measure() -> None:
    from harness.calibration import ProfileFigures

    reference = ProfileFigures(throughput=1, p50_us=100, p99_us=500, errors=0, valid=True, invalid_reasons=[])
    chart = percentile_chart("fixed-rate", _load([]), reference)
    assert chart.kind == "bar" and chart.categories == ["p50", "p90", "p99", "p99.9", "max"]
    assert chart.series[0].y == [0.2, 0.9, 0.9, 0.9, 1.8]
    assert chart.series[1].y == [0.1, None, 0.5, None, None]
