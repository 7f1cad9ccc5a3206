"""The `harness` command: parse, hand off, print. No grading logic lives here.

Exit codes: 0 graded (whatever the score); 1 `--fail-under` missed; 2 bad input or harness/infrastructure
error (one line, no traceback; the traceback of an unexpected error goes to a file).
"""

from __future__ import annotations

import functools
import os
import secrets
import signal
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

import click

from harness import __version__
from harness.errors import HarnessError, UsageError
from harness.report.outputs import ReportTargets
from harness.terminal import Terminal

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from harness.exercise import Exercise
    from harness.grading import GradeRequest, Observer
    from harness.report.model import GradeResult
    from harness.scenario.service import ExternalAddress

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_BELOW_THRESHOLD, EXIT_ERROR = 0, 1, 2


def abort(terminal: Terminal, message: str) -> NoReturn:
    terminal.error(message)
    raise SystemExit(EXIT_ERROR)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def handled(command: F) -> F:
    """Turn every error into one line and exit 2; SIGTERM behaves like Ctrl-C so cleanup runs."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        terminal = Terminal()
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            return command(*args, **kwargs)
        except HarnessError as exc:
            abort(terminal, exc.one_line())
        except KeyboardInterrupt:
            abort(terminal, "interrupted; the run's containers, networks and volumes were removed")
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            fd, path = tempfile.mkstemp(prefix="harness-crash-", suffix=".txt")
            with os.fdopen(fd, "w") as handle:
                handle.write(traceback.format_exc())
            abort(terminal, f"internal error: {type(exc).__name__}: {exc} (traceback in {path})")
        finally:
            signal.signal(signal.SIGTERM, previous)

    return wrapper  # type: ignore[return-value]


def _parse_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--address '{value}' is not HOST:PORT", hint="for example 127.0.0.1:6379")
    return host, int(port)


def _parse_named_port(value: str) -> tuple[str, int]:
    name, _, port = value.partition("=")
    if not name or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--port '{value}' is not NAME=PORT", hint="for example market_data=7401")
    return name, int(port)


def _external_address(
    exercise: Exercise, address: str | None, ports: tuple[str, ...]
) -> ExternalAddress | None:
    """`--address HOST:PORT` and any `--port NAME=PORT`, checked against the exercise's ports."""
    from harness.scenario.service import ExternalAddress

    if address is None:
        if ports:
            raise UsageError(
                "--port names a port of a service given by --address", hint="add --address HOST:PORT"
            )
        return None
    host, port = _parse_address(address)
    named = dict(_parse_named_port(value) for value in ports)
    return ExternalAddress.resolve(exercise.spec.service, host, port, named)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="harness")
def main() -> None:
    """Grade take-home exercises: build a submission in a sandbox, drive it with scripted clients, score
    it against a rubric.

    \b
    Hiring managers:   harness grade ./candidate-repo -e kv-store --html report.html
                       harness review harness-results      (score the manual criteria)
                       harness grade-batch cands/* -e kv-store --out batch; harness compare batch
    Candidates:        harness check . -e kv-store         (public scenarios only)
                       harness kit kv-store -o kit         (what to send a candidate)
    CI:                harness ci github -e kv-store       (a workflow that grades on push)
    The grader itself: harness calibrate kv-store --repeat 5  (kill matrix of mutants)
    Set-up problems:   harness doctor
    """


_exercise_option = click.option(
    "-e",
    "--exercise",
    required=True,
    metavar="NAME",
    help="Exercise name (see `harness exercises`) or folder.",
)
_out_option = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("harness-results"),
    show_default=True,
    help="Folder for results.json and the build and scenario logs.",
)


_REPORT_OPTIONS = (
    ("html", "Also write the HTML report (one self-contained file: scorecard, plots, evidence, logs)."),
    ("md", "Also write the Markdown report (for a pull-request comment)."),
    ("junit", "Also write JUnit XML (one testsuite per criterion, one testcase per scenario)."),
    ("gradescope", "Also write Gradescope's autograder results.json."),
    ("summary", 'Append the Markdown report to FILE, e.g. "$GITHUB_STEP_SUMMARY".'),
)


def report_options(command: F) -> F:
    """--html, --md, --junit, --gradescope and --summary FILE, shared by grade, check and report; the
    command receives them as keyword arguments named after the format (see ReportTargets)."""
    for name, text in reversed(_REPORT_OPTIONS):
        option = click.option(
            # Checked by check_targets, not click, so a bad path is one line like every other error.
            f"--{name}",
            type=click.Path(path_type=Path),
            metavar="FILE",
            help=text,
        )
        command = option(command)
    return command


