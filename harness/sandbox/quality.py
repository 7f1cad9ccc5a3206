"""Code-quality facts about a Cargo submission, gathered in the build sandbox (docs/sandbox.md).

`cargo clippy` and `cargo test` compile and run candidate code (build.rs, proc macros, the tests
themselves), so they run exactly as the compile does: dependencies vendored first by a step that runs no
candidate code, then one container with no network, non-root, read-only root, the build's CPU, memory
and pids limits, and a time budget per step. Static facts (lines of code, `unsafe`, notes) are read
from the packed context on the host by lexing text; no candidate code runs for them.

Nothing here fails a grade: a step that times out, is killed or cannot start leaves its facts unknown,
with the reason in `QualityReport.unknown`. Results are cached by source digest and builder image.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

import docker
from docker.errors import APIError
from pydantic import ValidationError
from pygments.lexers.rust import RustLexer  # type: ignore[import-untyped]
from pygments.token import Comment, Keyword, Punctuation, String, Text  # type: ignore[import-untyped]
from requests.exceptions import RequestException

from harness.errors import CandidateFailure, InfrastructureError
from harness.exercise import BuildLimits
from harness.report.quality import LintWarning, QualityReport
from harness.sandbox import labels
from harness.sandbox.build import CARGO_OFFLINE_CONFIG, CargoBuild, Progress, wait_or_kill
from harness.sandbox.images import HarnessImages, cache_dir
from harness.sandbox.warm_start import NORMALISE_MTIMES, WarmStart

QUALITY_RECIPE_VERSION = 1
TOP_WARNINGS = 5
MAX_OUTPUT_BYTES = 2_000_000
MAX_SOURCE_FILE_BYTES = 1 << 20
SKIPPED_DIRS = frozenset({"target", "vendor", ".git", "node_modules"})
NOTE_NAMES = re.compile(r"^(notes|design|architecture|decisions?|adr)[^/]*\.(md|txt|adoc|rst)$", re.I)


@dataclass(frozen=True)
class Budgets:
    """Seconds per step, from the build limit: the tests get the most, formatting very little."""

    fmt: int
    clippy: int
    test: int

    @classmethod
    def of(cls, limits: BuildLimits) -> Budgets:
        total = limits.timeout_s
        return cls(
            fmt=max(10, min(60, total // 10)), clippy=max(30, total * 2 // 5), test=max(30, total // 2)
        )

    @property
    def container(self) -> int:
        return self.fmt + self.clippy + self.test + 60


def quality_script(budgets: Budgets) -> str:
    # Each step's output goes to the size-capped /tmp tmpfs first and only its tail reaches the volume:
    # a test printing gigabytes fills a tmpfs, not the host's disk. `timeout -k` ends a step that ignores
    # SIGTERM, so one hung step leaves the others their time.
    return f"""set -u
mkdir -p /work/vendor /work/cargo-home /work/out
printf '{CARGO_OFFLINE_CONFIG}' > /work/cargo-home/config.toml
{NORMALISE_MTIMES}cd /work/src
rustc -V > /work/out/toolchain.out 2>&1
step() {{
  name=$1; budget=$2; shift 2
  timeout -k 5 "$budget" "$@" > /tmp/$name.out 2>&1
  echo $? > /work/out/$name.code
  tail -c {MAX_OUTPUT_BYTES} /tmp/$name.out > /work/out/$name.out
  rm -f /tmp/$name.out
}}
step fmt {budgets.fmt} cargo fmt --all --check
step clippy {budgets.clippy} cargo clippy --offline --locked --message-format=json
step test {budgets.test} cargo test --offline --locked --no-fail-fast
"""


# --- parsing what the steps printed (candidate-influenced text: parsed defensively, never trusted) -----


def _ended(code: int | None, budget: int, what: str) -> str | None:
    """Why a step's output cannot be used, or None when it ran to completion."""
    if code is None:
        return f"{what} did not run"
    if code in (124, 137):
        return f"{what} did not finish within {budget} s"
    return None


