"""The HTML report: self-contained, escaped, undecided shown as undecided, plots drawn from the model."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.report.charts import MAX_POINTS, Chart, Window, bar_chart, line_chart
from harness.report.html_report import render_html
from harness.report.model import CriterionResult, GradeResult, ScenarioResult, SkillResult

from .results_factory import sample_result

HOSTILE = (
    "<script>alert(1)</script><img src=x onerror=alert(2)> \x1b[2J\x1b[31mred"
    "\n::error::forged\n##vso[task.complete result=Succeeded]| a | b |"
)


def latency_through_partition() -> Chart:
    points = [(i / 10, None if 20 <= i < 35 else 1.0 + (i % 7) / 3) for i in range(60)]
    return line_chart(
        "register latency through a partition",
        {"p50": points, "max": [(x, None if y is None else 2 * y) for x, y in points]},
        y_label="latency (ms)",
        windows=[Window(label="partition", start=2.0, end=3.5)],
    )


def charted_result(hostile: str = HOSTILE) -> GradeResult:
    """A grade with every kind of outcome, hostile candidate text everywhere it can reach, a latency
    chart with a shaded partition, performance charts, and a build log long enough to be elided."""
    base = sample_result(
        message=hostile, evidence=hostile, reproduce=f"printf '{hostile}' | nc 127.0.0.1 6379"
    )

    def scenario(name: str, criterion: str, status: str, **extra: object) -> ScenarioResult:
        return ScenarioResult(
            nodeid=f"hidden/test_x.py::{name}",
            name=name,
            criterion=criterion,
            visibility="hidden",
            status=status,  # type: ignore[arg-type]
            duration_s=1.5,
            **extra,  # type: ignore[arg-type]
        )

    perf_charts = [
        line_chart(
            "throughput: latency over time",
            {
                "p50": [(float(s), 0.2 + s / 50) for s in range(12)],
                "p99": [(float(s), 1.0) for s in range(12)],
            },
            y_label="latency (ms)",
        ),
        line_chart(
            "throughput: throughput over time", {"completed/s": [(float(s), 40_000.0) for s in range(12)]}
        ),
        bar_chart(
            "throughput: latency percentiles",
            ["p50", "p90", "p99", "p99.9", "max"],
            {"this service": [0.2, 0.5, 1.0, 2.0, 9.0], "reference": [0.1, None, 0.8, None, None]},
            y_label="latency (ms)",
        ),
    ]
    criteria = [
        *base.criteria,
        CriterionResult(
            id="linearizability",
            title="Linearizable under faults",
            skill="distributed",
            visibility="hidden",
            status="failed",
            points=0,
            max_points=20,
            passed=0,
            failed=1,
            errors=0,
            skipped=0,
            summary="0 passed, 1 failed",
            scenarios=[
                scenario(
                    "test_registers_are_linearizable",
                    "linearizability",
                    "failed",
                    message=hostile,
                    evidence=hostile,
                    charts=[latency_through_partition()],
                )
            ],
        ),
        CriterionResult(
            id="performance",
            title="Performance",
            skill="performance",
            visibility="hidden",
            status="unknown",
            points=0,
            max_points=15,
            passed=0,
            failed=0,
            errors=0,
            skipped=1,
            summary="undecided: the load generator could not measure fairly",
            scenarios=[scenario("test_throughput", "performance", "skipped", charts=perf_charts)],
        ),
        CriterionResult(
            id="durability",
            title="Durability",
            skill="storage",
            visibility="hidden",
            status="error",
            points=0,
            max_points=25,
            passed=0,
            failed=0,
            errors=1,
            skipped=0,
            summary="harness error",
            scenarios=[scenario("test_fsync", "durability", "error", message="docker went away")],
        ),
    ]
    build = base.submission.build.model_copy(  # type: ignore[union-attr]
        update={"log_tail": "Compiling kv v0.1.0\n" + "warning: x\n" * 3000 + hostile + "\nFinished"}
    )
    return base.model_copy(
        update={
            "mode": "grade",
            "criteria": criteria,
            "skills": [
                *base.skills,
                SkillResult(id="distributed", title="Distributed", points=0, max_points=20),
            ],
            "submission": base.submission.model_copy(
                update={"build": build, "image_digest": "sha256:" + "ab" * 32, "revision": hostile}
            ),
            "undecided_points": 40.0,
            "complete": False,
            "problems": [f"durability: {hostile}"],
        }
    )


class _Collector(HTMLParser):
    """Every element and attribute, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs


