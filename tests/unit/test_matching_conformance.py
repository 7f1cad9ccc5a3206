"""The matching-engine scenarios' own machinery (exercises/matching-engine/conformance/): the feed book a
subscriber rebuilds, the lockstep `Market` run against an in-process service made of the oracle (exact,
or with one deliberate fault), the alignment with a service that has history, and recovery after a
crash with requests in flight."""

from __future__ import annotations

import json
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

EXERCISE = Path(__file__).resolve().parents[2] / "exercises" / "matching-engine"
if str(EXERCISE) not in sys.path:
    sys.path.insert(0, str(EXERCISE))

from conformance import (  # noqa: E402 - the package lives in the exercise folder
    FeedBook,
    FeedProblem,
    Market,
    Mismatch,
    describe_difference,
    shift_order_ids,
)
from conformance.brief import example_requests, with_account  # noqa: E402
from oracle import Exchange, random_stream, replay  # noqa: E402

from harness.drivers.jsonl import ConnectionLost, ConnectionNotClosed, ReplyTimeout  # noqa: E402

Mutate = Callable[[dict[str, object]], dict[str, object] | None]

# --- the feed book -------------------------------------------------------------------------------------


def _feed_lines(seed: int = 7, commands: int = 300) -> list[str]:
    return [
        '{"type":"snapshot","seq":0,"bids":[],"asks":[],"checksum":0}',
        *replay(random_stream(seed, commands=commands)).market_data_lines(),
    ]


def test_the_feed_of_a_replay_rebuilds_the_oracles_book() -> None:
    result = replay(random_stream(7, commands=300))
    book = FeedBook()
    for line in _feed_lines():
        book.apply(line)
    assert book.snapshot() == result.records[-1].book
    assert book.trades and book.updates


def _corrupt(lines: list[str], index: int, change: Callable[[dict[str, Any]], None]) -> list[str]:
    message = json.loads(lines[index])
    change(message)
    return [*lines[:index], json.dumps(message), *lines[index + 1 :]]


def _first(lines: list[str], kind: str, start: int = 1) -> int:
    return next(i for i, line in enumerate(lines) if i >= start and json.loads(line)["type"] == kind)


LINES = _feed_lines()
BOOK = _first(LINES, "book", 2)

BROKEN_FEEDS = [
    ("a gap", [LINES[0], *LINES[2:]], "a gap in seq"),
    ("a repeat", [*LINES[:3], LINES[2], *LINES[3:]], "a repeat or step back"),
    (
        "a wrong checksum",
        _corrupt(LINES, BOOK, lambda m: m.update(checksum=(m["checksum"] + 1) % 2**32)),
        "checksum",
    ),
    ("not a snapshot first", LINES[1:], "not a snapshot"),
    ("a second snapshot", [LINES[0], LINES[0]], "second snapshot"),
    (
        "an empty book message",
        _corrupt(LINES, BOOK, lambda m: m.update(bids=[], asks=[])),
        "listing no level",
    ),
    ("not a message", [LINES[0], '{"type":"trade","seq":1}'], "not a market-data message"),
    (
        "a delete of an unknown level",
        [LINES[0], '{"type":"book","seq":1,"bids":[["100.0","0.00000000"]],"asks":[],"checksum":0}'],
        "does not have",
    ),
    (
        "unsorted snapshot bids",
        [
            '{"type":"snapshot","seq":0,"bids":[["1.0","0.00010000"],["2.0","0.00010000"]],"asks":[],"checksum":0}'
        ],
        "not in order",
    ),
]


@pytest.mark.parametrize(
    ("lines", "problem"), [b[1:] for b in BROKEN_FEEDS], ids=[b[0] for b in BROKEN_FEEDS]
)
def test_the_feed_book_names_each_broken_promise(lines: list[str], problem: str) -> None:
    book = FeedBook()
    with pytest.raises(FeedProblem, match=problem):
        for line in lines:
            book.apply(line)


def test_level_totals_may_exceed_the_largest_order() -> None:
    book = FeedBook()
    book.apply('{"type":"snapshot","seq":0,"bids":[],"asks":[],"checksum":0}')
    update = {"type": "book", "seq": 1, "bids": [["0.5", "30000.00000000"]], "asks": [], "checksum": 0}
    update["checksum"] = FeedBook(bids={5: 3 * 10**12}).checksum()
    book.apply(json.dumps(update))
    assert book.levels("buy") == [("0.5", "30000.00000000")]


# --- helpers -------------------------------------------------------------------------------------------