def parse_clippy(
    output: str, code: int | None, budget: int
) -> tuple[int | None, list[LintWarning], str | None]:
    """(warning count, the first few, why unknown). Lint-level errors (`#![deny(...)]`) count too."""
    if (reason := _ended(code, budget, "cargo clippy")) is not None:
        return None, [], reason
    seen: dict[tuple[str, str, str], LintWarning] = {}
    compile_errors = 0
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        message = event.get("message") if isinstance(event, dict) else None
        if event.get("reason") != "compiler-message" or not isinstance(message, dict):
            continue
        spans = [s for s in message.get("spans") or [] if isinstance(s, dict) and s.get("is_primary")]
        lint = (message.get("code") or {}).get("code") if isinstance(message.get("code"), dict) else None
        level = message.get("level")
        if level == "error" and not (lint and not str(lint).startswith("E")):
            compile_errors += 1
            continue
        if level not in ("warning", "error") or not spans:
            continue  # "N warnings emitted" summaries have no span
        where = f"{spans[0].get('file_name')}:{spans[0].get('line_start')}"
        found = LintWarning(
            lint=str(lint or "warning"), message=str(message.get("message", ""))[:200], location=where
        )
        seen.setdefault((found.lint, found.location, found.message), found)
    if code != 0 and not seen:
        # Lint errors (#![deny]) come with warnings counted above; anything else is not a count of zero.
        if "no such command" in output:
            return None, [], "the builder's toolchain has no clippy (rustup component add clippy)"
        if compile_errors:
            return None, [], "cargo clippy could not compile the code"
        return None, [], f"cargo clippy failed (exit {code})"
    warnings = list(seen.values())
    return len(warnings), warnings[:TOP_WARNINGS], None


_TEST_RESULT = re.compile(r"^test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored", re.M)


def parse_tests(output: str, code: int | None, budget: int) -> tuple[tuple[int, int, int] | None, str | None]:
    """((passed, failed, ignored) summed over every test binary, or None, why unknown).

    Tests that do not compile have passed nothing: (0, 0, 0) with the reason, so "tests exist" fails
    while "no test fails" stays unknown."""
    if (reason := _ended(code, budget, "cargo test")) is not None:
        return None, reason
    totals = [tuple(int(n) for n in match.groups()) for match in _TEST_RESULT.finditer(output)]
    if not totals:
        if code == 0:
            return (0, 0, 0), None
        if "could not compile" in output:
            return (0, 0, 0), "the tests did not compile"
        return None, f"cargo test failed before running tests (exit {code})"
    passed, failed, ignored = (sum(column) for column in zip(*totals, strict=True))
    if code != 0 and failed == 0:
        # A test binary that crashed (a signal, the memory limit) prints no result line of its own.
        return (passed, failed + 1, ignored), "a test binary ended without a result (crash or kill)"
    return (passed, failed, ignored), None


def parse_fmt(output: str, code: int | None, budget: int) -> tuple[bool | None, list[str], str | None]:
    if (reason := _ended(code, budget, "cargo fmt --check")) is not None:
        return None, [], reason
    files = sorted({m.group(1) for m in re.finditer(r"^Diff in (\S+?)(?::\d+:| at line)", output, re.M)})
    files = [f.removeprefix("/work/src/") for f in files]
    if code == 0:
        return True, [], None
    if code == 1 and files:
        return False, files[:TOP_WARNINGS], None
    if "no such command" in output:
        return None, [], "the builder's toolchain has no rustfmt (rustup component add rustfmt)"
    return None, [], f"cargo fmt --check failed (exit {code})"


# --- static facts from the packed context ---------------------------------------------------------------


@dataclass
class StaticFacts:
    lines_of_code: int = 0
    comment_lines: int = 0
    rust_files: int = 0
    unsafe_blocks: int = 0
    unsafe_items: int = 0
    readme: str | None = None
    design_notes: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


def _count_rust(text: str, facts: StaticFacts) -> None:
    code_lines: set[int] = set()
    comment_lines: set[int] = set()
    line = 0
    pending_unsafe = False
    for token, value in RustLexer().get_tokens(text):
        # Doc comments (`///`, `//!`) are lexed as strings: they are comments here. Attributes
        # (`#[test]`) are lexed as preprocessor comments: they are code.
        is_comment = (token in Comment and token not in Comment.Preproc) or token in String.Doc
        if not (is_comment or token in Text):
            code_lines.add(line)
            if pending_unsafe:
                if token in Punctuation and value == "{":
                    facts.unsafe_blocks += 1
                elif token in Keyword and value in ("fn", "impl", "trait", "extern"):
                    facts.unsafe_items += 1
                pending_unsafe = False
            if token in Keyword and value == "unsafe":
                pending_unsafe = True
        elif is_comment and value.strip():
            comment_lines.add(line)
        line += value.count("\n")
    facts.lines_of_code += len(code_lines)
    facts.comment_lines += len(comment_lines - code_lines)


