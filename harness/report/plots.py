"""Charts drawn as inline SVG with matplotlib (Agg backend, no display, no network).

The SVG is embedded in the HTML report as-is, so it is made fit for that: no XML prolog or DOCTYPE (the
DOCTYPE names an external DTD), text kept as text (no glyph definitions whose ids would clash between
charts), ids made deterministic, and a viewBox so the browser can scale it to the page.
"""

from __future__ import annotations

import io
import re
from typing import Any

from harness.report.charts import Chart, Series

_SVG_START = re.compile(r"<svg\b")
# Dublin Core metadata names purl.org URIs: harmless, but a report should name no remote address at all.
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7b83", "#57606a")
_WINDOW_COLOUR = "#d1242f"


def _pyplot() -> Any:
    # Imported on first use: matplotlib takes a second to import and only HTML reports need it.
    import matplotlib

    matplotlib.use("Agg", force=True)
    matplotlib.rcParams.update(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "harness",  # stable ids: the same result renders the same HTML
            "font.family": "sans-serif",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    import matplotlib.pyplot as plt

    return plt


def _values(series: Series) -> list[float]:
    # matplotlib draws NaN as a break in the line: a gap where nothing was measured, not a drop to zero.
    return [float("nan") if y is None else y for y in series.y]


def _draw_line(ax: Any, chart: Chart) -> None:
    for index, series in enumerate(chart.series):
        ax.plot(
            series.x,
            _values(series),
            label=series.name,
            color=_PALETTE[index % len(_PALETTE)],
            linewidth=1.4,
            marker="o" if len(series.x) <= 30 else None,
            markersize=2.5,
        )
    xs = [x for s in chart.series for x in s.x]
    right = max(xs, default=1.0)
    for index, window in enumerate(chart.windows):
        end = window.end if window.end is not None else right
        ax.axvspan(
            window.start,
            end,
            color=_WINDOW_COLOUR,
            alpha=0.15,
            linewidth=0,
            label=window.label if window.label not in [w.label for w in chart.windows[:index]] else None,
        )
    ax.set_ylim(bottom=0)


def _draw_bars(ax: Any, chart: Chart) -> None:
    count = max(len(chart.series), 1)
    width = 0.8 / count
    positions = range(len(chart.categories))
    for index, series in enumerate(chart.series):
        offset = (index - (count - 1) / 2) * width
        ax.bar(
            [p + offset for p in positions],
            _values(series),
            width=width,
            label=series.name,
            color=_PALETTE[index % len(_PALETTE)],
        )
    ax.set_xticks(list(positions), chart.categories)


def render_svg(chart: Chart, *, width_in: float = 7.0, height_in: float = 2.6) -> str:
    """The chart as an ``<svg>`` element to embed inline."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(width_in, height_in))
    try:
        if chart.kind == "bar":
            _draw_bars(ax, chart)
        else:
            _draw_line(ax, chart)
        ax.set_title(chart.title, loc="left", fontsize=10)
        ax.set_xlabel(chart.x_label)
        ax.set_ylabel(chart.y_label)
        ax.grid(axis="y", color="#d0d7de", linewidth=0.6)
        if chart.series or chart.windows:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    finally:
        plt.close(figure)
    text = buffer.getvalue()
    match = _SVG_START.search(text)
    return _METADATA.sub("", text[match.start() :] if match else text)
