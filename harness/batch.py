"""`harness grade-batch`: grade many submissions, each in its own `harness grade` process.

A process per submission keeps them apart: a crash, a hang or a kill of one grade cannot touch another's
state, and each grade writes `OUT/<name>/results.json` atomically at its very end, so a killed batch
leaves finished results intact and no half-written one. A rerun skips a submission whose complete result
was made from the same source (its digest and git revision), exercise and scenario selection.

Each grade runs on a pseudo-terminal: `harness grade` then shows its ordinary live progress, which this
module reads back (`GradeWatch`) to show every submission's stage in one view. Reading the rendered
progress couples this module to `terminal.GradeProgress`'s layout; tests/unit/test_batch.py renders the
real GradeProgress and parses it, so a change there that breaks this fails a test rather than the view.
"""

from __future__ import annotations

import codecs
import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column

from harness.errors import HarnessError, UsageError
from harness.report.json_report import read_result, write_atomically
from harness.report.model import GradeResult
from harness.submission import open_submission, source_digest
from harness.submission.git import is_git_url
from harness.terminal import visible

RESULTS = "results.json"
#: What the batch records next to a result once its grade finished: the settings it was made with.
STAMP = "batch.json"
LOG = "grade.log"
#: Report options of `harness grade` that grade-batch passes on, each as a file inside the submission's
#: folder (a path shared by every submission would be overwritten by each).
REPORT_OPTIONS = ("html", "md", "junit", "gradescope")
_PTY_COLUMNS = 200


# --- names -------------------------------------------------------------------------------------------


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip", ".git")


def base_name(source: str) -> str:
    """A folder name for a submission, from the last part of its path or URL: `cand.git` → `cand`."""
    text = source.rstrip("/\\")
    if not is_git_url(text) and text in ("", ".", ".."):
        text = Path(text or ".").resolve().name
    last = re.split(r"[/\\:]", text)[-1]
    for suffix in _ARCHIVE_SUFFIXES:
        if last.lower().endswith(suffix) and len(last) > len(suffix):
            last = last[: -len(suffix)]
            break
    name = _UNSAFE.sub("-", last).strip(".-_")[:64]
    return name or "submission"


def unique_names(sources: Sequence[str]) -> list[str]:
    """One safe, distinct folder name per source, stable for the same list: `sub`, `sub-2`, ..."""
    names: list[str] = []
    taken: set[str] = set()
    for source in sources:
        base = name = base_name(source)
        counter = 1
        while name.lower() in taken:  # case-insensitive: some file systems fold case
            counter += 1
            name = f"{base}-{counter}"
        taken.add(name.lower())
        names.append(name)
    return names


# --- what a batch is ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchSettings:
    exercise: str
    out: Path
    jobs: int = 1
    seed: int | None = None
    keyword: str | None = None
    force: bool = False
    reports: dict[str, str] = field(default_factory=dict)
    """Report option (see REPORT_OPTIONS) → file name written in each submission's folder."""


@dataclass(frozen=True)
class BatchEntry:
    name: str
    source: str
    """What `harness grade` is given: a local path made absolute, or a URL as given."""

    def folder(self, settings: BatchSettings) -> Path:
        return settings.out / self.name


@dataclass(frozen=True)
class Stamp:
    """The settings a finished result was graded with (results.json does not record them all)."""

    source: str
    exercise: str
    keyword: str | None
    seed: int | None


def plan(sources: Sequence[str], settings: BatchSettings) -> list[BatchEntry]:
    if settings.jobs < 1:
        raise UsageError(f"--jobs {settings.jobs} is not a positive number")
    if not sources:
        raise UsageError("no submissions given", hint="harness grade-batch PATH... -e EXERCISE --out DIR")
    resolved = [_as_given(s) for s in sources]
    duplicates = sorted({s for s in resolved if resolved.count(s) > 1})
    if duplicates:
        raise UsageError(f"{duplicates[0]} is given more than once")
    for option, filename in settings.reports.items():
        if option not in REPORT_OPTIONS or Path(filename).name != filename or filename in ("", ".", ".."):
            raise UsageError(f"--{option} {filename!r} must be a plain file name (written per submission)")
    return [BatchEntry(n, s) for n, s in zip(unique_names(sources), resolved, strict=True)]


