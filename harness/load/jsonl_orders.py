"""``jsonl-orders``: order entry of the matching-engine exercise under load (its brief, §4).

Each connection logs in as an account of its own, then sends a seeded mix of

* makers (``MAKER_RATIO``): GTC limit orders, buy or sell at random, priced on the tick within
  ``BAND_TICKS`` of ``MID`` on their own side (bids below it, asks above), so they rest;
* takers (``TAKER_RATIO``): IOC limit orders priced within ``BAND_TICKS`` on the far side of ``MID``,
  so they cross and trade with the makers of every connection whenever the book has some there, and
  never rest;
* cancels (the rest): of the connection's own oldest maker still open, as far as it knows.

Sizes are whole lots, takers smaller than makers, so most makers are still there when cancelled. A
connection keeps at most ``MAX_OPEN`` makers (a maker due beyond that is a cancel instead), so the book
stays bounded however long the run.

Why the pieces look as they do:

* Client order ids must be unique per account *forever* (a repeated one is answered as a retry of the
  original, or refused), so requests cannot come from a pool shared by all connections: each
  connection fills ``o<n>`` into pre-encoded templates from its own counter. Accounts carry a random
  per-process nonce, because a service is measured more than once (several profiles, the reference
  measured again) and keeps its ids across runs; the seed still decides every side, price and size.
* A cancel names its order by client order id, so the generator never reads an ack. The maker may
  have been filled by a taker meanwhile: the service then refuses the cancel with ``unknown_order``,
  which is ordinary exchange behaviour, so such a reply is not an error reply.
* The reply counter reads only each line's ``"type"``: the brief sends one reply per request in order
  (``login_ack``, ``ack``, ``cancel_ack``, ``reject``, ``snapshot``) and pushes execution reports
  (``fill``, ``cancelled``, ``decremented``) in between, which it skips. Any other line is a protocol
  error. Values the brief allows in these messages (ids, accounts, reasons, decimals) never hold a
  quote, so a ``"type":"..."`` match is always the key.
"""

from __future__ import annotations

import random
import re
import secrets
from collections import deque
from typing import Final

from harness.load.codec import Codec
from harness.load.model import WorkloadSpec

#: Prices in 0.1 USD units, quantities in 1e-8 BTC units, as the brief's instrument (§2).
MID: Final = 500_000  # 50,000.0 USD
TICK: Final = 5  # 0.5 USD
BAND_TICKS: Final = 40
LOT: Final = 10_000  # 0.0001 BTC
MAKER_LOTS: Final = 50
TAKER_LOTS: Final = 10
MAKER_RATIO: Final = 0.5
TAKER_RATIO: Final = 0.2
MAX_OPEN: Final = 32

#: A reply or a report longer than this (without its newline) is a protocol error.
MAX_LINE_BYTES: Final = 1024 * 1024

_ORDER: Final = (
    b'{"op":"new","client_order_id":"o%%d","side":"%s","type":"limit","price":"%s","qty":"%s","tif":"%s"}\n'
)
_CANCEL: Final = b'{"op":"cancel","client_order_id":"o%d"}\n'
_LOGIN: Final = b'{"op":"login","account":"%s"}\n'
#: Spreads the connections' starting points over the pool, so they do not send the same orders in step.
_STRIDE: Final = 7919

#: Pool entry kinds: a taker; a maker; a cancel (its template a maker, for when there is none to cancel).
TAKER, MAKER, CANCEL = 0, 1, 2


def price_text(units: int) -> bytes:
    """A price as the brief writes it: one fraction digit."""
    return b"%d.%d" % divmod(units, 10)


def qty_text(units: int) -> bytes:
    """A quantity as the brief writes it: eight fraction digits."""
    return b"%d.%08d" % divmod(units, 100_000_000)


class OrderSession:
    """One connection's requests: the templates of the shared pool, filled with its own order ids."""

    __slots__ = ("_i", "_next", "_own", "_pool", "_size", "greeting")

    def __init__(self, pool: list[tuple[bytes, int]], account: str, start: int) -> None:
        self.greeting = _LOGIN % account.encode()
        self._pool = pool
        self._size = len(pool)
        self._i = start % self._size
        self._next = 0
        self._own: deque[int] = deque()  # ids of this connection's makers, oldest first

    def take(self) -> bytes:
        i = self._i
        template, kind = self._pool[i]
        i += 1
        self._i = 0 if i == self._size else i
        own = self._own
        if kind and own and (kind == CANCEL or len(own) >= MAX_OPEN):
            return _CANCEL % own.popleft()
        n = self._next = self._next + 1
        if kind:
            own.append(n)
        return template % n


