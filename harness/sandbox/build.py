"""Builds a submission into a runnable image, treating its code as hostile (see docs/sandbox.md).

Cargo projects are built in two steps so that no candidate code ever runs with network access:
1. *fetch*: `cargo vendor` in the builder with network, a shared crate cache, and none of the candidate's
   cargo configuration (cargo reads config from the working directory, which is not the submission).
   Vendoring compiles and runs nothing from the submission.
2. *compile*: `cargo build --release --offline` with no network, non-root, read-only root, CPU, memory,
   pids and time limits. build.rs and proc macros run here, and can only reach the build volume.
The chosen binary is copied onto the distroless runtime image. Identical sources reuse the image.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, NotFound
from docker.models.containers import Container
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import ReadTimeout

from harness.errors import BuildFailed, CandidateFailure, InfrastructureError
from harness.exercise import BuildLimits
from harness.sandbox import archive, labels
from harness.sandbox.containers import BoundedLog, follow_logs, hardened
from harness.sandbox.images import HarnessImages, image_exists
from harness.sandbox.rootfs import SERVICE_UID
from harness.sandbox.warm_start import NORMALISE_MTIMES, WarmStart

Progress = Callable[[str], None]
CRATE_CACHE_VOLUME = "harness-crate-cache"
FETCH_TIMEOUT_S = 300
MAX_BINARY_BYTES = 256 * 1024 * 1024
BUILD_RECIPE_VERSION = 1

CARGO_OFFLINE_CONFIG = (
    '[source.crates-io]\\nreplace-with = "vendored"\\n'
    '[source.vendored]\\ndirectory = "/work/vendor"\\n'
    "[net]\\noffline = true\\n"
)
COMPILE_SCRIPT = f"""set -e
mkdir -p /work/vendor /work/cargo-home
printf '{CARGO_OFFLINE_CONFIG}' > /work/cargo-home/config.toml
{NORMALISE_MTIMES}cd /work/src
cargo build --release --locked --offline --bins
cargo metadata --format-version 1 --no-deps --offline > /work/metadata.json
"""

NETWORK_TROUBLE = ("failed to download", "Couldn't resolve host", "spurious network error", "failed to query")


@dataclass(frozen=True)
class BuiltImage:
    ref: str
    digest: str
    binary: str | None
    log: str
    duration_s: float
    cached: bool


def cache_key(source_digest: str, images: HarnessImages, client: docker.DockerClient) -> str:
    builder_id = client.images.get(images.builder).id
    runtime_id = client.images.get(images.runtime).id
    material = f"{BUILD_RECIPE_VERSION}:{source_digest}:{builder_id}:{runtime_id}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def wait_or_kill(container: Container, timeout_s: float) -> tuple[int | None, bool]:
    """(exit code, timed out); kills the container when the deadline passes."""
    try:
        result = container.wait(timeout=timeout_s)
        return int(result.get("StatusCode", -1)), False
    except (ReadTimeout, RequestsConnectionError):
        with contextlib.suppress(APIError):
            container.kill()
        return None, True


def oom_killed(container: Container) -> bool:
    try:
        container.reload()
    except NotFound:
        return False
    return bool(container.attrs.get("State", {}).get("OOMKilled"))


class _ProgressLog(BoundedLog):
    """Feeds the build's bounded log and shows each line as progress."""

    def __init__(self, sink: BoundedLog, progress: Progress) -> None:
        super().__init__(1)
        self._sink = sink
        self._progress = progress

    def feed(self, chunk: bytes) -> None:
        self._sink.feed(chunk)
        for line in chunk.decode(errors="replace").splitlines():
            if line.strip():
                self._progress(line.strip()[:80])


