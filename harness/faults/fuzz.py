"""Bounded malformed-input fuzzing of a RESP service, with a liveness probe after every case.

Each case goes on a connection of its own; whatever the service answers is read and ignored (rejecting
garbage is its right). What matters is the probe that follows: a fresh connection must get `+PONG` to a
PING. A case after which it does not is reported with the bytes that reproduce it. Seeded and bounded:
at most `count` cases, `deadline_s` seconds, and a timeout on every socket operation.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from harness.faults.mutations import FuzzCase, generate_cases

PING = b"*1\r\n$4\r\nPING\r\n"
PONG = b"+PONG\r\n"
MAX_READ_BYTES = 64 * 1024
PIECE_GAP_S = 0.005

Outcome = Literal["killed", "hung"]


@dataclass(frozen=True)
class FuzzFailure:
    case: FuzzCase
    outcome: Outcome
    """`killed`: the probe was refused or cut off; `hung`: it got no answer in time."""
    detail: str

    def reproduce(self, host: str, port: int) -> str:
        return f"printf '{printf_escape(self.case.data)}' | nc -q 2 {host} {port}"


@dataclass
class FuzzReport:
    seed: int
    cases_run: int = 0
    failures: list[FuzzFailure] = field(default_factory=list)
    stopped: str | None = None
    """Why the run ended before `count` cases (deadline, or a failure with no way to restart)."""


def printf_escape(data: bytes) -> str:
    """`data` as a printf(1) format in single quotes: octal escapes for anything not plainly printable."""
    out = []
    for byte in data:
        char = chr(byte)
        if (char.isascii() and char.isalnum()) or char in " *$:+-_.,#!=()~>|@":
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return "".join(out)


def _send_case(address: tuple[str, int], case: FuzzCase, timeout_s: float) -> None:
    """Send the case's pieces, then read whatever comes back until quiet, closed or the cap."""
    try:
        with socket.create_connection(address, timeout=timeout_s) as sock:
            for number, piece in enumerate(case.pieces()):
                if number:
                    time.sleep(PIECE_GAP_S)
                sock.sendall(piece)
            received = 0
            while received < MAX_READ_BYTES:
                chunk = sock.recv(MAX_READ_BYTES)
                if not chunk:
                    return
                received += len(chunk)
    except OSError:
        return  # refusing, resetting or timing out on garbage is allowed; the probe decides


def probe(address: tuple[str, int], timeout_s: float) -> tuple[Outcome, str] | None:
    """None when a fresh connection gets a reply line to a PING; otherwise what went wrong."""
    deadline = time.monotonic() + timeout_s
    try:
        with socket.create_connection(address, timeout=timeout_s) as sock:
            sock.sendall(PING)
            reply = b""
            while not reply.endswith(b"\r\n") and len(reply) < MAX_READ_BYTES:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(1024)
                if not chunk:
                    return "killed", f"the probe's connection was closed after {reply!r}"
                reply += chunk
    except TimeoutError:
        return "hung", f"no reply to PING within {timeout_s:g} s"
    except OSError as exc:
        return "killed", f"probe failed: {exc}"
    if reply[:1] not in (b"+", b"-"):
        # Any complete status or error line shows the service is alive and parsing; a service without
        # PING answers with an error, which is not what fuzzing judges.
        return "hung", f"PING got {reply[:80]!r} instead of a status or error reply"
    return None


def run_fuzz(
    address: Callable[[], tuple[str, int]] | tuple[str, int],
    *,
    seed: int,
    count: int = 200,
    deadline_s: float = 60.0,
    case_timeout_s: float = 0.3,
    probe_timeout_s: float = 2.0,
    restart: Callable[[], None] | None = None,
    max_failures: int = 10,
) -> FuzzReport:
    """Run `count` seeded cases. After a failure, `restart` (e.g. `service.restart`) lets the run go on;
    without it the run stops there, because every later probe would fail for the same reason."""
    resolve = address if callable(address) else (lambda: address)
    report = FuzzReport(seed)
    started = time.monotonic()
    for case in generate_cases(seed, count):
        if time.monotonic() - started > deadline_s:
            report.stopped = f"deadline of {deadline_s:g} s reached"
            break
        where = resolve()
        _send_case(where, case, case_timeout_s)
        report.cases_run += 1
        failed = probe(where, probe_timeout_s)
        if failed is None:
            continue
        report.failures.append(FuzzFailure(case, *failed))
        if restart is None or len(report.failures) >= max_failures:
            report.stopped = f"stopped after case {case.index} ({case.mutation}): {failed[1]}"
            break
        restart()
    return report
