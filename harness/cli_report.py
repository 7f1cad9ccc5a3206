"""`harness report RESULTS`: render a results.json written by `grade` or `check` as HTML, Markdown, JUnit
XML or Gradescope's results.json, without grading again.

It registers itself on the `harness` group (harness/cli.py imports this module where the commands that
live in their own modules are registered), so either module may be imported first.
"""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli import handled, main, report_options
from harness.errors import UsageError


def _results_path(results: Path) -> Path:
    """RESULTS may be the results.json itself or the --out folder that holds it."""
    if results.is_dir():
        inside = results / "results.json"
        if not inside.is_file():
            raise UsageError(f"{results} holds no results.json", hint="give the --out folder of a grade")
        return inside
    return results


@main.command()
@click.argument("results", type=click.Path(path_type=Path), metavar="RESULTS")
@report_options
@handled
def report(results: Path, **reports: Path | None) -> None:
    """Write reports from RESULTS (a results.json, or the --out folder of a grade or check).

    \b
    harness report harness-results --html report.html --junit junit.xml
    harness report harness-results/results.json --summary "$GITHUB_STEP_SUMMARY"
    """
    from harness.report.json_report import read_result
    from harness.report.outputs import ReportTargets, check_targets, write_reports

    targets = ReportTargets(**reports)
    if not targets.requested():
        raise UsageError(
            "no report asked for", hint="give one or more of --html, --md, --junit, --gradescope, --summary"
        )
    check_targets(targets)
    path = _results_path(results)
    result = read_result(path)
    for written in write_reports(result, targets, logs_dir=path.parent):
        click.echo(f"report: {written}")  # plain: a path is neither rich markup nor worth wrapping
