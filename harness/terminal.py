"""Everything the harness prints to a terminal goes through here (rich): progress, scorecards, errors.

Candidate-controlled text (messages, evidence, logs) is always printed with markup disabled and control
characters made visible, so a submission cannot forge output or drive the terminal with escape codes.
"""

from __future__ import annotations

import re
import sys
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from harness.report.model import CriterionResult, GradeResult, ScenarioResult

STATUS_STYLE = {
    "passed": ("✔", "green"),
    "partial": ("◐", "yellow"),
    "failed": ("✘", "red"),
    "error": ("!", "magenta"),
    "unknown": ("?", "blue"),
    "pending": ("…", "cyan"),
    "skipped": ("-", "dim"),
}
#: Statuses whose points are undecided: shown as "—", never as a zero.
UNDECIDED = ("error", "unknown", "pending")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")
# CI runners act on "workflow commands" in a job's output: GitHub on `::name ...::` at the start of a
# line (after leading whitespace, which it trims) and on the older `##[name]`; Azure Pipelines on
# `##vso[` anywhere in a line. Candidate text printed as-is could fail or pass a job, set its outputs
# or mask its log. `::` is neutralised wherever whitespace precedes it too, because rich wraps long
# lines at spaces and any such `::` can begin a printed line.
_WORKFLOW_COMMAND = re.compile(r"(?:(?<=^)|(?<=\s))::|##\[|##vso\[", re.IGNORECASE | re.MULTILINE)


def _defuse(match: re.Match[str]) -> str:
    token = match.group()
    # Show the first character as \xNN, like a control character: still readable, no longer a command.
    return f"\\x{ord(token[0]):02x}{token[1:]}"


def visible(text: str) -> str:
    """Candidate text made safe to print: control characters (ANSI escapes among them) shown as \\xNN,
    and CI workflow commands (`::error::`, `##[error]`, `##vso[...]`) broken the same way."""
    return _WORKFLOW_COMMAND.sub(_defuse, _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text))


def safe(text: str) -> Text:
    return Text(visible(text))


