"""Create files, folders and links inside a harness-owned root, and nowhere else.

Every intake path (folder copy, tar, zip) writes through ``TreeWriter``, so the rules live in one
place: nothing is written through a symlink, nothing is overwritten, links are stored as short
relative paths, and every byte is counted against the budget before it is written.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import Protocol

from harness.errors import SubmissionError
from harness.submission.budget import Budget
from harness.submission.display import shown

CHUNK = 64 * 1024

# O_NOFOLLOW refuses a symlink planted at the leaf; O_EXCL refuses to reuse anything already there.
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def file_mode(mode: int) -> int:
    """Keep only "executable or not": ownership and odd bits from the candidate mean nothing here."""
    return 0o755 if mode & 0o100 else 0o644


class TreeWriter:
    """Writes one submission tree under ``root`` (created here, must not exist yet)."""

    def __init__(self, root: Path, budget: Budget) -> None:
        root.mkdir(mode=0o755)
        self.root = root
        self.budget = budget
        self._files: set[PurePosixPath] = set()

    def directory(self, rel: PurePosixPath) -> None:
        self._parents(rel)
        path = self.root / rel
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            self.budget.entry(rel)
            path.mkdir(mode=0o755)
            return
        # Archives may list a folder after files inside it created it implicitly; that is fine.
        if not stat.S_ISDIR(st.st_mode):
            raise self._twice(rel)

    def file(self, rel: PurePosixPath, stream: Readable, mode: int) -> None:
        path = self._new(rel)
        fd = os.open(path, _CREATE_FLAGS, 0o600)
        with os.fdopen(fd, "wb") as out:
            written = 0
            while chunk := stream.read(CHUNK):
                self.budget.take(rel, written, len(chunk))
                out.write(chunk)
                written += len(chunk)
        os.chmod(path, file_mode(mode))
        self._files.add(rel)

    def copy_of(self, rel: PurePosixPath, original: PurePosixPath, mode: int) -> None:
        """A hard link, stored as a copy so that the tree holds no shared inodes (and bytes are counted)."""
        if original not in self._files:
            raise SubmissionError(
                f"{shown(rel)} in {self.budget.label} is a hard link to {shown(original)},"
                " which is not a file earlier in the archive",
                hint="repack the archive without hard links",
            )
        fd = os.open(self.root / original, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as src:
            self.file(rel, src, mode)

    def symlink(self, rel: PurePosixPath, text: str) -> None:
        """A link whose target ``text`` the caller has checked stays inside the root."""
        path = self._new(rel)
        os.symlink(text, path)

    def _new(self, rel: PurePosixPath) -> Path:
        self._parents(rel)
        path = self.root / rel
        if os.path.lexists(path):
            raise self._twice(rel)
        self.budget.entry(rel)
        return path

    def _parents(self, rel: PurePosixPath) -> None:
        """Make the folders above ``rel``, refusing to pass through a link or a file."""
        current = self.root
        for depth, part in enumerate(rel.parent.parts, start=1):
            current = current / part
            here = PurePosixPath(*rel.parts[:depth])
            try:
                st = os.lstat(current)
            except FileNotFoundError:
                self.budget.entry(here)
                current.mkdir(mode=0o755)
                continue
            if stat.S_ISLNK(st.st_mode):
                raise SubmissionError(
                    f"{shown(rel)} in {self.budget.label} would be written through the symlink {shown(here)}",
                    hint="repack the submission without entries below a symlink",
                )
            if not stat.S_ISDIR(st.st_mode):
                raise SubmissionError(
                    f"{shown(rel)} in {self.budget.label} lies below {shown(here)}, which is not a folder",
                    hint="repack the submission; the archive is inconsistent",
                )

    def _twice(self, rel: PurePosixPath) -> SubmissionError:
        return SubmissionError(
            f"{shown(rel)} appears more than once in {self.budget.label}",
            hint="repack the submission so that each path appears once",
        )