class OrderSessions:
    """The ``jsonl-orders`` session encoder: a seeded pool of templates, one account per connection."""

    def __init__(self, workload: WorkloadSpec, rng: random.Random, *, nonce: str | None = None) -> None:
        self.nonce = secrets.token_hex(4) if nonce is None else nonce
        self._serial = 0
        self.pool = [self._template(rng) for _ in range(workload.pool_size)]

    @staticmethod
    def _template(rng: random.Random) -> tuple[bytes, int]:
        draw = rng.random()
        kind = MAKER if draw < MAKER_RATIO else TAKER if draw < MAKER_RATIO + TAKER_RATIO else CANCEL
        buy = rng.random() < 0.5
        # Makers rest on their own side of the mid; takers reach across it.
        away = 1 if kind == TAKER else -1
        offset = TICK * rng.randint(0 if kind == TAKER else 1, BAND_TICKS)
        price = MID + (offset * away if buy else -offset * away)
        lots = rng.randint(1, TAKER_LOTS if kind == TAKER else MAKER_LOTS)
        tif = b"ioc" if kind == TAKER else b"gtc"
        side = b"buy" if buy else b"sell"
        return _ORDER % (side, price_text(price), qty_text(LOT * lots), tif), kind

    def connection(self) -> OrderSession:
        self._serial += 1
        return OrderSession(self.pool, f"ld{self.nonce}-{self._serial}", self._serial * _STRIDE)


_TYPE: Final = re.compile(rb'"type"\s*:\s*"([^"\\]*)"')


class JsonLinesReplyCounter:
    """Counts reply lines in a JSON-lines stream where the service also pushes lines of its own.

    A line's kind is its ``"type"`` value: one of ``replies`` completes a request, one of ``pushed`` is
    skipped; another type, or a read holding more or fewer types than lines (a line without one), raises
    ``ValueError``: checked per read, not per line, which is all a load generator needs. The first
    ``greeting`` replies answer the connection's greeting and are not counted. A reply whose type is
    ``error`` (``reject`` here) is an error reply unless it also matches ``benign`` (a refusal that is
    the protocol working).
    Lines are never decoded: one regex scan and one count per read.
    """

    __slots__ = ("_benign", "_error", "_greeting", "_pending", "_pushed", "_replies", "error_replies")

    def __init__(
        self,
        *,
        replies: frozenset[bytes],
        pushed: frozenset[bytes],
        error: bytes,
        benign: re.Pattern[bytes] | None = None,
        greeting: int = 0,
    ) -> None:
        self.error_replies = 0
        self._replies = replies
        self._pushed = pushed
        self._error = error
        self._benign = benign
        self._greeting = greeting
        self._pending = b""  # a line still waiting for its newline

    def feed(self, data: bytes) -> int:
        if self._pending:
            data = self._pending + data
        end = data.rfind(b"\n") + 1
        self._pending = data[end:] if end < len(data) else b""
        if len(self._pending) > MAX_LINE_BYTES:
            raise ValueError(f"a line longer than {MAX_LINE_BYTES} bytes")
        if end == 0:
            return 0
        start = self._skip_greeting(data, end) if self._greeting else 0
        types = _TYPE.findall(data, start, end)
        if len(types) != data.count(b"\n", start, end):
            raise ValueError("a line without a type (or with two)")
        replies, done, errors = self._replies, 0, 0
        for kind in types:
            if kind in replies:
                done += 1
                if kind == self._error:
                    errors += 1
            elif kind not in self._pushed:
                raise ValueError(f"a line of unknown type {kind!r}")
        if errors and self._benign is not None:
            errors -= len(self._benign.findall(data, start, end))
        self.error_replies += errors
        return done

    def _skip_greeting(self, data: bytes, end: int) -> int:
        """Where the lines after the greeting's replies start (``end`` while they are still to come)."""
        start = 0
        while self._greeting and start < end:
            stop = data.index(b"\n", start) + 1
            types = _TYPE.findall(data, start, stop)
            if len(types) != 1 or types[0] not in self._replies | self._pushed:
                raise ValueError("a greeting reply without a known type")
            if types[0] in self._replies:
                self._greeting -= 1
            start = stop
        return start


#: What the brief (§4) answers and pushes on the order-entry port.
ORDER_REPLIES: Final = frozenset({b"login_ack", b"ack", b"cancel_ack", b"reject", b"snapshot"})
ORDER_REPORTS: Final = frozenset({b"fill", b"cancelled", b"decremented"})
#: A cancel of an order that filled while the cancel was on its way.
_RACED_CANCEL: Final = re.compile(rb'"reason"\s*:\s*"unknown_order"')


def order_entry_counter() -> JsonLinesReplyCounter:
    """The counter for one ``jsonl-orders`` connection: its login's reply is not a request's."""
    return JsonLinesReplyCounter(
        replies=ORDER_REPLIES, pushed=ORDER_REPORTS, error=b"reject", benign=_RACED_CANCEL, greeting=1
    )


JSONL_ORDERS: Final = Codec("jsonl-orders", None, order_entry_counter, make_sessions=OrderSessions)
