"""One place that connects to the Docker engine and turns 'cannot' into a clear, one-line error."""

from __future__ import annotations

import docker
from docker.errors import DockerException

from harness.errors import DockerUnavailable


def connect() -> docker.DockerClient:
    """A client for the engine named by DOCKER_HOST (or the local socket), checked with a ping."""
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except DockerException as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DockerUnavailable(
            f"cannot reach the Docker engine: {reason}",
            hint="start it (e.g. 'sudo systemctl start docker') or set DOCKER_HOST",
        ) from None
    return client


def engine_version(client: docker.DockerClient) -> str:
    return str(client.version().get("Version", "unknown"))