def test_shift_order_ids_moves_only_a_cancels_positive_integer_id() -> None:
    assert shift_order_ids('{"op":"cancel","order_id":3}', 10) == '{"op":"cancel","order_id":13}'
    for line in ('{"op":"cancel","order_id":0}', '{"op":"cancel","order_id":"3"}', "{bad", '{"op":"book"}'):
        assert shift_order_ids(line, 10) == line
    assert shift_order_ids('{"op":"cancel", "order_id":3}', 0) == '{"op":"cancel", "order_id":3}'


def test_describe_difference_names_fields_and_json_types() -> None:
    expected = '{"type":"ack","client_order_id":"a","order_id":1}'
    assert describe_difference(expected, '{"type":"ack","client_order_id":"a","order_id":"1"}') == (
        'order_id: expected 1, got "1"'
    )
    assert describe_difference(expected, '{"type":"ack","order_id":1.0,"x":2}') == (
        "client_order_id missing; order_id: expected 1, got 1.0; unexpected field x"
    )
    assert describe_difference(expected, "nope") == "the line received is not JSON"
    assert describe_difference(expected, expected.replace(" ", "")) == ""


def test_the_briefs_example_requests_are_read_from_the_brief() -> None:
    requests = example_requests((EXERCISE / "README.md").read_text(encoding="utf-8"))
    assert requests[0] == ("alice", '{"op":"login","account":"alice"}')
    assert {who for who, _ in requests} == {"alice", "bob"}
    assert with_account(requests[0][1], "alice-1") == '{"op":"login","account":"alice-1"}'
    assert with_account('{"op":"book"}', "x") == '{"op":"book"}'


# --- the lockstep against an in-process service --------------------------------------------------------


class FakeService:
    """The oracle as a service: connections, a market-data port, and an optional fault (`mutate` may
    change or drop (None) each outbound message)."""

    def __init__(self, mutate: Mutate | None = None) -> None:
        self.exchange = Exchange()
        self.mutate = mutate
        self.clients: dict[int, FakeClient] = {}
        self.feeds: list[FakeClient] = []

    def connect(self, port: str) -> FakeClient:
        client = FakeClient(self, port)
        if port == "main":
            client.conn = self.exchange.connect()
            self.clients[client.conn] = client
        else:
            self.feeds.append(client)
            client.push(self.exchange.engine.snapshot().to_json_line())
        return client

    def crash(self) -> None:
        for client in [*self.clients.values(), *self.feeds]:
            client.gone = True
        self.clients.clear()
        self.feeds.clear()
        self.exchange.restart()

    def handle(self, client: FakeClient, line: bytes) -> None:
        outcome = self.exchange.handle(client.conn, line)
        for target, message in outcome.deliveries:
            receiver = client if target == client.conn else self.clients.get(target)
            if receiver is not None:
                receiver.push(message.to_json_line())
        for message in outcome.market_data:
            for feed in self.feeds:
                feed.push(message.to_json_line())
        if outcome.close:
            client.gone = True


class FakeClient:
    def __init__(self, service: FakeService, port: str) -> None:
        self.service = service
        self.label = f"{port} client"
        self.conn = 0
        self.inbox: deque[str] = deque()
        self.gone = False
        self._pending = b""

    def push(self, line: str) -> None:
        if self.service.mutate is not None:
            changed = self.service.mutate(json.loads(line))
            if changed is None:
                return
            line = json.dumps(changed)
        self.inbox.append(line)

    def send_line(self, text: str | bytes) -> None:
        self.send_raw((text.encode() if isinstance(text, str) else text) + b"\n")

    def send_raw(self, data: bytes) -> None:
        if self.gone:
            return
        self._pending += data
        while b"\n" in self._pending and not self.gone:
            line, self._pending = self._pending.split(b"\n", 1)
            self.service.handle(self, line)

    def read_line(self, timeout: float | None = None) -> str:
        if self.inbox:
            return self.inbox.popleft()
        if self.gone:
            raise ConnectionLost("the connection was closed by the service instead of a line")
        raise ReplyTimeout("no line within 1 s")

    def expect_silence(self, seconds: float) -> None:
        if self.inbox:
            raise AssertionError(f"expected nothing more, got {self.inbox[0]}")

    def expect_closed(self, timeout: float = 2.0) -> None:
        if self.inbox or not self.gone:
            raise ConnectionNotClosed("expected the service to close the connection")

    def close(self) -> None:
        if self.conn in self.service.clients:
            del self.service.clients[self.conn]
            self.service.exchange.disconnect(self.conn)
        self.gone = True

    def reproduce(self) -> str | None:
        return None


