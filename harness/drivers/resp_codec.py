"""RESP2 values, encoding and an incremental, bounded decoder; the scenario client is in resp.py.

Hand-written rather than taken from redis-py: scenarios send deliberately malformed frames and show the
exact bytes on the wire, both of which redis-py normalises away.

Replies decode to small plain values::

    simple string  +OK        -> str            "OK"
    error          -ERR x     -> RespError      RespError("ERR x")  (a value, not an exception)
    integer        :3         -> int            3
    bulk string    $1 v       -> bytes          b"v"
    null           $-1 / *-1  -> None
    array          *2 ...     -> list           [b"a", None]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final, TypeAlias

from harness.errors import CandidateFailure

# --- values --------------------------------------------------------------------------------------------


class RespError(str):
    """An error reply. A value scenarios assert on, never raised.

    Equality is strict about the type: ``RespError("ERR x") != "ERR x"``, so an error reply can never be
    mistaken for a simple-string reply with the same text.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RespError) and str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"RespError({str.__repr__(self)})"

    @property
    def kind(self) -> str:
        """The error's first word, e.g. ``ERR`` or ``WRONGTYPE``."""
        return self.split(" ", 1)[0]


Reply: TypeAlias = "RespError | str | int | bytes | list[Reply] | None"
Arg: TypeAlias = "str | bytes | int"

#: A single reply larger than this is refused: a hostile or broken service must not make the grader
#: allocate without bound.
MAX_REPLY_BYTES: Final = 8 * 1024 * 1024
#: Longest simple-string, error or length line accepted.
MAX_LINE_BYTES: Final = 64 * 1024
MAX_DEPTH: Final = 32
#: Unread reply bytes buffered while a large request is still being sent.
MAX_BUFFERED_BYTES: Final = 64 * 1024 * 1024

_INTEGER = re.compile(rb"-?[0-9]{1,19}")

# --- failures ------------------------------------------------------------------------------------------


class RespFailure(CandidateFailure):
    """The service misbehaved on a RESP connection."""


class ServiceUnreachable(RespFailure):
    """The connection could not be opened."""


class ReplyTimeout(RespFailure):
    """No (complete) reply arrived in time."""


class SendTimeout(RespFailure):
    """The service stopped reading what was sent to it."""


class ConnectionLost(RespFailure):
    """The service closed or reset the connection while a reply was expected."""


class ConnectionNotClosed(RespFailure):
    """The service kept the connection open (or kept talking) where it should have closed it."""


class MalformedReply(RespFailure):
    """The service sent bytes that are not RESP2."""


class ReplyTooLarge(MalformedReply):
    """A reply exceeded the client's size limits."""


# --- rendering -----------------------------------------------------------------------------------------

_ESCAPES: Final = {0x0D: "\\r", 0x0A: "\\n", 0x09: "\\t", 0x5C: "\\\\", 0x22: '\\"'}


def escape_bytes(data: bytes) -> str:
    """Bytes as a double-quoted, escaped string: printable ASCII as is, everything else escaped."""
    out = []
    for byte in data:
        if byte in _ESCAPES:
            out.append(_ESCAPES[byte])
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return '"' + "".join(out) + '"'


