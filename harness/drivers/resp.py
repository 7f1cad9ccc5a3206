"""A synchronous RESP2 client for scenarios, recording a byte-exact transcript and a reproduce command.

Everything the service does wrong surfaces as a `CandidateFailure` subclass with a one-line message
(no reply in time, connection refused, reset or closed, malformed or oversized reply); a raw `OSError`
never escapes, because the harness would score it as its own error. Values and decoding: resp_codec.py.
"""

from __future__ import annotations

import shlex
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from harness.drivers.connection import Connection, Event, Failures, seconds
from harness.drivers.reproduce import MAX_REPRO_CHARS, netcat, pause, printf, shell_pieces
from harness.drivers.resp_codec import (
    MAX_BUFFERED_BYTES,
    MAX_REPLY_BYTES,
    Arg,
    ConnectionLost,
    ConnectionNotClosed,
    MalformedReply,
    Reply,
    ReplyTimeout,
    ReplyTooLarge,
    RespError,
    RespFailure,
    RespParser,
    SendTimeout,
    ServiceUnreachable,
    command_args,
    describe_command,
    encode_command,
    encode_reply,
    escape_bytes,
    render_bytes,
    show_reply,
)

__all__ = [
    "MAX_REPLY_BYTES",
    "Arg",
    "ConnectionLost",
    "ConnectionNotClosed",
    "MalformedReply",
    "Reply",
    "ReplyTimeout",
    "ReplyTooLarge",
    "RespClient",
    "RespError",
    "RespFailure",
    "RespParser",
    "SendTimeout",
    "ServiceUnreachable",
    "encode_command",
    "encode_reply",
    "expect_reply",
    "render_bytes",
    "show_reply",
]

_UNSET: Final = object()


# --- transcript ----------------------------------------------------------------------------------------

_HEAD_BYTES: Final = 200
_TAIL_BYTES: Final = 60


@dataclass
class _Clip:
    """Bytes kept for display: the head and tail of everything added, and the total size."""

    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = _HEAD_BYTES - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail = (self.tail + data)[-_TAIL_BYTES:]

    def render(self) -> str:
        if self.total <= len(self.head) + len(self.tail):
            return render_bytes(bytes(self.head + self.tail), _HEAD_BYTES + _TAIL_BYTES)
        elided = self.total - len(self.head) - len(self.tail)
        return (
            f'{escape_bytes(bytes(self.head))[:-1]}\u2026" ({elided} bytes elided) '
            f'"\u2026{escape_bytes(bytes(self.tail))[1:]}'
        )


@dataclass
class _Send:
    """One write (or several consecutive raw writes with nothing read in between)."""

    at: float
    clip: _Clip
    full: bytearray | None
    commands: list[list[bytes]] | None
    """The commands, when the bytes are well-formed commands built by `call`/`pipeline`/`send`."""
    writes: list[int] = field(default_factory=list)
    last_at: float = 0.0


@dataclass
class _Event(Event):
    send: _Send | None = None
    clip: _Clip | None = None
    replies: int = 0

    def show(self) -> str:
        if self.kind == "send" and self.send is not None:
            return ">> " + _render_send(self.send)
        if self.kind == "recv" and self.clip is not None:
            count = f"{self.replies} replies: " if self.replies > 1 else ""
            return "<< " + count + self.clip.render()
        return "-- " + self.text


def _render_send(send: _Send) -> str:
    if send.commands is not None:
        shown = [describe_command(c) for c in send.commands[:6]]
        if len(send.commands) > 6:
            shown.append(f"\u2026 ({len(send.commands) - 6} more)")
        text = " | ".join(shown)
        if len(send.commands) > 1:
            text = f"pipeline of {len(send.commands)}: {text}"
    else:
        text = "raw " + send.clip.render()
    if len(send.writes) > 1:
        sizes = " + ".join(str(w) for w in send.writes) if len(send.writes) <= 6 else None
        text += f"  (in {len(send.writes)} writes" + (f": {sizes} bytes)" if sizes else ")")
    return text


_REPRO_SENDS: Final = 5
_CLI_UNSAFE_COMMANDS: Final = frozenset(
    {b"SUBSCRIBE", b"UNSUBSCRIBE", b"PSUBSCRIBE", b"PUNSUBSCRIBE", b"QUIT"}
)


