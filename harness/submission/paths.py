"""Check the names and link targets that archives declare, before anything touches the disk."""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath

from harness.errors import SubmissionError
from harness.submission.display import shown

_REPACK = "repack the archive with paths relative to the project folder"


def member_path(name: str, label: str) -> PurePosixPath | None:
    """The archive member ``name`` as a clean relative path; None for the archive's own root entry.

    Any ``..`` is refused, even one that would stay inside (``a/../b``): no archive tool writes them, so
    they only ever appear in crafted archives.
    """
    if "\x00" in name:
        raise SubmissionError(
            f"{label} holds a member whose name contains a NUL byte: {shown(name)}", hint=_REPACK
        )
    if name.startswith("/"):
        raise SubmissionError(f"{label} holds the absolute path {shown(name)}", hint=_REPACK)
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise SubmissionError(f"{label} holds {shown(name)}, which climbs out with '..'", hint=_REPACK)
    return PurePosixPath(*parts) if parts else None


def link_target(rel: PurePosixPath, linkname: str, label: str, *, hard: bool) -> PurePosixPath:
    """Where the link ``rel`` points, as a path relative to the archive root; refuses anything outside.

    A symlink's target is relative to the folder holding it; a tar hard link names another member, so
    it is relative to the archive root.
    """
    kind = "hard link" if hard else "symlink"
    if not linkname or "\x00" in linkname:
        raise SubmissionError(
            f"{shown(rel)} in {label} is a {kind} with an empty or invalid target", hint=_REPACK
        )
    if linkname.startswith("/"):
        raise SubmissionError(
            f"{shown(rel)} in {label} is a {kind} to the absolute path {shown(linkname)}",
            hint="links must point to files inside the submission, by a relative path",
        )
    base = "" if hard else str(rel.parent)
    target = posixpath.normpath(posixpath.join(base, linkname))
    if target == ".." or target.startswith("../"):
        raise SubmissionError(
            f"{shown(rel)} in {label} is a {kind} that points outside the submission ({shown(linkname)})",
            hint="links must point to files inside the submission",
        )
    return PurePosixPath(target)


def link_text(rel: PurePosixPath, target: PurePosixPath) -> str:
    """The shortest relative link text from ``rel`` to the root-relative ``target``.

    Archive links are rewritten to this form (``a/../b`` becomes ``b``) so that they keep pointing at the
    same file when the archive's single top folder becomes the root.
    """
    return posixpath.relpath(str(target), str(rel.parent))
