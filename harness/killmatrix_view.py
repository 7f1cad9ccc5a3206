"""The kill matrix and the repeatability report as terminal tables (rich).

Rows are criteria; the first column is the reference over its runs, then one column per mutant, headed
by its number (the legend below names it: twenty mutant names do not fit across a laptop screen).
A cell says what happened *and* whether it was expected: a kill the manifest asks for is green, a kill
it allows is yellow, a kill nothing explains or a missing kill is red.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.killmatrix import KILLED, KillMatrix, MutantColumn
from harness.repeat import CriterionRepeat, RepeatReport


def _mutant_cell(mutant: MutantColumn, criterion: str) -> Text:
    status = mutant.statuses.get(criterion, "unknown")
    killed = status in KILLED
    if criterion in mutant.must_fail:
        return Text("✘", style="bold green") if killed else Text("○", style="bold red")
    if killed:
        return Text("✘", style="yellow") if criterion in mutant.may_fail else Text("✘", style="bold red")
    if status == "error":
        return Text("!", style="magenta")
    return Text("·" if status == "passed" else "?", style="dim")


def _reference_cell(repeated: CriterionRepeat) -> Text:
    runs = len(repeated.statuses)
    passed = sum(s == "passed" for s in repeated.statuses)
    if any(s in (*KILLED, "error") for s in repeated.statuses):
        return Text(f"{passed}/{runs}", style="bold red")
    if passed == 0:
        return Text("?", style="blue")
    return Text(f"✔ {passed}/{runs}" if runs > 1 else "✔", style="green")


def matrix_table(matrix: KillMatrix) -> Table:
    table = Table(title=f"kill matrix: {matrix.exercise}", title_justify="left", pad_edge=False)
    table.add_column("criterion")
    table.add_column("ref", justify="center")
    for index, _ in enumerate(matrix.mutants, 1):
        table.add_column(str(index), justify="center")
    table.add_column("killed by", justify="right")
    reference = {c.id: c for c in matrix.reference.criteria}
    for criterion in matrix.criteria:
        kills = len(matrix.killed_by[criterion])
        unkilled = criterion in matrix.automated and kills == 0
        table.add_row(
            Text(criterion, style="bold red" if unkilled else ""),
            _reference_cell(reference[criterion]) if criterion in reference else Text("?"),
            *(_mutant_cell(m, criterion) for m in matrix.mutants),
            Text(str(kills), style="bold red" if unkilled else ""),
        )
    return table


def legend(matrix: KillMatrix) -> Text:
    text = Text()
    for index, mutant in enumerate(matrix.mutants, 1):
        text.append(f"{index:>2} ", style="bold")
        text.append(mutant.name)
        if mutant.description:
            text.append(f": {mutant.description}", style="dim")
        text.append("\n")
    text.append("✘ ", style="bold green")
    text.append("killed as required  ")
    text.append("✘ ", style="yellow")
    text.append("allowed side effect  ")
    text.append("✘ ", style="bold red")
    text.append("unexplained  ")
    text.append("○ ", style="bold red")
    text.append("should have failed  · passed  ? undecided  ! harness error")
    return text


def repeat_table(report: RepeatReport, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("criterion")
    table.add_column("pass rate", justify="right")
    table.add_column("points", justify="right")
    table.add_column("runs")
    for criterion in report.criteria:
        rate = "—" if criterion.pass_rate is None else f"{criterion.pass_rate:.0%}"
        points = "—" if criterion.points is None else f"{criterion.points.low:g} to {criterion.points.high:g}"
        marks = " ".join(criterion.statuses)
        style = "bold red" if criterion.flaky else ""
        table.add_row(
            Text(criterion.id + (" (flaky)" if criterion.flaky else ""), style=style), rate, points, marks
        )
    return table


def print_repeat(console: Console, report: RepeatReport, title: str) -> None:
    console.print(repeat_table(report, title))
    totals = ", ".join(f"{t:g}" for t in report.totals)
    console.print(
        f"totals over {report.runs} runs (seeds {sorted(set(report.seeds))}): {totals}; "
        f"spread {report.total_spread:g}"
    )
    for flip in report.flips:
        console.print(Text(f"flipped: {flip.nodeid}: {' '.join(flip.statuses)}", style="red"))


def print_matrix(console: Console, matrix: KillMatrix) -> None:
    print_repeat(console, matrix.reference, "the reference, run after run")
    if matrix.mutants:
        console.print(matrix_table(matrix))
        console.print(legend(matrix))
    if matrix.problems:
        console.print(Text(f"{len(matrix.problems)} problem(s): the grader is not proven", style="bold red"))
        for problem in matrix.problems:
            console.print(Text(f"  • {problem}"))
    else:
        console.print(
            Text("every criterion can fail, fails for the right reason, and repeats", style="bold green")
        )
