"""Commands of the three flows around grading: the hiring manager's (`grade-batch`, `compare`), the
candidate's (`kit`) and CI's (`ci github|gitlab`). Parse, hand off, print; the work is in batch.py,
compare.py, kit.py and ci_templates.py.

harness/cli.py calls `register_flows(main, handled)` where it registers commands of other modules. This
module does not import harness.cli, so it works whichever is imported first, and under
`python -m harness.cli` (where the group lives in `__main__`, not in `harness.cli`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from harness.errors import UsageError
from harness.terminal import Terminal

F = TypeVar("F", bound=Callable[..., Any])

EXIT_NOT_ALL_GRADED = 2


@click.command("grade-batch")
@click.argument("submissions", nargs=-1, required=True, metavar="SUBMISSION...")
@click.option("-e", "--exercise", required=True, metavar="NAME", help="Exercise name or folder.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the results: OUT/<name>/results.json per submission.",
)
@click.option("--jobs", type=int, default=1, show_default=True, help="Grades running at once.")
@click.option("--seed", type=int, help="One seed for every grade (default: a new one per grade).")
@click.option("-k", "keyword", metavar="EXPR", help="Only scenarios matching this pytest -k expression.")
@click.option("--force", is_flag=True, help="Grade again even submissions with a complete result.")
@click.option("--html", metavar="NAME", help="Also write the HTML report as OUT/<name>/NAME.")
@click.option("--md", metavar="NAME", help="Also write the Markdown report as OUT/<name>/NAME.")
@click.option("--junit", metavar="NAME", help="Also write JUnit XML as OUT/<name>/NAME.")
@click.option("--gradescope", metavar="NAME", help="Also write Gradescope's results as OUT/<name>/NAME.")
def grade_batch(
    submissions: tuple[str, ...],
    exercise: str,
    out: Path,
    jobs: int,
    seed: int | None,
    keyword: str | None,
    force: bool,
    **reports: str | None,
) -> None:
    """Grade many submissions, each in its own `harness grade` process, with one progress view.

    Each submission's results land in OUT/<name>/ (name: from its path, made unique). A rerun skips
    submissions whose complete result came from the same source; interrupting loses no finished result.
    Exit 0 when all were graded, 2 when any could not be (they are listed).

    \b
    harness grade-batch cands/* -e kv-store --out batch --jobs 2
    harness compare batch --md ranking.md
    """
    from harness.batch import BatchSettings, BatchView, plan, run_batch
    from harness.exercise import load_exercise

    loaded = load_exercise(exercise)  # bad input fails here, once, not once per submission
    settings = BatchSettings(
        exercise=str(loaded.root) if (Path(exercise) / "exercise.yaml").is_file() else exercise,
        out=out.resolve(),
        jobs=jobs,
        seed=seed,
        keyword=keyword,
        force=force,
        reports={k: v for k, v in reports.items() if v is not None},
    )
    entries = plan(submissions, settings)
    terminal = Terminal()
    with BatchView(terminal.out, entries) as view:
        outcomes = run_batch(entries, settings, loaded.name, view)
    kept = [o for o in outcomes if o.status == "kept"]
    failed = [o for o in outcomes if o.status == "not graded"]
    terminal.note(
        f"{len(outcomes) - len(failed) - len(kept)} graded, {len(kept)} kept from an earlier run, "
        f"{len(failed)} not graded; results in {settings.out}"
    )
    for outcome in failed:
        terminal.error(f"{outcome.entry.name} ({outcome.entry.source}): {outcome.reason}")
    if failed:
        raise SystemExit(EXIT_NOT_ALL_GRADED)
    terminal.note(f"ranking: harness compare {out}")


@click.command()
@click.argument("folder", type=click.Path(path_type=Path), metavar="DIR")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Write CSV here.")
@click.option("--md", "md_path", type=click.Path(dir_okay=False, path_type=Path), help="Write Markdown here.")
def compare(folder: Path, csv_path: Path | None, md_path: Path | None) -> None:
    """Rank the results in DIR (as `harness grade-batch --out DIR` writes them): total, points per
    skill, undecided points, key metrics, and whether each grade is complete."""
    from rich.measure import Measurement

    from harness.compare import load_results, rank, table, to_csv, to_markdown
    from harness.report.json_report import write_atomically

    ranking = rank(load_results(folder))
    terminal = Terminal()
    view, legend = table(ranking)
    # As wide as the table needs: a squeezed ranking would cut names and numbers to "…".
    needed = Measurement.get(terminal.out, terminal.out.options, view).maximum
    terminal.out.print(view, width=max(terminal.out.width, needed))
    terminal.note(legend)
    for path, text in ((csv_path, to_csv), (md_path, to_markdown)):
        if path is not None:
            write_atomically(path, text(ranking))
            terminal.note(f"wrote {path}")


@click.command()
@click.argument("exercise", metavar="EXERCISE")
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder to create (must not exist, or be empty).",
)
def kit(exercise: str, out: Path) -> None:
    """Export EXERCISE's candidate kit: the brief, the public scenarios, a starter project and what
    `harness check` needs to run them. Nothing hidden is included.

    \b
    harness kit kv-store -o kv-store-kit
    harness check kv-store-kit/starter -e kv-store-kit     (what the candidate runs)
    """
    from harness.exercise import load_exercise
    from harness.kit import export_kit

    written = export_kit(load_exercise(exercise), out)
    Terminal().note(f"kit written to {written}; the candidate starts with {written / 'KIT.md'}")


@click.group()
def ci() -> None:
    """Write a CI configuration that installs the harness and grades the repository on every push."""


def _ci_options(command: F) -> F:
    options = [
        click.option("-e", "--exercise", required=True, metavar="NAME", help="Exercise to grade."),
        click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write."),
        click.option("--fail-under", type=float, default=70.0, show_default=True, help="Minimum total."),
        click.option("--submission", default=".", show_default=True, help="Folder to grade, in the repo."),
        click.option("--harness-repo", metavar="URL", help="Git URL CI clones the harness from."),
        click.option("--harness-ref", default="main", show_default=True, help="Branch or tag of it."),
        click.option("--force", is_flag=True, help="Replace an existing file."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _write_ci(provider: str, options: dict[str, Any]) -> None:
    from harness.ci_templates import CiSettings, default_harness_repo, write_config
    from harness.exercise import load_exercise

    repo = options["harness_repo"] or default_harness_repo()
    if repo is None:
        raise UsageError(
            "this harness has no git remote to clone it from in CI",
            hint="pass --harness-repo URL",
        )
    settings = CiSettings(
        exercise=load_exercise(options["exercise"]).name,
        harness_repo=repo,
        harness_ref=options["harness_ref"],
        submission=options["submission"],
        fail_under=options["fail_under"],
    )
    path = write_config(provider, settings, options["out"], force=options["force"])  # type: ignore[arg-type]
    Terminal().note(f"wrote {path}: it installs the harness from {repo} and grades on every push")


@ci.command()
@_ci_options
def github(**options: Any) -> None:
    """Write a GitHub Actions workflow (default .github/workflows/harness.yml)."""
    _write_ci("github", options)


@ci.command()
@_ci_options
def gitlab(**options: Any) -> None:
    """Write a GitLab CI configuration (default .gitlab-ci.yml)."""
    _write_ci("gitlab", options)


def register_flows(group: click.Group, handled: Callable[[Any], Any]) -> None:
    """Add the flow commands to `group`, each callback behind `handled` (one-line errors, exit 2).

    Called once per import of harness.cli, which `python -m harness.cli` makes twice (as `__main__` and
    as `harness.cli`); the callbacks are wrapped only the first time."""
    for command in (grade_batch, compare, kit, github, gitlab):
        if command.callback is not None and not hasattr(command.callback, "__wrapped__"):
            command.callback = handled(command.callback)
    for command in (grade_batch, compare, kit, ci):
        group.add_command(command)