def _as_given(source: str) -> str:
    if is_git_url(source):
        return source
    return str(Path(source).expanduser().resolve())


# --- resuming ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    digest: str | None
    revision: str | None


def fingerprint(source: str) -> Fingerprint:
    """The digest (and git revision) `harness grade` will record for `source`, computed the same way:
    take the submission in, then hash what was taken in."""
    with tempfile.TemporaryDirectory(prefix="harness-batch-") as workdir:
        submission = open_submission(source, workdir=Path(workdir))
        digest = source_digest(submission.root) if submission.root is not None else None
        return Fingerprint(digest, submission.revision)


def finished_result(
    entry: BatchEntry, settings: BatchSettings, exercise_name: str, current: Fingerprint
) -> GradeResult | None:
    """The result a rerun may keep: complete, a full grade, of this exercise, source and selection."""
    folder = entry.folder(settings)
    try:
        result = read_result(folder / RESULTS)
        stamp = Stamp(**json.loads((folder / STAMP).read_text(encoding="utf-8")))
    except (HarnessError, OSError, ValueError, TypeError):
        return None
    wanted = Stamp(entry.source, exercise_name, settings.keyword, settings.seed)
    same_seed = settings.seed is None or result.seed == settings.seed
    same_source = (result.submission.source_digest, result.submission.revision) == (
        current.digest,
        current.revision,
    )
    usable = result.complete and result.mode == "grade" and result.exercise == exercise_name
    if usable and same_source and same_seed and _same_selection(stamp, wanted):
        return result
    return None


def _same_selection(stamp: Stamp, wanted: Stamp) -> bool:
    # A result graded with a given seed also answers a rerun that asks for none.
    return (stamp.source, stamp.exercise, stamp.keyword) == (wanted.source, wanted.exercise, wanted.keyword)


# --- one grade in its own process --------------------------------------------------------------------


_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
#: A line of GradeProgress: [spinner] description [bar] done/total [detail] elapsed.
_PROGRESS_LINE = re.compile(
    r"^[\u2800-\u28ff]?\s*(?P<what>\S.*?)\s+[━╸╺─ ]*\s(?P<done>\d+)/(?P<total>\d+|\?)(?=\s|$).*?"
    r"(?:\d+:\d\d:\d\d|-:--:--)$"
)


@dataclass(frozen=True)
class GradeState:
    stage: str
    done: int | None = None
    total: int | None = None


class GradeWatch:
    """Reads `harness grade`'s terminal output: the current stage, scenario counts, and a plain log."""

    def __init__(self, on_state: Callable[[GradeState], None] = lambda state: None) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._on_state = on_state
        self.state: GradeState | None = None
        self.log: list[str] = []

    def feed(self, data: bytes) -> None:
        text = _ESCAPES.sub("", self._pending + self._decoder.decode(data))
        *lines, self._pending = re.split(r"[\r\n]", text)
        for line in lines:
            self._line(line.rstrip())

    def close(self) -> None:
        self.feed(b"\n")

    def _line(self, line: str) -> None:
        match = _PROGRESS_LINE.match(line)
        if match is None:
            if line.strip():
                self.log.append(line)
            return
        what, done, total = match["what"], int(match["done"]), match["total"]
        if what == "scenarios" and total != "?":
            self._set(GradeState("scenarios", done, int(total)))
        elif total == "?":  # an unfinished stage; finished ones are redrawn as n/n on every refresh
            self._set(GradeState(what))

    def _set(self, state: GradeState) -> None:
        if state != self.state:
            self.state = state
            self._on_state(state)

    def reason(self) -> str | None:
        """The one-line error `harness grade` ended with, if any."""
        return next(
            (line.removeprefix("error: ") for line in reversed(self.log) if line.startswith("error:")), None
        )