def static_facts(context_tar: bytes) -> StaticFacts:
    """Lines of code, comments and `unsafe` in the .rs files (outside target/ and vendor/), and the
    README and design notes at the top level or under docs/."""
    facts = StaticFacts()
    notes: list[str] = []
    skipped: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(context_tar)) as tar:
        for member in tar:
            path = PurePosixPath(member.name.lstrip("./"))
            if not member.isfile() or SKIPPED_DIRS & set(path.parts[:-1]):
                continue
            top_level = len(path.parts) == 1 or (len(path.parts) == 2 and path.parts[0].lower() == "docs")
            if len(path.parts) == 1 and path.name.lower().startswith("readme"):
                facts.readme = str(path)
            elif top_level and (
                NOTE_NAMES.match(path.name) or (path.parts[0].lower() == "docs" and path.suffix == ".md")
            ):
                notes.append(str(path))
            if path.suffix != ".rs":
                continue
            if member.size > MAX_SOURCE_FILE_BYTES:
                skipped.append(str(path))
                continue
            handle = tar.extractfile(member)
            if handle is not None:
                facts.rust_files += 1
                _count_rust(handle.read().decode("utf-8", errors="replace"), facts)
    facts.design_notes = tuple(sorted(notes))
    facts.skipped = tuple(skipped)
    return facts


# --- the sandboxed run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityJob:
    """What one quality run needs; `context_tar` is the packed submission re-packed under `src/` and
    owned by the sandbox user (as for the build), `plain_tar` the packed submission itself."""

    client: docker.DockerClient
    images: HarnessImages
    context_tar: bytes
    plain_tar: bytes
    source_digest: str
    limits: BuildLimits
    run_id: str
    progress: Progress
    #: The exercise's own reference: its compiled dependencies seed later quality runs (warm_start.py).
    trusted: bool = False


def cache_key(job: QualityJob) -> str:
    builder_id = job.client.images.get(job.images.builder).id
    budgets = Budgets.of(job.limits)
    material = (
        f"{QUALITY_RECIPE_VERSION}:{job.source_digest}:{builder_id}:"
        f"{job.limits.memory_mb}:{job.limits.cpus}:{budgets.container}"
    )
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _cached(path_key: str) -> QualityReport | None:
    path = cache_dir() / "quality" / f"{path_key}.json"
    try:
        return QualityReport.model_validate_json(path.read_text(encoding="utf-8")).model_copy(
            update={"cached": True}
        )
    except (OSError, ValidationError):
        return None


def _store(path_key: str, report: QualityReport) -> None:
    folder = cache_dir() / "quality"
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{path_key}.partial"
    partial.write_text(report.model_dump_json(), encoding="utf-8")
    partial.replace(folder / f"{path_key}.json")


def _read_outputs(chunks: Iterable[bytes], limit: int) -> dict[str, str]:
    buffer = io.BytesIO()
    for chunk in chunks:
        buffer.write(chunk)
        if buffer.tell() > limit:
            break
    buffer.seek(0)
    outputs: dict[str, str] = {}
    with contextlib.suppress(tarfile.TarError), tarfile.open(fileobj=buffer) as tar:
        for member in tar:
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is not None:
                outputs[PurePosixPath(member.name).name] = handle.read().decode("utf-8", errors="replace")
    return outputs


