"""Walk, copy and check submission folders on disk without ever following a link out of them."""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness.errors import SubmissionError
from harness.submission.budget import Budget
from harness.submission.display import shown
from harness.submission.model import IntakeLimits
from harness.submission.writer import TreeWriter

# Open for reading without following a link planted since the walk looked, and without blocking if the
# file was swapped for a fifo in the meantime.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True)
class Entry:
    rel: PurePosixPath
    path: Path
    st: os.stat_result


def walk(root: Path, label: str, *, skip_build_output: bool, exclude: Path | None = None) -> Iterator[Entry]:
    """Every entry below ``root``, depth first with names sorted, never following symlinks.

    With ``skip_build_output`` a top-level ``.git`` and any ``target`` next to a ``Cargo.toml`` are left
    out: they are history and build output, never part of what is graded, and often huge. An explicit
    stack (not recursion) keeps very deep trees from hitting Python's recursion limit.
    """
    # Each open folder: where it is, the names still to visit, and whether a Cargo.toml sits in it.
    stack = [(PurePosixPath(), *_listing(root, PurePosixPath(), label))]
    while stack:
        rel_dir, names, next_to_cargo_toml = stack[-1]
        name = next(names, None)
        if name is None:
            stack.pop()
            continue
        rel = rel_dir / name
        path = root / rel
        st = _lstat(path, rel, label)
        if skip_build_output and _is_build_output(rel, st, next_to_cargo_toml):
            continue
        if exclude is not None and path == exclude:
            continue
        yield Entry(rel, path, st)
        if stat.S_ISDIR(st.st_mode):
            stack.append((rel, *_listing(path, rel, label)))


def _listing(path: Path, rel: PurePosixPath, label: str) -> tuple[Iterator[str], bool]:
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        raise _unreadable(rel, label, exc) from exc
    return iter(names), "Cargo.toml" in names


def _lstat(path: Path, rel: PurePosixPath, label: str) -> os.stat_result:
    try:
        return os.lstat(path)
    except OSError as exc:
        raise _unreadable(rel, label, exc) from exc


def _unreadable(rel: PurePosixPath, label: str, exc: OSError) -> SubmissionError:
    where = label if rel == PurePosixPath() else f"{shown(rel)} in {label}"
    return SubmissionError(
        f"cannot read {where}: {exc.strerror or exc}", hint="check that the submission's folders are readable"
    )


def _is_build_output(rel: PurePosixPath, st: os.stat_result, next_to_cargo_toml: bool) -> bool:
    if rel == PurePosixPath(".git"):
        return True
    # A symlinked target/ (pointing at a shared cache) is common and is build output just the same.
    is_folderish = stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)
    return rel.name == "target" and next_to_cargo_toml and is_folderish


def special_file_error(rel: PurePosixPath, mode: int, label: str) -> SubmissionError:
    kinds = {
        stat.S_IFIFO: "a fifo",
        stat.S_IFSOCK: "a socket",
        stat.S_IFCHR: "a character device",
        stat.S_IFBLK: "a block device",
    }
    kind = kinds.get(stat.S_IFMT(mode), "a special file")
    return SubmissionError(
        f"{shown(rel)} in {label} is {kind}; a submission may hold only files, folders and symlinks",
        hint="remove it from the submission",
    )


def contained_link(root_real: str, entry: Entry, label: str) -> str:
    """The target text of the on-disk symlink ``entry``, refused if it leads outside the root.

    The target is checked twice: as written (so it cannot climb out by name) and resolved (so a chain of
    links cannot lead out either). A dangling link is fine as long as it would land inside. Text that
    passes both resolves the same way in a copy of the tree, or not at all where the copy left a part
    out (target/, .git), so it is kept as written.
    """
    text = os.readlink(entry.path)
    if os.path.isabs(text):
        raise SubmissionError(
            f"{shown(entry.rel)} in {label} is a symlink to the absolute path {shown(text)}",
            hint="use a relative link to a file inside the submission, or replace the link by the file",
        )
    lexical = posixpath.normpath(posixpath.join(str(entry.rel.parent), text))
    real = os.path.realpath(entry.path)
    if lexical == ".." or lexical.startswith("../") or not _within(real, root_real):
        raise SubmissionError(
            f"{shown(entry.rel)} in {label} is a symlink that points outside the submission ({shown(text)})",
            hint="a submission may link only to files inside itself; copy the file in instead",
        )
    return text


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def open_regular(entry: Entry, label: str) -> int:
    """A read descriptor for the regular file ``entry``, checked again after opening."""
    try:
        fd = os.open(entry.path, _READ_FLAGS)
    except OSError as exc:
        raise SubmissionError(
            f"cannot read {shown(entry.rel)} in {label}: {exc.strerror or exc}",
            hint="check that every file in the submission is readable",
        ) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SubmissionError(f"{shown(entry.rel)} in {label} changed while it was read", hint="try again")
    return fd


def copy_tree(source: Path, dest: Path, *, limits: IntakeLimits, label: str, exclude: Path | None) -> None:
    """Copy the candidate's folder ``source`` to ``dest`` (which must not exist), checking as it goes."""
    root_real = os.path.realpath(source)
    writer = TreeWriter(dest, Budget(limits, label))
    for entry in walk(Path(root_real), label, skip_build_output=True, exclude=exclude):
        mode = entry.st.st_mode
        if stat.S_ISDIR(mode):
            writer.directory(entry.rel)
        elif stat.S_ISREG(mode):
            with os.fdopen(open_regular(entry, label), "rb") as stream:
                writer.file(entry.rel, stream, mode)
        elif stat.S_ISLNK(mode):
            writer.symlink(entry.rel, contained_link(root_real, entry, label))
        else:
            raise special_file_error(entry.rel, mode, label)


def verify_tree(root: Path, *, limits: IntakeLimits, label: str) -> None:
    """Check a tree that something else wrote (git, a hoisted archive) with the same rules as a copy."""
    root_real = os.path.realpath(root)
    budget = Budget(limits, label)
    for entry in walk(Path(root_real), label, skip_build_output=False):
        mode = entry.st.st_mode
        budget.entry(entry.rel)
        if stat.S_ISREG(mode):
            budget.take(entry.rel, 0, entry.st.st_size)
        elif stat.S_ISLNK(mode):
            contained_link(root_real, entry, label)
        elif not stat.S_ISDIR(mode):
            raise special_file_error(entry.rel, mode, label)