def grade_command(entry: BatchEntry, settings: BatchSettings) -> list[str]:
    folder = entry.folder(settings)
    command = [sys.executable, "-m", "harness.cli", "grade", entry.source, "-e", settings.exercise]
    command += ["--out", str(folder)]
    if settings.seed is not None:
        command += ["--seed", str(settings.seed)]
    if settings.keyword:
        command += ["-k", settings.keyword]
    for option, filename in sorted(settings.reports.items()):
        command += [f"--{option}", str(folder / filename)]
    return command


#: Run before `harness grade` (then replaced by it through exec): ask the kernel to SIGTERM the grade if
#: the batch dies, even by SIGKILL, so an orphan never keeps grading into a folder a rerun is writing.
#: Each grade has its own process group, so a signal to the batch's group reaches it once, forwarded
#: by the batch, and never twice (a second SIGTERM would interrupt the grade's own clean-up).
_ORPHAN_GUARD = (
    "import ctypes, os, signal, sys; "
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM); "  # 1 = PR_SET_PDEATHSIG
    "os.getppid() == int(sys.argv[1]) or sys.exit(2); "  # the batch died before prctl
    "os.execv(sys.argv[2], sys.argv[2:])"
)


class Processes:
    """The grades running now, so an interrupted batch can stop them (and let them clean up)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self.stopping = threading.Event()

    def start(self, command: list[str], *, output: int) -> subprocess.Popen[bytes] | None:
        guarded = [sys.executable, "-c", _ORPHAN_GUARD, str(os.getpid()), *command]
        environment = {**os.environ, "TERM": "xterm", "NO_COLOR": "1", "COLUMNS": str(_PTY_COLUMNS)}
        with self._lock:
            if self.stopping.is_set():
                return None
            process = subprocess.Popen(
                guarded,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                env=environment,
                process_group=0,
            )
            self._running.add(process)
            return process

    def done(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(process)

    def stop_all(self) -> None:
        """SIGTERM every grade once: each removes its containers and exits without writing a result."""
        with self._lock:
            self.stopping.set()
            for process in self._running:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)


def run_in_pty(command: list[str], watch: GradeWatch, processes: Processes) -> int | None:
    """Run `command` with a pseudo-terminal as stdout and stderr, feeding its output to `watch`; None
    when the batch is stopping and the command was not started."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, _PTY_COLUMNS, 0, 0))
    try:
        process = processes.start(command, output=secondary)
    finally:
        os.close(secondary)
    if process is None:
        os.close(primary)
        return None
    try:
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            watch.feed(chunk)
        watch.close()
        return process.wait()
    finally:
        os.close(primary)
        processes.done(process)


# --- the batch ---------------------------------------------------------------------------------------

Status = Literal["graded", "kept", "not graded"]


@dataclass(frozen=True)
class EntryOutcome:
    entry: BatchEntry
    status: Status
    total: float | None = None
    reason: str | None = None


class BatchObserver(Protocol):
    def state(self, entry: BatchEntry, state: GradeState) -> None: ...

    def finished(self, outcome: EntryOutcome) -> None: ...


