"""Small tar helpers for moving files in and out of containers without bind mounts (works with a remote
engine too)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from pathlib import Path

from harness.errors import CandidateFailure


def retarget(context_tar: Path, *, prefix: str, uid: int) -> bytes:
    """Re-pack a context tar under `prefix/`, owned by `uid`, so the sandbox user can write to it."""
    out = io.BytesIO()
    with tarfile.open(context_tar) as source, tarfile.open(fileobj=out, mode="w") as target:
        target.addfile(_dir(prefix, uid))
        for member in source:
            member.name = f"{prefix}/{member.name.lstrip('./')}" if member.name not in (".", "./") else prefix
            if member.name == prefix:
                continue
            member.uid = member.gid = uid
            member.uname = member.gname = ""
            target.addfile(member, source.extractfile(member) if member.isfile() else None)
    return out.getvalue()


def _dir(name: str, uid: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.uid = info.gid = uid
    return info


def single_file(data: bytes, name: str, mode: int = 0o644) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = mode
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def read_single_file(chunks: Iterable[bytes], *, limit: int, what: str) -> bytes:
    """The one regular file in a `get_archive` stream, refusing more than `limit` bytes."""
    buffer = io.BytesIO()
    for chunk in chunks:
        buffer.write(chunk)
        if buffer.tell() > limit + 64 * 1024:
            raise CandidateFailure(f"{what} is larger than {limit // (1024 * 1024)} MiB")
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        for member in tar:
            if member.isfile():
                extracted = tar.extractfile(member)
                if extracted is not None:
                    return extracted.read()
    raise CandidateFailure(f"{what} is not a regular file")
