"""The run sandbox is what docs/sandbox.md promises, checked on a real container."""

from __future__ import annotations

import docker

from harness.exercise import Exercise
from harness.sandbox import labels
from harness.sandbox.images import ensure_images
from harness.sandbox.service import DockerService, DockerServiceFactory


def test_service_container_is_hardened(
    docker_client: docker.DockerClient, kv_store: Exercise, redis_oracle_image: str
) -> None:
    runtime = ensure_images(docker_client).runtime
    run_id = labels.new_run_id()
    factory = DockerServiceFactory(docker_client, redis_oracle_image, kv_store, run_id, volume_primer=runtime)
    try:
        service = factory.shared()
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
        assert attrs["Config"]["Labels"][labels.RUN] == run_id
        (network_name,) = attrs["NetworkSettings"]["Networks"]
        assert docker_client.networks.get(network_name).attrs["Internal"] is True
    finally:
        factory.close()
        from harness.sandbox.cleanup import sweep_run

        sweep_run(docker_client, run_id)


def test_data_survives_kill_and_restart(
    docker_client: docker.DockerClient, kv_store: Exercise, redis_oracle_image: str
) -> None:
    import socket

    runtime = ensure_images(docker_client).runtime
    run_id = labels.new_run_id()
    factory = DockerServiceFactory(docker_client, redis_oracle_image, kv_store, run_id, volume_primer=runtime)

    def call(service: DockerService, command: bytes) -> bytes:
        with socket.create_connection((service.host, service.port), timeout=5) as conn:
            conn.sendall(command)
            return conn.recv(100)

    try:
        with factory.fresh("durable") as handle:
            assert isinstance(handle, DockerService)
            assert call(handle, b"SET k v\r\n") == b"+OK\r\n"
            handle.kill()
            assert not handle.is_alive()
            handle.start()
            assert call(handle, b"GET k\r\n") == b"$1\r\nv\r\n"
            outcome = handle.stop(5)
            assert not outcome.forced and outcome.exit_code == 0
    finally:
        factory.close()
        from harness.sandbox.cleanup import sweep_run

        sweep_run(docker_client, run_id)