class Notes:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)


def _market(service: FakeService) -> tuple[Market, Notes]:
    notes = Notes()
    return Market(service.connect, notes, tag="t0"), notes


def _play_stream(m: Market, seed: int = 3, commands: int = 300) -> None:
    m.feed()
    sessions = {n: [m.session(f"acct{n}"), m.session(f"acct{n}")] for n in (1, 2, 3)}
    m.play(random_stream(seed, commands=commands), sessions)
    m.settle()


def test_a_service_that_is_the_oracle_passes_the_lockstep() -> None:
    m, notes = _market(FakeService())
    _play_stream(m)
    assert notes.notes == []
    assert m.steps > 300


def test_a_wrong_field_is_named_with_its_step_and_the_brief_section() -> None:
    def maker_remaining(message: dict[str, object]) -> dict[str, object]:
        if message.get("liquidity") == "maker":
            return {**message, "remaining": "0.10000000"}
        return message

    m, notes = _market(FakeService(maker_remaining))
    with pytest.raises(Mismatch) as failure:
        _play_stream(m)
    assert "the fill" in failure.value.message and "remaining: expected" in failure.value.message
    assert "(brief section 4.3)" in failure.value.message
    assert not failure.value.silent
    assert "the last steps:" in notes.notes[-1]


def test_a_missing_market_data_message_is_a_silent_mismatch() -> None:
    m, _ = _market(FakeService(lambda message: None if message.get("type") == "book" else message))
    with pytest.raises(Mismatch) as failure:
        _play_stream(m)
    assert failure.value.silent and "expected" in failure.value.message


def test_an_extra_line_is_caught_when_the_scenario_settles() -> None:
    service = FakeService()
    m, _ = _market(service)
    alice = m.session("alice")
    alice.client.inbox.append('{"type":"ack","client_order_id":"x","order_id":99}')
    with pytest.raises(Mismatch, match="a line the oracle does not send"):
        m.settle()


def test_alignment_continues_the_ids_of_a_service_with_history() -> None:
    service = FakeService()
    earlier, _ = _market(service)
    earlier.tag = "earlier"
    _play_stream(earlier, seed=5)  # leaves orders in the book and ids taken
    assert service.exchange.engine.book.bids.best() is not None
    m, notes = _market(service)
    baseline = m.align()
    assert baseline.next_order_id == service.exchange.engine.next_order_id
    assert baseline.next_trade_id == service.exchange.engine.next_trade_id
    assert not service.exchange.engine.open_orders, "the alignment sweeps the book"
    _play_stream(m, seed=6)  # cancels by order id are shifted onto this scenario's own orders
    assert notes.notes == []


@pytest.mark.parametrize("executed", [True, False], ids=["executed-before-the-kill", "lost-in-the-kill"])
def test_requests_in_flight_at_a_crash_are_resent_and_compared(executed: bool) -> None:
    service = FakeService()
    m, notes = _market(service)
    m.feed()
    alice, bob = m.session("alice"), m.session("bob")
    m.request(
        bob,
        {
            "op": "new",
            "client_order_id": "b-1",
            "side": "sell",
            "type": "limit",
            "price": "100.0",
            "qty": "0.5",
            "tif": "gtc",
        },
    )
    order = {
        "op": "new",
        "client_order_id": "a-1",
        "side": "buy",
        "type": "limit",
        "price": "100.0",
        "qty": "0.2",
        "tif": "gtc",
    }
    if executed:
        m.send_unread(alice, order)  # the fake executes at once: the kill comes after
    service.crash()
    m.crash()
    alice2, bob2 = m.session("alice"), m.session("bob")
    m.resend(alice2, order)
    m.resend(bob2, {"op": "cancel", "client_order_id": "b-1"})
    for session in (alice2, bob2):
        m.drain(session)
    m.feed()
    m.settle()
    assert notes.notes == []


def test_a_resent_order_executed_twice_is_caught() -> None:
    service = FakeService()
    m, _ = _market(service)
    alice = m.session("alice")
    order = {
        "op": "new",
        "client_order_id": "a-1",
        "side": "buy",
        "type": "limit",
        "price": "100.0",
        "qty": "0.2",
        "tif": "gtc",
    }
    m.send_unread(alice, order)
    service.crash()
    service.exchange.engine._by_client_id.clear()  # a log replay that forgets client order ids
    m.crash()
    with pytest.raises(Mismatch, match="order_id: expected 1, got 2"):
        m.resend(m.session("alice"), order)