def grade_entry(
    entry: BatchEntry,
    settings: BatchSettings,
    exercise_name: str,
    observer: BatchObserver,
    processes: Processes,
) -> EntryOutcome:
    folder = entry.folder(settings)
    observer.state(entry, GradeState("checking the source"))
    try:
        current = fingerprint(entry.source)
    except HarnessError as exc:
        return EntryOutcome(entry, "not graded", reason=exc.one_line())
    kept = None if settings.force else finished_result(entry, settings, exercise_name, current)
    if kept is not None:
        return EntryOutcome(entry, "kept", total=kept.total)
    # The stamp goes before the grade and comes back only after it: a result without one is never kept.
    (folder / STAMP).unlink(missing_ok=True)
    watch = GradeWatch(lambda state: observer.state(entry, state))
    code = run_in_pty(grade_command(entry, settings), watch, processes)
    if code is None or processes.stopping.is_set():
        return EntryOutcome(entry, "not graded", reason="interrupted")
    write_atomically(folder / LOG, "\n".join(watch.log) + "\n")
    try:
        result = read_result(folder / RESULTS)
    except HarnessError:
        result = None
    if code != 0 or result is None or not result.complete:
        reason = watch.reason() or f"harness grade exited with status {code}"
        return EntryOutcome(entry, "not graded", reason=reason)
    stamp = Stamp(entry.source, exercise_name, settings.keyword, settings.seed)
    write_atomically(folder / STAMP, json.dumps(asdict(stamp), indent=2) + "\n")
    return EntryOutcome(entry, "graded", total=result.total)


def run_batch(
    entries: Sequence[BatchEntry], settings: BatchSettings, exercise_name: str, observer: BatchObserver
) -> list[EntryOutcome]:
    """Grade `entries`, `settings.jobs` at a time; on Ctrl-C or SIGTERM stop the running grades (they
    clean up) and re-raise once they are gone."""
    processes = Processes()

    def one(entry: BatchEntry) -> EntryOutcome:
        try:
            outcome = grade_entry(entry, settings, exercise_name, observer, processes)
        except Exception as exc:  # one submission's trouble must not end the others' grades
            outcome = EntryOutcome(entry, "not graded", reason=f"{type(exc).__name__}: {exc}")
        observer.finished(outcome)
        return outcome

    pool = ThreadPoolExecutor(max_workers=settings.jobs, thread_name_prefix="grade")
    futures = [pool.submit(one, entry) for entry in entries]
    try:
        return [future.result() for future in futures]
    except BaseException:
        processes.stop_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --- the view ----------------------------------------------------------------------------------------


class BatchView:
    """One live line per submission: queued, its current stage, scenarios done of total, the outcome."""

    def __init__(self, console: Console, entries: Sequence[BatchEntry]) -> None:
        width = max((len(e.name) for e in entries), default=10)
        self._progress = Progress(
            TextColumn("{task.fields[name]}", table_column=Column(min_width=width, no_wrap=True)),
            BarColumn(bar_width=16),
            TextColumn("{task.fields[count]:>7}", table_column=Column(no_wrap=True)),
            TimeElapsedColumn(),
            # Last, so a narrow terminal cuts the status rather than the name; the summary repeats it.
            TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis")),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {
            e.name: self._progress.add_task("[dim]queued", total=None, start=False, name=e.name, count="")
            for e in entries
        }

    def __enter__(self) -> BatchView:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)

    def state(self, entry: BatchEntry, state: GradeState) -> None:
        task = self._tasks[entry.name]
        self._progress.start_task(task)
        if state.total is not None:
            count = f"{state.done}/{state.total}"
            self._progress.update(
                task, description="running scenarios", total=state.total, completed=state.done, count=count
            )
        else:
            self._progress.update(task, description=escape(visible(state.stage)))

    def finished(self, outcome: EntryOutcome) -> None:
        task = self._tasks[outcome.entry.name]
        if outcome.status == "graded":
            text = f"[green]done[/]  total {outcome.total:g}/100"
        elif outcome.status == "kept":
            text = f"[green]done[/]  total {outcome.total:g}/100 [dim](graded before, source unchanged)[/]"
        else:
            text = f"[red]not graded[/]: {escape(visible(outcome.reason or '?'))}"
        task_info = self._progress.tasks[task]
        total = task_info.total or 1
        self._progress.update(task, description=text, total=total, completed=total, count="")
        self._progress.stop_task(task)
