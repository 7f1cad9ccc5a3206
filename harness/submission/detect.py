"""Decide how a submission is built, from what sits at its top level."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from harness.errors import SubmissionError
from harness.submission.display import shown

_SHOW_AT_MOST = 6


def detect_kind(root: Path, label: str) -> Literal["cargo", "dockerfile"]:
    """``dockerfile`` if there is a Dockerfile (it wins: the candidate chose how to build), else ``cargo``."""
    if (root / "Dockerfile").is_file():
        return "dockerfile"
    if (root / "Cargo.toml").is_file():
        return "cargo"
    raise SubmissionError(
        f"{label} holds neither a Dockerfile nor a Cargo.toml at its top level",
        hint=f"{_describe_top(root)}; give the folder that holds Cargo.toml or Dockerfile",
    )


def _describe_top(root: Path) -> str:
    names = sorted(os.listdir(root))
    if not names:
        return "it is empty"
    parts = [shown(n) + ("/" if _is_real_dir(root / n) else "") for n in names[:_SHOW_AT_MOST]]
    more = f" and {len(names) - _SHOW_AT_MOST} more" if len(names) > _SHOW_AT_MOST else ""
    return f"its top level has {', '.join(parts)}{more}"


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()
