"""Code-quality facts about a Rust submission, and the outcome of a rubric threshold on one of them.

The facts are gathered in the build sandbox (harness/sandbox/quality.py). A fact that could not be
established (a step timed out, the tests did not compile) is `None` with the reason in `unknown`: rubric
thresholds on it are then undecided, never failed.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

QualityMetric = Literal[
    "clippy_warnings",
    "tests_passed",
    "tests_failed",
    "unsafe_blocks",
    "lines_of_code",
    "has_readme",
    "has_design_note",
    "fmt_clean",
]
"""Names a rubric can put a threshold (or a ratio against the reference) on. Booleans count as 1 / 0."""

METRICS: tuple[str, ...] = get_args(QualityMetric)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LintWarning(_Frozen):
    """One clippy/rustc warning: the lint, its message, and where (candidate text: print it safely)."""

    lint: str
    message: str
    location: str


class QualityReport(_Frozen):
    source_digest: str
    toolchain: str | None = None
    duration_s: float = 0.0
    cached: bool = False
    clippy_warnings: int | None = None
    clippy_top: list[LintWarning] = []
    tests_passed: int | None = None
    tests_failed: int | None = None
    tests_ignored: int | None = None
    fmt_clean: bool | None = None
    fmt_files: list[str] = []
    """The first few files `cargo fmt --check` would change."""
    unsafe_blocks: int | None = None
    unsafe_items: int | None = None
    """`unsafe fn`, `unsafe impl` and `unsafe trait` declarations."""
    lines_of_code: int | None = None
    comment_lines: int | None = None
    rust_files: int | None = None
    readme: str | None = None
    design_notes: list[str] = []
    unknown: list[str] = []
    """Why a fact is missing, one line each (e.g. "cargo test did not finish within 300 s")."""

    def metric(self, name: str) -> float | None:
        """The value a rubric threshold compares; `None` when the fact is unknown."""
        if name == "has_readme":
            return 1.0 if self.readme else 0.0
        if name == "has_design_note":
            return 1.0 if self.design_notes else 0.0
        value = getattr(self, name, None)
        if value is None:
            return None
        return float(value)

    def metrics(self) -> dict[str, float | None]:
        return {name: self.metric(name) for name in METRICS}


CheckStatus = Literal["passed", "failed", "unknown"]


class CheckResult(_Frozen):
    """A metric threshold or a ratio against the reference, as one criterion's evidence."""

    kind: Literal["metric", "ratio"]
    metric: str
    status: CheckStatus
    threshold: str
    """Human form, e.g. "≤ 0" or "≤ 1.5x the reference"."""
    value: float | None = None
    reference: float | None = None
    """For ratios: the reference's value of the same metric."""

    def describe(self) -> str:
        if self.value is None:
            return f"{self.metric}: unknown (wanted {self.threshold})"
        shown = f"{self.value:g}"
        if self.kind == "ratio" and self.reference is not None:
            shown += f" vs reference {self.reference:g}"
        return (
            f"{self.metric} = {shown} ({'meets' if self.status == 'passed' else 'misses'} {self.threshold})"
        )
