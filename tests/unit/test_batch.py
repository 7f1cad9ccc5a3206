"""grade-batch without Docker: names, the resume decision, the grade command, and reading the live
progress of `harness grade` as it renders it (terminal.GradeProgress on a terminal)."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from harness.batch import (
    BatchEntry,
    BatchSettings,
    GradeState,
    GradeWatch,
    Stamp,
    base_name,
    fingerprint,
    finished_result,
    grade_command,
    plan,
    unique_names,
)
from harness.cli import main
from harness.errors import UsageError
from harness.report.json_report import write_result
from harness.report.model import ScenarioResult
from harness.terminal import GradeProgress

from .results_factory import sample_result


@pytest.mark.parametrize(
    ("source", "name"),
    [
        pytest.param("cands/alice/", "alice", id="folder"),
        pytest.param("bob.tar.gz", "bob", id="tar-gz"),
        pytest.param("carol.zip", "carol", id="zip"),
        pytest.param("https://git.example/team/dave.git", "dave", id="git-url"),
        pytest.param("git@git.example:team/erin.git", "erin", id="scp-url"),
        pytest.param("cands/Fr ank (v2)", "Fr-ank-v2", id="spaces-and-brackets"),
        pytest.param("cands/..hidden", "hidden", id="no-leading-dot"),
        pytest.param("cands/!!!", "submission", id="nothing-left"),
        pytest.param("a/" + "x" * 300, "x" * 64, id="long"),
    ],
)
def test_names_come_from_the_path_and_are_safe(source: str, name: str) -> None:
    assert base_name(source) == name


def test_names_are_made_unique_in_order() -> None:
    assert unique_names(["a/sub", "b/sub", "c/SUB", "sub.zip"]) == ["sub", "sub-2", "SUB-3", "sub-4"]


def test_plan_refuses_bad_input(tmp_path: Path) -> None:
    settings = BatchSettings(exercise="kv-store", out=tmp_path)
    with pytest.raises(UsageError, match="more than once"):
        plan([str(tmp_path), f"{tmp_path}/"], settings)
    with pytest.raises(UsageError, match="--jobs 0"):
        plan(["a"], BatchSettings(exercise="kv-store", out=tmp_path, jobs=0))
    with pytest.raises(UsageError, match="plain file name"):
        plan(["a"], BatchSettings(exercise="kv-store", out=tmp_path, reports={"html": "../r.html"}))


def test_grade_command_passes_options_and_writes_reports_per_submission(tmp_path: Path) -> None:
    settings = BatchSettings(
        exercise="kv-store", out=tmp_path, seed=7, keyword="ping", reports={"junit": "junit.xml"}
    )
    command = grade_command(BatchEntry("alice", "/subs/alice"), settings)
    assert command[1:] == [
        "-m",
        "harness.cli",
        "grade",
        "/subs/alice",
        "-e",
        "kv-store",
        "--out",
        str(tmp_path / "alice"),
        "--seed",
        "7",
        "-k",
        "ping",
        "--junit",
        str(tmp_path / "alice" / "junit.xml"),
    ]


# --- resuming ----------------------------------------------------------------------------------------


def _graded(tmp_path: Path, *, keyword: str | None = None, complete: bool = True) -> tuple[BatchEntry, Path]:
    """A submission folder with a finished grade of it in OUT/alice, as grade-batch leaves it."""
    source = tmp_path / "alice"
    source.mkdir(exist_ok=True)
    (source / "Cargo.toml").write_text('[package]\nname = "a"\n')
    entry = BatchEntry("alice", str(source))
    current = fingerprint(entry.source)
    base = sample_result(problems=() if complete else ("x: harness error",))
    result = base.model_copy(
        update={
            "mode": "grade",
            "submission": base.submission.model_copy(update={"source_digest": current.digest}),
        }
    )
    folder = tmp_path / "out" / "alice"
    write_result(result, folder / "results.json")
    stamp = Stamp(entry.source, "kv-store", keyword, None)
    (folder / "batch.json").write_text(json.dumps(asdict(stamp)))
    return entry, source


def _kept(entry: BatchEntry, tmp_path: Path, **settings: object) -> bool:
    batch = BatchSettings(exercise="kv-store", out=tmp_path / "out", **settings)  # type: ignore[arg-type]
    return finished_result(entry, batch, "kv-store", fingerprint(entry.source)) is not None


def test_a_complete_result_of_the_same_source_is_kept(tmp_path: Path) -> None:
    entry, _ = _graded(tmp_path)
    assert _kept(entry, tmp_path)


def test_a_changed_source_is_graded_again(tmp_path: Path) -> None:
    entry, source = _graded(tmp_path)
    (source / "main.rs").write_text("fn main() {}\n")
    assert not _kept(entry, tmp_path)


def test_an_incomplete_result_is_graded_again(tmp_path: Path) -> None:
    entry, _ = _graded(tmp_path, complete=False)
    assert not _kept(entry, tmp_path)


def test_a_result_without_its_stamp_is_graded_again(tmp_path: Path) -> None:
    # The stamp is written only after the grade exited 0: a result without one may be from a killed run.
    entry, _ = _graded(tmp_path)
    (tmp_path / "out" / "alice" / "batch.json").unlink()
    assert not _kept(entry, tmp_path)


def test_another_selection_or_seed_is_graded_again(tmp_path: Path) -> None:
    entry, _ = _graded(tmp_path, keyword="ping")
    assert _kept(entry, tmp_path, keyword="ping")
    assert not _kept(entry, tmp_path, keyword="echo")
    assert not _kept(entry, tmp_path)
    assert not _kept(entry, tmp_path, keyword="ping", seed=1)  # the sample result has seed 42
    assert _kept(entry, tmp_path, keyword="ping", seed=42)


# --- reading the progress of a grade -----------------------------------------------------------------


def _scenario(name: str, status: str = "passed") -> ScenarioResult:
    return ScenarioResult(
        nodeid=name, name=name, criterion="c", visibility="public", status=status, duration_s=0.1
    )


def test_grade_watch_reads_what_grade_progress_renders_on_a_terminal() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=200, no_color=True)
    seen: list[GradeState] = []
    watch = GradeWatch(seen.append)
    progress = GradeProgress(console)
    with progress:
        progress.stage("take in the submission")
        console.print("a line of the grade's own output")
        progress.stage("build the submission")
        progress.detail("Compiling tokio v1")
        progress._progress.refresh()
        progress.stage("run scenarios")
        progress.collected(3)
        for name in ("test_a", "test_b"):
            progress.scenario(_scenario(name, "failed"))
            progress._progress.refresh()
    # Fed in small pieces, as a pseudo-terminal delivers it (lines and characters split anywhere).
    raw = buffer.getvalue().encode()
    for start in range(0, len(raw), 7):
        watch.feed(raw[start : start + 7])
    watch.close()
    stages = [s.stage for s in seen if s.total is None]
    assert "take in the submission" in stages and "build the submission" in stages
    counts = [(s.done, s.total) for s in seen if s.total is not None]
    assert counts[-1] == (2, 3) and (1, 3) in counts
    assert watch.log == ["a line of the grade's own output"], "progress lines are not logged"


def test_grade_watch_finds_the_error_line() -> None:
    watch = GradeWatch()
    watch.feed(b"\x1b[1;31merror: \x1b[0mnothing accepts connections at x:1 (start your service)\r\n")
    watch.close()
    assert watch.reason() == "nothing accepts connections at x:1 (start your service)"


# --- the command, without Docker ---------------------------------------------------------------------


def test_submissions_that_cannot_be_taken_in_are_listed_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["grade-batch", str(tmp_path / "missing"), "-e", "kv-store", "--out", str(tmp_path / "out")],
    )
    assert result.exit_code == 2
    assert "0 graded, 0 kept from an earlier run, 1 not graded" in result.output
    assert "error: missing (" in result.output and "does not exist" in result.output


def test_an_unknown_exercise_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["grade-batch", ".", "-e", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown exercise 'nope'" in result.output
    assert "Traceback" not in result.output
