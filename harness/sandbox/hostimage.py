"""Images made from a program installed on the host: the binary, its shared-library closure (from ldd),
and the same runtime skeleton as submissions (/data owned by the service user, /tmp, passwd).

Used to package oracles such as Debian's redis-server, which then run under exactly the sandbox that
candidates' services get. Only for trusted host binaries: ldd may execute the program's loader.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker

from harness.errors import ImageBootstrapError
from harness.sandbox import labels, rootfs
from harness.sandbox.images import image_exists

_LDD_PATH = re.compile(r"(/\S+)\s+\(0x")


def library_closure(binary: Path) -> list[Path]:
    """Shared libraries `binary` loads, the dynamic loader included."""
    try:
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ImageBootstrapError(f"ldd {binary} failed: {exc}") from None
    return [Path(match) for match in _LDD_PATH.findall(out)]


def _entries(binary: Path) -> Iterator[tuple[str, Path]]:
    # Keep the name the program was called by: redis-server is a link to redis-check-rdb and picks its
    # personality from argv[0].
    yield binary.as_posix().lstrip("/"), binary.resolve()
    for library in library_closure(binary.resolve()):
        yield library.as_posix().lstrip("/"), library.resolve()


def write_host_binary_tar(binary: Path, out: io.BufferedIOBase | io.BytesIO) -> None:
    with tarfile.open(fileobj=out, mode="w") as tar:
        made: set[str] = set()

        def parents(name: str) -> None:
            parts = name.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folder = "/".join(parts[:depth])
                if folder not in made:
                    made.add(folder)
                    info = tarfile.TarInfo(folder)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)

        for name, source in _entries(binary):
            parents(name)
            tar.add(source, arcname=name, recursive=False)
        for name, uid, mode in (("tmp", 0, 0o1777), ("data", rootfs.SERVICE_UID, 0o700), ("etc", 0, 0o755)):
            if name not in made:
                info = tarfile.TarInfo(name)
                info.type = tarfile.DIRTYPE
                info.mode = mode
                info.uid = info.gid = uid
                tar.addfile(info)
        for name, text in (("etc/passwd", rootfs.PASSWD), ("etc/group", rootfs.GROUP)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))


def image_from_host_binary(
    client: docker.DockerClient, program: str, tag: str, command: list[str], *, rebuild: bool = False
) -> str:
    """Create (or reuse) `tag` holding the host's `program` and its libraries; returns the tag."""
    if image_exists(client, tag) and not rebuild:
        return tag
    found = shutil.which(program)
    if found is None:
        raise ImageBootstrapError(
            f"'{program}' is not installed on this machine", hint=f"apt-get install {program}"
        )
    buffer = io.BytesIO()
    write_host_binary_tar(Path(found), buffer)
    repository, _, version = tag.partition(":")
    changes = [
        f"CMD {json.dumps(command)}",
        f"USER {rootfs.SERVICE_UID}:{rootfs.SERVICE_UID}",
        "WORKDIR /data",
        f"LABEL {labels.IMAGE}=host-binary",
    ]
    client.api.import_image_from_stream(
        iter([buffer.getvalue()]), repository=repository, tag=version or "latest", changes=changes
    )
    return tag