class CargoBuild:
    """One sandboxed cargo build; all its containers and volumes carry the run's labels."""

    def __init__(
        self,
        client: docker.DockerClient,
        images: HarnessImages,
        limits: BuildLimits,
        run_id: str,
        progress: Progress,
        *,
        role: str = "build",
    ) -> None:
        self.client = client
        self.images = images
        self.limits = limits
        self.progress = progress
        # The quality step (harness/sandbox/quality.py) reuses this sandbox under a role of its own.
        self.labels = labels.run_labels(run_id, role)
        self.log = BoundedLog(limits.log_bytes)

    def _crate_cache(self) -> str:
        try:
            self.client.volumes.get(CRATE_CACHE_VOLUME)
        except NotFound:
            self.client.volumes.create(CRATE_CACHE_VOLUME, labels={labels.CACHE: "crates"})
        return CRATE_CACHE_VOLUME

    def container(
        self,
        command: list[str],
        volumes: dict[str, dict[str, str]],
        environment: dict[str, str],
        **extra: Any,
    ) -> Container:
        options = hardened(
            memory_mb=self.limits.memory_mb, cpus=self.limits.cpus, pids=1024, labels=self.labels
        )
        options.update(extra)
        return self.client.containers.create(
            self.images.builder,
            command=command,
            volumes=volumes,
            tmpfs={"/tmp": "rw,size=1g,mode=1777"},
            user=f"{SERVICE_UID}:{SERVICE_UID}",
            environment={"CARGO_TERM_COLOR": "never", "HOME": "/work", **environment},
            **options,
        )

    def _run_step(self, container: Container, timeout_s: float, what: str) -> int:
        self.log.feed(f"--- {what} ---\n".encode())
        container.start()
        pump = follow_logs(container, _ProgressLog(self.log, self.progress))
        code, timed_out = wait_or_kill(container, timeout_s)
        pump.join(timeout=5)
        if timed_out:
            raise BuildFailed(f"{what} did not finish within {int(timeout_s)} s", evidence=self.log.text())
        if oom_killed(container):
            raise BuildFailed(
                f"{what} ran out of memory ({self.limits.memory_mb} MB)", evidence=self.log.text()
            )
        return code if code is not None else -1

    def fetch(self, volume: str, context: bytes) -> None:
        container = self.container(
            [
                "cargo",
                "vendor",
                "--manifest-path",
                "/work/src/Cargo.toml",
                "--versioned-dirs",
                "/work/vendor",
            ],
            {
                volume: {"bind": "/work", "mode": "rw"},
                self._crate_cache(): {"bind": "/cargo-home", "mode": "rw"},
            },
            {"CARGO_HOME": "/cargo-home", "CARGO_HTTP_CAINFO": "/work/host-ca.pem", **proxy_environment()},
            working_dir="/work",
        )
        container.put_archive("/work", context)
        environment_note = host_trust_store()
        if environment_note is not None:
            container.put_archive("/work", archive.single_file(environment_note, "host-ca.pem"))
        code = self._run_step(container, FETCH_TIMEOUT_S, "fetch dependencies")
        if code != 0:
            text = self.log.text()
            if any(marker in text for marker in NETWORK_TROUBLE):
                raise InfrastructureError(
                    "could not download the submission's dependencies from crates.io",
                    hint="check the network, or pre-fill the crate cache",
                    details=text[-4000:],
                )
            raise BuildFailed("cargo could not resolve the submission's dependencies", evidence=text)

    def compile(self, volume: str) -> Container:
        container = self.container(
            ["sh", "-c", COMPILE_SCRIPT],
            {volume: {"bind": "/work", "mode": "rw"}},
            {"CARGO_HOME": "/work/cargo-home", "CARGO_BUILD_JOBS": str(max(1, int(self.limits.cpus)))},
            network_mode="none",
            working_dir="/work",
        )
        code = self._run_step(container, self.limits.timeout_s, "cargo build --release")
        if code != 0:
            raise BuildFailed(f"cargo build failed (exit {code})", evidence=self.log.text())
        return container

    def binary(self, container: Container) -> tuple[str, bytes]:
        raw = archive.read_single_file(
            container.get_archive("/work/metadata.json")[0], limit=16 * 1024 * 1024, what="cargo metadata"
        )
        name, target_dir = choose_binary(json.loads(raw))
        stream, _ = container.get_archive(f"{target_dir}/release/{name}")
        return name, archive.read_single_file(stream, limit=MAX_BINARY_BYTES, what=f"binary '{name}'")


