"""The run sandbox is what docs/sandbox.md promises, checked on a real container."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import docker
import pytest

from harness.errors import ServiceStartFailed
from harness.exercise import Exercise, ExtraPort
from harness.sandbox import labels
from harness.sandbox.cleanup import sweep_run
from harness.sandbox.images import ensure_images
from harness.sandbox.service import DockerService, DockerServiceFactory


@pytest.fixture
def factory(
    docker_client: docker.DockerClient, kv_store: Exercise, redis_oracle_image: str
) -> Iterator[DockerServiceFactory]:
    runtime = ensure_images(docker_client).runtime
    made = DockerServiceFactory(
        docker_client, redis_oracle_image, kv_store, labels.new_run_id(), volume_primer=runtime
    )
    try:
        yield made
    finally:
        made.close()
        sweep_run(docker_client, made.run_id)


def test_service_container_is_hardened(
    docker_client: docker.DockerClient, kv_store: Exercise, factory: DockerServiceFactory
) -> None:
    service, _ = factory.shared()
    assert isinstance(service, DockerService)
    attrs = docker_client.api.inspect_container(service.container.id)
    host = attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["ReadonlyRootfs"] is True
    assert host["Memory"] == kv_store.spec.run.memory_mb * 1024 * 1024
    assert host["MemorySwap"] == host["Memory"]
    assert host["PidsLimit"] == kv_store.spec.run.pids
    assert host["NanoCpus"] == int(kv_store.spec.run.cpus * 1e9)
    assert host["LogConfig"]["Config"]["max-size"]
    assert attrs["Config"]["User"] == "10001:10001"
    assert attrs["Config"]["Labels"][labels.RUN] == factory.run_id
    (network_name,) = attrs["NetworkSettings"]["Networks"]
    assert docker_client.networks.get(network_name).attrs["Internal"] is True


def call(service: DockerService, command: bytes) -> bytes:
    with socket.create_connection((service.host, service.port), timeout=5) as conn:
        conn.sendall(command)
        return conn.recv(100)


def test_data_survives_kill_and_restart(factory: DockerServiceFactory) -> None:
    with factory.fresh("durable") as handle:
        assert isinstance(handle, DockerService)
        assert call(handle, b"SET k v\r\n") == b"+OK\r\n"
        handle.kill()
        assert not handle.is_alive()
        handle.start()
        assert call(handle, b"GET k\r\n") == b"$1\r\nv\r\n"
        outcome = handle.stop(5)
        assert not outcome.forced and outcome.exit_code == 0


def test_a_dead_shared_service_is_restarted_with_a_note(factory: DockerServiceFactory) -> None:
    service, note = factory.shared()
    assert note is None
    service.kill()
    again, note = factory.shared()
    assert again is service and again.is_alive()
    assert note is not None and "restarted" in note


def test_readiness_waits_for_every_declared_port(
    docker_client: docker.DockerClient, kv_store: Exercise, redis_oracle_image: str
) -> None:
    """redis-server opens 6379 only: a second declared port keeps it from counting as ready."""
    service = kv_store.spec.service.model_copy(
        update={"start_timeout_s": 3.0, "extra_ports": {"second": ExtraPort(port=6380, env="SECOND_PORT")}}
    )
    exercise = Exercise(kv_store.spec.model_copy(update={"service": service}), kv_store.root)
    runtime = ensure_images(docker_client).runtime
    made = DockerServiceFactory(
        docker_client, redis_oracle_image, exercise, labels.new_run_id(), volume_primer=runtime
    )
    try:
        with pytest.raises(ServiceStartFailed) as caught:
            made.shared()
        (container,) = docker_client.containers.list(
            all=True, filters={"label": f"{labels.RUN}={made.run_id}"}
        )
        assert {"PORT=6379", "SECOND_PORT=6380"} <= set(container.attrs["Config"]["Env"])
    finally:
        made.close()
        sweep_run(docker_client, made.run_id)
    assert caught.value.message == "the service did not accept connections on port 6380 (second) within 3 s"
    evidence = caught.value.evidence or ""
    assert "$SECOND_PORT (SECOND_PORT=6380)" in evidence and "port 6379 (main) did accept" in evidence
