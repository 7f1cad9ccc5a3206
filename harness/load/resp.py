"""RESP: a SET/GET request encoder over a keyspace, and a reply counter that never decodes values.

The counter handles RESP2 and RESP3 framing: line replies (``+ - : _ # , (``), length-prefixed bulk
replies (``$ ! =``, whose payload is skipped by length, even across many reads), and aggregates
(``* ~ %``, ``|`` attributes and ``>`` pushes, the last two not being replies to a request). A read made
only of line replies (the common ``+OK`` and ``:1`` case) is counted with two C-level ``bytes.count``
calls instead of a Python loop.
"""

from __future__ import annotations

import random
import string
from typing import Final

from harness.load.codec import Codec
from harness.load.model import WorkloadSpec

_CRLF: Final = b"\r\n"
# Type bytes that need the slow path: bulk-like and aggregate headers.
_FRAMED: Final = (b"$", b"*", b"%", b"~", b">", b"|", b"=", b"!")
_BULK: Final = frozenset(b"$!=")
_AGGREGATE: Final = frozenset(b"*~%>|")
_ERROR: Final = frozenset(b"-!")


def resp_command(*args: bytes) -> bytes:
    """One RESP request frame: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class RespSetGetEncoder:
    """``SET key value`` / ``GET key`` over ``keyspace`` keys, ``read_ratio`` of them GETs.

    Keys are ``key:<n>`` with ``n`` drawn uniformly from ``range(keyspace)``; values are
    ``value_size`` printable bytes, one value per pool (drawn from the same seeded source).
    """

    def __init__(self, workload: WorkloadSpec) -> None:
        self.keyspace = workload.keyspace
        self.value_size = workload.value_size
        self.read_ratio = workload.read_ratio

    def requests(self, rng: random.Random, count: int) -> list[bytes]:
        alphabet = string.ascii_letters.encode()
        value = bytes(rng.choice(alphabet) for _ in range(self.value_size))
        frames = []
        for _ in range(count):
            key = b"key:%d" % rng.randrange(self.keyspace)
            if rng.random() < self.read_ratio:
                frames.append(resp_command(b"GET", key))
            else:
                frames.append(resp_command(b"SET", key, value))
        return frames


class RespReplyCounter:
    """Counts complete top-level RESP replies fed in arbitrary pieces."""

    __slots__ = ("_pending", "_skip", "_stack", "error_replies")

    def __init__(self) -> None:
        self.error_replies = 0
        self._pending = b""  # an incomplete header or line, kept until its CRLF arrives
        self._skip = 0  # bytes of a bulk payload (and its CRLF) still to skip
        # Open aggregates, innermost last: [elements still expected, kind], kind 0 = reply aggregate,
        # 1 = attribute (does not take its parent's slot), 2 = push (not a reply).
        self._stack: list[list[int]] = []

    def feed(self, data: bytes) -> int:
        done = 0
        if self._skip:
            if len(data) < self._skip:
                self._skip -= len(data)
                return 0
            data = data[self._skip :]
            self._skip = 0
            done += self._element_done()
        if self._pending:
            data = self._pending + data
            self._pending = b""
        if not data:
            return done
        if not self._stack and data.endswith(_CRLF) and not any(b in data for b in _FRAMED):
            # Only line replies, each ending at its first CRLF (a line cannot hold one).
            self.error_replies += data.count(b"\r\n-") + (data[0] == 45)
            return done + data.count(_CRLF)
        return done + self._slow(data)

    def _slow(self, data: bytes) -> int:
        done = 0
        pos = 0
        end = len(data)
        stack = self._stack
        while pos < end:
            nl = data.find(_CRLF, pos)
            if nl < 0:
                break
            kind = data[pos]
            if kind in _BULK:
                length = int(data[pos + 1 : nl])
                if length < 0:  # null bulk
                    pos = nl + 2
                else:
                    stop = nl + 2 + length + 2
                    if stop > end:
                        self._skip = stop - end
                        if not stack and kind == 33:
                            self.error_replies += 1
                        return done
                    pos = stop
                if not stack and kind == 33:
                    self.error_replies += 1
                done += self._element_done()
            elif kind in _AGGREGATE:
                count = int(data[pos + 1 : nl])
                pos = nl + 2
                if kind == 37 or kind == 124:  # % and | hold key/value pairs
                    count *= 2
                if count <= 0:  # empty or null aggregate: complete at once
                    if kind == 62 or kind == 124:
                        continue
                    done += self._element_done()
                else:
                    stack.append([count, 1 if kind == 124 else 2 if kind == 62 else 0])
            else:
                if not stack and kind == 45:
                    self.error_replies += 1
                pos = nl + 2
                done += self._element_done()
        if pos < end:
            self._pending = data[pos:]
        return done

    def _element_done(self) -> int:
        """One element finished; 1 if that completed a top-level reply."""
        stack = self._stack
        while stack:
            top = stack[-1]
            top[0] -= 1
            if top[0] > 0:
                return 0
            stack.pop()
            if top[1] == 1:  # an attribute is followed by the value it annotates
                return 0
            if top[1] == 2:  # a push is not a reply
                return 0
        return 1


RESP_SET_GET: Final = Codec("resp-set-get", RespSetGetEncoder, RespReplyCounter)
