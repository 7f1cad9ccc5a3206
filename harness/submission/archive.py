"""Recognise submission archives, unpack them into a staging folder, and settle the result as the root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from harness.errors import SubmissionError
from harness.submission.model import IntakeLimits
from harness.submission.tar_archive import extract_tar
from harness.submission.tree import verify_tree
from harness.submission.zip_archive import extract_zip

ArchiveFormat = Literal["tar", "zip"]

_FORMATS: tuple[tuple[str, ArchiveFormat], ...] = (
    (".tar.gz", "tar"),
    (".tgz", "tar"),
    (".tar", "tar"),
    (".zip", "zip"),
)
# Recognised so the message can say "unsupported archive" rather than "not an archive".
_UNSUPPORTED = (
    ".tar.xz",
    ".txz",
    ".tar.bz2",
    ".tbz2",
    ".tar.zst",
    ".rar",
    ".7z",
    ".gz",
    ".bz2",
    ".xz",
    ".zst",
)
SUPPORTED_TEXT = ".tar, .tar.gz, .tgz or .zip"


def archive_format(path: Path, label: str) -> ArchiveFormat:
    """The format of the archive file ``path``, judged by its name; SubmissionError for anything else."""
    name = path.name.lower()
    for suffix, fmt in _FORMATS:
        if name.endswith(suffix):
            return fmt
    for suffix in _UNSUPPORTED:
        if name.endswith(suffix):
            raise SubmissionError(
                f"{label} is a {suffix} archive, which is not supported",
                hint=f"repack it as {SUPPORTED_TEXT}",
            )
    raise SubmissionError(
        f"{label} is a file but neither a folder nor a supported archive",
        hint=f"give the project folder, a {SUPPORTED_TEXT} archive, or a git URL",
    )


def unpack(archive: Path, *, staging: Path, dest: Path, limits: IntakeLimits, label: str) -> None:
    """Unpack ``archive`` into ``staging``, then move the project root to ``dest``.

    If the archive holds exactly one top-level folder and nothing else, that folder is the root (that is
    how ``tar czf x.tgz project/`` and most zip tools pack). After the move, links are checked again
    against the new root, since a link that climbed to the archive's top now points outside it.
    """
    fmt = archive_format(archive, label)
    extract = extract_tar if fmt == "tar" else extract_zip
    extract(archive, staging, limits=limits, label=label)
    top = os.listdir(staging)
    only = staging / top[0] if len(top) == 1 else None
    if only is not None and only.is_dir() and not only.is_symlink():
        os.rename(only, dest)
        staging.rmdir()
    else:
        os.rename(staging, dest)
    verify_tree(dest, limits=limits, label=label)
