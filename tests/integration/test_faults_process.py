"""Process faults and durability verdicts on the redis-server oracle, in the real sandbox."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import docker
import pytest

from harness.exercise import Exercise
from harness.faults import CpuSqueeze, Freeze, KillRestart, Partition, SignalStop, SyscallTrace
from harness.sandbox import labels
from harness.sandbox.cleanup import sweep_run
from harness.sandbox.hostimage import image_from_host_binary
from harness.sandbox.images import ensure_images
from harness.sandbox.service import DockerService, DockerServiceFactory
from tests.integration.conftest import REDIS_ORACLE_COMMAND

pytestmark = pytest.mark.timeout(120)

NO_FSYNC_IMAGE = "harness-oracle/redis-server:7-appendfsync-no"


def _factory(client: docker.DockerClient, image: str, exercise: Exercise) -> DockerServiceFactory:
    runtime = ensure_images(client).runtime
    factory = DockerServiceFactory(client, image, exercise, labels.new_run_id(), volume_primer=runtime)
    return factory


@pytest.fixture
def redis(
    docker_client: docker.DockerClient, kv_store: Exercise, redis_oracle_image: str
) -> Iterator[DockerService]:
    factory = _factory(docker_client, redis_oracle_image, kv_store)
    try:
        with factory.fresh("faults") as service:
            assert isinstance(service, DockerService)
            yield service
    finally:
        factory.close()
        sweep_run(docker_client, factory.run_id)


def call(service: DockerService, command: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection((service.host, service.port), timeout=timeout) as conn:
        conn.sendall(command)
        return conn.recv(100)


def test_sigstop_makes_requests_hang_and_sigcont_resumes_them(redis: DockerService) -> None:
    fault = SignalStop(redis)
    with socket.create_connection((redis.host, redis.port), timeout=5) as conn:
        fault.start()
        try:
            conn.sendall(b"PING\r\n")
            conn.settimeout(0.8)
            with pytest.raises(TimeoutError):
                conn.recv(100)
        finally:
            fault.stop()
        conn.settimeout(5)
        assert conn.recv(100) == b"+PONG\r\n"  # the request sent while stopped is answered after SIGCONT


def test_pause_freezes_and_unpause_resumes(redis: DockerService, docker_client: docker.DockerClient) -> None:
    fault = Freeze(redis)
    fault.start()
    try:
        assert docker_client.api.inspect_container(redis.container.id)["State"]["Paused"] is True
        with pytest.raises(TimeoutError):
            call(redis, b"PING\r\n", timeout=0.8)
    finally:
        fault.stop()
    assert call(redis, b"PING\r\n") == b"+PONG\r\n"


def test_partition_cuts_the_service_off_and_reconnect_restores_it(redis: DockerService) -> None:
    fault = Partition([redis])
    assert call(redis, b"SET p 1\r\n") == b"+OK\r\n"
    fault.start()
    try:
        assert redis.network_names() == []
        with pytest.raises(OSError):
            call(redis, b"PING\r\n", timeout=0.8)
    finally:
        fault.stop()
    assert len(redis.network_names()) == 1
    assert call(redis, b"GET p\r\n") == b"$1\r\n1\r\n"  # same process, same data, possibly a new IP


def test_cpu_squeeze_is_applied_and_restored(redis: DockerService) -> None:
    original = redis.cpu_limit()
    fault = CpuSqueeze(redis, cpus=0.05)
    fault.start()
    try:
        assert redis.cpu_limit() == 50_000_000
        assert call(redis, b"PING\r\n") == b"+PONG\r\n"  # slow, not dead
    finally:
        fault.stop()
    assert redis.cpu_limit() == original


def test_kill_restart_keeps_data(redis: DockerService) -> None:
    assert call(redis, b"SET durable yes\r\n") == b"+OK\r\n"
    fault = KillRestart(redis)
    fault.start()
    assert not redis.is_alive()
    fault.stop()
    assert call(redis, b"GET durable\r\n") == b"$3\r\nyes\r\n"


def _writes(service: DockerService) -> None:
    with socket.create_connection((service.host, service.port), timeout=5) as conn:
        for index in range(20):
            conn.sendall(b"SET k%d v%d\r\n" % (index, index))
            assert conn.recv(100) == b"+OK\r\n"


def test_fsync_trace_passes_appendfsync_always(redis: DockerService) -> None:
    with SyscallTrace.of(redis) as trace:
        _writes(redis)
    verdict = trace.verdict()
    assert verdict.status == "pass", verdict.render()
    assert verdict.acks >= 20 and verdict.file_writes >= 20 and verdict.syncs >= 20


def test_fsync_trace_fails_appendfsync_no(docker_client: docker.DockerClient, kv_store: Exercise) -> None:
    command = [*REDIS_ORACLE_COMMAND]
    command[command.index("always")] = "no"
    image = image_from_host_binary(docker_client, "redis-server", NO_FSYNC_IMAGE, command)
    factory = _factory(docker_client, image, kv_store)
    try:
        with factory.fresh("no-fsync") as service:
            assert isinstance(service, DockerService)
            with SyscallTrace.of(service) as trace:
                _writes(service)
    finally:
        factory.close()
        sweep_run(docker_client, factory.run_id)
    verdict = trace.verdict()
    assert verdict.status == "fail", verdict.render()
    assert verdict.violation is not None
    assert "appendonly" in verdict.violation.unsynced[0].path
    assert "+OK" in verdict.violation.ack_line


def test_fsync_trace_is_unknown_without_file_writes(redis: DockerService) -> None:
    with SyscallTrace.of(redis) as trace:
        assert call(redis, b"PING\r\n") == b"+PONG\r\n"
    verdict = trace.verdict()
    assert verdict.status == "unknown" and "no writes" in verdict.reason