def _run_grade(
    mode: Literal["grade", "check"],
    exercise_name: str,
    out: Path,
    *,
    seed: int | None,
    keyword: str | None,
    submission: str | None = None,
    ref: str | None = None,
    image: str | None = None,
    address: str | None = None,
    ports: tuple[str, ...] = (),
    fail_under: float | None = None,
    json_only: bool = False,
    reports: ReportTargets | None = None,
    repeat: int = 1,
) -> None:
    from harness.exercise import load_exercise
    from harness.grading import GradeRequest, grade
    from harness.report.json_report import write_result
    from harness.report.outputs import check_targets, write_reports
    from harness.report.text import json_for_ci

    terminal = Terminal()
    exercise = load_exercise(exercise_name)
    parsed_address = _external_address(exercise, address, ports)
    if submission is None and image is None and parsed_address is None:
        raise UsageError("nothing to grade", hint="give a PATH, --image REF or --address HOST:PORT")
    reports = reports or ReportTargets()
    check_targets(reports)
    request = GradeRequest(
        exercise=exercise,
        mode=mode,
        seed=seed if seed is not None else secrets.randbelow(2**31),
        submission=submission,
        ref=ref,
        image=image,
        address=parsed_address,
        keyword=keyword,
        logs_dir=out,
    )
    if repeat > 1:
        result = _graded_repeatedly(terminal, request, repeat, out, quiet=json_only)
    elif json_only:
        result = grade(request)
    else:
        with terminal.progress() as progress:
            result = grade(request, progress)
    write_result(result, out / "results.json")
    written = write_reports(result, reports, logs_dir=out)
    if json_only:
        click.echo(json_for_ci(result.model_dump_json(indent=2)))
    else:
        terminal.scorecard(result, for_candidate=mode == "check")
        terminal.note(f"results: {out / 'results.json'}  (seed {result.seed})")
        for path in written:
            click.echo(f"report: {path}")  # plain: a path is neither rich markup nor worth wrapping
    if not result.complete:
        raise HarnessError(
            "grading incomplete: a harness error left some criteria undecided",
            hint="see 'harness error' lines above; rerun, and report it if it repeats",
        )
    if fail_under is not None and result.total < fail_under:
        terminal.error(f"score {result.total:g} is below --fail-under {fail_under:g}")
        raise SystemExit(EXIT_BELOW_THRESHOLD)


def _graded_repeatedly(
    terminal: Terminal, request: GradeRequest, runs: int, out: Path, *, quiet: bool
) -> GradeResult:
    """Grade `runs` times; print the repeatability table; the median run stands for the grade."""
    from contextlib import nullcontext

    from harness.grading import SilentObserver
    from harness.killmatrix_view import print_repeat
    from harness.repeat import grade_repeatedly, median_run

    def observe(label: str) -> AbstractContextManager[Observer]:
        if quiet:
            return nullcontext(SilentObserver())
        terminal.note(f"grading, {label}")
        return terminal.progress()

    results, report = grade_repeatedly(request, runs, out, observe)
    if not quiet:
        print_repeat(terminal.out, report, f"{runs} grades of one submission (seed {request.seed})")
        terminal.note(f"repeatability: {out / 'repeatability.json'}; the median run is shown below")
    return median_run(results).model_copy(
        update={"repeated_runs": runs, "flaky_criteria": report.flaky_criteria}
    )


