"""The two pluggable halves of a wire protocol: a request encoder and a reply parser.

The generator never looks inside a request or a reply. An encoder turns a seeded random source into a
pool of ready-to-send request frames; a parser is fed the raw bytes a connection receives and says how
many complete replies they finished (and, on the side, how many of those were error replies). Both are
named together by a :class:`Codec`, which is what a :class:`~harness.load.model.WorkloadSpec` selects.

Adding a protocol (say JSON lines: one request object per line, one reply object per line) takes an
encoder whose ``requests`` returns ``b'{"op":"get","key":"k1"}\\n'``-style frames, a parser whose
``feed`` counts ``b"\\n"`` and remembers a trailing partial line, and one :func:`register_codec` call in
``harness/load/registry.py`` (worker processes are spawned, so the codec must be registered on import).
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


@dataclass(frozen=True)
class Codec:
    """A named pair: how to make requests for a workload, and how to count their replies."""

    name: str
    make_encoder: Callable[[WorkloadSpec], RequestEncoder]
    make_parser: Callable[[], ReplyParser]
