"""Slowloris and connection floods against a loopback server: bounded and reported."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from harness.faults.flood import SLOW_HEADER, Slowloris, connection_flood

pytestmark = pytest.mark.timeout(30)


class _Sink(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while self.request.recv(1024):
            pass


class _SinkServer(socketserver.ThreadingTCPServer):
    # socketserver's default backlog of 5 drops SYNs of a 50-connection burst; the client retries them
    # only after a second, which a busy machine can push past the flood's connect timeout.
    request_queue_size = 256


@pytest.fixture
def sink() -> Iterator[tuple[str, int]]:
    server = _SinkServer(("127.0.0.1", 0), _Sink)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "127.0.0.1", int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_slowloris_holds_connections_and_trickles_bytes(sink: tuple[str, int]) -> None:
    with Slowloris(*sink, connections=50, interval_s=0.1, duration_s=5, seed=1) as attack:
        time.sleep(0.6)
    report = attack.report
    assert report.opened == 50 and report.failed_to_open == 0
    assert 50 * 3 <= report.bytes_sent <= 50 * 8  # about one byte per interval per connection, not a burst
    assert report.bytes_sent < 50 * len(SLOW_HEADER)
    assert report.seconds < 3


def test_slowloris_ends_by_itself_at_its_duration(sink: tuple[str, int]) -> None:
    started = time.monotonic()
    with Slowloris(*sink, connections=5, interval_s=0.05, duration_s=0.3) as attack:
        time.sleep(0.5)
    assert attack.report.opened == 5 and time.monotonic() - started < 3


def test_connection_flood_counts_connections_and_refusals(sink: tuple[str, int]) -> None:
    report = connection_flood(*sink, bursts=3, per_burst=50, pause_s=0.01, send=b"*1\r\n$4\r\nPI")
    assert report.attempted == 150 and report.connected == 150
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        refused = connection_flood("127.0.0.1", holder.getsockname()[1], bursts=1, per_burst=5)
    assert refused.refused == 5 and refused.connected == 0
