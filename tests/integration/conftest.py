"""Integration tier: real Docker, real builds, real redis-server. No mock of Docker here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from harness.errors import DockerUnavailable
from harness.exercise import Exercise, load_exercise
from harness.grading import GradeRequest, grade
from harness.report.model import GradeResult
from harness.sandbox import labels
from harness.sandbox.docker_client import connect
from harness.sandbox.hostimage import image_from_host_binary

REPO = Path(__file__).resolve().parents[2]
SUBMISSIONS = REPO / "tests" / "fixtures" / "submissions"
REDIS_ORACLE_IMAGE = "harness-oracle/redis-server:7"
REDIS_ORACLE_COMMAND = [
    "/usr/bin/redis-server",
    "--port",
    "6379",
    "--bind",
    "0.0.0.0",
    "--protected-mode",
    "no",
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--proto-max-bulk-len",
    "1mb",
    "--dir",
    "/data",
    "--save",
    "",
]


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    try:
        return connect()
    except DockerUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a Docker engine: {exc.one_line()}")
        pytest.skip(exc.one_line())


def _ours_or_orphaned(resource_labels: dict[str, str]) -> bool:
    """Resources of this process, or of a harness process that died (a leak): other sessions sharing the
    engine while this suite runs are none of its business."""
    owner = resource_labels.get(labels.OWNER, "")
    return owner == labels.owner_tag() or labels.owner_is_gone(owner)


def leftovers(client: docker.DockerClient) -> list[str]:
    selector = {"label": labels.RUN}
    found = [
        f"container {c.name}"
        for c in client.containers.list(all=True, filters=selector)
        if _ours_or_orphaned(c.labels)
    ]
    found += [
        f"network {n.name}"
        for n in client.networks.list(filters=selector)
        if _ours_or_orphaned(n.attrs.get("Labels") or {})
    ]
    found += [
        f"volume {v.name}"
        for v in client.volumes.list(filters=selector)
        if _ours_or_orphaned(v.attrs.get("Labels") or {})
    ]
    return found


@pytest.fixture(autouse=True)
def nothing_left_behind(docker_client: docker.DockerClient) -> Iterator[None]:
    yield
    assert leftovers(docker_client) == [], "a grade left resources behind"


@pytest.fixture(scope="session")
def kv_store() -> Exercise:
    return load_exercise("kv-store")


@pytest.fixture(scope="session")
def redis_oracle_image(docker_client: docker.DockerClient) -> str:
    return image_from_host_binary(docker_client, "redis-server", REDIS_ORACLE_IMAGE, REDIS_ORACLE_COMMAND)


def grade_kv(
    exercise: Exercise,
    *,
    submission: Path | None = None,
    image: str | None = None,
    mode: str = "grade",
    logs: Path | None = None,
    keyword: str | None = None,
) -> GradeResult:
    request = GradeRequest(
        exercise=exercise,
        mode="check" if mode == "check" else "grade",
        seed=1234,
        submission=str(submission) if submission else None,
        image=image,
        logs_dir=logs,
        keyword=keyword,
    )
    return grade(request)
