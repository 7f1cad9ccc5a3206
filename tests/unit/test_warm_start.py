"""The seed key of a warm start (harness/sandbox/warm_start.py): the Cargo.lock of the packed context."""

from __future__ import annotations

import hashlib
import io
import tarfile

from harness.sandbox.warm_start import NORMALISE_MTIMES, lock_digest


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_the_key_is_the_lockfile_of_the_packed_source() -> None:
    lock = b"version = 3\n"
    context = _tar({"src/Cargo.toml": b"[package]\n", "src/Cargo.lock": lock, "src/src/main.rs": b""})
    assert lock_digest(context) == hashlib.sha256(lock).hexdigest()
    # The source around it does not matter: a mutant of the reference shares the reference's seed.
    other = _tar({"src/Cargo.toml": b"[package]\nname='x'\n", "src/Cargo.lock": lock})
    assert lock_digest(other) == lock_digest(context)


def test_no_lockfile_means_no_warm_start() -> None:
    # A vendored lockfile of a dependency is not the workspace's.
    assert lock_digest(_tar({"src/Cargo.toml": b"", "src/vendor/x/Cargo.lock": b"v"})) is None


def test_every_build_touches_its_own_sources_but_not_the_target_folder() -> None:
    # Without the touch, a packed context's mtime-0 sources would look older than a seeded fingerprint.
    assert "-path /work/src/target -prune -o -type f -exec touch {} +" in NORMALISE_MTIMES
