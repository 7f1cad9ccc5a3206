"""Extract a .zip submission, streaming, with the caps enforced on real bytes, not declared sizes."""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from harness.errors import SubmissionError
from harness.submission.budget import Budget
from harness.submission.display import shown
from harness.submission.model import IntakeLimits
from harness.submission.paths import link_target, link_text, member_path
from harness.submission.writer import TreeWriter

_UNIX = 3  # ZipInfo.create_system of archives made on Unix; only these carry file types in external_attr
_MAX_LINK_TEXT = 4096
_ENCRYPTED = 0x1


def extract_zip(archive: Path, dest: Path, *, limits: IntakeLimits, label: str) -> None:
    writer = TreeWriter(dest, Budget(limits, label))
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _extract_entry(zf, info, writer, label)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise SubmissionError(
            f"{label} is not a readable zip archive: {shown(str(exc) or type(exc).__name__)}",
            hint="check that the file is a complete .zip archive",
        ) from exc
    except NotImplementedError as exc:
        raise SubmissionError(
            f"{label} uses a zip compression method that cannot be read: {shown(str(exc))}",
            hint="repack it with plain deflate (the default of most zip tools)",
        ) from exc


def _extract_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, writer: TreeWriter, label: str) -> None:
    rel = member_path(info.filename, label)
    # macOS Finder adds __MACOSX/ (resource forks) to every zip it makes; it is never part of the code.
    if rel is None or rel.parts[0] == "__MACOSX":
        return
    if info.flag_bits & _ENCRYPTED:
        raise SubmissionError(
            f"{shown(info.filename)} in {label} is encrypted", hint="repack it without a password"
        )
    mode = info.external_attr >> 16 if info.create_system == _UNIX else 0
    kind = stat.S_IFMT(mode)
    if info.is_dir() or kind == stat.S_IFDIR:
        writer.directory(rel)
    elif kind == stat.S_IFLNK:
        target = link_target(rel, _link_text(zf, info, rel, label), label, hard=False)
        writer.symlink(rel, link_text(rel, target))
    elif kind in (0, stat.S_IFREG):
        with zf.open(info) as stream:
            writer.file(rel, stream, mode)
    else:
        raise SubmissionError(
            f"{shown(info.filename)} in {label} is a device, fifo or socket;"
            " a submission may hold only files, folders and links",
            hint="repack the archive without it",
        )


def _link_text(zf: zipfile.ZipFile, info: zipfile.ZipInfo, rel: PurePosixPath, label: str) -> str:
    """A zip symlink stores its target as the entry's data; read only a bounded amount of it."""
    with zf.open(info) as stream:
        data = stream.read(_MAX_LINK_TEXT + 1)
    if len(data) > _MAX_LINK_TEXT:
        raise SubmissionError(
            f"{shown(rel)} in {label} is a symlink with an overlong target", hint="repack it"
        )
    return data.decode("utf-8", "surrogateescape")