def _code(outputs: dict[str, str], name: str) -> int | None:
    text = outputs.get(f"{name}.code", "").strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _run_sandboxed(job: QualityJob, budgets: Budgets, warm: WarmStart | None) -> dict[str, str]:
    """Vendor, then run the three steps in one offline container; returns the files it wrote."""
    client = job.client
    sandbox = CargoBuild(client, job.images, job.limits, job.run_id, lambda _: None, role="quality")
    volume = client.volumes.create(f"harness-quality-{job.run_id}", labels=sandbox.labels)
    try:
        job.progress("quality: fetch dependencies (no candidate code runs)")
        sandbox.fetch(volume.name, job.context_tar)
        seeded = warm is not None and warm.copy_in(volume.name, job.run_id, job.progress)
        job.progress("quality: cargo fmt --check, clippy and test in the sandbox (no network)")
        container = sandbox.container(
            ["sh", "-c", quality_script(budgets)],
            {volume.name: {"bind": "/work", "mode": "rw"}},
            {
                "CARGO_HOME": "/work/cargo-home",
                "CARGO_BUILD_JOBS": str(max(1, int(job.limits.cpus))),
                # No debug info and no incremental cache: a one-off check compiles faster without them.
                "CARGO_PROFILE_DEV_DEBUG": "0",
                "CARGO_PROFILE_TEST_DEBUG": "0",
                "CARGO_INCREMENTAL": "0",
            },
            network_mode="none",
            working_dir="/work",
        )
        container.start()
        _, timed_out = wait_or_kill(container, budgets.container)
        outputs = _read_outputs(container.get_archive("/work/out")[0], 4 * MAX_OUTPUT_BYTES)
        if timed_out:
            outputs["container.note"] = f"the quality steps did not finish within {budgets.container} s"
        elif warm is not None and job.trusted and not seeded:
            warm.save(volume.name, job.run_id)
        return outputs
    finally:
        selector = {"label": [f"{labels.RUN}={job.run_id}", f"{labels.ROLE}=quality"]}
        for leftover in client.containers.list(all=True, filters=selector):
            with contextlib.suppress(APIError):
                leftover.remove(force=True)
        with contextlib.suppress(APIError):
            volume.remove(force=True)


def report_from(
    digest: str, outputs: dict[str, str], facts: StaticFacts, budgets: Budgets, duration_s: float
) -> QualityReport:
    unknown: list[str] = []
    if note := outputs.get("container.note"):
        unknown.append(note)
    warnings, top, why = parse_clippy(outputs.get("clippy.out", ""), _code(outputs, "clippy"), budgets.clippy)
    tests, why_tests = parse_tests(outputs.get("test.out", ""), _code(outputs, "test"), budgets.test)
    clean, unformatted, why_fmt = parse_fmt(outputs.get("fmt.out", ""), _code(outputs, "fmt"), budgets.fmt)
    unknown += [reason for reason in (why, why_tests, why_fmt) if reason]
    unknown += [f"{path}: larger than 1 MiB, not counted" for path in facts.skipped]
    return QualityReport(
        source_digest=digest,
        toolchain=(outputs.get("toolchain.out") or "").strip()[:80] or None,
        duration_s=round(duration_s, 1),
        clippy_warnings=warnings,
        clippy_top=top,
        tests_passed=tests[0] if tests else None,
        tests_failed=tests[1] if tests and why_tests != "the tests did not compile" else None,
        tests_ignored=tests[2] if tests else None,
        fmt_clean=clean,
        fmt_files=unformatted,
        unsafe_blocks=facts.unsafe_blocks,
        unsafe_items=facts.unsafe_items,
        lines_of_code=facts.lines_of_code,
        comment_lines=facts.comment_lines,
        rust_files=facts.rust_files,
        readme=facts.readme,
        design_notes=list(facts.design_notes),
        unknown=unknown,
    )


def gather_quality(job: QualityJob) -> QualityReport:
    """The submission's quality facts, from the cache when the same source was measured before."""
    key = cache_key(job)
    warm = WarmStart.of(job.client, job.images.builder, "quality", job.context_tar, trusted=job.trusted)
    if (cached := _cached(key)) is not None and not (warm is not None and warm.wanted):
        return cached
    started = time.monotonic()
    facts = static_facts(job.plain_tar)
    budgets = Budgets.of(job.limits)
    cacheable = True
    try:
        outputs = _run_sandboxed(job, budgets, warm)
    except (CandidateFailure, InfrastructureError, APIError, RequestException) as exc:
        # The harness or the machine failed, or vendoring did: the facts are unknown, the grade goes on.
        reason = getattr(exc, "message", None) or str(exc)
        outputs = {"container.note": f"the quality step could not run: {reason.splitlines()[0][:200]}"}
        cacheable = False
    report = report_from(job.source_digest, outputs, facts, budgets, time.monotonic() - started)
    if cacheable:
        _store(key, report)
    return report
