"""The fault proxy and its toxics, against an echo server on loopback."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from harness.faults.proxy import FaultProxy
from harness.faults.toxics import Bandwidth, Latency, LimitData, ResetPeer, Slicer, SlowClose, Timeout

pytestmark = pytest.mark.timeout(30)


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo: tuple[str, int]) -> Iterator[FaultProxy]:
    with FaultProxy(echo, seed=7) as running:
        yield running


def connect(proxy: FaultProxy) -> socket.socket:
    return socket.create_connection((proxy.host, proxy.port), timeout=5)


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_forwards_both_ways_without_toxics(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"hello")
        assert recv_exactly(sock, 5) == b"hello"


def test_latency_delays_each_pipelined_chunk_from_its_arrival_not_one_after_another(
    proxy: FaultProxy,
) -> None:
    proxy.add(Latency(200, stream="upstream"))
    with connect(proxy) as sock:
        sent: list[float] = []
        for index in range(10):
            sent.append(time.monotonic())
            sock.sendall(b"%d;" % index)
            time.sleep(0.005)
        expected = b"".join(b"%d;" % index for index in range(10))
        received = b""
        arrivals: dict[int, float] = {}
        while len(received) < len(expected):
            received += sock.recv(100)
            for index in range(10):
                if b"%d;" % index in received and index not in arrivals:
                    arrivals[index] = time.monotonic()
        total = time.monotonic() - sent[0]
    assert received == expected
    # Serial pile-up would take 10 x 200 ms = 2 s; per-arrival scheduling takes ~200 ms plus the sends.
    assert 0.19 <= total < 0.6, total
    for index, arrived in arrivals.items():
        assert 0.15 <= arrived - sent[index] < 0.45, (index, arrived - sent[index])


def test_latency_added_and_removed_at_run_time_on_an_open_connection(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"a")
        assert recv_exactly(sock, 1) == b"a"
        with proxy.toxic(Latency(300, stream="downstream")):
            started = time.monotonic()
            sock.sendall(b"b")
            assert recv_exactly(sock, 1) == b"b"
            assert time.monotonic() - started >= 0.28
        started = time.monotonic()
        sock.sendall(b"c")
        assert recv_exactly(sock, 1) == b"c"
        assert time.monotonic() - started < 0.2


def test_bandwidth_limits_the_rate(proxy: FaultProxy) -> None:
    proxy.add(Bandwidth(rate=50_000, stream="downstream"))
    payload = bytes(50_000)
    with connect(proxy) as sock:
        started = time.monotonic()
        sock.sendall(payload)
        assert len(recv_exactly(sock, len(payload))) == len(payload)
        elapsed = time.monotonic() - started
    # 50 kB at 50 kB/s: about a second (the last 20 ms tick is not waited for).
    assert 0.85 <= elapsed < 1.6, elapsed


def test_limit_data_closes_after_n_bytes(proxy: FaultProxy) -> None:
    proxy.add(LimitData(bytes=10, stream="downstream"))
    with connect(proxy) as sock:
        sock.sendall(b"0123456789abcdefghij")
        received = b""
        while chunk := sock.recv(100):
            received += chunk
    assert received == b"0123456789"


def test_reset_peer_sends_rst_after_its_timeout(proxy: FaultProxy) -> None:
    proxy.add(ResetPeer(timeout_ms=200))
    with connect(proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4) == b"ping"
        with pytest.raises(ConnectionResetError):
            while sock.recv(100):
                pass
        assert 0.15 <= time.monotonic() - started < 1.0


def test_blackhole_holds_data_until_removed(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        name = proxy.add(Timeout(stream="upstream"))
        sock.sendall(b"lost?")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        proxy.remove(name)
        sock.settimeout(5)
        assert recv_exactly(sock, 5) == b"lost?"


def test_timeout_closes_the_connection_when_given_one(proxy: FaultProxy) -> None:
    proxy.add(Timeout(timeout_ms=300, stream="upstream"))
    with connect(proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"x")
        assert sock.recv(100) == b""
        assert 0.25 <= time.monotonic() - started < 1.5


def test_slicer_splits_into_small_delayed_pieces(proxy: FaultProxy) -> None:
    proxy.add(Slicer(average_size=2, delay_us=20_000, stream="upstream"))
    with connect(proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"0123456789")
        assert recv_exactly(sock, 10) == b"0123456789"
        assert time.monotonic() - started >= 0.08  # five pieces, four pauses of 20 ms at least


def test_slow_close_delays_the_fin(proxy: FaultProxy) -> None:
    proxy.add(SlowClose(delay_ms=300, stream="downstream"))
    with connect(proxy) as sock:
        sock.sendall(b"bye")
        sock.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        assert recv_exactly(sock, 3) == b"bye"
        assert sock.recv(100) == b""
        assert time.monotonic() - started >= 0.28


def test_toxicity_zero_spares_every_connection(proxy: FaultProxy) -> None:
    proxy.add(Latency(1000, stream="upstream", toxicity=0.0))
    with connect(proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"quick")
        assert recv_exactly(sock, 5) == b"quick"
        assert time.monotonic() - started < 0.5


def test_removing_toxics_and_closing_leaves_no_connection(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"x")
        recv_exactly(sock, 1)
        assert proxy.connections() == 1
    deadline = time.monotonic() + 2
    while proxy.connections() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proxy.connections() == 0
