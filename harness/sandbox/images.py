"""The images the harness needs, created locally when the engine cannot pull (see docs/images.md).

Image tags carry a hash of their inputs (recipe version, Debian suite and packages, rustc version), so a
changed input makes a new image and an unchanged one is reused. Creation is serialised by a file lock so
two harness processes never bootstrap at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import APIError, ImageNotFound

from harness.errors import ImageBootstrapError
from harness.sandbox import labels, rootfs

RECIPE_VERSION = 1
Progress = Callable[[str], None]


@dataclass(frozen=True)
class HarnessImages:
    builder: str
    runtime: str


def cache_dir() -> Path:
    base = os.environ.get("HARNESS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "harness"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def image_exists(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except ImageNotFound:
        return False
    return True


@contextlib.contextmanager
def _bootstrap_lock() -> Iterator[None]:
    with open(cache_dir() / "images.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def image_inputs() -> dict[str, object]:
    _, rustc = rootfs.rust_sysroot()
    return {
        "recipe": RECIPE_VERSION,
        "suite": rootfs.SUITE,
        "packages": list(rootfs.BUILDER_PACKAGES),
        "runtime_libs": list(rootfs.RUNTIME_LIBS),
        "rustc": rustc,
    }


def _tags(inputs: dict[str, object]) -> HarnessImages:
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:12]
    return HarnessImages(builder=f"harness/rust-builder:{key}", runtime=f"harness/runtime:{key}")


def expected_images() -> HarnessImages:
    return _tags(image_inputs())


def _import(
    client: docker.DockerClient, source: object, tag: str, changes: list[str], inputs: dict[str, object]
) -> None:
    repository, _, version = tag.partition(":")
    role = repository.rsplit("/", 1)[-1]
    all_changes = [
        *changes,
        f"LABEL {labels.IMAGE}={role}",
        f"LABEL {labels.INPUTS}={json.dumps(json.dumps(inputs, sort_keys=True))}",
    ]
    try:
        client.api.import_image_from_stream(source, repository=repository, tag=version, changes=all_changes)
    except APIError as exc:
        raise ImageBootstrapError(f"docker import of {tag} failed: {exc.explanation or exc}") from None
    if not image_exists(client, tag):
        raise ImageBootstrapError(f"docker import of {tag} reported success but the image is missing")


def _chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    """A generator, not a file: docker-py sends a chunked body only for generators."""
    with open(path, "rb") as stream:
        while data := stream.read(size):
            yield data


BUILDER_CHANGES = [
    "ENV PATH=/opt/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV CARGO_HOME=/cargo-home",
    "ENV HOME=/work",
    f"USER {rootfs.SERVICE_UID}:{rootfs.SERVICE_UID}",
    "WORKDIR /work",
]
RUNTIME_CHANGES = [
    f"USER {rootfs.SERVICE_UID}:{rootfs.SERVICE_UID}",
    "WORKDIR /data",
    "ENV DATA_DIR=/data",
]


def ensure_images(client: docker.DockerClient, progress: Progress = lambda _: None) -> HarnessImages:
    """Return the builder and runtime images, creating them on first use (about a minute here)."""
    inputs = image_inputs()
    wanted = _tags(inputs)
    if image_exists(client, wanted.builder) and image_exists(client, wanted.runtime):
        return wanted
    with _bootstrap_lock():
        if image_exists(client, wanted.builder) and image_exists(client, wanted.runtime):
            return wanted
        if not rootfs.can_debootstrap():
            raise ImageBootstrapError(
                "cannot create the harness images: debootstrap is missing or the harness is not root",
                hint="run scripts/install as root (it installs debootstrap), or pre-load the images",
            )
        debian_root = cache_dir() / f"debian-{rootfs.SUITE}-r{RECIPE_VERSION}"
        progress(f"debootstrap Debian {rootfs.SUITE} (first use only)")
        rootfs.debootstrap(debian_root, lambda line: progress(f"debootstrap: {line[:60]}"))
        if not image_exists(client, wanted.runtime):
            progress("import runtime image")
            with tempfile.TemporaryDirectory(dir=cache_dir()) as scratch:
                tar_path = Path(scratch) / "runtime.tar"
                rootfs.write_runtime_tar(debian_root, tar_path)
                _import(client, _chunks(tar_path), wanted.runtime, RUNTIME_CHANGES, inputs)
        if not image_exists(client, wanted.builder):
            progress("add the Rust toolchain to the builder")
            sysroot, _ = rootfs.rust_sysroot()
            rootfs.prepare_builder_root(debian_root, sysroot)
            progress("import builder image")
            _import(client, rootfs.stream_tar_of(debian_root), wanted.builder, BUILDER_CHANGES, inputs)
    return wanted
