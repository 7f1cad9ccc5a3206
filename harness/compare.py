"""`harness compare DIR`: rank the results of a batch (`DIR/<name>/results.json`) side by side.

Rows are plain data (`Ranking`) rendered three ways: a rich table, CSV and Markdown. Complete results are
ranked by total; an incomplete one (a harness error left points undecided) is listed after them, unranked,
because its total is not comparable.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from harness.errors import UsageError
from harness.report.json_report import read_result
from harness.report.model import GradeResult

# Performance scenarios note the candidate's and the reference's figures (harness/scenario/performance.py);
# they reach the results as evidence when the scenario failed, and in the message of a failed share check.
_MEASURED = re.compile(r"^(?P<profile>[\w-]+): (?P<rps>[\d,]+) req/s over .*?p99 (?P<p99>\d+) µs", re.M)
_REFERENCE = re.compile(r"^reference on this machine: (?P<rps>[\d,]+) req/s, .*?p99 (?P<p99>\d+) µs", re.M)
_SHARE = re.compile(r"is (?P<share>\d+)% of the reference's")


@dataclass(frozen=True)
class Row:
    rank: int | None
    name: str
    result: GradeResult
    metrics: dict[str, float]

    def skill_points(self, skill_id: str) -> tuple[float, float] | None:
        skill = next((s for s in self.result.skills if s.id == skill_id), None)
        return (skill.points, skill.max_points) if skill else None


@dataclass(frozen=True)
class Ranking:
    rows: list[Row]
    skills: list[tuple[str, str]]
    """(id, title) of every skill decided in some result, in first-seen order."""
    metrics: list[str]


def load_results(folder: Path) -> list[tuple[str, GradeResult]]:
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder", hint="give the --out folder of `harness grade-batch`")
    found = [(path.parent.name, read_result(path)) for path in sorted(folder.glob("*/results.json"))]
    if not found:
        raise UsageError(
            f"no results in {folder}", hint="expected DIR/<name>/results.json, as grade-batch writes"
        )
    return found


def metrics_of(result: GradeResult) -> dict[str, float]:
    """Key figures found in the scenarios' evidence: performance as a multiple of the reference's on the
    same machine (requests/s: higher is better; p99 latency: lower is better)."""
    metrics: dict[str, float] = {}
    for criterion in result.criteria:
        for scenario in criterion.scenarios:
            evidence = scenario.evidence or ""
            measured, reference = _MEASURED.search(evidence), _REFERENCE.search(evidence)
            if measured and reference:
                profile = measured["profile"]
                metrics[f"{profile} req/s vs ref"] = _ratio(measured["rps"], reference["rps"])
                metrics[f"{profile} p99 vs ref"] = _ratio(measured["p99"], reference["p99"])
            share = _SHARE.search(scenario.message or "")
            if share and not (measured and reference):
                metrics.setdefault("req/s vs ref", int(share["share"]) / 100)
    return metrics


def _ratio(numerator: str, denominator: str) -> float:
    bottom = float(denominator.replace(",", ""))
    return round(float(numerator.replace(",", "")) / bottom, 2) if bottom else 0.0


def rank(results: Iterable[tuple[str, GradeResult]]) -> Ranking:
    """Complete results by total, highest first (equal totals share a rank); incomplete ones after."""
    ordered = sorted(results, key=lambda item: (not item[1].complete, -item[1].total, item[0]))
    rows: list[Row] = []
    previous: tuple[float, int] | None = None
    for position, (name, result) in enumerate(ordered, start=1):
        place = None
        if result.complete:
            place = previous[1] if previous and previous[0] == result.total else position
            previous = (result.total, place)
        rows.append(Row(place, name, result, metrics_of(result)))
    skills: dict[str, str] = {}
    metrics: dict[str, None] = {}
    for row in rows:
        # A skill nothing decided in any result (max 0 everywhere) would be a column of 0/0.
        skills.update({s.id: s.title for s in row.result.skills if s.id not in skills and s.max_points})
        metrics.update(dict.fromkeys(row.metrics))
    return Ranking(rows, list(skills.items()), list(metrics))


def _cells(ranking: Ranking, row: Row) -> list[str]:
    skill_cells = []
    for skill_id, _ in ranking.skills:
        points = row.skill_points(skill_id)
        skill_cells.append(f"{points[0]:g}/{points[1]:g}" if points else "")
    metric_cells = [f"{row.metrics[m]:g}" if m in row.metrics else "" for m in ranking.metrics]
    return [
        str(row.rank) if row.rank is not None else "-",
        row.name,
        f"{row.result.total:g}",
        *skill_cells,
        f"{row.result.undecided_points:g}",
        *metric_cells,
        "yes" if row.result.complete else "no",
    ]


def _headers(ranking: Ranking) -> list[str]:
    skills = [title for _, title in ranking.skills]
    return ["rank", "name", "total", *skills, "undecided", *ranking.metrics, "complete"]


def abbreviations(ranking: Ranking) -> dict[str, str]:
    """Short column labels for skills (initials: "Async network services" → "ANS"), so the terminal table
    fits; a legend under it spells them out."""
    labels: dict[str, str] = {}
    for skill_id, title in ranking.skills:
        words = [w for w in re.split(r"[^A-Za-z0-9]+", title) if len(w) > 2 and w.lower() != "and"]
        base = "".join(w[0].upper() for w in words)[:4] or skill_id[:4]
        label, counter = base, 1
        while label in labels.values():
            counter += 1
            label = f"{base}{counter}"
        labels[skill_id] = label
    return labels


def table(ranking: Ranking) -> tuple[Table, str]:
    """The ranking for the terminal, and the legend of its skill columns. Names are folder names made by
    grade-batch (safe characters only)."""
    labels = abbreviations(ranking)
    headers = _headers(ranking)
    headers[3 : 3 + len(ranking.skills)] = [labels[skill_id] for skill_id, _ in ranking.skills]
    view = Table(title="ranking", title_style="bold")
    for header in headers:
        left = header in ("name", "complete")
        view.add_column(header, justify="left" if left else "right", no_wrap=header == "name")
    for row in ranking.rows:
        view.add_row(*_cells(ranking, row), style=None if row.result.complete else "magenta")
    legend = ", ".join(f"{labels[skill_id]} = {title}" for skill_id, title in ranking.skills)
    return view, f"skills (points/decided maximum): {legend}" if legend else ""


def to_csv(ranking: Ranking) -> str:
    """One row per submission, numbers as numbers (points and maxima in separate columns) for spreadsheets."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    skill_columns = [c for skill_id, _ in ranking.skills for c in (skill_id, f"{skill_id} max")]
    writer.writerow(
        ["rank", "name", "total", *skill_columns, "undecided", *ranking.metrics, "complete", "source"]
    )
    for row in ranking.rows:
        skill_values: list[str] = []
        for skill_id, _ in ranking.skills:
            points = row.skill_points(skill_id)
            skill_values += [f"{points[0]:g}", f"{points[1]:g}"] if points else ["", ""]
        writer.writerow(
            [
                row.rank if row.rank is not None else "",
                row.name,
                f"{row.result.total:g}",
                *skill_values,
                f"{row.result.undecided_points:g}",
                *(f"{row.metrics[m]:g}" if m in row.metrics else "" for m in ranking.metrics),
                "yes" if row.result.complete else "no",
                row.result.submission.source,
            ]
        )
    return buffer.getvalue()


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(ranking: Ranking) -> str:
    headers = _headers(ranking)
    lines = [
        "| " + " | ".join(_md_cell(h) for h in headers) + " |",
        "| " + " | ".join("---" if h in ("name", "complete") else "---:" for h in headers) + " |",
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in _cells(ranking, row)) + " |" for row in ranking.rows]
    incomplete = [row.name for row in ranking.rows if not row.result.complete]
    if incomplete:
        lines += ["", f"Incomplete (harness errors; rerun before comparing): {', '.join(incomplete)}."]
    return "\n".join(lines) + "\n"
