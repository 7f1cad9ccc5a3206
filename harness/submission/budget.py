"""Counting against the intake limits while data is written, so a bomb stops at the cap."""

from __future__ import annotations

from pathlib import PurePosixPath

from harness.errors import SubmissionError
from harness.submission.display import shown, size_text
from harness.submission.model import IntakeLimits

_TRIM_HINT = "leave out build output (target/), vendored dependencies and large binaries"


class Budget:
    """What one intake has used so far.

    Callers ask *before* they write, so the bytes on disk never exceed the caps, whatever an archive
    header claimed about the sizes.
    """

    def __init__(self, limits: IntakeLimits, label: str) -> None:
        self.limits = limits
        self.label = label
        self.entries = 0
        self.bytes = 0

    def entry(self, rel: PurePosixPath | str) -> None:
        """Account for one more file, folder or link."""
        if self.entries >= self.limits.max_files:
            raise SubmissionError(
                f"{self.label} holds more than {self.limits.max_files} files and folders"
                f" (stopped at {shown(rel)})",
                hint=_TRIM_HINT,
            )
        self.entries += 1

    def take(self, rel: PurePosixPath | str, file_so_far: int, n: int) -> None:
        """Allow ``n`` more bytes of the file ``rel``, of which ``file_so_far`` are already written."""
        if file_so_far + n > self.limits.max_file_bytes:
            raise SubmissionError(
                f"{shown(rel)} in {self.label} is larger than {size_text(self.limits.max_file_bytes)},"
                " the limit for one file",
                hint=_TRIM_HINT,
            )
        if self.bytes + n > self.limits.max_bytes:
            raise SubmissionError(
                f"{self.label} is larger than {size_text(self.limits.max_bytes)} in total"
                f" (stopped at {shown(rel)})",
                hint=_TRIM_HINT,
            )
        self.bytes += n
