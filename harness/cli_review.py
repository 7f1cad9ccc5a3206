"""`harness review RESULTS`: a reviewer scores the manual criteria of a graded submission.

Interactive by default (shows each pending criterion, its levels and the evidence, then asks for a level
and a mandatory note); `--set ID=LEVEL --note TEXT` does the same without a terminal. Each decision is
saved as soon as it is made (docs/rubrics.md, "Review").
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click
from rich.panel import Panel
from rich.prompt import Prompt
from rich.table import Table
from rich.text import Text

from harness.cli import handled
from harness.errors import UsageError
from harness.report.json_report import read_result
from harness.report.model import CriterionResult, GradeResult
from harness.report.quality import QualityReport
from harness.rubric.review import (
    manual_criteria,
    manual_criterion,
    pending_criteria,
    results_path,
    save_review,
)
from harness.terminal import Terminal, safe, visible

SKIP = "skip"


def _pairs(assignments: tuple[str, ...], notes: tuple[str, ...]) -> list[tuple[str, str, str]]:
    if len(assignments) != len(notes):
        raise UsageError(
            f"{len(assignments)} --set but {len(notes)} --note: every decision needs its note",
            hint='e.g. --set design-readability=solid --note "clear modules; unwrap() in aof.rs"',
        )
    pairs = []
    for assignment, note in zip(assignments, notes, strict=True):
        criterion, sep, level = assignment.partition("=")
        if not sep or not criterion or not level:
            raise UsageError(f"--set '{assignment}' is not CRITERION=LEVEL")
        pairs.append((criterion.strip(), level.strip(), note))
    return pairs


def _quality_lines(quality: QualityReport | None) -> Text:
    if quality is None:
        return Text("no code-quality facts (not a Cargo build, or not gathered)\n", style="dim")

    def fact(value: object, label: str) -> str:
        return f"{label}: {'unknown' if value is None else value}"

    failed = "?" if quality.tests_failed is None else quality.tests_failed
    tests = "unknown" if quality.tests_passed is None else f"{quality.tests_passed} passed, {failed} failed"
    body = Text()
    body.append(
        " · ".join(
            [
                fact(quality.clippy_warnings, "clippy warnings"),
                f"tests: {tests}",
                fact(
                    None if quality.fmt_clean is None else ("clean" if quality.fmt_clean else "not clean"),
                    "fmt",
                ),
                fact(quality.unsafe_blocks, "unsafe blocks"),
                fact(quality.lines_of_code, "lines of code"),
            ]
        )
        + "\n"
    )
    notes = [quality.readme, *quality.design_notes] if quality.readme else list(quality.design_notes)
    body.append(f"notes: {visible(', '.join(n for n in notes if n)) or 'none found'}\n")
    for warning in quality.clippy_top:
        body.append(f"  {visible(warning.lint)} at {visible(warning.location)}: {visible(warning.message)}\n")
    for reason in quality.unknown:
        body.append(f"  unknown: {visible(reason)}\n", style="blue")
    return body


def show_criterion(terminal: Terminal, result: GradeResult, criterion: CriterionResult) -> None:
    levels = Table(expand=False, show_header=True)
    levels.add_column("level")
    levels.add_column("points", justify="right")
    levels.add_column("what was observed")
    for level in criterion.levels:
        levels.add_row(level.id, f"{criterion.max_points * level.fraction:g}", level.description)
    header = Text(f"{criterion.title}\n", style="bold")
    header.append(
        f"{criterion.id} · skill {criterion.skill} · {criterion.max_points:g} points\n", style="dim"
    )
    if criterion.description:
        header.append(criterion.description + "\n")
    if criterion.review is not None:
        header.append(
            f"already reviewed: {criterion.review.level} by {criterion.review.reviewer} "
            f"({criterion.review.at}): {criterion.review.note}\n",
            style="yellow",
        )
    terminal.out.print(Panel(header, title="criterion", title_align="left"))
    terminal.out.print(levels)
    evidence = Text(f"submission: {visible(result.submission.source)}\n")
    for check in criterion.checks:
        evidence.append(f"{visible(check.describe())}\n")
    evidence.append_text(_quality_lines(result.quality))
    terminal.out.print(Panel(evidence, title="evidence", title_align="left"))


def _ask_note(terminal: Terminal, level: str) -> str:
    while True:
        note = Prompt.ask(f"Note: what did you see that earns '{level}'? (required)", console=terminal.out)
        if note.strip():
            return note
        terminal.out.print(Text("a note is mandatory: it is the evidence for the level", style="red"))


def _summary_line(terminal: Terminal, result: GradeResult) -> None:
    line = Text(f"total: {result.total:g}/100", style="bold")
    if result.pending_points:
        line.append(f"  ({result.pending_points:g} points await review)", style="blue")
    if result.seniority is not None:
        line.append(f"  level: {result.seniority.level} ({result.seniority.reason})")
    terminal.out.print(line)


def _interactive(
    terminal: Terminal, path: Path, result: GradeResult, wanted: list[CriterionResult], reviewer: str | None
) -> GradeResult:
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask in", hint="use --set CRITERION=LEVEL --note TEXT")
    if not wanted:
        terminal.note("nothing to review: no manual criterion is pending (use --criterion ID to revisit one)")
        return result
    name = reviewer or str(Prompt.ask("Reviewer", default=getpass.getuser(), console=terminal.out))
    for index, criterion in enumerate(wanted, 1):
        terminal.out.print(Text(f"\n[{index}/{len(wanted)}]", style="bold"))
        show_criterion(terminal, result, criterion)
        choices = [lv.id for lv in criterion.levels]
        level = Prompt.ask("Level", choices=[*choices, SKIP], console=terminal.out)
        if level == SKIP:
            terminal.out.print(Text(f"{criterion.id}: left pending", style="blue"))
            continue
        result = save_review(path, criterion.id, level, _ask_note(terminal, level), name)
        terminal.out.print(safe(f"saved: {criterion.id} = {level}"))
    return result


@click.command()
@click.argument("results", type=click.Path(path_type=Path), metavar="RESULTS")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="CRITERION=LEVEL",
    help="Decide without prompting; repeat for several criteria, each with its own --note.",
)
@click.option("--note", "notes", multiple=True, metavar="TEXT", help="The evidence for the matching --set.")
@click.option(
    "--reviewer", metavar="NAME", help="Who decides (default: asked, or your login name with --set)."
)
@click.option(
    "--criterion", "only", multiple=True, metavar="ID", help="Review these manual criteria, even if reviewed."
)
@handled
def review(
    results: Path,
    assignments: tuple[str, ...],
    notes: tuple[str, ...],
    reviewer: str | None,
    only: tuple[str, ...],
) -> None:
    """Score the manual criteria of a graded submission (design, readability, written notes).

    RESULTS is a results.json or the folder of a grade. Each criterion is shown with its levels and the
    evidence gathered (code-quality facts among it); choose a level and write a note saying what you saw.
    Scores, skills and the seniority level are recomputed and saved at once; automated results are kept.

    \b
    harness review harness-results/
    harness review harness-results/ --set design-readability=solid --note "clear modules; unwrap() in aof.rs"
    """
    terminal = Terminal()
    path = results_path(results)
    result = read_result(path)
    if not manual_criteria(result):
        raise UsageError(f"{path} has no manual criteria to review")
    if notes and not assignments:
        raise UsageError("--note without --set", hint="give --set CRITERION=LEVEL for each --note")
    if assignments:
        name = reviewer or getpass.getuser()
        for criterion, level, note in _pairs(assignments, notes):
            result = save_review(path, criterion, level, note, name)
            terminal.out.print(safe(f"saved: {criterion} = {level}"))
    else:
        wanted = [manual_criterion(result, c) for c in only] if only else pending_criteria(result)
        result = _interactive(terminal, path, result, wanted, reviewer)
    _summary_line(terminal, result)
