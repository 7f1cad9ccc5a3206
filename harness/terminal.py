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
    "skipped": ("-", "dim"),
}
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
            points = "—" if criterion.status in ("error", "unknown") else f"{criterion.points:g}"
            row += [Text(f"{points}/{criterion.max_points:g}"), Text(f"{criterion.passed}/{decided}")]
            table.add_row(*row)
        self.out.print(table)
        if not for_candidate and result.skills:
            skills = Table(title="by skill", expand=False)
            skills.add_column("skill")
            skills.add_column("points", justify="right")
            for skill in result.skills:
                skills.add_row(skill.title, f"{skill.points:g}/{skill.max_points:g}")
            self.out.print(skills)
        self._total_line(result)
        self._failures(result, for_candidate=for_candidate)

    def _total_line(self, result: GradeResult) -> None:
        line = Text(f"total: {result.total:g}/100", style="bold")
        if result.undecided_points:
            line.append(f"  ({result.undecided_points:g} points undecided)", style="magenta")
        self.out.print(line)
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

    def criteria_line(self, criteria: list[CriterionResult]) -> None:
        self.out.print(", ".join(f"{c.id}={c.status}" for c in criteria))


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
