"""Extract a .tar / .tar.gz / .tgz submission, streaming, with the caps enforced on real bytes."""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from pathlib import Path

from harness.errors import SubmissionError
from harness.submission.budget import Budget
from harness.submission.display import shown
from harness.submission.model import IntakeLimits
from harness.submission.paths import link_target, link_text, member_path
from harness.submission.writer import Readable, TreeWriter

_GZIP_MAGIC = b"\x1f\x8b"
# Room for the tar format's own bytes around the data: a header, maybe a pax or GNU long-name record,
# and padding for every entry. Generous, because it only bounds the stream tarfile reads, not the disk.
_FORMAT_BYTES_PER_ENTRY = 8 * 1024
_FORMAT_BYTES_FIXED = 1024 * 1024


class _CappedReader:
    """The decompressed tar stream, refusing to yield more than ``cap`` bytes.

    tarfile reads pax and GNU long-name records into memory whole, at whatever size the header claims;
    this bounds how much a crafted header can make it decompress and hold, before any member is seen.
    """

    def __init__(self, inner: Readable, cap: int, label: str) -> None:
        self._inner = inner
        self._left = cap
        self._label = label

    def read(self, size: int = -1) -> bytes:
        want = self._left + 1 if size < 0 else min(size, self._left + 1)
        data = self._inner.read(want)
        self._left -= len(data)
        if self._left < 0:
            raise SubmissionError(
                f"{self._label} unpacks to more data than the size limit allows",
                hint="leave out build output (target/), vendored dependencies and large binaries",
            )
        return data

    # tarfile's type for a file object asks for these too; a forward-only read never uses them.
    def write(self, b: bytes, /) -> int:
        raise io.UnsupportedOperation("write")

    def tell(self) -> int:
        raise io.UnsupportedOperation("tell")

    def seek(self, pos: int, /) -> int:
        raise io.UnsupportedOperation("seek")

    def close(self) -> None:
        """The archive file is closed by whoever opened it."""


def extract_tar(archive: Path, dest: Path, *, limits: IntakeLimits, label: str) -> None:
    writer = TreeWriter(dest, Budget(limits, label))
    cap = limits.max_bytes + (limits.max_files + 1) * _FORMAT_BYTES_PER_ENTRY + _FORMAT_BYTES_FIXED
    with archive.open("rb") as raw:
        # Decide by content, not by name: a .tar that is really gzipped still opens.
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream: Readable = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        try:
            # "r|" reads strictly forward: tarfile never seeks back or skips around a stream we cap.
            with tarfile.open(fileobj=_CappedReader(stream, cap, label), mode="r|") as tar:
                for member in tar:
                    _extract_member(tar, member, writer, dest, label)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise SubmissionError(
                f"{label} is not a readable tar archive: {shown(str(exc) or type(exc).__name__)}",
                hint="check that the file is a complete .tar or .tar.gz archive",
            ) from exc


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, writer: TreeWriter, dest: Path, label: str
) -> None:
    rel = member_path(member.name, label)
    if rel is None:
        return
    if not (member.isdir() or member.isreg() or member.issym() or member.islnk()):
        kind = (
            "a device file"
            if member.ischr() or member.isblk()
            else "a fifo"
            if member.isfifo()
            else "a special entry"
        )
        raise SubmissionError(
            f"{shown(member.name)} in {label} is {kind}; a submission may hold only files, folders and links",
            hint="repack the archive without it",
        )
    target = (
        link_target(rel, member.linkname, label, hard=member.islnk())
        if member.issym() or member.islnk()
        else None
    )
    # The stdlib's own 'data' filter is a second opinion on every member, after the checks above.
    try:
        member = tarfile.data_filter(member, str(dest))
    except tarfile.FilterError as exc:
        raise SubmissionError(
            f"{shown(member.name)} in {label} is unsafe to extract ({type(exc).__name__})",
            hint="repack the archive with relative paths and no links out of it",
        ) from exc
    if member.isdir():
        writer.directory(rel)
    elif target is not None and member.issym():
        writer.symlink(rel, link_text(rel, target))
    elif target is not None:
        writer.copy_of(rel, target, member.mode or 0)
    else:
        stream = tar.extractfile(member)
        if stream is None:  # only for types refused above; kept so the type checker knows
            raise SubmissionError(f"{shown(member.name)} in {label} has no data", hint="repack the archive")
        with stream:
            writer.file(rel, stream, member.mode or 0)