@main.command()
@click.argument("submission", required=False, metavar="[PATH|URL|ARCHIVE]")
@_exercise_option
@click.option("--ref", help="Git branch, tag or commit to grade (for git repositories and URLs).")
@click.option("--image", metavar="REF", help="Grade a prebuilt image instead of building source.")
@click.option("--seed", type=int, help="Seed for randomised scenarios (recorded in the results).")
@click.option("-k", "keyword", metavar="EXPR", help="Only scenarios matching this pytest -k expression.")
@_out_option
@click.option("--fail-under", type=float, metavar="N", help="Exit 1 when the total is below N (0-100).")
@click.option(
    "--json", "json_only", is_flag=True, help="Print results.json to stdout instead of the scorecard."
)
@click.option(
    "--repeat",
    type=click.IntRange(1, 50),
    default=1,
    show_default=True,
    metavar="N",
    help="Grade N times with one seed and report per-criterion pass rates and flaky criteria "
    "(run-K/ and repeatability.json under --out); the median run is the result.",
)
@report_options
@handled
def grade(
    submission: str | None,
    exercise: str,
    ref: str | None,
    image: str | None,
    seed: int | None,
    keyword: str | None,
    out: Path,
    fail_under: float | None,
    json_only: bool,
    repeat: int,
    **reports: Path | None,
) -> None:
    """Grade a submission on every scenario, public and hidden.

    PATH may be a folder (with a Dockerfile, or a Cargo project the harness builds itself), a git
    repository or URL (with --ref), or a .tar.gz/.zip archive. Exit 0 when graded, whatever the score.
    """
    _run_grade(
        "grade",
        exercise,
        out,
        seed=seed,
        keyword=keyword,
        submission=submission,
        ref=ref,
        image=image,
        fail_under=fail_under,
        json_only=json_only,
        reports=ReportTargets(**reports),
        repeat=repeat,
    )


@main.command()
@click.argument("submission", required=False, default=None, metavar="[PATH]")
@_exercise_option
@click.option(
    "--address",
    metavar="HOST:PORT",
    help="Check a service you already run (e.g. `cargo run`) instead of building PATH. "
    "Scenarios that must kill or restart the service are skipped.",
)
@click.option(
    "--port",
    "ports",
    metavar="NAME=PORT",
    multiple=True,
    help="With --address: where the service's other port NAME listens (repeatable). "
    "Default: the port number in the exercise's exercise.yaml.",
)
@click.option("--seed", type=int, help="Seed for randomised scenarios.")
@click.option("-k", "keyword", metavar="EXPR", help="Only scenarios matching this pytest -k expression.")
@_out_option
@report_options
@handled
def check(
    submission: str | None,
    exercise: str,
    address: str | None,
    ports: tuple[str, ...],
    seed: int | None,
    keyword: str | None,
    out: Path,
    **reports: Path | None,
) -> None:
    """Self-check your work on the public scenarios, with what was sent, what came back, and a command
    to reproduce each failure.

    \b
    harness check . -e kv-store                       build and check the project in this folder
    harness check -e kv-store --address 127.0.0.1:6379   check a service you started yourself
    harness check -e matching-engine --address 127.0.0.1:7400 --port market_data=7401
                                                      ... and where its second port listens
    """
    if submission is None and address is None:
        submission = "."
    _run_grade(
        "check",
        exercise,
        out,
        seed=seed,
        keyword=keyword,
        submission=submission if address is None else None,
        address=address,
        ports=ports,
        reports=ReportTargets(**reports),
    )


@main.command()
@handled
def exercises() -> None:
    """List the exercises with their skills, time box and scenario counts."""
    from rich.table import Table

    from harness.exercise import list_exercises

    table = Table(title="exercises")
    for column in ("name", "title", "time box", "skills", "public", "hidden"):
        table.add_column(column)
    for exercise in list_exercises():
        table.add_row(
            exercise.name,
            exercise.spec.title,
            exercise.spec.time_box,
            ", ".join(exercise.spec.skills),
            str(_count_scenarios(exercise.scenario_files("public"))),
            str(_count_scenarios(exercise.scenario_files("hidden"))),
        )
    Terminal().out.print(table)


def _count_scenarios(files: list[Path]) -> int:
    """Test functions, counted without importing the files (cheap, and runs no scenario code)."""
    import ast

    count = 0
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        count += sum(
            isinstance(node, ast.FunctionDef) and node.name.startswith("test_") for node in ast.walk(tree)
        )
    return count


@main.command()
@handled
def doctor() -> None:
    """Check that this machine can grade: Docker engine, harness images, toolchain. Exit 0 or 2."""
    from harness.doctor import run_checks

    terminal = Terminal()
    ok = True
    for check in run_checks():
        mark = "[green]ok[/]" if check.ok else ("[yellow]--[/]" if check.optional else "[red]FAIL[/]")
        terminal.out.print(f"{mark}  {check.name}: {check.detail}")
        ok = ok and (check.ok or check.optional)
    raise SystemExit(EXIT_OK if ok else EXIT_ERROR)


@main.command()
@handled
def prepare() -> None:
    """Create the harness's images now (builder and runtime) instead of on the first grade."""
    from harness.sandbox.docker_client import connect
    from harness.sandbox.images import ensure_images

    terminal = Terminal()
    with terminal.progress() as progress:
        progress.stage("prepare images")
        images = ensure_images(connect(), progress.detail)
    terminal.note(f"builder: {images.builder}\nruntime: {images.runtime}")


