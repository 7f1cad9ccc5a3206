"""The fault proxy, the fuzzer and slowloris against the redis-server oracle in the real sandbox."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import docker
import pytest

from harness.exercise import Exercise
from harness.faults import Latency, Partition, Slowloris, proxied, run_fuzz
from harness.sandbox import labels
from harness.sandbox.cleanup import sweep_run
from harness.sandbox.images import ensure_images
from harness.sandbox.service import DockerService, DockerServiceFactory

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def redis(
    docker_client: docker.DockerClient, kv_store: Exercise, redis_oracle_image: str
) -> Iterator[DockerService]:
    runtime = ensure_images(docker_client).runtime
    factory = DockerServiceFactory(
        docker_client, redis_oracle_image, kv_store, labels.new_run_id(), volume_primer=runtime
    )
    try:
        with factory.fresh("clients") as service:
            assert isinstance(service, DockerService)
            yield service
    finally:
        factory.close()
        sweep_run(docker_client, factory.run_id)


def ping(host: str, port: int, timeout: float = 5) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(100)


def test_proxy_in_front_of_the_service_adds_latency_and_follows_a_reconnect(redis: DockerService) -> None:
    with proxied(redis, seed=1) as service:
        assert ping(service.host, service.port) == b"+PONG\r\n"
        with service.proxy.toxic(Latency(300, stream="downstream")):
            started = time.monotonic()
            assert ping(service.host, service.port) == b"+PONG\r\n"
            assert time.monotonic() - started >= 0.28
        partition = Partition([redis])
        partition.start()
        partition.stop()
        assert ping(service.host, service.port) == b"+PONG\r\n"  # the address is resolved per connection


def test_fuzzing_the_oracle_finds_nothing(redis: DockerService) -> None:
    report = run_fuzz(
        lambda: (redis.host, redis.port), seed=2024, count=40, deadline_s=40, case_timeout_s=0.1
    )
    assert report.cases_run == 40 and report.failures == [], [f.detail for f in report.failures]


def test_slowloris_does_not_starve_a_normal_client_of_the_oracle(redis: DockerService) -> None:
    with Slowloris(redis.host, redis.port, connections=200, interval_s=0.5, duration_s=20, seed=3) as attack:
        time.sleep(1.0)
        assert ping(redis.host, redis.port, timeout=3) == b"+PONG\r\n"
    assert attack.report.opened == 200
