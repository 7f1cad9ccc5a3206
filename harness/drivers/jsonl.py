"""A synchronous newline-delimited JSON client for scenarios, with a transcript and a reproduce command.

Each line sent or received is recorded (candidate text escaped for printing). Everything the service
does wrong surfaces as a `JsonLinesFailure` (a `CandidateFailure`) with a one-line message: refused,
reset or closed connections, no line in time, a line that is not JSON, and a line longer than the
client's bound, which is refused as soon as the bound is passed, so a service that never sends a
newline cannot make the grader buffer without limit. A raw `OSError` never escapes.
"""

from __future__ import annotations

import contextlib
import json
import select
import shlex
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Protocol

from harness.drivers.resp_codec import render_bytes
from harness.errors import CandidateFailure

#: Longest line accepted from the service, without its newline.
MAX_LINE_BYTES: Final = 1024 * 1024
#: Unread bytes buffered while a large request is still being sent.
MAX_BUFFERED_BYTES: Final = 64 * 1024 * 1024

_RECV_CHUNK: Final = 256 * 1024
_MAX_EVENTS: Final = 300
_SHOWN_BYTES: Final = 240
_KEPT_SENDS: Final = 20
_MAX_REPRO_CHARS: Final = 1800
_REPRO_RUN: Final = 128


class JsonLinesFailure(CandidateFailure):
    """The service misbehaved on a JSON-lines connection."""


class ServiceUnreachable(JsonLinesFailure):
    """The connection could not be opened."""


class ReplyTimeout(JsonLinesFailure):
    """No complete line arrived in time."""


class SendTimeout(JsonLinesFailure):
    """The service stopped reading what was sent to it."""


class ConnectionLost(JsonLinesFailure):
    """The service closed or reset the connection while a line was expected."""


class ConnectionNotClosed(JsonLinesFailure):
    """The service kept the connection open (or kept talking) where it should have closed it."""


class InvalidJson(JsonLinesFailure):
    """A line that is not UTF-8 JSON (or not a JSON object where one is required)."""


class LineTooLong(JsonLinesFailure):
    """A line longer than the client's bound."""


class JsonLine(Protocol):
    """Anything that renders itself as one JSON line (the exercise's typed messages)."""

    def to_json_line(self) -> str: ...


Message = Mapping[str, Any] | JsonLine