@main.command()
@click.argument("exercise", metavar="EXERCISE")
@click.option(
    "--mutants/--baseline-only",
    default=True,
    show_default=True,
    help="Grade the reference and every mutant and judge the kill matrix, or only measure the baseline.",
)
@click.option(
    "--repeat", type=click.IntRange(1, 50), default=1, show_default=True, help="Grade the reference N times."
)
@click.option(
    "--only", multiple=True, metavar="MUTANT", help="Only this mutant (repeatable); skips the coverage check."
)
@click.option("--seed", type=int, help="Seed for every grade of the run (one seed: repeats must agree).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("harness-calibration"),
    show_default=True,
    help="Folder for calibration.json and every grade's results.",
)
@handled
def calibrate(
    exercise: str, mutants: bool, repeat: int, only: tuple[str, ...], seed: int | None, out: Path
) -> None:
    """Prove EXERCISE's grader on this machine: measure the reference's performance baseline, grade the
    reference (N times with --repeat) and every mutant in exercises/EXERCISE/mutants/, and print the kill
    matrix.

    \b
    Exit 1 when the grader is not proven: the reference fails or flips a criterion, its total moves more
    than 2 points across repeats, a mutant passes a criterion it must fail or fails one its mistake does
    not explain, or an automated criterion is failed by no mutant.

    Performance criteria are graded as ratios against the baseline measured here, never against absolute
    numbers; `harness grade` measures it on first use and again when it is a week old, the machine
    differs, or the reference or its load profiles change.
    """
    from harness.calibration import calibrate as measure_reference
    from harness.calibration import describe
    from harness.exercise import load_exercise
    from harness.killmatrix import run_kill_matrix
    from harness.killmatrix_view import print_matrix
    from harness.sandbox import labels
    from harness.sandbox.cleanup import sweep_run
    from harness.sandbox.docker_client import connect
    from harness.terminal import GradeProgress

    terminal = Terminal()
    loaded = load_exercise(exercise)
    client = connect()
    if loaded.spec.performance is not None:
        run_id = labels.new_run_id()
        try:
            with terminal.progress() as progress:
                progress.stage("build the reference and measure its performance")
                baseline = measure_reference(client, loaded, run_id)
        finally:
            sweep_run(client, run_id)
        terminal.note(describe(baseline))
    if not mutants:
        return

    def observe(label: str) -> GradeProgress:
        terminal.note(f"grading {label}")
        return terminal.progress()

    matrix = run_kill_matrix(
        loaded,
        out,
        seed=seed if seed is not None else secrets.randbelow(2**31),
        repeat=repeat,
        only=only,
        observe=observe,
    )
    print_matrix(terminal.out, matrix)
    terminal.note(f"kill matrix: {out / 'calibration.json'}")
    if matrix.problems:
        raise SystemExit(EXIT_BELOW_THRESHOLD)


@main.command()
@click.option("--all", "everything", is_flag=True, help="Also remove resources of runs still in progress.")
@click.option(
    "--caches",
    is_flag=True,
    help="Also remove the compiled-dependency seeds (the next build of a reference makes them again).",
)
@handled
def gc(everything: bool, caches: bool) -> None:
    """Remove containers, networks and volumes left by harness runs whose process is gone."""
    from harness.sandbox.cleanup import sweep_stale
    from harness.sandbox.docker_client import connect
    from harness.sandbox.warm_start import remove_seeds

    client = connect()
    report = sweep_stale(client, everything=everything)
    Terminal().note(
        f"removed {report.containers} container(s), {report.networks} network(s), {report.volumes} volume(s)"
    )
    if caches:
        Terminal().note(f"removed {remove_seeds(client)} dependency seed(s)")


# Commands that live in their own modules, registered here so `harness --help` lists them all.
# `harness report` (it registers itself on main):
import harness.cli_report  # noqa: E402, F401
from harness.cli_review import review  # noqa: E402  (`harness review`: manual criteria)

main.add_command(review)

from harness.cli_flows import register_flows  # noqa: E402  (hiring-manager, candidate and CI flows)

register_flows(main, handled)


if __name__ == "__main__":
    # `python -m harness.cli` runs this file as __main__, while the command modules above register on
    # `harness.cli.main`: run that one, so every command is there.
    from harness.cli import main as registered

    registered()
