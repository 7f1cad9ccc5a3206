"""Pack a submission root into a deterministic tar: the build context sent into build containers.

Deterministic (sorted names, zero times and owners, no compression) so that the same code always gives
the same bytes, which makes ``source_digest`` usable as a cache key for builds.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO

from harness.submission.budget import Budget
from harness.submission.display import shown
from harness.submission.model import IntakeLimits
from harness.submission.tree import Entry, contained_link, open_regular, special_file_error, walk

CONTEXT_NAME = "context.tar"


def pack_context(root: Path, *, limits: IntakeLimits) -> Path:
    """Write the context tar of ``root`` to ``root.parent / "context.tar"`` and return its path."""
    out = root.parent / CONTEXT_NAME
    partial = root.parent / f".{CONTEXT_NAME}.partial"
    try:
        with partial.open("wb") as sink:
            _write_context(root, sink, limits)
        # Readers never see a half-written context, even if packing fails on the cap midway.
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def source_digest(root: Path, *, limits: IntakeLimits | None = None) -> str:
    """The sha256 (hex) of the context tar of ``root``; equal for equal trees, whatever their mtimes."""
    sink = _HashSink()
    _write_context(root, sink, limits or IntakeLimits())
    return sink.hash.hexdigest()


class _HashSink:
    """Just enough of a binary file for tarfile to write into: bytes go to a hash, not to disk."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self._position = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    # tarfile's type for a file object asks for these too; writing a tar never uses them.
    def read(self, size: int, /) -> bytes:
        raise io.UnsupportedOperation("read")

    def seek(self, pos: int, /) -> int:
        raise io.UnsupportedOperation("seek")

    def close(self) -> None:
        """Nothing to release: the digest is read from ``hash``."""


def _write_context(root: Path, sink: BinaryIO | _HashSink, limits: IntakeLimits) -> None:
    label = shown(root)
    root_real = os.path.realpath(root)
    budget = Budget(limits, label)
    with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in walk(Path(root_real), label, skip_build_output=True):
            budget.entry(entry.rel)
            _add(tar, entry, budget, root_real, label)


def _add(tar: tarfile.TarFile, entry: Entry, budget: Budget, root_real: str, label: str) -> None:
    mode = entry.st.st_mode
    info = tarfile.TarInfo(entry.rel.as_posix())
    # Setuid, setgid and sticky bits have no business in a build context.
    info.mode = stat.S_IMODE(mode) & 0o777
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    elif stat.S_ISLNK(mode):
        info.type = tarfile.SYMTYPE
        info.linkname = contained_link(root_real, entry, label)
        tar.addfile(info)
    elif stat.S_ISREG(mode):
        with os.fdopen(open_regular(entry, label), "rb") as stream:
            # The size is taken after opening, so the tar header matches what is actually read.
            info.size = os.fstat(stream.fileno()).st_size
            budget.take(entry.rel, 0, info.size)
            tar.addfile(info, stream)
    else:
        raise special_file_error(entry.rel, mode, label)
