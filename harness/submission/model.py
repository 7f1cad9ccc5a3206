"""The two value types of the intake: what was taken in, and how much the intake may take."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["cargo", "dockerfile", "image"]


@dataclass(frozen=True)
class Submission:
    """A submission the harness has taken in and may now build.

    ``root`` always lies in a folder the harness owns, never in the candidate's own folder, so a build
    can neither change the original nor pick up files that appear in it later.
    """

    kind: Kind
    source: str  # what the user gave (path, URL, archive path, image ref), shown in results
    root: Path | None  # the folder holding the code; None for kind == "image"
    image: str | None  # the image reference for kind == "image"
    revision: str | None  # the git commit sha when the code came from git, else None


@dataclass(frozen=True)
class IntakeLimits:
    """Caps on what one submission may put on disk; enforced while writing, never from headers."""

    max_bytes: int = 256 * 1024 * 1024  # total uncompressed size
    max_files: int = 20_000  # files, folders and links together
    max_file_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        # A zero or negative cap would make every submission fail with a confusing message.
        for name in ("max_bytes", "max_files", "max_file_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"IntakeLimits.{name} must be at least 1")
