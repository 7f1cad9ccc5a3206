"""Fuzz cases are deterministic and grammar-aware; the runner reports what killed or hung a service."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from harness.faults.fuzz import printf_escape, run_fuzz
from harness.faults.mutations import MUTATIONS, generate_cases

pytestmark = pytest.mark.timeout(60)


def test_same_seed_same_cases_another_seed_other_cases() -> None:
    assert generate_cases(5, 60) == generate_cases(5, 60)
    assert generate_cases(5, 60) != generate_cases(6, 60)
    assert generate_cases(5, 20) == generate_cases(5, 60)[:20]


def test_every_mutation_appears_and_cases_are_bounded() -> None:
    cases = generate_cases(1, len(MUTATIONS))
    assert {case.mutation for case in cases} == set(MUTATIONS)
    for case in generate_cases(2, 300):
        assert 0 < len(case.data) < 200_000
        assert b"".join(case.pieces()) == case.data
        assert list(case.splits) == sorted(set(case.splits))


def test_huge_length_declares_a_huge_length() -> None:
    huge = [case for case in generate_cases(3, 200) if case.mutation == "huge_length"]
    assert huge and all(
        any(str(n).encode() in case.data for n in (2**31 - 1, 2**31, 2**32 + 1, 2**63 - 1, 10**20))
        for case in huge
    )


def test_printf_escape_reproduces_the_bytes() -> None:
    import subprocess

    data = bytes(range(256)) + b"%s'\\"
    out = subprocess.run(["printf", printf_escape(data)], capture_output=True, check=True).stdout
    assert out == data


class _Fragile(socketserver.BaseRequestHandler):
    """Answers PING; hangs (accepts, never answers) once it has seen a negative length."""

    broken = threading.Event()
    released = threading.Event()

    def handle(self) -> None:
        data = self.request.recv(65536)
        if b"$-" in data or b"*-" in data:
            type(self).broken.set()
        if type(self).broken.is_set():
            type(self).released.wait(2)
        elif b"PING" in data:
            self.request.sendall(b"+PONG\r\n")


@pytest.fixture
def fragile() -> Iterator[tuple[str, int]]:
    _Fragile.broken.clear()
    _Fragile.released.clear()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Fragile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "127.0.0.1", int(server.server_address[1])
    _Fragile.released.set()
    server.shutdown()
    server.server_close()


def test_a_case_that_breaks_the_service_is_reported_with_its_bytes(fragile: tuple[str, int]) -> None:
    report = run_fuzz(fragile, seed=11, count=40, case_timeout_s=0.05, probe_timeout_s=0.3)
    assert len(report.failures) == 1 and report.stopped is not None
    failure = report.failures[0]
    assert failure.outcome == "hung" and b"-" in failure.case.data
    assert failure.reproduce(*fragile).startswith("printf '")
    # The same seed finds the same case.
    _Fragile.broken.clear()
    again = run_fuzz(fragile, seed=11, count=40, case_timeout_s=0.05, probe_timeout_s=0.3)
    assert again.failures[0].case == failure.case


def test_restart_lets_the_run_go_on(fragile: tuple[str, int]) -> None:
    report = run_fuzz(
        fragile, seed=11, count=30, case_timeout_s=0.05, probe_timeout_s=0.3, restart=_Fragile.broken.clear
    )
    assert report.cases_run == 30 and report.failures and report.stopped is None


def test_a_dead_service_is_killed_not_hung() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]  # bound, not listening: connections are refused
        report = run_fuzz(("127.0.0.1", port), seed=0, count=3, case_timeout_s=0.05, probe_timeout_s=0.3)
    assert [f.outcome for f in report.failures] == ["killed"]