def host_trust_store() -> bytes | None:
    """The host's CA bundle. The fetch step trusts what the host trusts: on networks that inspect TLS
    (corporate proxies, this machine) Debian's stock bundle alone cannot reach crates.io."""
    for candidate in (os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and os.path.isfile(candidate):
            with open(candidate, "rb") as handle:
                return handle.read()
    return None


def proxy_environment() -> dict[str, str]:
    """HTTP(S) proxy settings of the host, passed to the fetch step only."""
    names = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
    return {name: os.environ[name] for name in names if name in os.environ}


def choose_binary(metadata: dict[str, Any]) -> tuple[str, str]:
    """The binary to run: the only bin target, or the one `[package.metadata.harness] bin` names."""
    bins: list[str] = []
    wanted: str | None = None
    for package in metadata.get("packages", []):
        for target in package.get("targets", []):
            if "bin" in target.get("kind", []):
                bins.append(str(target["name"]))
        harness_meta = (package.get("metadata") or {}).get("harness") or {}
        if isinstance(harness_meta, dict) and isinstance(harness_meta.get("bin"), str):
            wanted = harness_meta["bin"]
    target_dir = str(metadata.get("target_directory", "/work/src/target"))
    if wanted is not None:
        if wanted not in bins:
            raise BuildFailed(f"[package.metadata.harness] bin = '{wanted}' names no binary target")
        return wanted, target_dir
    if len(bins) == 1:
        return bins[0], target_dir
    if not bins:
        raise BuildFailed("the Cargo project has no binary target", evidence="add src/main.rs")
    raise BuildFailed(
        f"the Cargo project has several binaries ({', '.join(sorted(bins))})",
        evidence='say which one is the service with [package.metadata.harness] bin = "name"',
    )


def commit_service_image(
    client: docker.DockerClient, runtime: str, binary: bytes, tag: str, run_id: str, binary_name: str
) -> str:
    """Runtime image + /app/service, committed without running anything. Returns the image id."""
    holder = client.containers.create(
        runtime, command=["/app/service"], labels=labels.run_labels(run_id, "commit")
    )
    try:
        holder.put_archive("/app", archive.single_file(binary, "service", mode=0o755))
        repository, _, version = tag.partition(":")
        image = holder.commit(
            repository=repository,
            tag=version,
            changes=[
                'CMD ["/app/service"]',
                f"LABEL {labels.IMAGE}=submission",
                f"LABEL io.harness.binary={binary_name}",
            ],
        )
    finally:
        holder.remove(force=True)
    return str(image.id)


@dataclass(frozen=True)
class BuildJob:
    """Everything one build needs. `context_tar` is the submission's packed folder (for Cargo builds,
    re-packed under `src/` and owned by the sandbox user)."""

    client: docker.DockerClient
    images: HarnessImages
    context_tar: bytes
    source_digest: str
    limits: BuildLimits
    run_id: str
    progress: Progress
    #: The exercise's own reference: only such a build may leave its dependencies for others to start
    #: from (harness/sandbox/warm_start.py).
    trusted: bool = False


def _reuse(client: docker.DockerClient, tag: str) -> BuiltImage | None:
    """The image built earlier from identical source with the same harness images, if still there."""
    if not image_exists(client, tag):
        return None
    image = client.images.get(tag)
    binary = (image.labels or {}).get("io.harness.binary")
    return BuiltImage(tag, str(image.id), binary, "(reused the image built from identical source)", 0.0, True)


def build_cargo(job: BuildJob) -> BuiltImage:
    """Build (or reuse) the image of a Cargo submission. Raises BuildFailed for the candidate's faults."""
    started = time.monotonic()
    client = job.client
    tag = f"harness/submission:{cache_key(job.source_digest, job.images, client)}"
    warm = WarmStart.of(client, job.images.builder, "build", job.context_tar, trusted=job.trusted)
    if (reused := _reuse(client, tag)) is not None and not (warm is not None and warm.wanted):
        return reused
    build = CargoBuild(client, job.images, job.limits, job.run_id, job.progress)
    volume = client.volumes.create(f"harness-build-{job.run_id}", labels=build.labels)
    try:
        job.progress("fetch dependencies (no candidate code runs)")
        build.fetch(volume.name, job.context_tar)
        seeded = warm is not None and warm.copy_in(volume.name, job.run_id, job.progress)
        job.progress("compile in the sandbox (no network)")
        container = build.compile(volume.name)
        name, binary = build.binary(container)
        if warm is not None and job.trusted and not seeded:
            warm.save(volume.name, job.run_id)
        job.progress("assemble the service image")
        digest = commit_service_image(client, job.images.runtime, binary, tag, job.run_id, name)
    except CandidateFailure as failure:
        if failure.evidence is None:
            failure.evidence = build.log.text()
        raise
    finally:
        selector = {"label": [f"{labels.RUN}={job.run_id}", f"{labels.ROLE}=build"]}
        for leftover in client.containers.list(all=True, filters=selector):
            with contextlib.suppress(APIError):
                leftover.remove(force=True)
        with contextlib.suppress(APIError):
            volume.remove(force=True)
    return BuiltImage(tag, digest, name, build.log.text(), round(time.monotonic() - started, 1), False)


def build_dockerfile(job: BuildJob) -> BuiltImage:
    """Build a submission's own Dockerfile with no network and the build limits.

    The engine here cannot pull, so the Dockerfile receives the harness's images as build arguments
    (`ARG HARNESS_BUILDER` / `FROM ${HARNESS_BUILDER}`); with no network, dependencies must be vendored.
    The context is the submission's own folder, as `docker build .` would send it.
    """
    started = time.monotonic()
    client, limits = job.client, job.limits
    tag = f"harness/submission:df-{cache_key(job.source_digest, job.images, client)}"
    if (reused := _reuse(client, tag)) is not None:
        return reused
    log = BoundedLog(limits.log_bytes)
    memory = limits.memory_mb * 1024 * 1024
    try:
        stream = client.api.build(
            fileobj=io.BytesIO(job.context_tar),
            custom_context=True,
            dockerfile="Dockerfile",
            tag=tag,
            network_mode="none",
            pull=False,
            rm=True,
            forcerm=True,
            decode=True,
            timeout=limits.timeout_s,
            labels={**labels.run_labels(job.run_id, "build"), labels.IMAGE: "dockerfile-submission"},
            buildargs={"HARNESS_BUILDER": job.images.builder, "HARNESS_RUNTIME": job.images.runtime},
            container_limits={"memory": memory, "memswap": memory},
        )
        for event in stream:
            text = str(event.get("stream") or event.get("status") or "")
            log.feed(text.encode())
            if text.strip():
                job.progress(text.strip()[:80])
            if "error" in event:
                message = str(event["error"]).strip()[:200]
                raise BuildFailed(f"docker build failed: {message}", evidence=log.text())
    except (ReadTimeout, RequestsConnectionError):
        timeout = f"docker build did not finish within {limits.timeout_s} s"
        raise BuildFailed(timeout, evidence=log.text()) from None
    except APIError as exc:
        raise BuildFailed(f"docker build failed: {exc.explanation or exc}", evidence=log.text()) from None
    image = client.images.get(tag)
    return BuiltImage(tag, str(image.id), None, log.text(), round(time.monotonic() - started, 1), False)
