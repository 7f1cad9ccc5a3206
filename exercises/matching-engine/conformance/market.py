"""A service and the oracle in lockstep: every request goes to both, and every line the service sends
on every connection of the scenario is compared with the line the oracle sends there.

One request at a time: `Market.request` sends a line, feeds the same line to an `oracle.Exchange`, and
reads, on each order-entry connection and each market-data connection the scenario holds, exactly the
lines the oracle delivers there (the reply first on the requester's own, then the execution reports;
`trade` and `book` messages on every feed), comparing each as a parsed message, so key order and
spacing are the service's own (brief section 3). The first difference ends the scenario with a
`Mismatch` naming the step, the request, the connection, the line expected and the line received.

A shared service has taken ids before the scenario starts. `align` first empties the book (sweeping
what earlier scenarios left) and trades once between two accounts of its own, which tells the next
`order_id`, `trade_id` and market-data `seq`; the oracle then starts from those, and order ids in
requests are shifted by the same offset (`shift_order_ids`). A fresh service needs no alignment.
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Protocol

from oracle import (
    DEFAULT_INSTRUMENT,
    BookQuery,
    CancelAck,
    Exchange,
    Login,
    NewOrder,
    Outcome,
    Reason,
    Reject,
    Snapshot,
    Step,
    parse_market_data,
    parse_order_entry,
)
from oracle.messages import MarketDataMessage, OrderEntryMessage
from oracle.requests import CLIENT_ORDER_ID_PATTERN
from pydantic import ValidationError

from conformance.feed import parse_problem
from harness.errors import CandidateFailure

#: Lines shown per request in a failure note.
_SHOWN: Final = 220
#: Steps remembered for a failure note.
_HISTORY: Final = 8
#: Where the brief defines each message, for failure messages.
_BRIEF: Final[Mapping[str, str]] = {
    "login_ack": "4.1",
    "ack": "4.1",
    "cancel_ack": "4.1",
    "reject": "4.2",
    "snapshot": "5.1",
    "fill": "4.3",
    "cancelled": "4.3",
    "decremented": "4.3",
    "trade": "5.1",
    "book": "5.1",
}
_REPORTS: Final = frozenset({"fill", "cancelled", "decremented"})
_MAX_QTY: Final = DEFAULT_INSTRUMENT.max_qty
_TOP_PRICE: Final = DEFAULT_INSTRUMENT.price_text(DEFAULT_INSTRUMENT.max_price)
_BOTTOM_PRICE: Final = DEFAULT_INSTRUMENT.price_text(DEFAULT_INSTRUMENT.tick)


class JsonLine(Protocol):
    """A typed request of the oracle (`Login`, `NewOrder`, ...)."""

    def to_json_line(self) -> str: ...


Request = Mapping[str, Any] | str | bytes | JsonLine
"""A request as a dict, a typed message, or the exact line (malformed ones included)."""


class LineClient(Protocol):
    """What a `Market` needs of a JSON-lines connection (harness.drivers.jsonl.JsonLinesClient)."""

    label: str

    def send_line(self, text: str | bytes) -> None: ...

    def send_raw(self, data: bytes) -> None: ...

    def read_line(self, timeout: float | None = None) -> str: ...

    def expect_silence(self, seconds: float) -> None: ...

    def expect_closed(self, timeout: float = 2.0) -> None: ...

    def close(self) -> None: ...

    def reproduce(self) -> str | None: ...


Connect = Callable[[str], LineClient]
"""Opens a connection to the named port of the service: "main" (order entry) or "market_data"."""


class Notes(Protocol):
    """Where a `Market` explains a failure (the scenario's evidence log)."""

    def note(self, text: str) -> None: ...


class Mismatch(CandidateFailure):
    """The service sent something other than what the oracle sends, or nothing where it sends a line."""

    def __init__(self, message: str, *, silent: bool = False, reproduce: str | None = None) -> None:
        super().__init__(message, reproduce=reproduce)
        self.silent = silent
        """True when a line was missing (no line in time, connection closed) rather than wrong."""


@dataclass
class Session:
    """One order-entry connection of the scenario, known to the oracle by `conn`."""

    name: str
    account: str | None
    client: LineClient
    conn: int
    open: bool = True


@dataclass
class Feed:
    """One market-data connection of the scenario."""

    name: str
    client: LineClient
    open: bool = True


@dataclass(frozen=True)
class Baseline:
    """Where a shared service's counters stood once its book was empty."""

    next_order_id: int
    next_trade_id: int | None
    """None when the alignment made no trade (`align(trade=False)`)."""
    seq: int


def _line(request: Request) -> str | bytes:
    if isinstance(request, str | bytes):
        return request
    if isinstance(request, Mapping):
        return json.dumps(dict(request), separators=(",", ":"))
    return request.to_json_line()


def _text(line: str | bytes, limit: int = _SHOWN) -> str:
    text = line.decode("utf-8", "backslashreplace") if isinstance(line, bytes) else line
    return text if len(text) <= limit else text[: limit - 1] + f"… ({len(text)} chars)"


def shift_order_ids(line: str | bytes, offset: int) -> str | bytes:
    """`line` with a cancel's `order_id` moved by `offset` (a stream written for a fresh exchange, sent to
    one that has given out ids before). Only a positive integer id moves: 0, strings and other invalid
    ids stay as they are, and so does every other line, byte for byte."""
    if not offset:
        return line
    try:
        request = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return line
    if not isinstance(request, dict) or request.get("op") != "cancel":
        return line
    order_id = request.get("order_id")
    if type(order_id) is not int or order_id < 1:
        return line
    request["order_id"] = order_id + offset
    return json.dumps(request, separators=(",", ":"))


def _valid_client_order_id(line: str | bytes) -> str | None:
    """The request's client_order_id if it is a valid one (what a reject echoes), else None."""
    request = _decode(line)
    value = request.get("client_order_id") if isinstance(request, dict) else None
    return value if isinstance(value, str) and CLIENT_ORDER_ID_PATTERN.fullmatch(value) else None


def _decode(line: str | bytes) -> object:
    try:
        return json.loads(line, parse_float=Decimal)
    except (ValueError, RecursionError):
        return None


def _render(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _same(a: object, b: object) -> bool:
    """JSON values equal *and* of the same JSON type (1 is not 1.0, not "1")."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def describe_difference(expected: str, got: str) -> str:
    """What differs between two JSON lines, field by field, in a few words."""
    want, have = _decode(expected), _decode(got)
    if have is None:
        return "the line received is not JSON"
    if not isinstance(have, dict) or not isinstance(want, dict):
        return "the line received is not a JSON object"
    parts = []
    for key, value in want.items():
        if key not in have:
            parts.append(f"{key} missing")
        elif not _same(value, have[key]):
            parts.append(f"{key}: expected {_render(value)}, got {_render(have[key])}")
    parts += [f"unexpected field {key}" for key in have if key not in want]
    return "; ".join(parts)


class Market:
    """The scenario's connections to the service, mirrored by an oracle `Exchange`."""

    def __init__(self, connect: Connect, notes: Notes, *, tag: str, read_timeout: float = 5.0) -> None:
        self.connect = connect
        self.notes = notes
        self.tag = tag
        self.read_timeout = read_timeout
        self.exchange = Exchange()
        self.sessions: list[Session] = []
        self.feeds: list[Feed] = []
        self.steps = 0
        self.order_id_offset = 0
        self._history: deque[str] = deque(maxlen=_HISTORY)
        self._names: dict[str, int] = {}

    # -- names

    def account(self, name: str) -> str:
        """The service-side account of the scenario's `name` ("alice" -> "alice-1a2b3c4d"): unique to
        the scenario, so client order ids never meet those of earlier scenarios or runs."""
        return f"{name}-{self.tag}"

    def order_id(self, n: int) -> int:
        """The service's id of the scenario's n-th accepted order (counting from 1)."""
        return n + self.order_id_offset

    def _label(self, name: str) -> str:
        count = self._names[name] = self._names.get(name, 0) + 1
        return name if count == 1 else f"{name}#{count}"

    # -- connections in lockstep

    def session(self, name: str, *, login: bool = True) -> Session:
        """A new order-entry connection, logged in as `account(name)` unless `login` is False."""
        label = self._label(name)
        client = self.connect("main")
        client.label = f"{label} ({client.label})"
        session = Session(label, None, client, self.exchange.connect())
        self.sessions.append(session)
        if login:
            self.request(session, Login(account=self.account(name)))
            session.account = self.account(name)
        return session

    def feed(self, name: str = "md") -> Feed:
        """A new market-data connection; its first line must be the oracle's snapshot of the book."""
        label = self._label(name)
        client = self.connect("market_data")
        client.label = f"{label} ({client.label})"
        feed = Feed(label, client)
        self.feeds.append(feed)
        expected = self.exchange.engine.snapshot()
        step = self._step(f"{label} connects to the market-data port")
        got = self._read(feed.client, feed.name, step, expected, requester=None)
        self._compare_market_data(feed.name, step, expected, got, requester=None)
        return feed

    def close(self, session: Session) -> None:
        """The scenario drops the connection; the oracle forgets the session (its orders stay)."""
        session.client.close()
        session.open = False
        self.exchange.disconnect(session.conn)

    def request(
        self,
        session: Session,
        request: Request,
        *,
        ending: bytes = b"\n",
        cuts: Iterable[int] = (),
        pause: float = 0.0,
    ) -> list[OrderEntryMessage]:
        """Send one request line and check every line it causes on every connection of the scenario.
        Returns what the oracle delivered to the requester (its reply first).

        `ending` is what ends the line (b"\r\n" to send a carriage return too); `cuts` are byte offsets
        where the line, ending included, is split into separate writes, `pause` seconds apart."""
        line = _line(request)
        data = (line.encode("utf-8") if isinstance(line, str) else line) + ending
        outcome = self.exchange.handle(session.conn, data[:-1])
        step = self._step(f"{session.name} >> {_text(line)}")
        points = sorted({c for c in cuts if 0 < c < len(data)})
        if not points:
            session.client.send_raw(data)
        for start, end in zip([0, *points], [*points, len(data)], strict=True):
            if points:
                session.client.send_raw(data[start:end])
                if pause and end < len(data):
                    time.sleep(pause)
        self.expect(session, outcome, step)
        return outcome.to(session.conn)

    def pipeline(self, session: Session, requests: Sequence[Request]) -> None:
        """Send every request in one write, then check what each causes, in request order."""
        lines = [_line(r) for r in requests]
        data = [(line.encode("utf-8") if isinstance(line, str) else line) + b"\n" for line in lines]
        outcomes = [self.exchange.handle(session.conn, d[:-1]) for d in data]
        steps = [self._step(f"{session.name} >> (pipelined) {_text(line)}") for line in lines]
        session.client.send_raw(b"".join(data))
        for outcome, step in zip(outcomes, steps, strict=True):
            self.expect(session, outcome, step, blank_silence=False)

    def play(
        self,
        steps: Iterable[Step],
        sessions: Mapping[int, Sequence[Session]],
        rng: random.Random | None = None,
    ) -> None:
        """Play a stream (`oracle.random_stream`) through the lockstep: each step on a session of its
        connection's account (picked by `rng` when there are several), its order ids shifted. The
        stream's logins are skipped: the sessions are logged in already."""
        for step in steps:
            if step.line.startswith('{"op":"login"'):
                continue
            choices = sessions[step.conn]
            session = choices[0] if len(choices) == 1 or rng is None else rng.choice(choices)
            self.request(session, self.shift(step.line))

    def book(self, session: Session | None = None) -> Snapshot:
        """Ask for the book (on `session`, else on the first open session) and compare the snapshot."""
        asker = session or next(s for s in self.sessions if s.open)
        reply = self.request(asker, BookQuery())
        assert isinstance(reply[0], Snapshot)
        return reply[0]

    def expect(
        self,
        requester: Session,
        outcome: Outcome,
        step: str,
        *,
        blank_silence: bool = True,
        requester_reads: bool = True,
    ) -> None:
        """Read and compare what `outcome` delivers: the requester's lines first (unless
        `requester_reads` is False: a client that never reads its reply), then every other session's,
        then every feed's."""
        for session in [requester, *(s for s in self.sessions if s is not requester)]:
            if not session.open or (session is requester and not requester_reads):
                continue
            for expected in outcome.to(session.conn):
                got = self._read(session.client, session.name, step, expected, requester)
                self._compare_order_entry(session.name, step, expected, got, requester)
        if requester_reads and outcome.close:
            self._closed(requester, step)
        elif requester_reads and blank_silence and not outcome.to(requester.conn):
            self._silent(requester, step, 0.05)
        for feed in self.feeds:
            if feed.open:
                for message in outcome.market_data:
                    got = self._read(feed.client, feed.name, step, message, requester)
                    self._compare_market_data(feed.name, step, message, got, requester)

    # -- crashes: what the service may or may not have done

    def send_unread(self, session: Session, request: Request) -> str | bytes:
        """Send a request and read nothing: it is in flight when the service is killed. The oracle does
        not see it yet; `resend` it after the restart."""
        line = _line(request)
        self._step(f"{session.name} >> {_text(line)} (in flight at the kill)")
        session.client.send_line(line)
        return line

    def crash(self) -> None:
        """The service was killed: every connection is gone, the oracle keeps every accepted effect."""
        for session in self.sessions:
            if session.open:
                session.client.close()
                session.open = False
        for feed in self.feeds:
            if feed.open:
                feed.client.close()
                feed.open = False
        self.exchange.restart()
        self._step("the service is killed (kill -9) and started again")

    def resend(self, session: Session, request: Request) -> None:
        """After a restart, send again a request that was in flight at the kill. The service executed it
        before the kill or not at all; either way the oracle executes it once now. The reply must be the
        oracle's (for a `new`, the original ack, whether it is a retry or not), except that a cancel the
        service had already executed is now refused as unknown_order. What it causes elsewhere is
        uncertain (reports and market data were either sent before the kill or are sent now): call
        `drain` on every session afterwards."""
        line = _line(request)
        outcome = self.exchange.handle(session.conn, line)
        step = self._step(f"{session.name} >> {_text(line)} (sent again after the restart)")
        session.client.send_line(line)
        expected = outcome.to(session.conn)
        if not expected:
            return
        reply = expected[0]
        got = self._read_reply(session, step, reply)
        try:
            answer = parse_order_entry(got)
        except ValidationError:
            answer = None
        if answer == reply:
            return
        if isinstance(reply, CancelAck) and answer == Reject(
            reason=Reason.UNKNOWN_ORDER, client_order_id=_valid_client_order_id(line)
        ):
            return  # cancelled before the kill: a second cancel finds nothing open
        self._mismatch(session.name, step, reply.to_json_line(), got, "", reply.type, session)

    def drain(self, session: Session) -> None:
        """Skip what may or may not have been pushed to `session` since the restart, up to the reply to a
        book request, which must be the oracle's snapshot."""
        outcome = self.exchange.handle(session.conn, BookQuery().to_json_line())
        step = self._step(f"{session.name} >> {BookQuery().to_json_line()} (after the resent requests)")
        session.client.send_line(BookQuery().to_json_line())
        (snapshot,) = outcome.to(session.conn)
        got = self._read_reply(session, step, snapshot)
        self._compare_order_entry(session.name, step, snapshot, got, session)

    def _read_reply(self, session: Session, step: str, expected: OrderEntryMessage) -> str:
        """The next reply on `session`, skipping execution reports."""
        while True:
            got = self._read(session.client, session.name, step, expected, session)
            message = _decode(got)
            if not isinstance(message, dict) or message.get("type") not in _REPORTS:
                return got

    def request_unread(self, session: Session, request: Request) -> None:
        """A client that loses its connection before reading the reply: send the request, check what it
        causes everywhere else (so it has executed), then drop the connection unread."""
        line = _line(request)
        outcome = self.exchange.handle(session.conn, line)
        step = self._step(f"{session.name} >> {_text(line)} (then drops the connection unread)")
        session.client.send_line(line)
        self.expect(session, outcome, step, requester_reads=False)
        self.close(session)

    def play_with_books(self, steps: list[tuple[Session, Request]]) -> None:
        """Each (session, request) in turn, with the whole book compared after every one (the style of
        well-known engines' tests: a full L2 snapshot after every command)."""
        viewer = self.session("viewer", login=False)
        for session, request in steps:
            self.request(session, request)
            self.book(viewer)
        self.settle()

    def settle(self, seconds: float = 0.1) -> None:
        """Nothing more arrives on any connection within `seconds`: no extra reply, report or
        market-data message (one wait for all of them)."""
        time.sleep(seconds)
        for name, client in [(s.name, s.client) for s in self.sessions if s.open] + [
            (f.name, f.client) for f in self.feeds if f.open
        ]:
            try:
                client.expect_silence(0.001)
            except AssertionError as extra:
                raise self._fail(
                    f"after step {self.steps}, {name} received a line the oracle does not send: {extra}",
                    detail=f"{extra}",
                    reproduce=client.reproduce(),
                ) from None

    # -- reading and comparing

    def _step(self, text: str) -> str:
        self.steps += 1
        entry = f"step {self.steps}: {text}"
        self._history.append(entry)
        return entry

    def _read(
        self,
        client: LineClient,
        name: str,
        step: str,
        expected: OrderEntryMessage | MarketDataMessage,
        requester: Session | None,
    ) -> str:
        try:
            return client.read_line(self.read_timeout)
        except CandidateFailure as failure:
            raise self._fail(
                f"{step.split(':', 1)[0]}: {name} expected {_text(expected.to_json_line())}, "
                f"but {failure.message}",
                detail=f"expected on {name}: {expected.to_json_line()}\ninstead: {failure.message}",
                brief=_BRIEF.get(expected.type),
                reproduce=(requester.client if requester else client).reproduce(),
                silent=True,
            ) from None

    def _compare_order_entry(
        self, name: str, step: str, expected: OrderEntryMessage, got: str, requester: Session
    ) -> None:
        try:
            same = parse_order_entry(got) == expected
            problem = ""
        except ValidationError as error:
            same, problem = False, parse_problem(error)
        if not same:
            self._mismatch(name, step, expected.to_json_line(), got, problem, expected.type, requester)

    def _compare_market_data(
        self,
        name: str,
        step: str,
        expected: MarketDataMessage,
        got: str,
        requester: Session | None,
    ) -> None:
        try:
            same = parse_market_data(got) == expected
            problem = ""
        except ValidationError as error:
            same, problem = False, parse_problem(error)
        if not same:
            self._mismatch(name, step, expected.to_json_line(), got, problem, expected.type, requester)

    def _mismatch(
        self,
        name: str,
        step: str,
        expected: str,
        got: str,
        problem: str,
        kind: str,
        requester: Session | None,
    ) -> None:
        difference = describe_difference(expected, got) or problem or "a different message"
        received = _decode(got)
        if isinstance(received, dict) and received.get("type") == kind:
            summary = f"the {kind} {name} received differs from the brief's (the oracle's): {difference}"
        else:
            summary = (
                f"{name} received {_text(got, 100)} where the brief (the oracle) sends {_text(expected, 100)}"
            )
        brief = f" (brief section {_BRIEF[kind]})" if kind in _BRIEF else ""
        raise self._fail(
            f"{step.split(':', 1)[0]}: {summary}{brief}",
            detail=f"expected on {name}: {expected}\nreceived:        {got}\ndifference: {difference}",
            brief=_BRIEF.get(kind),
            reproduce=requester.client.reproduce() if requester else None,
        )

    def _closed(self, session: Session, step: str) -> None:
        try:
            session.client.expect_closed(timeout=2.0)
        except CandidateFailure as failure:
            raise self._fail(
                f"{step.split(':', 1)[0]}: {failure.message} (a line over 4096 bytes is answered "
                "with line_too_long, then the connection is closed)",
                detail=failure.message,
                brief="4.2",
                reproduce=session.client.reproduce(),
            ) from None
        session.open = False

    def _silent(self, session: Session, step: str, seconds: float) -> None:
        try:
            session.client.expect_silence(seconds)
        except AssertionError as extra:
            raise self._fail(
                f"{step.split(':', 1)[0]}: {session.name} got a line where the oracle sends none "
                f"(a blank line is ignored): {extra}",
                detail=str(extra),
                brief="3",
                reproduce=session.client.reproduce(),
            ) from None

    def _fail(
        self,
        message: str,
        *,
        detail: str,
        brief: str | None = None,
        reproduce: str | None = None,
        silent: bool = False,
    ) -> Mismatch:
        lines = [f"the service and the oracle part ways at step {self.steps}"]
        lines += [detail]
        if brief:
            lines.append(f"the brief, section {brief}, defines this message")
        lines.append("the last steps:")
        lines += [f"  {entry}" for entry in self._history]
        self.notes.note("\n".join(lines))
        return Mismatch(message, silent=silent, reproduce=reproduce)

    # -- a shared service: empty book, known counters

    def align(self, *, trade: bool = True) -> Baseline:
        """Empty the service's book and learn its counters; the oracle continues from them.

        Two accounts of the scenario's own sweep the book with IOC orders at the extreme prices, then
        (with `trade`) one rests the smallest sell and the other takes it, which gives the next order id
        and trade id; without `trade`, the resting order is cancelled instead. The book reply that
        follows gives the seq. Only order ids and seq are learnt without `trade`: for scenarios that
        expect no trade."""
        house = self._house("align")
        snapshot = self._loose_book(house)
        serial = 0
        for _ in range(4):
            if not snapshot.bids and not snapshot.asks:
                break
            # The sweeper never reads: a sweep through thousands of small orders makes more fill reports
            # than the 1 MiB a connection may queue, and the service rightly drops such a connection.
            sweeper = self._house("align-sweep")
            orders = []
            for side, levels, price in (
                ("buy", snapshot.asks, _TOP_PRICE),
                ("sell", snapshot.bids, _BOTTOM_PRICE),
            ):
                total = sum(int(qty.replace(".", "")) for _, qty in levels)
                while total > 0:
                    qty = min(total, _MAX_QTY)
                    serial += 1
                    orders.append(
                        NewOrder(
                            client_order_id=f"sweep-{serial}",
                            side=side,  # type: ignore[arg-type]
                            type="limit",
                            price=price,
                            qty=DEFAULT_INSTRUMENT.qty_text(qty),
                            tif="ioc",
                        ).to_json_line()
                    )
                    total -= qty
            sweeper.send_raw("".join(f"{order}\n" for order in orders).encode())
            deadline = time.monotonic() + self.read_timeout
            snapshot = self._loose_book(house)
            while (snapshot.bids or snapshot.asks) and time.monotonic() < deadline:
                time.sleep(0.02)
                snapshot = self._loose_book(house)
            sweeper.close()
        if snapshot.bids or snapshot.asks:
            raise CandidateFailure(
                "the scenario starts from an empty book, and IOC orders at the extreme prices could not "
                f"sweep what earlier scenarios left: the book is still {snapshot.to_json_line()[:200]}",
                reproduce=house.reproduce(),
            )
        maker = self._loose(
            house,
            NewOrder(
                client_order_id="probe-maker",
                side="sell",
                type="limit",
                price="1000.0",
                qty="0.0001",
                tif="gtc",
            ),
            ("ack",),
        )
        next_trade_id: int | None = None
        if trade:
            taker_client = self._house("align-taker")
            taker = self._loose(
                taker_client,
                NewOrder(
                    client_order_id="probe-taker",
                    side="buy",
                    type="limit",
                    price="1000.0",
                    qty="0.0001",
                    tif="ioc",
                ),
                ("ack",),
            )
            fills = self._loose_reports(taker_client)
            trade_ids = [
                m["trade_id"] for m in fills if m.get("type") == "fill" and type(m.get("trade_id")) is int
            ]
            if not trade_ids:
                raise CandidateFailure(
                    "an IOC buy meeting a resting sell at the same price got no fill (the scenario aligns "
                    f"its ids with one trade); the taker received {[_render(m) for m in fills][:3]}",
                    reproduce=taker_client.reproduce(),
                )
            next_trade_id = trade_ids[-1] + 1
            next_order_id = int(taker["order_id"]) + 1
            taker_client.close()
        else:
            self._loose(house, {"op": "cancel", "client_order_id": "probe-maker"}, ("cancel_ack",))
            next_order_id = int(maker["order_id"]) + 1
        snapshot = self._loose_book(house)
        house.close()
        if snapshot.bids or snapshot.asks:
            raise CandidateFailure(
                "after the scenario's alignment trade the book should be empty, it is "
                f"{snapshot.to_json_line()[:200]}"
            )
        baseline = Baseline(next_order_id, next_trade_id, snapshot.seq)
        self.start_from(baseline)
        return baseline

    def start_from(self, baseline: Baseline) -> None:
        engine = self.exchange.engine
        engine.next_order_id = baseline.next_order_id
        if baseline.next_trade_id is not None:
            engine.next_trade_id = baseline.next_trade_id
        engine.seq = baseline.seq
        self.order_id_offset = baseline.next_order_id - 1

    def shift(self, line: str | bytes) -> str | bytes:
        return shift_order_ids(line, self.order_id_offset)

    def _house(self, name: str) -> LineClient:
        client = self.connect("main")
        client.label = f"{name} ({client.label})"
        self._loose(client, Login(account=self.account(name)), ("login_ack",))
        return client

    def _loose(self, client: LineClient, request: Request, replies: Iterable[str]) -> dict[str, Any]:
        """Send a request outside the lockstep; return its reply, skipping reports. The reply must be of
        one of the `replies` types."""
        line = _line(request)
        client.send_line(line)
        wanted = set(replies)
        every = {"login_ack", "ack", "cancel_ack", "reject", "snapshot"}
        while True:
            got = client.read_line(self.read_timeout)
            message = _decode(got)
            kind = message.get("type") if isinstance(message, dict) else None
            if kind in every:
                break
        if kind not in wanted:
            raise CandidateFailure(
                f"to {_text(line)} the service answered {_text(got)} (expected a "
                f"{' or '.join(sorted(wanted))}; the scenario needs it to set up)",
                reproduce=client.reproduce(),
            )
        assert isinstance(message, dict)
        return message

    def _loose_book(self, client: LineClient) -> Snapshot:
        client.send_line(BookQuery().to_json_line())
        while True:
            got = client.read_line(self.read_timeout)
            message = _decode(got)
            if isinstance(message, dict) and message.get("type") == "snapshot":
                break
        try:
            snapshot = parse_order_entry(got)
        except ValidationError as error:
            raise CandidateFailure(
                f"the reply to a book request is not a valid snapshot ({parse_problem(error)}): {_text(got)}",
                reproduce=client.reproduce(),
            ) from None
        assert isinstance(snapshot, Snapshot)
        return snapshot

    def _loose_reports(self, client: LineClient) -> list[dict[str, Any]]:
        """Everything pushed to `client` before the reply to a book request sent now."""
        client.send_line(BookQuery().to_json_line())
        pushed: list[dict[str, Any]] = []
        while True:
            message = _decode(client.read_line(self.read_timeout))
            if isinstance(message, dict) and message.get("type") == "snapshot":
                return pushed
            if isinstance(message, dict):
                pushed.append(message)
