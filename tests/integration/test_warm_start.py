"""Warm starts (harness/sandbox/warm_start.py) with real builds: a mutant of the reference, built on the
reference's compiled dependencies, is byte for byte the binary a cold build makes, and only the
reference's own build ever writes a seed."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from pathlib import Path

import docker
import pytest
from docker.errors import APIError, NotFound

from harness.exercise import Exercise
from harness.killmatrix import mutated_copy
from harness.sandbox import archive, labels
from harness.sandbox.build import BuildJob, BuiltImage, build_cargo, cache_key
from harness.sandbox.images import ensure_images
from harness.sandbox.rootfs import SERVICE_UID
from harness.sandbox.warm_start import WarmStart
from harness.submission import IntakeLimits, pack_context, source_digest


def _context(root: Path) -> tuple[bytes, str]:
    # pack_context writes beside its folder: pack a copy, never the repository's own folder.
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(shutil.copytree(root, Path(scratch) / "src"))
        packed = pack_context(copy, limits=IntakeLimits())
        return archive.retarget(packed, prefix="src", uid=SERVICE_UID), source_digest(copy)


def _build(client: docker.DockerClient, exercise: Exercise, root: Path, trusted: bool) -> BuiltImage:
    context, digest = _context(root)
    lines: list[str] = []
    job = BuildJob(
        client=client,
        images=ensure_images(client),
        context_tar=context,
        # A digest of its own: the test needs a real build, never an image reused from another test.
        source_digest=hashlib.sha256(f"warm-start-test:{digest}".encode()).hexdigest(),
        limits=exercise.spec.build,
        run_id=labels.new_run_id(),
        progress=lines.append,
        trusted=trusted,
    )
    with contextlib.suppress(APIError):
        client.images.remove(f"harness/submission:{_tag(client, job)}", force=True)
    built = build_cargo(job)
    return BuiltImage(built.ref, built.digest, built.binary, built.log + "\n".join(lines), 0.0, False)


def _tag(client: docker.DockerClient, job: BuildJob) -> str:
    return cache_key(job.source_digest, job.images, client)


def _binary_sha(client: docker.DockerClient, image: str) -> str:
    holder = client.containers.create(image, labels=labels.run_labels(labels.new_run_id(), "test"))
    try:
        stream, _ = holder.get_archive("/app/service")
        return hashlib.sha256(archive.read_single_file(stream, limit=1 << 28, what="binary")).hexdigest()
    finally:
        holder.remove(force=True)
        client.images.remove(image, force=True)


def test_a_mutant_built_warm_is_the_binary_a_cold_build_makes(
    docker_client: docker.DockerClient, kv_store: Exercise, tmp_path: Path
) -> None:
    reference = kv_store.reference_path
    assert reference is not None
    mutant = mutated_copy(reference, kv_store.root / "mutants" / "no-fsync.patch", tmp_path)
    context, _ = _context(mutant)
    warm = WarmStart.of(docker_client, ensure_images(docker_client).builder, "build", context, trusted=False)
    assert warm is not None
    with contextlib.suppress(NotFound):
        docker_client.volumes.get(warm.volume).remove(force=True)

    cold = _build(docker_client, kv_store, mutant, trusted=False)
    with pytest.raises(NotFound):  # a candidate's (untrusted) build never leaves a seed
        docker_client.volumes.get(warm.volume)
    cold_sha = _binary_sha(docker_client, cold.ref)

    _binary_sha(docker_client, _build(docker_client, kv_store, reference, trusted=True).ref)
    docker_client.volumes.get(warm.volume)  # the reference's build left one

    rebuilt = _build(docker_client, kv_store, mutant, trusted=False)
    assert "warm start" in rebuilt.log
    compiled = [line for line in rebuilt.log.splitlines() if line.strip().startswith("Compiling")]
    assert {line.split()[1] for line in compiled} == {"kv-store-reference"}, compiled
    # The same bytes as the cold build: nothing of the reference's own code was reused.
    assert _binary_sha(docker_client, rebuilt.ref) == cold_sha


def test_only_a_trusted_build_may_write_a_seed(
    docker_client: docker.DockerClient, kv_store: Exercise
) -> None:
    reference = kv_store.reference_path
    assert reference is not None
    context, _ = _context(reference)
    warm = WarmStart.of(docker_client, ensure_images(docker_client).builder, "build", context, trusted=False)
    assert warm is not None
    with pytest.raises(PermissionError):
        warm.save("harness-no-such-volume", "r1")