def _cli_safe(command: list[bytes]) -> bool:
    if not command or command[0].upper() in _CLI_UNSAFE_COMMANDS:
        return False
    for arg in command:
        if len(arg) > 200:
            return False
        try:
            text = arg.decode("utf-8")
        except UnicodeDecodeError:
            return False
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
            return False
    return True


# --- the client ----------------------------------------------------------------------------------------


class RespClient(Connection):
    """One RESP connection to the service under test; every byte in and out goes into its transcript.

    Not thread-safe: give each thread its own client.
    """

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
        max_reply_bytes: int = MAX_REPLY_BYTES,
    ) -> None:
        self._parser = RespParser(max_reply_bytes=max_reply_bytes)
        self._sends: deque[_Send] = deque()
        super().__init__(host, port, timeout=timeout, label=label, repro_address=repro_address)

    # -- sending

    def call(self, *args: Arg, expect: object = _UNSET, timeout: float | None = None) -> Reply:
        """Send one command and return its reply; with `expect`, also assert the reply equals it."""
        command = command_args(args)
        what = describe_command(command)
        self._send(encode_command(*command), [command], what)
        reply = self._read(timeout, f"to {what}")
        if expect is not _UNSET:
            expect_reply(reply, expect, what)
        return reply

    def send(self, *args: Arg) -> None:
        """Send one well-formed command without reading its reply."""
        command = command_args(args)
        self._send(encode_command(*command), [command], describe_command(command))

    def send_raw(self, data: bytes) -> None:
        """Send bytes exactly as given (malformed frames, inline commands, partial commands)."""
        self._send(data, None, f"the bytes {render_bytes(data, 40)}")

    def pipeline(
        self, commands: Sequence[Sequence[Arg]], *, expect: object = _UNSET, timeout: float | None = None
    ) -> list[Reply]:
        """Send every command in one write, then read one reply per command (in order)."""
        encoded = [command_args(c) for c in commands]
        self._send(b"".join(encode_command(*c) for c in encoded), encoded, f"a pipeline of {len(encoded)}")
        replies: list[Reply] = []
        for index, command in enumerate(encoded):
            what = f"command {index + 1} of a pipeline of {len(encoded)} ({describe_command(command)})"
            replies.append(self._read(timeout, f"to {what}"))
        if expect is not _UNSET:
            expect_reply(replies, expect, f"a pipeline of {len(encoded)} commands")
        return replies

    def read_reply(self, timeout: float | None = None) -> Reply:
        """The next reply (or pushed message), waiting up to `timeout` (default: the client's)."""
        return self._read(timeout, f"after {self._last_sent}")

    def expect_closed(self, timeout: float = 2.0) -> None:
        """Assert the service closes the connection within `timeout`, sending nothing more first."""
        leftover = self._parser.pending
        if leftover:
            unread = render_bytes(leftover, 80)
            self._transcript.note(f"expected the connection to close; unread bytes {unread}")
            raise self._not_closed(f"it sent more first: {render_bytes(leftover, 60)}")
        self._await_close(timeout, record=lambda data: self._record_recv(data, replies=0), shown=60)

    def expect_silence(self, seconds: float) -> None:
        """Assert nothing arrives within `seconds` (e.g. no message on an unsubscribed channel)."""
        if not self._parser.pending:
            self._parser.feed(self._await_data(seconds))
        leftover = self._parser.pending
        if leftover:
            got = self._parser.next_reply()
            if got is not None:
                self._record_recv(got[1], replies=1)
                shown = show_reply(got[0])
            else:
                shown = render_bytes(leftover, 60)
            raise self._not_silent(seconds, shown)

    # -- evidence

    def reproduce(self) -> str | None:
        sends = [s for s in self._sends if s.full is not None]
        for start in range(len(sends)):
            command = self._repro_command(sends[start:])
            if command is not None and len(command) <= MAX_REPRO_CHARS:
                return command
        return None

    # -- internals

    def _record_send(self, data: bytes, commands: list[list[bytes]] | None) -> _Send:
        now = self._transcript.now()
        last = self._transcript.last
        if (
            commands is None
            and isinstance(last, _Event)
            and last.kind == "send"
            and last.send is not None
            and last.send.commands is None
        ):
            send = last.send  # consecutive raw writes with nothing read in between: one event
            send.clip.add(data)
            if send.full is not None:
                send.full += data
            send.writes.append(len(data))
            send.last_at = now
            return send
        clip = _Clip()
        clip.add(data)
        send = _Send(now, clip, bytearray(data), commands, [len(data)], now)
        if len(self._sends) == _REPRO_SENDS:
            self._sends.popleft().full = None  # only the last few writes are kept whole
        self._sends.append(send)
        self._transcript.push(_Event(now, "send", send=send))
        return send

    def _record_recv(self, raw: bytes, *, replies: int) -> None:
        last = self._transcript.last
        if isinstance(last, _Event) and last.kind == "recv" and last.clip is not None and replies:
            last.clip.add(raw)
            last.replies += replies
            return
        clip = _Clip()
        clip.add(raw)
        self._transcript.push(_Event(self._transcript.now(), "recv", clip=clip, replies=replies))

    def _send(self, data: bytes, commands: list[list[bytes]] | None, what: str) -> None:
        send = self._record_send(data, commands)
        if commands is None and send.full is not None and len(send.writes) > 1:
            what = f"the bytes {render_bytes(bytes(send.full), 40)}"  # all of a request sent piecemeal
        self._write(data, what)

    def _absorb(self, data: bytes, what: str) -> None:
        if data:
            self._parser.feed(data)
            if len(self._parser.pending) > MAX_BUFFERED_BYTES:
                raise ReplyTooLarge(
                    f"the service sent more than {MAX_BUFFERED_BYTES // (1024 * 1024)} MiB "
                    f"of unread replies while {what} was being sent"
                )

    def _read(self, timeout: float | None, what: str) -> Reply:
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            try:
                got = self._parser.next_reply()
            except MalformedReply as exc:
                self._transcript.note(
                    f"malformed reply: {exc.message}; bytes {render_bytes(self._parser.pending, 80)}"
                )
                raise type(exc)(f"{exc.message} (in the reply {what})") from None
            if got is not None:
                value, raw = got
                self._record_recv(raw, replies=1)
                return value
            if self._eof is not None:
                partial = self._parser.pending
                if partial:
                    self._record_recv(partial, replies=0)
                    raise ConnectionLost(
                        f"the connection was {self._eof} by the service in the middle of the reply {what} "
                        f"(after {len(partial)} bytes)"
                    )
                raise ConnectionLost(
                    f"the connection was {self._eof} by the service instead of a reply {what}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                partial = self._parser.pending
                suffix = f" (only {len(partial)} bytes of it arrived)" if partial else ""
                self._transcript.note(f"no reply within {seconds(limit)} s {what}{suffix}")
                if partial:
                    self._record_recv(partial, replies=0)
                raise ReplyTimeout(f"no reply within {seconds(limit)} s {what}{suffix}")
            data = self._recv(remaining)
            if data:
                self._parser.feed(data)

    def _repro_command(self, sends: list[_Send]) -> str | None:
        """One shell line replaying `sends` against the candidate's own service (with the pauses)."""
        host, port = self.repro_address
        commands = [c for s in sends for c in (s.commands or [])]
        plain = (
            all(s.commands is not None for s in sends)
            and len(commands) <= 6
            and all(_cli_safe(c) for c in commands)
        )
        pieces: list[bytes | str] = []
        previous_end: float | None = None
        for send in sends:
            if send.full is None:
                return None
            pieces += pause(previous_end, send.at)
            previous_end = send.last_at
            if plain:
                pieces += [
                    shlex.join(["redis-cli", "-h", host, "-p", str(port), *(a.decode() for a in c)])
                    for c in send.commands or []
                ]
            else:
                for piece in shell_pieces(bytes(send.full)):
                    if isinstance(piece, bytes) and pieces and isinstance(pieces[-1], bytes):
                        pieces[-1] += piece  # one printf for bytes written back to back
                    else:
                        pieces.append(piece)
        shell = [printf(p) if isinstance(p, bytes) else p for p in pieces]
        return "; ".join(shell) if plain else netcat(shell, self.repro_address)


def expect_reply(actual: object, expected: object, what: str) -> None:
    """Assert a reply equals the expected value, saying what was expected and what came back.

    `RespError` compares unequal to a plain str, so an error never passes for a simple-string reply.
    """
    if actual != expected:
        raise AssertionError(f"{what}: expected {_show(expected)}, got {_show(actual)}")


def _show(value: object) -> str:
    if value is None or isinstance(value, str | int | bytes | list):
        return show_reply(value)
    return repr(value)