class Terminal:
    def __init__(self, file: TextIO | None = None, *, width: int | None = None) -> None:
        self.out = Console(file=file or sys.stdout, width=width, highlight=False)
        self.err = Console(file=file or sys.stderr, width=width, highlight=False)

    def error(self, message: str) -> None:
        # soft_wrap: no wrapping, so a printed line only starts where the text has a newline, and
        # visible() has already defused workflow commands there (a wrap could start a line anywhere).
        self.err.print(Text("error: ", style="bold red") + safe(message), soft_wrap=True)

    def note(self, message: str) -> None:
        self.out.print(message)

    def progress(self) -> GradeProgress:
        return GradeProgress(self.out)

    # --- scorecards --------------------------------------------------------------------------------

    def scorecard(self, result: GradeResult, *, for_candidate: bool = False) -> None:
        if for_candidate:
            self._check_scorecard(result)
            return
        title = f"{result.exercise} — {'self-check (public scenarios)' if for_candidate else 'grade'}"
        table = Table(title=title, title_style="bold", expand=False)
        table.add_column("", width=1)
        table.add_column("criterion")
        if not for_candidate:
            table.add_column("skill", style="dim")
            table.add_column("vis", style="dim")
        table.add_column("points", justify="right")
        table.add_column("scenarios", justify="right")
        for criterion in result.criteria:
            icon, style = STATUS_STYLE[criterion.status]
            decided = criterion.passed + criterion.failed
            row = [Text(icon, style=style), Text(criterion.title)]
            if not for_candidate:
                row += [Text(criterion.skill), Text(criterion.visibility)]
            points = "—" if criterion.status in UNDECIDED else f"{criterion.points:g}"
            if criterion.status == "pending":
                points = "review"
            elif criterion.kind == "manual" and criterion.level:
                points = f"{criterion.level}: {points}"
            checks = "—" if criterion.kind == "manual" else f"{criterion.passed}/{decided}"
            row += [Text(f"{points}/{criterion.max_points:g}"), Text(checks)]
            table.add_row(*row)
        self.out.print(table)
        if not for_candidate and result.skills:
            skills = Table(title="by skill", expand=False)
            skills.add_column("skill")
            skills.add_column("points", justify="right")
            for skill in result.skills:
                pending = f" (+{skill.pending_points:g} to review)" if skill.pending_points else ""
                skills.add_row(skill.title, f"{skill.points:g}/{skill.max_points:g}{pending}")
            self.out.print(skills)
        if not for_candidate:
            self._quality_line(result)
        self._total_line(result)
        self._failures(result, for_candidate=for_candidate)

    def _quality_line(self, result: GradeResult) -> None:
        quality = result.quality
        if quality is None:
            return
        facts = [
            ("clippy warnings", quality.clippy_warnings),
            ("tests passed", quality.tests_passed),
            ("failed", quality.tests_failed),
            ("fmt clean", None if quality.fmt_clean is None else ("yes" if quality.fmt_clean else "no")),
            ("unsafe blocks", quality.unsafe_blocks),
            ("lines of code", quality.lines_of_code),
        ]
        text = " · ".join(f"{name} {'unknown' if value is None else value}" for name, value in facts)
        self.out.print(Text("code quality: ", style="bold") + safe(text))

    def _total_line(self, result: GradeResult) -> None:
        if result.gates_failed:
            # A failed gate outranks the total: shown first and in red, whatever the number says.
            capped = f"; total capped at {result.gate_cap:g}" if result.uncapped_total is not None else ""
            message = f"GATE FAILED: {', '.join(result.gates_failed)} (required criteria{capped})"
            self.out.print(Panel(Text(message, style="bold red"), border_style="red", expand=False))
        line = Text(f"total: {result.total:g}/100", style="bold")
        if result.undecided_points:
            line.append(f"  ({result.undecided_points:g} points undecided", style="magenta")
            if result.pending_points:
                line.append(f", {result.pending_points:g} awaiting review: harness review", style="cyan")
            line.append(")", style="magenta")
        if result.seniority is not None:
            line.append(f"  level: {result.seniority.level}", style="bold cyan")
            line.append(f" ({result.seniority.reason})", style="dim")
        self.out.print(line)
        self._problems(result)

    def _problems(self, result: GradeResult) -> None:
        if result.repeated_runs > 1:
            flaky = ", ".join(result.flaky_criteria) or "none"
            self.out.print(
                Text(f"median of {result.repeated_runs} runs; flaky criteria: {flaky}", style="bold yellow")
            )
        for problem in result.problems:
            self.out.print(Text("harness error: ", style="magenta") + safe(problem), soft_wrap=True)

    def _failures(self, result: GradeResult, *, for_candidate: bool) -> None:
        failing = [s for c in result.criteria for s in c.scenarios if s.status in ("failed", "error")]
        if not failing:
            return
        limit = None if for_candidate else 5
        self.out.print(Text(f"\n{len(failing)} scenario(s) did not pass:", style="bold"))
        for scenario in failing[:limit]:
            self.out.print(self._failure_panel(scenario, full=for_candidate))
        if limit is not None and len(failing) > limit:
            self.out.print(f"… and {len(failing) - limit} more: see results.json or the HTML report")

    @staticmethod
    def _failure_panel(scenario: ScenarioResult, *, full: bool) -> Panel:
        body = Text()
        body.append("why: ", style="bold")
        body.append(visible(scenario.message or "(no message)") + "\n")
        if scenario.evidence and full:
            body.append("what happened:\n", style="bold")
            body.append(visible(scenario.evidence) + "\n")
        if scenario.reproduce:
            body.append("reproduce: ", style="bold")
            body.append(visible(scenario.reproduce))
        icon, style = STATUS_STYLE[scenario.status]
        return Panel(body, title=Text(f"{icon} {scenario.name}", style=style), title_align="left")

    # --- the candidate's self-check (`harness check`) -------------------------------------------------

    def _check_scorecard(self, result: GradeResult) -> None:
        """Short and actionable: which public criteria pass, then each distinct failure with what was
        sent, what came back, and how to reproduce it against the candidate's own server."""
        table = Table(title=f"{result.exercise} — self-check (public scenarios)", title_style="bold")
        table.add_column("", width=1)
        table.add_column("criterion")
        table.add_column("scenarios passed", justify="right")
        table.add_column("points", justify="right")
        for criterion in result.criteria:
            icon, style = STATUS_STYLE[criterion.status]
            ran = criterion.passed + criterion.failed + criterion.errors
            points = "—" if criterion.status in UNDECIDED else f"{criterion.points:g}"
            table.add_row(
                Text(icon, style=style),
                Text(criterion.title),
                Text(f"{criterion.passed} of {ran}", style=style),
                Text(f"{points}/{criterion.max_points:g}"),
            )
        self.out.print(table)
        scenarios = [s for c in result.criteria for s in c.scenarios]
        passing = sum(c.status == "passed" for c in result.criteria)
        line = Text(f"total: {result.total:g}/100", style="bold")
        line.append(
            f"  ·  {passing} of {len(result.criteria)} criteria pass  ·  "
            f"{sum(s.status == 'passed' for s in scenarios)} of {len(scenarios)} scenarios"
        )
        self.out.print(line)
        self._problems(result)
        self._check_failures(result)

    def _check_failures(self, result: GradeResult) -> None:
        titles = {c.id: c.title for c in result.criteria}
        # A build failure stands in for every criterion: show each distinct story once.
        stories: dict[tuple[str, str | None, str | None], list[ScenarioResult]] = {}
        for scenario in (s for c in result.criteria for s in c.scenarios):
            if scenario.status in ("failed", "error"):
                key = (scenario.name, scenario.message, scenario.evidence)
                stories.setdefault(key, []).append(scenario)
        skipped = [s for c in result.criteria for s in c.scenarios if s.status == "skipped"]
        if not stories:
            if result.criteria and not skipped:
                self.out.print(
                    Text("\nEvery public scenario passes. ", style="bold green")
                    + Text("The graded run adds hidden scenarios on the edges the brief lists.")
                )
            self._check_skipped(skipped)
            return
        groups = list(stories.values())
        self.out.print(Text(f"\n{len(groups)} scenario(s) did not pass, first to last:", style="bold"))
        for number, group in enumerate(groups[:CHECK_FULL_FAILURES], start=1):
            affected = ", ".join(dict.fromkeys(titles.get(s.criterion, s.criterion) for s in group))
            self.out.print(self._check_failure_panel(number, group[0], affected))
        for number, group in enumerate(groups[CHECK_FULL_FAILURES:], start=CHECK_FULL_FAILURES + 1):
            scenario = group[0]
            line = Text(f"{number}. ", style="bold") + Text(scenario.name, style="red")
            self.out.print(line + Text(": ") + safe(_first_line(scenario.message)), soft_wrap=True)
        self._check_skipped(skipped)
        self.out.print(
            Text("\nnext: ", style="bold")
            + Text("fix the first failure, then rerun; add ")
            + Text("-k NAME", style="bold")
            + Text(" to `harness check` to run one scenario. Full transcripts are in results.json.")
        )

    @staticmethod
    def _check_failure_panel(number: int, scenario: ScenarioResult, affected: str) -> Panel:
        body = Text()
        if scenario.status == "error":
            body.append("harness error, not your code's fault: ", style="magenta")
        body.append("why: ", style="bold")
        body.append(visible(scenario.message or "(no message)") + "\n")
        if scenario.evidence:
            building = scenario.nodeid.startswith("build::")
            label = "the build's output (tail)" if building else "what was sent (>>) and what came back (<<)"
            body.append(f"\n{label}:\n", style="bold")
            body.append(visible(_clip_lines(scenario.evidence, CHECK_EVIDENCE_LINES)) + "\n")
        if scenario.reproduce:
            body.append("\nreproduce against your server (start it first, e.g. cargo run):\n", style="bold")
            body.append("  " + visible(scenario.reproduce) + "\n")
        if not scenario.nodeid.startswith("build::"):
            body.append("\nrerun just this one: ", style="bold")
            body.append(f"harness check … -k {visible(scenario.name)}")
        title = Text(f"{number}. {STATUS_STYLE[scenario.status][0]} ", style="bold")
        title += Text(visible(scenario.name), style=STATUS_STYLE[scenario.status][1])
        title += Text(f"  ({visible(affected)})", style="dim")
        return Panel(body, title=title, title_align="left")

    def _check_skipped(self, skipped: list[ScenarioResult]) -> None:
        if not skipped:
            return
        self.out.print(Text(f"\n{len(skipped)} scenario(s) skipped (neither pass nor fail):", style="bold"))
        for scenario in skipped:
            line = Text("  - ") + Text(scenario.name, style="dim") + Text(": ")
            self.out.print(line + safe(_first_line(scenario.message)), soft_wrap=True)

    def criteria_line(self, criteria: list[CriterionResult]) -> None:
        self.out.print(", ".join(f"{c.id}={c.status}" for c in criteria))


