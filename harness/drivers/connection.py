"""What every scenario client shares, whatever its protocol: one TCP connection with a deadline on
connecting, sending and receiving, the service's misbehaviour mapped to the driver's own
`CandidateFailure` subclasses (a raw `OSError` never escapes), and a bounded transcript.

A driver subclasses `Connection`, names its failure classes in `failures`, and keeps what is its
protocol's: framing and parsing, how messages are shown, and its reproduce command (reproduce.py).
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Final, Literal, Self

from harness.drivers.resp_codec import render_bytes
from harness.errors import CandidateFailure

_RECV_CHUNK: Final = 256 * 1024
#: Events a transcript keeps; earlier ones are dropped and counted.
MAX_EVENTS: Final = 300

_ARROWS: Final = {"send": ">> ", "recv": "<< ", "note": "-- "}


def seconds(value: float) -> str:
    """A duration as messages show it: ``0.2``, ``2``."""
    return f"{value:g}"


# --- transcript ----------------------------------------------------------------------------------------


@dataclass
class Event:
    """One line of a transcript: bytes sent (``>>``), bytes received (``<<``) or a note (``--``)."""

    at: float
    kind: Literal["send", "recv", "note"]
    text: str = ""

    def show(self) -> str:
        """The line after its time stamp; drivers whose events carry more override it."""
        return _ARROWS[self.kind] + self.text


class Transcript:
    """The events of one connection, in order: the latest `limit` of them, and how many were dropped."""

    def __init__(self, limit: int = MAX_EVENTS, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._events: deque[Event] = deque(maxlen=limit)
        self.dropped = 0

    def now(self) -> float:
        """Seconds since the transcript began."""
        return self._clock() - self._started

    @property
    def last(self) -> Event | None:
        """The latest event (drivers merge what continues it), None before the first."""
        return self._events[-1] if self._events else None

    def push(self, event: Event) -> None:
        """Add an event, dropping (and counting) the oldest once `limit` are kept."""
        if len(self._events) == self._events.maxlen:
            self.dropped += 1
        self._events.append(event)

    def note(self, text: str) -> None:
        self.push(Event(self.now(), "note", text))

    def render(self, heading: str) -> str:
        """`heading:` and one line an event; "" while nothing happened."""
        lines = [f"{heading}:"]
        if self.dropped:
            lines.append(f"  \u2026 {self.dropped} earlier events not shown")
        lines += [f"  [{event.at:7.3f} s] {event.show()}" for event in self._events]
        return "\n".join(lines) if len(lines) > 1 else ""


# --- the connection ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failures:
    """A driver's own failure classes for what every connection can observe."""

    unreachable: type[CandidateFailure]
    send_timeout: type[CandidateFailure]
    lost: type[CandidateFailure]
    not_closed: type[CandidateFailure]


