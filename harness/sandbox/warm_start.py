"""Warm starts for Cargo builds: a trusted build's compiled dependencies, copied into a new build.

A fresh build volume compiles every dependency again: most of the time of building the kv-store
reference, and all of it wasted on a mutant of the reference (a patch to `src/`, the same Cargo.lock)
or on a candidate who kept the reference's lockfile. A *seed* keeps those artefacts:

* **Only trusted builds write one**: the exercise's own reference (the grader compares source digests).
  A candidate's build never writes a seed, so it cannot leave a poisoned artefact for the next one.
* **A seed is copied, never shared**: a small container with no network copies it into the new build's
  own volume before the compile starts; the compile (where build.rs and proc macros run) never sees the
  seed, and changing its copy changes nothing for anyone else.
* **Nothing of the workspace's own code is reused.** Source files in a packed context all have mtime
  0, and cargo decides whether a *local* package is fresh from mtimes alone, so a stale fingerprint of
  the reference would make a mutant ship the reference's binary. Two guards: the seed is made without
  the workspace's packages (`cargo clean -p`), and every build touches its sources before compiling.
  Vendored dependencies get one fixed mtime in every build, so a dependency's build script that says
  `rerun-if-changed` stays fresh across volumes. Cargo's own fingerprints decide the rest (features,
  profiles, toolchain): a seed that does not fit is simply rebuilt over.

Seeds are keyed by the builder image, the Cargo.lock and the step (`build` for `cargo build --release`,
`quality` for clippy and tests), and live in volumes labelled as a cache (kept by `harness gc`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import docker
from docker.errors import APIError, NotFound

from harness.sandbox import labels
from harness.sandbox.containers import hardened
from harness.sandbox.rootfs import SERVICE_UID

Step = Literal["build", "quality"]
SEED_RECIPE_VERSION = 1
COPY_TIMEOUT_S = 300
#: Where seed containers mount the seed: a directory the builder image gives the sandbox user, because
#: Docker gives a new volume the owner of the directory it is first mounted over (at a fresh path it
#: would belong to root, and the sandbox user could not write it).
SEED_MOUNT = "/cargo-home"

#: Shell run at the start of every sandboxed cargo step (seeded or not, so that trusted and seeded builds
#: agree on vendored mtimes). 2001-09-09: any fixed instant before the seed was made.
NORMALISE_MTIMES = """find /work/vendor -exec touch -h -d @1000000000 {} + 2>/dev/null || true
find /work/src -path /work/src/target -prune -o -type f -exec touch {} +
"""

_COPY_IN = """set -e
if [ -d $SEED/target ]; then
  mkdir -p /work/src/target
  cp -a $SEED/target/. /work/src/target/
  echo seeded
fi
"""

# Runs in the trusted build's volume after it succeeded. The copy is cleaned of the workspace's own
# packages, then renamed into place in one step so a reader never sees half a seed (`mv -T` fails when
# another trusted build got there first; that copy is then dropped).
_SAVE = r"""set -e
tmp=$SEED/.incoming-$RUN
rm -rf "$tmp"
cp -a /work/src/target "$tmp"
cd /work/src
# The workspace's own packages, as package id specs (the builder has no JSON tool; ids hold no quotes).
members=$(cargo metadata --offline --no-deps --format-version 1 \
  | grep -o '"workspace_members":\[[^]]*\]' | grep -o '"[^"]*"' | tail -n +2 | tr -d '"')
for package in $members; do
  cargo clean --offline --target-dir "$tmp" $PROFILE -p "$package" >/dev/null 2>&1 || true
