"""`harness doctor`: one line per thing grading needs, each saying how to fix it."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass

import docker
from docker.errors import DockerException

from harness.errors import HarnessError
from harness.sandbox import hostguard, rootfs
from harness.sandbox.docker_client import connect, engine_version
from harness.sandbox.images import cache_dir, expected_images, image_exists


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    optional: bool = False


def run_checks() -> list[Check]:
    checks: list[Check] = []
    try:
        client = connect()
        checks.append(Check("docker engine", True, f"reachable, version {engine_version(client)}"))
    except HarnessError as exc:
        return [Check("docker engine", False, exc.one_line())]
    try:
        sysroot, rustc = rootfs.rust_sysroot()
        checks.append(Check("rust toolchain", True, f"{rustc} at {sysroot}"))
        wanted = expected_images()
    except HarnessError as exc:
        checks.append(Check("rust toolchain", False, exc.one_line()))
        return checks
    ready = [ref for ref in (wanted.builder, wanted.runtime) if image_exists(client, ref)]
    if len(ready) == 2:
        checks.append(Check("harness images", True, f"{wanted.builder}, {wanted.runtime}"))
    elif rootfs.can_debootstrap():
        checks.append(
            Check(
                "harness images",
                True,
                "not built yet; created on first grade (about a minute), or run 'harness prepare'",
            )
        )
    else:
        checks.append(
            Check(
                "harness images",
                False,
                "missing, and debootstrap is not available as root: run scripts/install",
            )
        )
    checks.extend(containment_checks(client))
    free = shutil.disk_usage(cache_dir()).free // (1024**3)
    checks.append(Check("disk", free >= 5, f"{free} GiB free under {cache_dir()} (5 GiB or more wanted)"))
    checks.append(
        Check(
            "redis-server",
            shutil.which("redis-server") is not None,
            "found (used by the test suite as an oracle)"
            if shutil.which("redis-server")
            else "not installed (only the test suite needs it)",
            optional=True,
        )
    )
    return checks


def containment_checks(client: docker.DockerClient) -> list[Check]:
    """The two containments the harness adds to Docker's (see SECURITY.md). Optional: grading works
    without them, but a hostile service can then reach host ports or fill the disk through /data."""
    guard = hostguard.status()
    checks = [Check("host firewall", guard.available, guard.detail, optional=True)]
    from harness.sandbox.service import data_quota_mb

    volumes_root = "/var/lib/docker/volumes"
    with contextlib.suppress(DockerException):
        volumes_root = f"{client.info().get('DockerRootDir', '/var/lib/docker')}/volumes"
    readable = os.access(volumes_root, os.R_OK | os.X_OK)
    detail = (
        f"/data is capped at {data_quota_mb()} MiB (volumes under {volumes_root} are watched)"
        if readable
        else f"cannot read {volumes_root} (remote engine or not root): /data has no size limit"
    )
    checks.append(Check("/data quota", readable, detail, optional=True))
    return checks
