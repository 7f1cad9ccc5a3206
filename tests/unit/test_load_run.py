"""Short real runs against a tiny RESP server on 127.0.0.1 (and redis-server when installed)."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from harness.load import LoadConnectError, LoadResult, LoadSpec, RespReplyCounter, WorkloadSpec, run_load
from tests.unit.loopback_server import LoopbackServer


class _TinyResp(asyncio.Protocol):
    """Answers every complete request frame with ``+OK``, or with an error every ``error_every``."""

    def __init__(self, server: TinyServer) -> None:
        self.server = server
        self.counter = RespReplyCounter()  # a request frame is a RESP array: one top-level value
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        out = []
        for _ in range(self.counter.feed(data)):
            self.server.requests += 1
            every = self.server.error_every
            out.append(b"-ERR planned\r\n" if every and self.server.requests % every == 0 else b"+OK\r\n")
        if out:
            self.transport.write(b"".join(out))


class TinyServer(LoopbackServer):
    def __init__(self, error_every: int = 0) -> None:
        super().__init__()
        self.error_every = error_every
        self.requests = 0

    def protocol(self) -> asyncio.Protocol:
        return _TinyResp(self)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_counts_add_up(r: LoadResult) -> None:
    assert r.planned == r.requests + r.dropped + r.unsent
    assert r.requests == r.completed + r.lost + r.timeouts
    assert r.errors == r.error_replies + r.connection_errors + r.lost + r.timeouts
    assert r.latency.count == r.completed == r.latency_uncorrected.count
    assert sum(s.completed for s in r.time_series) == r.completed
    assert sum(s.dropped for s in r.time_series) == r.dropped
    json.loads(r.to_json())  # plain JSON all the way down


def test_closed_loop_with_pipelining_counts_add_up() -> None:
    spec = LoadSpec(mode="closed", connections=4, pipeline=8, duration_s=0.6, warmup_s=0.2, processes=2)
    with TinyServer() as server:
        r = run_load("127.0.0.1", server.port, spec)
    assert_counts_add_up(r)
    assert r.completed > 100 and r.errors == 0
    assert r.latency == r.latency_uncorrected  # closed loop: planned is actual
    assert server.requests >= r.requests  # the server also saw the warm-up
    assert len(r.processes) == 2 and sum(p.connected for p in r.processes) == 4
    assert all(p.cpu >= 0.0 for p in r.processes)
    assert r.time_series[0].second == 0 and len(r.time_series) >= 1
    assert r.event_loop in ("uvloop", "asyncio")


def test_open_loop_sends_exactly_the_planned_rate_and_counts_error_replies() -> None:
    spec = LoadSpec(mode="open", rate=400, connections=3, duration_s=1.0, warmup_s=0.25, seed=3)
    with TinyServer(error_every=10) as server:
        r = run_load("127.0.0.1", server.port, spec)
    assert_counts_add_up(r)
    assert r.planned == 400
    assert r.requests + r.dropped == 400
    assert r.completed == r.requests
    assert abs(r.error_replies - r.completed / 10) <= 3
    assert r.send_lag.count == r.requests
    assert r.latency.p50_us >= 0 and r.latency.max_us >= r.latency_uncorrected.p50_us
    if r.valid:
        assert r.dropped <= 0.001 * r.planned


def test_pinning_is_recorded() -> None:
    spec = LoadSpec(mode="closed", connections=1, duration_s=0.2, warmup_s=0.0, cpus=(0,))
    with TinyServer() as server:
        r = run_load("127.0.0.1", server.port, spec)
    (p,) = r.processes
    assert p.cpus == (0,) or p.pin_error


def test_nothing_listening_raises_a_clear_error() -> None:
    port = free_port()
    spec = LoadSpec(mode="closed", connections=2, duration_s=0.2, warmup_s=0.0, connect_timeout_s=1)
    with pytest.raises(LoadConnectError, match=f"127.0.0.1:{port}"):
        run_load("127.0.0.1", port, spec)


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="rate"):
        LoadSpec(mode="open")
    with pytest.raises(ValueError, match="connections"):
        LoadSpec(connections=1, processes=2)
    with pytest.raises(ValueError, match="pipeline"):
        LoadSpec(pipeline=0)
    with pytest.raises(ValueError, match="read_ratio"):
        WorkloadSpec(read_ratio=2)
    assert LoadSpec(connections=5, processes=2).connections_of(0) == 3
    assert LoadSpec(mode="open", rate=100, connections=4, processes=4).rate_of(1) == 25


@pytest.fixture
def redis_port() -> Iterator[int]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        proc.wait(5)


def test_against_redis_server(redis_port: int) -> None:
    spec = LoadSpec(mode="closed", connections=8, pipeline=4, duration_s=0.5, warmup_s=0.2, processes=2)
    r = run_load("127.0.0.1", redis_port, spec)
    assert_counts_add_up(r)
    assert r.completed > 100 and r.errors == 0