def parsed(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    return collector


@pytest.fixture(scope="module")
def html() -> str:
    return render_html(charted_result())


def test_candidate_markup_is_text_not_markup(html: str) -> None:
    page = parsed(html)
    assert "script" not in page.tags and "img" not in page.tags
    assert not [name for name, _ in page.attrs if name.startswith("on")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_control_characters_and_workflow_commands_are_shown_defused(html: str) -> None:
    assert "\x1b" not in html
    assert "\\x1b[2J" in html
    assert "::error::forged" not in html and "##vso[" not in html
    assert "\\x3a:error::forged" in html


def test_the_page_names_no_remote_address(html: str) -> None:
    page = parsed(html)
    references = [
        value or "" for name, value in page.attrs if name in ("src", "href", "xlink:href", "action")
    ]
    assert references, "expected in-page links (the table of contents, SVG markers)"
    assert all(ref.startswith("#") for ref in references), [r for r in references if not r.startswith("#")]
    assert not re.search(r"url\(\s*['\"]?(?!#)|@import|<link\b", html)  # clip paths are url(#id)
    assert "default-src 'none'" in html  # the CSP that backs this up in a browser


def test_plots_are_inline_svg_with_the_fault_window_named(html: str) -> None:
    assert html.count("<svg") == 4  # latency through the partition + 3 performance charts
    assert "partition (2 to 3.5 s)" in html
    assert "<!DOCTYPE svg" not in html and "<?xml" not in html


def test_undecided_criteria_show_their_status_never_zero_points(html: str) -> None:
    rows = re.findall(r"<tr>\s*<td><span class=\"badge s-(\w+)\">.*?</tr>", html, re.DOTALL)
    assert rows == ["partial", "failed", "unknown", "error"]
    performance = re.search(r"<tr>\s*<td><span class=\"badge s-unknown\">.*?</tr>", html, re.DOTALL)
    assert performance is not None
    assert "unknown</span>\n    of 15" in performance.group() and "0 / 15" not in performance.group()
    assert "Incomplete grade." in html and "40 points undecided" in html


def test_a_long_build_log_keeps_head_and_tail(html: str) -> None:
    assert "Compiling kv v0.1.0" in html and "Finished" in html
    assert "characters elided" in html


def test_full_build_log_beside_results_is_preferred(tmp_path: Path) -> None:
    (tmp_path / "build.log").write_text("FULL LOG HEAD\n" + "x" * 50_000 + "\nFULL LOG TAIL\n")
    html = render_html(sample_result(), logs_dir=tmp_path)
    assert "FULL LOG HEAD" in html and "FULL LOG TAIL" in html and "characters elided" in html


def test_a_result_without_charts_says_so() -> None:
    assert "No scenario recorded a chart" in render_html(sample_result())


def test_series_are_downsampled_and_bounded() -> None:
    chart = line_chart("long", {"p99": [(float(i), float(i % 100)) for i in range(10_000)]})
    assert len(chart.series[0].x) <= MAX_POINTS
    assert max(y for y in chart.series[0].y if y is not None) == 99.0  # max-downsampling keeps spikes
    with pytest.raises(ValueError):
        Chart(title="t", series=[{"name": "s", "x": [0.0] * (MAX_POINTS + 1), "y": [0.0] * (MAX_POINTS + 1)}])


def test_misaligned_series_are_refused() -> None:
    with pytest.raises(ValueError, match="values for"):
        Chart(title="t", series=[{"name": "s", "x": [0.0, 1.0], "y": [1.0]}])


def test_charts_round_trip_through_results_json() -> None:
    result = charted_result()
    again = GradeResult.model_validate_json(result.model_dump_json())
    assert again == result
    chart = again.criteria[1].scenarios[0].charts[0]
    assert chart.windows == [Window(label="partition", start=2.0, end=3.5)]
    assert None in chart.series[0].y  # the gap survives as a gap


def test_level_gates_repeats_reviews_and_code_quality_are_laid_out_escaped() -> None:
    from harness.report.quality import CheckResult, LintWarning, QualityReport
    from harness.report.review import Review, SeniorityResult, SeniorityThreshold

    base = sample_result()
    reviewed = base.criteria[0].model_copy(
        update={
            "kind": "manual",
            "level": "clear",
            "review": Review(reviewer="ana", level="clear", note=f"fine design {HOSTILE}", at="t"),
            "checks": [
                CheckResult(
                    kind="metric", metric="clippy_warnings", status="failed", threshold="≤ 0", value=3
                )
            ],
        }
    )
    result = base.model_copy(
        update={
            "criteria": [reviewed],
            "gates_failed": ["basics"],
            "seniority": SeniorityResult(
                level="below",
                reason="gate failed: basics",
                thresholds=[SeniorityThreshold(level="senior", at_least=80)],
            ),
            "repeated_runs": 5,
            "flaky_criteria": ["expiry"],
            "quality": QualityReport(
                source_digest="d",
                clippy_warnings=3,
                clippy_top=[LintWarning(lint="clippy::len_zero", message=HOSTILE, location="src/main.rs:3")],
                tests_passed=4,
                tests_failed=0,
                fmt_clean=None,
                unknown=["cargo fmt did not finish within 60 s"],
            ),
        }
    )
    page = render_html(result)
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "level: below (gate failed: basics; senior at 80)" in text
    assert "Gate failed: basics" in text and "median of 5 runs" in text and "flaky criteria: expiry" in text
    assert "clippy warnings 3" in text and "4 passed, 0 failed, unknown ignored" in text
    assert "rustfmt unknown" in text and "cargo fmt did not finish within 60 s" in text
    assert "review by ana" in text and "clippy_warnings = 3 (misses ≤ 0)" in text
    assert "<script>" not in page  # the hostile lint message and note stayed text
    assert '"level": ' not in page  # laid out, not dumped as JSON