def encode_line(message: Message) -> bytes:
    """A message as one compact JSON line, newline included."""
    if isinstance(message, Mapping):
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    else:
        text = message.to_json_line()
    if "\n" in text:
        raise ValueError("a JSON line cannot contain a newline")
    return text.encode("utf-8") + b"\n"


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def decode_object(line: bytes) -> dict[str, Any]:
    """A line as a JSON object; ValueError otherwise. Fractions become Decimal, never float."""
    value = json.loads(line.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _seconds(value: float) -> str:
    return f"{value:g}"


@dataclass
class _Event:
    at: float
    kind: str  # "send" | "recv" | "note"
    text: str


@dataclass
class _Send:
    at: float
    data: bytes


def _printf(data: bytes) -> str:
    """A `printf` producing exactly `data` (octal escapes: POSIX printf has no \\x)."""
    out = []
    for index, byte in enumerate(data):
        if byte == 0x0A:
            out.append("\\n")
        elif byte == 0x0D:
            out.append("\\r")
        elif byte == 0x5C:
            out.append("\\\\")
        elif byte == 0x25:
            out.append("%%")
        elif byte == 0x27 or (byte == 0x2D and index == 0) or not 0x20 <= byte < 0x7F:
            out.append(f"\\{byte:03o}")
        else:
            out.append(chr(byte))
    return "printf '" + "".join(out) + "'"


def _shell_pieces(data: bytes) -> list[str]:
    """Shell commands writing `data`; long runs of one byte come from `head -c N /dev/zero | tr`."""
    pieces: list[str] = []
    start = index = 0
    while index < len(data):
        end = index
        while end < len(data) and data[end] == data[index]:
            end += 1
        if end - index >= _REPRO_RUN:
            if start < index:
                pieces.append(_printf(data[start:index]))
            generator = f"head -c {end - index} /dev/zero"
            byte = data[index]
            pieces.append(generator if byte == 0 else f"{generator} | tr '\\000' '\\{byte:03o}'")
            start = end
        index = end
    if start < len(data):
        pieces.append(_printf(data[start:]))
    return pieces


class JsonLinesClient:
    """One newline-delimited JSON connection to the service under test. Not thread-safe."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        label: str,
        repro_address: tuple[str, int],
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.label = label
        self.repro_address = repro_address
        self.max_line_bytes = max_line_bytes
        self.pushed: list[dict[str, Any]] = []
        """Messages `request(..., reply=...)` read past while waiting for its reply, in arrival order."""
        self._buffer = bytearray()
        self._started = time.monotonic()
        self._events: deque[_Event] = deque(maxlen=_MAX_EVENTS)
        self._dropped_events = 0
        self._first_send: _Send | None = None
        self._sends: deque[_Send] = deque(maxlen=_KEPT_SENDS)
        self._send_count = 0
        self._last_sent = "(nothing sent yet)"
        self._eof: str | None = None
        self._closed_by_us = False
        try:
            self._sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError:
            raise ServiceUnreachable(
                f"could not connect to {host}:{port} within {_seconds(timeout)} s"
            ) from None
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise ServiceUnreachable(f"could not connect to {host}:{port}: {reason}") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- lifecycle

    def __enter__(self) -> JsonLinesClient:
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

    # -- sending

    def send(self, message: Message) -> None:
        """Send one message as a JSON line without reading anything."""
        data = encode_line(message)
        self._send(data, f"the line {render_bytes(data[:-1], 80)}")

    def send_line(self, text: str | bytes) -> None:
        """Send `text` exactly, plus the newline (malformed JSON, unknown fields, long lines)."""
        data = (text.encode("utf-8") if isinstance(text, str) else text) + b"\n"
        self._send(data, f"the line {render_bytes(data[:-1], 80)}")

    def send_raw(self, data: bytes) -> None:
        """Send bytes exactly as given (no newline added): partial lines, several lines at once."""
        self._send(data, f"the bytes {render_bytes(data, 80)}")

    def request(
        self,
        message: Message,
        *,
        timeout: float | None = None,
        reply: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """Send one message and return the next JSON object that comes back.

        With `reply`, objects it does not accept (messages the service pushes unasked, such as
        execution reports) are kept in `pushed` and the first accepted one is returned.
        """
        self.send(message)
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit  # one deadline for the reply, however much comes first
        while True:
            got = self._read_json(limit, deadline)
            if reply is None or reply(got):
                return got
            self.pushed.append(got)

    def read_line(self, timeout: float | None = None) -> str:
        """The next line (without its newline), waiting up to `timeout` (default: the client's)."""
        limit = self.timeout if timeout is None else timeout
        return self._read_line(limit, time.monotonic() + limit).decode("utf-8", "backslashreplace")

    def read_json(self, timeout: float | None = None) -> dict[str, Any]:
        """The next line as a JSON object; `InvalidJson` if it is not one."""
        limit = self.timeout if timeout is None else timeout
        return self._read_json(limit, time.monotonic() + limit)

    def _read_json(self, limit: float, deadline: float) -> dict[str, Any]:
        line = self._read_line(limit, deadline)
        try:
            return decode_object(line)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            reason = "it is not UTF-8" if isinstance(exc, UnicodeDecodeError) else "it is not a JSON object"
            self._note(f"invalid JSON: {reason}")
            raise InvalidJson(
                f"the line the service sent after {self._last_sent} is not valid JSON ({reason}): "
                f"{render_bytes(line, 80)}"
            ) from None

    def expect_closed(self, timeout: float = 2.0) -> None:
        """Assert the service closes the connection within `timeout`, sending nothing more first."""
        after = self._last_sent
        if self._buffer:
            raise ConnectionNotClosed(
                f"expected the service to close the connection after {after}, "
                f"but it sent more first: {render_bytes(bytes(self._buffer), 80)}"
            )
        deadline = time.monotonic() + timeout
        while self._eof is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._note(f"connection still open {_seconds(timeout)} s later")
                raise ConnectionNotClosed(
                    f"expected the service to close the connection after {after}, "
                    f"but it was still open {_seconds(timeout)} s later"
                )
            data = self._recv(remaining)
            if data:
                self._record("recv", data)
                raise ConnectionNotClosed(
                    f"expected the service to close the connection after {after}, "
                    f"but it sent {render_bytes(data, 80)}"
                )

    def expect_silence(self, seconds: float) -> None:
        """Assert no line arrives within `seconds`."""
        deadline = time.monotonic() + seconds
        while not self._buffer and self._eof is None and (remaining := deadline - time.monotonic()) > 0:
            self._buffer += self._recv(remaining)
        if self._buffer:
            shown = render_bytes(bytes(self._buffer), 80)
            raise AssertionError(
                f"expected nothing more after {self._last_sent} for {_seconds(seconds)} s, got {shown}"
            )

    # -- evidence

    def transcript(self) -> str:
        lines = [f"{self.label} ({self.host}:{self.port}):"]
        if self._dropped_events:
            lines.append(f"  \u2026 {self._dropped_events} earlier events not shown")
        arrows = {"send": ">> ", "recv": "<< ", "note": "-- "}
        for event in self._events:
            lines.append(f"  [{event.at:7.3f} s] {arrows[event.kind]}{event.text}")
        return "\n".join(lines) if len(lines) > 1 else ""

    def reproduce(self) -> str | None:
        """One shell line sending what this connection sent (with its pauses) to the service.

        Everything if it fits; otherwise the first line (on line protocols usually the one that sets
        the session up, such as a login) followed by as many of the last lines as fit.
        """
        if self._first_send is None:
            return None
        recent = list(self._sends)
        everything = self._send_count == len(recent)
        for count in range(len(recent), 0, -1):
            tail = recent[-count:]
            sends = tail if everything and count == len(recent) else [self._first_send, *tail]
            command = self._repro_command(sends)
            if len(command) <= _MAX_REPRO_CHARS:
                return command
        return None

    # -- internals

    def _now(self) -> float:
        return time.monotonic() - self._started

    def _note(self, text: str) -> None:
        self._push(_Event(self._now(), "note", text))

    def _push(self, event: _Event) -> None:
        if len(self._events) == _MAX_EVENTS:
            self._dropped_events += 1
        self._events.append(event)

    def _record(self, kind: str, data: bytes) -> None:
        self._push(_Event(self._now(), kind, render_bytes(data, _SHOWN_BYTES)))

    def _mark_eof(self, reason: str) -> None:
        if self._eof is None:
            self._eof = reason
            self._note(f"connection {reason} by the service")

    def _recv(self, timeout: float) -> bytes:
        """Up to one chunk; b"" on timeout or at the end of the connection (recorded in `_eof`)."""
        if self._eof is not None:
            return b""
        if self._closed_by_us:
            raise ConnectionLost(f"{self.label} was already closed by the scenario")
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

    def _send(self, data: bytes, what: str) -> None:
        send = _Send(self._now(), data)
        if self._first_send is None:
            self._first_send = send
        self._sends.append(send)
        self._send_count += 1
        self._record("send", data)
        self._last_sent = what
        if self._closed_by_us:
            raise ConnectionLost(f"{self.label} was already closed by the scenario")
        if self._eof is not None:
            raise ConnectionLost(
                f"could not send {what}: the connection was already {self._eof} by the service"
            )
        view = memoryview(data)
        deadline = time.monotonic() + self.timeout
        sent = 0
        while sent < len(data):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._note(f"only {sent} of {len(data)} bytes accepted in {_seconds(self.timeout)} s")
                raise SendTimeout(
                    f"the service stopped reading: only {sent} of {len(data)} bytes of {what} "
                    f"were accepted within {_seconds(self.timeout)} s"
                )
            # Read while writing: a service that answers (or closes, as it should after a line over
            # its limit) before it has read everything must not deadlock against a large write.
            readable, writable, _ = select.select([self._sock], [self._sock], [], remaining)
            if readable:
                self._buffer += self._recv(0.001)
                if len(self._buffer) > MAX_BUFFERED_BYTES:
                    raise LineTooLong(
                        f"the service sent more than {MAX_BUFFERED_BYTES // (1024 * 1024)} MiB "
                        f"of unread lines while {what} was being sent"
                    )
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
            # Not a failure by itself: a service refusing a line may close before reading all of it.
            self._note(f"the service stopped reading after {sent} of {len(data)} bytes")

    def _read_line(self, limit: float, deadline: float) -> bytes:
        """The next line, or a failure once `deadline` passes (reported as `limit` seconds)."""
        what = f"after {self._last_sent}"
        scanned = 0
        while True:
            newline = self._buffer.find(b"\n", scanned)
            if 0 <= newline <= self.max_line_bytes:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                self._record("recv", line)
                return line
            if len(self._buffer) > self.max_line_bytes:
                self._record("recv", bytes(self._buffer[:_SHOWN_BYTES]))
                self._note(f"line longer than {self.max_line_bytes} bytes; reading stopped")
                raise LineTooLong(f"the service sent a line longer than {self.max_line_bytes} bytes {what}")
            scanned = len(self._buffer)
            if self._eof is not None:
                partial = bytes(self._buffer)
                if partial:
                    self._record("recv", partial)
                    raise ConnectionLost(
                        f"the connection was {self._eof} by the service in the middle of a line {what} "
                        f"(after {len(partial)} bytes without a newline)"
                    )
                raise ConnectionLost(
                    f"the connection was {self._eof} by the service instead of a line {what}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                suffix = f" (only {len(self._buffer)} bytes of it arrived)" if self._buffer else ""
                self._note(f"no line within {_seconds(limit)} s {what}{suffix}")
                raise ReplyTimeout(f"no line within {_seconds(limit)} s {what}{suffix}")
            self._buffer += self._recv(remaining)

    def _repro_command(self, sends: list[_Send]) -> str:
        host, port = self.repro_address
        pieces: list[str] = []
        previous: float | None = None
        for send in sends:
            if previous is not None and send.at - previous >= 0.05:
                pieces.append(f"sleep {send.at - previous:.2f}")
            previous = send.at
            pieces += _shell_pieces(send.data)
        body = pieces[0] if len(pieces) == 1 else "{ " + "; ".join(pieces) + "; }"
        return f"{body} | nc -q1 {shlex.quote(host)} {port}"