def render_bytes(data: bytes, limit: int = 160) -> str:
    """`escape_bytes`, eliding the middle of long payloads."""
    if len(data) <= limit:
        return escape_bytes(data)
    head, tail = data[: limit * 3 // 4], data[-(limit // 4) :]
    elided = len(data) - len(head) - len(tail)
    return f'{escape_bytes(head)[:-1]}\u2026" ({elided} bytes elided) "\u2026{escape_bytes(tail)[1:]}'


_PLAIN_ARG = re.compile(rb"[A-Za-z0-9_.:/+\-=@#\[\]{}()<>!?*&^%$~|,;]+")


def _show_arg(arg: bytes) -> str:
    if len(arg) <= 64 and _PLAIN_ARG.fullmatch(arg):
        return arg.decode("ascii")
    if len(arg) > 64:
        return f"<{len(arg)} bytes {render_bytes(arg, 24)}>"
    return escape_bytes(arg)


def describe_command(args: Sequence[bytes]) -> str:
    """A command as a person would type it: ``SET k "a b"``; long arguments shown by their size."""
    if not args:
        return "(empty command)"
    shown = [_show_arg(a) for a in args[:8]]
    if len(args) > 8:
        shown.append(f"\u2026 ({len(args) - 8} more arguments)")
    return " ".join(shown)


def show_reply(reply: Reply, limit: int = 120) -> str:
    """A reply as redis-cli shows it: ``OK``, ``"v"``, ``(integer) 3``, ``(nil)``, ``(error) ERR x``."""
    if reply is None:
        return "(nil)"
    if isinstance(reply, RespError):
        return f"(error) {reply}"
    if isinstance(reply, str):
        return reply if reply else "(empty simple string)"
    if isinstance(reply, bool):  # pragma: no cover - never decoded, only guards a scenario's typo
        return repr(reply)
    if isinstance(reply, int):
        return f"(integer) {reply}"
    if isinstance(reply, bytes):
        return render_bytes(reply, limit)
    items = [show_reply(item, limit) for item in reply[:10]]
    if len(reply) > 10:
        items.append(f"\u2026 {len(reply) - 10} more")
    return "[" + ", ".join(items) + "]"


# --- encoding ------------------------------------------------------------------------------------------


def _arg_bytes(arg: Arg) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode("utf-8")
    if isinstance(arg, int) and not isinstance(arg, bool):
        return str(arg).encode("ascii")
    raise TypeError(f"a RESP argument must be str, bytes or int, not {type(arg).__name__}")


def command_args(args: Iterable[Arg]) -> list[bytes]:
    return [_arg_bytes(a) for a in args]


def encode_command(*args: Arg) -> bytes:
    """A command as a RESP multibulk of bulk strings."""
    parts = command_args(args)
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out += [b"$%d\r\n" % len(part), part, b"\r\n"]
    return b"".join(out)


def encode_reply(reply: Reply) -> bytes:
    """A reply value encoded as a RESP2 server would send it (used by tests and fake servers)."""
    if reply is None:
        return b"$-1\r\n"
    if isinstance(reply, RespError):
        return b"-" + reply.encode("utf-8") + b"\r\n"
    if isinstance(reply, str):
        return b"+" + reply.encode("utf-8") + b"\r\n"
    if isinstance(reply, int):
        return b":%d\r\n" % reply
    if isinstance(reply, bytes):
        return b"$%d\r\n%s\r\n" % (len(reply), reply)
    return b"*%d\r\n" % len(reply) + b"".join(encode_reply(item) for item in reply)


# --- decoding ------------------------------------------------------------------------------------------


class _Incomplete(Exception):
    """More bytes are needed; `need` is the buffer length below which trying again is pointless."""

    def __init__(self, need: int) -> None:
        super().__init__(need)
        self.need = need


class RespParser:
    """Incremental RESP2 decoder: `feed` bytes as they arrive, take complete replies with `next_reply`.

    Bounded: a reply larger than `max_reply_bytes`, a line longer than `max_line_bytes` or nesting deeper
    than `max_depth` raises `ReplyTooLarge` / `MalformedReply` as soon as it is announced, before the
    bytes arrive, so a length header of 2**62 costs nothing.
    """

    def __init__(
        self,
        *,
        max_reply_bytes: int = MAX_REPLY_BYTES,
        max_line_bytes: int = MAX_LINE_BYTES,
        max_depth: int = MAX_DEPTH,
    ) -> None:
        self._buf = bytearray()
        self._need = 0
        self.max_reply_bytes = max_reply_bytes
        self.max_line_bytes = max_line_bytes
        self.max_depth = max_depth

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet part of a complete reply."""
        return bytes(self._buf)

    def next_reply(self) -> tuple[Reply, bytes] | None:
        """The next complete reply and the exact bytes it was made of, or None if it has not arrived yet."""
        if not self._buf or len(self._buf) < self._need:
            return None
        try:
            value, end = self._parse(0, 0)
        except _Incomplete as incomplete:
            self._need = incomplete.need
            return None
        raw = bytes(self._buf[:end])
        del self._buf[:end]
        self._need = 0
        return value, raw

    def _line(self, pos: int) -> tuple[bytes, int]:
        """The line starting at `pos` (without CRLF) and the offset after it."""
        limit = pos + self.max_line_bytes + 2
        newline = self._buf.find(b"\n", pos, limit)
        if newline < 0:
            if len(self._buf) >= limit:
                raise MalformedReply(f"a reply line is longer than {self.max_line_bytes} bytes")
            raise _Incomplete(len(self._buf) + 1)
        if newline == pos or self._buf[newline - 1] != 0x0D:
            line = bytes(self._buf[pos : newline + 1])
            raise MalformedReply(f"a reply line ends in a bare LF, not CRLF: {render_bytes(line, 60)}")
        return bytes(self._buf[pos + 1 : newline - 1]), newline + 1

    def _length(self, pos: int) -> tuple[int, int]:
        text, end = self._line(pos)
        if not _INTEGER.fullmatch(text):
            kind = chr(self._buf[pos])
            raise MalformedReply(f"'{kind}' is not followed by a valid length: {render_bytes(text, 40)}")
        return int(text), end

    def _check_size(self, end: int) -> None:
        if end > self.max_reply_bytes:
            raise ReplyTooLarge(
                f"a reply announces more than {self.max_reply_bytes // (1024 * 1024)} MiB "
                f"(the client's limit for a single reply)"
            )

    def _parse(self, pos: int, depth: int) -> tuple[Reply, int]:
        if pos >= len(self._buf):
            raise _Incomplete(pos + 1)
        kind = self._buf[pos]
        if kind == 0x2B:  # +
            text, end = self._line(pos)
            return text.decode("utf-8", "backslashreplace"), end
        if kind == 0x2D:  # -
            text, end = self._line(pos)
            return RespError(text.decode("utf-8", "backslashreplace")), end
        if kind == 0x3A:  # :
            text, end = self._line(pos)
            if not _INTEGER.fullmatch(text):
                raise MalformedReply(f"integer reply is not an integer: {render_bytes(text, 40)}")
            return int(text), end
        if kind == 0x24:  # $
            length, start = self._length(pos)
            if length == -1:
                return None, start
            if length < 0:
                raise MalformedReply(f"bulk string with negative length {length}")
            end = start + length + 2
            self._check_size(end)
            if len(self._buf) < end:
                raise _Incomplete(end)
            if self._buf[end - 2 : end] != b"\r\n":
                raise MalformedReply(f"bulk string of {length} bytes is not followed by CRLF")
            return bytes(self._buf[start : end - 2]), end
        if kind == 0x2A:  # *
            count, cursor = self._length(pos)
            if count == -1:
                return None, cursor
            if count < 0:
                raise MalformedReply(f"array with negative length {count}")
            if depth >= self.max_depth:
                raise MalformedReply(f"arrays nested more than {self.max_depth} deep")
            # Every element takes at least 3 bytes, so this bounds the list before it is built.
            self._check_size(cursor + 3 * count)
            items: list[Reply] = []
            for _ in range(count):
                item, cursor = self._parse(cursor, depth + 1)
                self._check_size(cursor)
                items.append(item)
            return items, cursor
        raise MalformedReply(
            f"a reply starts with {render_bytes(bytes([kind]))}, which is not a RESP2 type "
            "(expected one of + - : $ *)"
        )
