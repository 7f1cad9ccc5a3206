"""The two pluggable halves of a wire protocol: a request encoder and a reply parser.

The generator never looks inside a request or a reply. An encoder turns a seeded random source into a
pool of ready-to-send request frames; a parser is fed the raw bytes a connection receives and says how
many complete replies they finished (and, on the side, how many of those were error replies). Both are
named together by a :class:`Codec`, which is what a :class:`~harness.load.model.WorkloadSpec` selects.

Adding a protocol (say JSON lines: one request object per line, one reply object per line) takes an
encoder whose ``requests`` returns ``b'{"op":"get","key":"k1"}\\n'``-style frames, a parser whose
``feed`` counts ``b"\\n"`` and remembers a trailing partial line, and one :func:`register_codec` call in
``harness/load/registry.py`` (worker processes are spawned, so the codec must be registered on import).

A protocol with per-connection state (a login first; requests naming ids the connection itself chose
earlier, such as cancels of its own orders) cannot share one pool of frames between connections: its
codec has a :class:`SessionEncoder` instead, which hands each connection its own
:class:`ConnectionRequests` (see ``harness/load/jsonl_orders.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from harness.load.model import WorkloadSpec


class RequestEncoder(Protocol):
    """Makes request frames. Called once per process before the run, never in the hot path."""

    def requests(self, rng: random.Random, count: int) -> list[bytes]:
        """``count`` complete request frames, chosen with ``rng`` (so a seed replays them)."""
        ...


class ReplyParser(Protocol):
    """Counts complete replies in a byte stream, incrementally, without decoding values.

    One parser per connection. ``feed`` may be given any split of the stream (a reply cut anywhere,
    several replies at once); it keeps whatever partial state it needs between calls.
    """

    error_replies: int
    """Complete top-level replies so far that were error replies."""

    def feed(self, data: bytes) -> int:
        """Consume ``data``; return how many replies it completed."""
        ...


class ConnectionRequests(Protocol):
    """The requests of one connection, for protocols where they depend on the connection's own history.

    ``take`` is on the hot path: it should cost one small template fill, never a JSON encode.
    """

    greeting: bytes
    """Sent once as the connection opens, before any request (``b""``: nothing). Not a request: the
    codec's parser must not count its replies (it knows how many there are)."""

    def take(self) -> bytes:
        """The next complete request frame."""
        ...


class SessionEncoder(Protocol):
    """Makes each connection's :class:`ConnectionRequests`. One per process, made before the run."""

    def connection(self) -> ConnectionRequests:
        """The request source of a newly opened connection (a reconnect gets a new one)."""
        ...


@dataclass(frozen=True)
class Codec:
    """A named pair: how to make requests for a workload, and how to count their replies.

    Requests come either from ``make_encoder`` (one shared pool of frames, cycled through by every
    connection) or, for protocols with per-connection state, from ``make_sessions``; exactly one is set.
    """

    name: str
    make_encoder: Callable[[WorkloadSpec], RequestEncoder] | None
    make_parser: Callable[[], ReplyParser]
    make_sessions: Callable[[WorkloadSpec, random.Random], SessionEncoder] | None = None

    def __post_init__(self) -> None:
        if (self.make_encoder is None) == (self.make_sessions is None):
            raise ValueError(f"codec {self.name!r} needs exactly one of make_encoder and make_sessions")