class Connection(ABC):
    """One TCP connection to the service under test, recording a transcript. Not thread-safe.

    Connecting happens in the constructor; the connection is closed by `close` or on leaving a `with`.
    """

    failures: ClassVar[Failures]

    def __init__(
        self, host: str, port: int, *, timeout: float, label: str, repro_address: tuple[str, int]
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.label = label
        self.repro_address = repro_address
        self._transcript = Transcript()
        self._last_sent = "(nothing sent yet)"
        self._eof: str | None = None
        """Why the connection is over ("closed", "reset", ...), once it is."""
        self._closed_by_us = False
        try:
            self._sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError:
            raise self.failures.unreachable(
                f"could not connect to {host}:{port} within {seconds(timeout)} s"
            ) from None
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise self.failures.unreachable(f"could not connect to {host}:{port}: {reason}") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- lifecycle

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._closed_by_us:
            return
        self._closed_by_us = True
        with contextlib.suppress(OSError):
            self._sock.close()

    @property
    def is_closed(self) -> bool:
        """True once the service closed or reset the connection (as far as this client has seen)."""
        return self._eof is not None

    # -- evidence

    def transcript(self) -> str:
        return self._transcript.render(f"{self.label} ({self.host}:{self.port})")

    @abstractmethod
    def reproduce(self) -> str | None:
        """One shell line sending what this connection sent to the candidate's service, if one fits."""

    # -- for the drivers

    @abstractmethod
    def _absorb(self, data: bytes, what: str) -> None:
        """Take `data` (possibly b"") that arrived while `what` was being sent; refuse too much unread."""

    def _write(self, data: bytes, what: str) -> None:
        """Send `data` (already recorded; `what` says what it is) within the client's timeout.

        Reads while writing, so a service that answers before it has read everything (or closes early,
        as it should on a protocol error) cannot deadlock against a large write. A service that stops
        reading is only noted: the next read tells whether closing was right.
        """
        self._last_sent = what
        if self._closed_by_us:
            raise self.failures.lost(f"{self.label} was already closed by the scenario")
        if self._eof is not None:
            raise self.failures.lost(
                f"could not send {what}: the connection was already {self._eof} by the service"
            )
        view = memoryview(data)
        deadline = time.monotonic() + self.timeout
        sent = 0
        while sent < len(data):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._transcript.note(
                    f"only {sent} of {len(data)} bytes accepted in {seconds(self.timeout)} s"
                )
                raise self.failures.send_timeout(
                    f"the service stopped reading: only {sent} of {len(data)} bytes of {what} "
                    f"were accepted within {seconds(self.timeout)} s"
                )
            readable, writable, _ = select.select([self._sock], [self._sock], [], remaining)
            if readable:
                self._absorb(self._recv(0.001), what)
                if self._eof is not None:
                    break
            if writable:
                try:
                    self._sock.settimeout(max(remaining, 0.001))
                    sent += self._sock.send(view[sent:])
                except TimeoutError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    self._mark_eof("reset")
                    break
                except OSError as exc:
                    self._mark_eof(f"failed ({(exc.strerror or str(exc)).lower()})")
                    break
        if sent < len(data):
            self._transcript.note(f"the service stopped reading after {sent} of {len(data)} bytes")

    def _recv(self, timeout: float) -> bytes:
        """Up to one chunk; b"" on timeout or at the end of the connection (recorded in `_eof`)."""
        if self._eof is not None:
            return b""
        if self._closed_by_us:
            raise self.failures.lost(f"{self.label} was already closed by the scenario")
        try:
            self._sock.settimeout(max(timeout, 0.001))
            data = self._sock.recv(_RECV_CHUNK)
        except TimeoutError:
            return b""
        except ConnectionResetError:
            self._mark_eof("reset")
            return b""
        except OSError as exc:
            self._mark_eof(f"failed ({(exc.strerror or str(exc)).lower()})")
            return b""
        if not data:
            self._mark_eof("closed")
        return data

    def _mark_eof(self, reason: str) -> None:
        if self._eof is None:
            self._eof = reason
            self._transcript.note(f"connection {reason} by the service")

    def _await_data(self, timeout: float) -> bytes:
        """The first bytes arriving within `timeout`; b"" if none do (or the connection ends)."""
        deadline = time.monotonic() + timeout
        while self._eof is None and (remaining := deadline - time.monotonic()) > 0:
            data = self._recv(remaining)
            if data:
                return data
        return b""

    def _await_close(self, timeout: float, *, record: Callable[[bytes], None], shown: int) -> None:
        """Wait up to `timeout` for the service to close; bytes arriving first are `record`ed and fail."""
        deadline = time.monotonic() + timeout
        while self._eof is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._transcript.note(f"connection still open {seconds(timeout)} s later")
                raise self._not_closed(f"it was still open {seconds(timeout)} s later")
            data = self._recv(remaining)
            if data:
                record(data)
                raise self._not_closed(f"it sent {render_bytes(data, shown)}")

    def _not_closed(self, but: str) -> CandidateFailure:
        return self.failures.not_closed(
            f"expected the service to close the connection after {self._last_sent}, but {but}"
        )

    def _not_silent(self, timeout: float, got: str) -> AssertionError:
        return AssertionError(
            f"expected nothing more after {self._last_sent} for {seconds(timeout)} s, got {got}"
        )
