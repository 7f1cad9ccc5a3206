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
from typing import Any, Literal, NoReturn, TypeVar

import click

from harness import __version__
from harness.errors import HarnessError, UsageError
from harness.terminal import Terminal

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


def _parse_address(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--address '{value}' is not HOST:PORT", hint="for example 127.0.0.1:6379")
    return host, int(port)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="harness")
def main() -> None:
    """Grade take-home exercises: build a submission in a sandbox, drive it with scripted clients, score
    it against a rubric.

    \b
    Hiring managers:   harness grade ./candidate-repo -e kv-store
    Candidates:        harness check . -e kv-store         (public scenarios only)
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
    fail_under: float | None = None,
    json_only: bool = False,
) -> None:
    from harness.exercise import load_exercise
    from harness.grading import GradeRequest, grade
    from harness.report.json_report import write_result

    terminal = Terminal()
    exercise = load_exercise(exercise_name)
    parsed_address = _parse_address(address)
    if submission is None and image is None and parsed_address is None:
        raise UsageError("nothing to grade", hint="give a PATH, --image REF or --address HOST:PORT")
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
    if json_only:
        result = grade(request)
    else:
        with terminal.progress() as progress:
            result = grade(request, progress)
    write_result(result, out / "results.json")
    if json_only:
        # Azure Pipelines acts on "##vso[" anywhere in a line; "\u005b" is the same JSON, inert there.
        click.echo(result.model_dump_json(indent=2).replace("##vso[", "##vso\\u005b"))
    else:
        terminal.scorecard(result, for_candidate=mode == "check")
        terminal.note(f"results: {out / 'results.json'}  (seed {result.seed})")
    if not result.complete:
        raise HarnessError(
            "grading incomplete: a harness error left some criteria undecided",
            hint="see 'harness error' lines above; rerun, and report it if it repeats",
        )
    if fail_under is not None and result.total < fail_under:
        terminal.error(f"score {result.total:g} is below --fail-under {fail_under:g}")
        raise SystemExit(EXIT_BELOW_THRESHOLD)


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
@click.option("--seed", type=int, help="Seed for randomised scenarios.")
@click.option("-k", "keyword", metavar="EXPR", help="Only scenarios matching this pytest -k expression.")
@_out_option
@handled
def check(
    submission: str | None,
    exercise: str,
    address: str | None,
    seed: int | None,
    keyword: str | None,
    out: Path,
) -> None:
    """Self-check your work on the public scenarios, with what was sent, what came back, and a command
    to reproduce each failure.

    \b
    harness check . -e kv-store                       build and check the project in this folder
    harness check -e kv-store --address 127.0.0.1:6379   check a service you started yourself
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
@handled
def calibrate(exercise: str) -> None:
    """Measure EXERCISE's reference solution on this machine now.

    Performance criteria are graded as ratios against this baseline, never against absolute numbers.
    `harness grade` measures it on first use and again when it is a week old, the machine differs, or
    the reference or its load profiles change; run this to refresh it on purpose.
    """
    from harness.calibration import calibrate as measure_reference
    from harness.calibration import describe
    from harness.exercise import load_exercise
    from harness.sandbox import labels
    from harness.sandbox.cleanup import sweep_run
    from harness.sandbox.docker_client import connect

    terminal = Terminal()
    client = connect()
    run_id = labels.new_run_id()
    try:
        with terminal.progress() as progress:
            progress.stage("build the reference and measure it")
            baseline = measure_reference(client, load_exercise(exercise), run_id)
    finally:
        sweep_run(client, run_id)
    terminal.note(describe(baseline))


@main.command()
@click.option("--all", "everything", is_flag=True, help="Also remove resources of runs still in progress.")
@handled
def gc(everything: bool) -> None:
    """Remove containers, networks and volumes left by harness runs whose process is gone."""
    from harness.sandbox.cleanup import sweep_stale
    from harness.sandbox.docker_client import connect

    report = sweep_stale(connect(), everything=everything)
    Terminal().note(
        f"removed {report.containers} container(s), {report.networks} network(s), {report.volumes} volume(s)"
    )


# Commands that live in their own modules, registered here so `harness --help` lists them all.
# (report commands)
# (review command)
# (hiring-manager, candidate and CI flows)


if __name__ == "__main__":
    main()