done
mv -T "$tmp" $SEED/target 2>/dev/null || rm -rf "$tmp"
"""


def lock_digest(context_tar: bytes) -> str | None:
    """The sha256 of `src/Cargo.lock` in a packed (sandbox-owned) context, or None without one."""
    with tarfile.open(fileobj=io.BytesIO(context_tar)) as tar:
        for member in tar:
            if member.isfile() and member.name.lstrip("./") == "src/Cargo.lock":
                handle = tar.extractfile(member)
                if handle is not None:
                    return hashlib.sha256(handle.read()).hexdigest()
    return None


@dataclass(frozen=True)
class WarmStart:
    """Where one build's dependency seed lives, and whether this build may write it."""

    client: docker.DockerClient
    builder: str
    step: Step
    lock: str
    trusted: bool

    @classmethod
    def of(
        cls, client: docker.DockerClient, builder: str, step: Step, context_tar: bytes, *, trusted: bool
    ) -> WarmStart | None:
        lock = lock_digest(context_tar)
        return None if lock is None else cls(client, builder, step, lock, trusted)

    @property
    def wanted(self) -> bool:
        """A trusted build whose seed is missing: worth running even when its result is cached, so the
        builds after it start warm."""
        return self.trusted and not self.exists()

    @property
    def volume(self) -> str:
        builder_id = self.client.images.get(self.builder).id
        material = f"{SEED_RECIPE_VERSION}:{self.step}:{builder_id}:{self.lock}"
        return f"harness-seed-{hashlib.sha256(material.encode()).hexdigest()[:16]}"

    def exists(self) -> bool:
        try:
            self.client.volumes.get(self.volume)
        except NotFound:
            return False
        return True

    def _run(
        self, script: str, build_volume: str, seed_mode: str, environment: dict[str, str], run_id: str
    ) -> str:
        options = hardened(memory_mb=1024, cpus=1.0, pids=256, labels=labels.run_labels(run_id, "seed"))
        container = self.client.containers.create(
            self.builder,
            command=["sh", "-c", script],
            volumes={
                build_volume: {"bind": "/work", "mode": "rw"},
                self.volume: {"bind": SEED_MOUNT, "mode": seed_mode},
            },
            user=f"{SERVICE_UID}:{SERVICE_UID}",
            environment={
                "HOME": "/work",
                "CARGO_HOME": "/work/cargo-home",
                "SEED": SEED_MOUNT,
                **environment,
            },
            network_mode="none",
            working_dir="/work",
            **options,
        )
        try:
            container.start()
            container.wait(timeout=COPY_TIMEOUT_S)
            return bytes(container.logs()).decode(errors="replace")
        finally:
            with contextlib.suppress(APIError):
                container.remove(force=True)

    def copy_in(self, build_volume: str, run_id: str, progress: Callable[[str], None]) -> bool:
        """Copy the seed (if any) into `build_volume`; True when it did. A failure only costs time."""
        if not self.exists():
            return False
        try:
            seeded = "seeded" in self._run(_COPY_IN, build_volume, "ro", {}, run_id)
        except (APIError, OSError) as exc:  # OSError covers requests' timeouts
            progress(f"no warm start ({exc})")
            return False
        if seeded:
            progress("warm start: dependencies compiled by the reference's build")
        return seeded

    def save(self, build_volume: str, run_id: str) -> None:
        """After a trusted build succeeded: keep its dependency artefacts (not its own) as the seed."""
        if not self.trusted:
            raise PermissionError("only a trusted build may write a dependency seed")
        if not self.exists():
            self.client.volumes.create(self.volume, labels={labels.CACHE: f"seed-{self.step}"})
        environment = {"RUN": run_id, "PROFILE": "--release" if self.step == "build" else ""}
        with contextlib.suppress(APIError, OSError):
            self._run(_SAVE, build_volume, "rw", environment, run_id)


def remove_seeds(client: docker.DockerClient) -> int:
    """Remove every seed volume not in use; returns how many went."""
    removed = 0
    for volume in client.volumes.list(filters={"label": labels.CACHE}):
        if str((volume.attrs.get("Labels") or {}).get(labels.CACHE, "")).startswith("seed-"):
            with contextlib.suppress(APIError):
                volume.remove()
                removed += 1
    return removed
