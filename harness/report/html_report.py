"""The HTML report: one self-contained file (inline CSS, inline SVG plots, no script, no remote address)
for a hiring manager's laptop or a printer.

jinja2 with autoescape escapes every value; candidate text also goes through `visible` first, so ANSI
escapes and control characters show as \\xNN instead of vanishing. A Content-Security-Policy with
``default-src 'none'`` backs this up: even markup that slipped through could fetch nothing and run no
script.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from harness.report.extras import LAID_OUT_CRITERION, LAID_OUT_RESULT, extra_fields
from harness.report.html_template import STYLE, TEMPLATE
from harness.report.model import GradeResult
from harness.report.text import clip, visible

#: Fields this report lays out itself, beyond those every renderer does (see extras.py).
HTML_LAID_OUT_RESULT = frozenset(
    {
        "seniority", "gates_failed", "gate_cap", "uncapped_total", "pending_points", "quality",
        "repeated_runs", "flaky_criteria",
    }
)  # fmt: skip
HTML_LAID_OUT_CRITERION = frozenset({"level", "levels", "review", "checks", "kind", "description"})

#: A build log is shown whole up to this size; beyond, its head and tail (errors are at either end).
LOG_CHARS = 12_000


@dataclass(frozen=True)
class Plot:
    criterion: str
    scenario: str
    status: str
    svg: Markup
    windows: str


@dataclass(frozen=True)
class Log:
    title: str
    text: str


def fmt(value: float) -> str:
    return f"{value:g}"


def _pct(points: float, max_points: float) -> str:
    return "0" if max_points <= 0 else f"{max(0.0, min(100.0, 100 * points / max_points)):.1f}"


def _limits(limits: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:g}" for name, value in sorted(limits.items())) or "none recorded"


def _plots(result: GradeResult) -> list[Plot]:
    from harness.report.plots import render_svg  # matplotlib: imported only when there is a chart

    plots = []
    for criterion in result.criteria:
        for scenario in criterion.scenarios:
            for chart in scenario.charts:
                windows = ", ".join(
                    dict.fromkeys(
                        f"{w.label} ({w.start:g} to {w.end:g} s)" if w.end is not None else f"{w.label}"
                        for w in chart.windows
                    )
                )
                plots.append(
                    Plot(
                        criterion.title,
                        scenario.name,
                        scenario.status,
                        Markup(render_svg(chart)),  # matplotlib's own SVG; it XML-escapes its text
                        windows,
                    )
                )
    return plots


def _logs(result: GradeResult, logs_dir: Path | None) -> list[Log]:
    build = result.submission.build
    full = logs_dir / "build.log" if logs_dir is not None else None
    if full is not None and full.is_file():
        text = full.read_text(encoding="utf-8", errors="replace")
        return [Log(f"build log ({len(text):,} characters)", clip(text, LOG_CHARS))]
    if build is not None and build.log_tail:
        return [Log("build log (tail)", clip(build.log_tail, LOG_CHARS))]
    return []


def _environment() -> Environment:
    env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["v"] = visible
    return env


def render_html(result: GradeResult, *, logs_dir: Path | None = None) -> str:
    """The report as one HTML document. ``logs_dir``: the grade's output folder, for its full build.log."""
    total = f"{result.total:g} / 100"
    template = _environment().from_string(TEMPLATE)
    return template.render(
        r=result,
        style=Markup(STYLE),  # our own constant
        mode_title="self-check (public scenarios)" if result.mode == "check" else "grade",
        total_text=total,
        fmt=fmt,
        pct=_pct,
        limits=_limits,
        plots=_plots(result),
        logs=_logs(result, logs_dir),
        known=lambda value: "unknown" if value is None else value,
        extra_result=extra_fields(result, LAID_OUT_RESULT | HTML_LAID_OUT_RESULT),
        extra_criterion=lambda c: extra_fields(c, LAID_OUT_CRITERION | HTML_LAID_OUT_CRITERION),
    )
