"""A synchronous newline-delimited JSON client for scenarios, with a transcript and a reproduce command.

Each line sent or received is recorded (candidate text escaped for printing). Everything the service
does wrong surfaces as a `JsonLinesFailure` (a `CandidateFailure`) with a one-line message: refused,
reset or closed connections, no line in time, a line that is not JSON, and a line longer than the
client's bound, which is refused as soon as the bound is passed, so a service that never sends a
newline cannot make the grader buffer without limit. A raw `OSError` never escapes.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal, Protocol

from harness.drivers.connection import Connection, Event, Failures, seconds
from harness.drivers.reproduce import MAX_REPRO_CHARS, netcat, pause, printf, shell_pieces
from harness.drivers.resp_codec import render_bytes
from harness.errors import CandidateFailure

#: Longest line accepted from the service, without its newline.
MAX_LINE_BYTES: Final = 1024 * 1024
#: Unread bytes buffered while a large request is still being sent.
MAX_BUFFERED_BYTES: Final = 64 * 1024 * 1024

_SHOWN_BYTES: Final = 240
_KEPT_SENDS: Final = 20


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


@dataclass
class _Send:
    at: float
    data: bytes


class JsonLinesClient(Connection):
    """One newline-delimited JSON connection to the service under test. Not thread-safe."""

    failures = Failures(
        unreachable=ServiceUnreachable,
        send_timeout=SendTimeout,
        lost=ConnectionLost,
        not_closed=ConnectionNotClosed,
    )

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
        self.max_line_bytes = max_line_bytes
        self.pushed: list[dict[str, Any]] = []
        """Messages `request(..., reply=...)` read past while waiting for its reply, in arrival order."""
        self._buffer = bytearray()
        self._first_send: _Send | None = None
        self._sends: deque[_Send] = deque(maxlen=_KEPT_SENDS)
        self._send_count = 0
        super().__init__(host, port, timeout=timeout, label=label, repro_address=repro_address)

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
            self._transcript.note(f"invalid JSON: {reason}")
            raise InvalidJson(
                f"the line the service sent after {self._last_sent} is not valid JSON ({reason}): "
                f"{render_bytes(line, 80)}"
            ) from None

    def expect_closed(self, timeout: float = 2.0) -> None:
        """Assert the service closes the connection within `timeout`, sending nothing more first."""
        if self._buffer:
            raise self._not_closed(f"it sent more first: {render_bytes(bytes(self._buffer), 80)}")
        self._await_close(timeout, record=lambda data: self._record("recv", data), shown=80)

    def expect_silence(self, seconds: float) -> None:
        """Assert no line arrives within `seconds`."""
        if not self._buffer:
            self._buffer += self._await_data(seconds)
        if self._buffer:
            raise self._not_silent(seconds, render_bytes(bytes(self._buffer), 80))

    # -- evidence

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
            if len(command) <= MAX_REPRO_CHARS:
                return command
        return None

    # -- internals

    def _record(self, kind: Literal["send", "recv"], data: bytes) -> None:
        self._transcript.push(Event(self._transcript.now(), kind, render_bytes(data, _SHOWN_BYTES)))

    def _send(self, data: bytes, what: str) -> None:
        send = _Send(self._transcript.now(), data)
        if self._first_send is None:
            self._first_send = send
        self._sends.append(send)
        self._send_count += 1
        self._record("send", data)
        self._write(data, what)

    def _absorb(self, data: bytes, what: str) -> None:
        self._buffer += data
        if len(self._buffer) > MAX_BUFFERED_BYTES:
            raise LineTooLong(
                f"the service sent more than {MAX_BUFFERED_BYTES // (1024 * 1024)} MiB "
                f"of unread lines while {what} was being sent"
            )

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
                self._transcript.note(f"line longer than {self.max_line_bytes} bytes; reading stopped")
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
                self._transcript.note(f"no line within {seconds(limit)} s {what}{suffix}")
                raise ReplyTimeout(f"no line within {seconds(limit)} s {what}{suffix}")
            self._buffer += self._recv(remaining)

    def _repro_command(self, sends: list[_Send]) -> str:
        shell: list[str] = []
        previous: float | None = None
        for send in sends:
            shell += pause(previous, send.at)
            previous = send.at
            shell += [printf(p) if isinstance(p, bytes) else p for p in shell_pieces(send.data)]
        return netcat(shell, self.repro_address)