#: `harness check` shows this many failures in full (what was sent, what came back), the rest in one line.
CHECK_FULL_FAILURES = 8
CHECK_EVIDENCE_LINES = 30


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else "(no message)"


def _clip_lines(text: str, limit: int) -> str:
    """The first and last lines of long evidence: how it started and where it went wrong."""
    lines = text.rstrip().splitlines()
    if len(lines) <= limit:
        return "\n".join(lines)
    head, tail = lines[: limit // 3], lines[-(limit - limit // 3) :]
    return "\n".join([*head, f"… {len(lines) - limit} lines not shown …", *tail])


class GradeProgress:
    """Live progress of one grade: the current stage with its latest detail, then a scenario bar."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("[dim]{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._stage: object | None = None
        self._scenarios: object | None = None
        self._failed = 0

    def __enter__(self) -> GradeProgress:
        self._progress.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish_stage()
        self._progress.__exit__(kind, value, tb)

    def _finish_stage(self) -> None:
        if self._stage is not None:
            self._progress.update(self._stage, total=1, completed=1, detail="")  # type: ignore[arg-type]
            self._stage = None

    def stage(self, name: str) -> None:
        self._finish_stage()
        if name == "run scenarios":
            return
        self._stage = self._progress.add_task(escape(name), total=None, detail="")

    def detail(self, text: str) -> None:
        if self._stage is not None:
            self._progress.update(self._stage, detail=escape(visible(text))[:70])  # type: ignore[arg-type]

    def collected(self, count: int) -> None:
        self._scenarios = self._progress.add_task("scenarios", total=count, detail="")

    def scenario(self, result: ScenarioResult) -> None:
        if self._scenarios is None:
            return
        if result.status in ("failed", "error"):
            self._failed += 1
        detail = f"{self._failed} not passed · {result.name}"
        self._progress.update(self._scenarios, advance=1, detail=escape(visible(detail))[:70])  # type: ignore[arg-type]
