"""Write the reports a command asked for: each one atomically (a reader, a CI upload, never sees half a
file), except the step summary, which is appended to as GitHub expects ($GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from harness.errors import UsageError
from harness.report.json_report import write_atomically
from harness.report.model import GradeResult


@dataclass(frozen=True)
class ReportTargets:
    """Where to write each report; None: not asked for."""

    html: Path | None = None
    md: Path | None = None
    junit: Path | None = None
    gradescope: Path | None = None
    summary: Path | None = None
    """Appended to, not replaced: the Markdown report for a CI step summary."""

    def requested(self) -> list[tuple[str, Path]]:
        return [(f.name, path) for f in fields(self) if (path := getattr(self, f.name)) is not None]


def _option(name: str) -> str:
    return f"--{name}"


def check_targets(targets: ReportTargets) -> None:
    """Refuse unwritable paths before a grade runs, rather than after ten minutes of it."""
    for name, path in targets.requested():
        if path.is_dir():
            raise UsageError(f"{_option(name)} {path} is a folder", hint="give a file path")
        ancestor = path.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise UsageError(f"{_option(name)} {path}: {ancestor} is not a folder")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise UsageError(f"{_option(name)} {path}: {ancestor} is not writable")


def _renderers(logs_dir: Path | None) -> dict[str, Callable[[GradeResult], str]]:
    # Imported when asked for: matplotlib and junitparser cost time that a plain grade need not spend.
    from harness.report.gradescope_report import render_gradescope
    from harness.report.html_report import render_html
    from harness.report.junit_report import render_junit
    from harness.report.markdown_report import render_markdown

    return {
        "html": lambda r: render_html(r, logs_dir=logs_dir),
        "md": render_markdown,
        "junit": render_junit,
        "gradescope": render_gradescope,
        "summary": render_markdown,
    }


def _append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")


def write_reports(result: GradeResult, targets: ReportTargets, *, logs_dir: Path | None = None) -> list[Path]:
    """Render and write every requested report; returns the paths written. ``logs_dir``: the grade's
    output folder, whose full build.log the HTML report shows (head and tail)."""
    renderers = _renderers(logs_dir)
    written = []
    for name, path in targets.requested():
        text = renderers[name](result)
        try:
            if name == "summary":
                _append(path, text)
            else:
                write_atomically(path, text)
        except OSError as exc:
            raise UsageError(f"cannot write {_option(name)} {path}: {exc.strerror or exc}") from None
        written.append(path)
    return written
