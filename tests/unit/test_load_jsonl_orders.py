"""The `jsonl-orders` load codec: every request it makes is one the matching-engine oracle accepts, its
reply counter tells replies from pushed reports at every split of the stream, and short real runs (open
and closed loop) against the oracle behind an asyncio server on loopback count every request."""

from __future__ import annotations

import asyncio
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from harness.load import (
    Codec,
    JsonLinesReplyCounter,
    LoadResult,
    LoadSpec,
    OrderSessions,
    WorkloadSpec,
    get_codec,
    jsonl_orders,
    run_load,
)
from harness.load.jsonl_orders import BAND_TICKS, LOT, MAX_OPEN, MID, TICK, order_entry_counter
from tests.unit.loopback_server import LoopbackServer

EXERCISE = Path(__file__).resolve().parents[2] / "exercises" / "matching-engine"
if str(EXERCISE) not in sys.path:
    sys.path.insert(0, str(EXERCISE))

from oracle import DEFAULT_INSTRUMENT, Exchange, decode_request  # noqa: E402 - lives in the exercise folder
from oracle.requests import CancelCommand, LoginCommand, NewOrderCommand  # noqa: E402

ACCOUNT = re.compile(r"[A-Za-z0-9_-]{1,32}")


def sessions(seed: int = 1, pool_size: int = 2048, nonce: str = "cafe0123") -> OrderSessions:
    return OrderSessions(
        WorkloadSpec(codec="jsonl-orders", pool_size=pool_size), random.Random(seed), nonce=nonce
    )


def lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line]


# --- the requests ---------------------------------------------------------------------------------------


def test_every_request_is_valid_for_the_oracle() -> None:
    source = sessions()
    kinds: Counter[str] = Counter()
    for _ in range(3):
        connection = source.connection()
        login = decode_request(
            connection.greeting.rstrip(b"\n"), logged_in=False, instrument=DEFAULT_INSTRUMENT
        )
        assert isinstance(login, LoginCommand) and ACCOUNT.fullmatch(login.account)
        for _ in range(3000):
            frame = connection.take()
            assert frame.endswith(b"\n") and frame.count(b"\n") == 1
            command = decode_request(frame[:-1], logged_in=True, instrument=DEFAULT_INSTRUMENT)
            if isinstance(command, NewOrderCommand):
                assert command.type == "limit" and command.stp == "cancel_taker"
                assert command.price is not None and abs(command.price - MID) <= TICK * BAND_TICKS
                assert command.qty % LOT == 0 and command.qty > 0
                kinds[command.tif] += 1
            else:
                assert isinstance(command, CancelCommand) and command.order_id is None
                kinds["cancel"] += 1
    total = sum(kinds.values())
    assert set(kinds) == {"gtc", "ioc", "cancel"}
    assert all(0.1 < count / total < 0.6 for count in kinds.values()), kinds


def test_client_order_ids_are_never_reused_and_cancels_name_open_makers() -> None:
    connection = sessions().connection()
    sent: set[str] = set()
    open_makers: list[str] = []
    for _ in range(5000):
        request = json.loads(connection.take())
        if request["op"] == "cancel":
            assert request["client_order_id"] == open_makers.pop(0), "the oldest maker first"
            continue
        assert request["client_order_id"] not in sent
        sent.add(request["client_order_id"])
        if request["tif"] == "gtc":
            open_makers.append(request["client_order_id"])
        assert len(open_makers) <= MAX_OPEN


def test_the_seed_decides_the_orders_and_the_nonce_the_accounts() -> None:
    assert sessions(seed=1).pool == sessions(seed=1).pool != sessions(seed=2).pool
    first, second = sessions(nonce="aaaa"), sessions(nonce="bbbb")
    greetings = {first.connection().greeting, first.connection().greeting, second.connection().greeting}
    assert len(greetings) == 3, "an account per connection, and per run"
    assert len({OrderSessions(WorkloadSpec(), random.Random(1)).nonce for _ in range(5)}) == 5


def run_through_oracle(
    connections: int, requests: int, seed: int = 3
) -> tuple[Exchange, dict[int, bytes], Counter[str]]:
    """Interleave `connections` sessions' requests through the oracle; each connection's received bytes."""
    exchange, source, rng = Exchange(), sessions(seed), random.Random(seed)
    received: dict[int, bytearray] = {}
    takers = []
    outcomes: Counter[str] = Counter()
    for _ in range(connections):
        conn, session = exchange.connect(), source.connection()
        received[conn] = bytearray()
        takers.append((conn, session))
        for target, message in exchange.handle(conn, session.greeting[:-1]).deliveries:
            received[target] += message.to_json_line().encode() + b"\n"
    for _ in range(requests):
        conn, session = rng.choice(takers)
        for target, message in exchange.handle(conn, session.take()[:-1]).deliveries:
            received[target] += message.to_json_line().encode() + b"\n"
            reason = getattr(message, "reason", None)
            outcomes[f"{message.type}/{reason}" if message.type == "reject" else message.type] += 1
    return exchange, {conn: bytes(data) for conn, data in received.items()}, outcomes


def test_through_the_oracle_orders_trade_rest_and_are_cancelled() -> None:
    exchange, _, outcomes = run_through_oracle(connections=4, requests=4000)
    assert {k for k in outcomes if k.startswith("reject")} <= {"reject/unknown_order"}, outcomes
    assert outcomes["fill"] > 200 and outcomes["cancel_ack"] > 500 and outcomes["ack"] > 1500
    assert outcomes["reject/unknown_order"] < 0.2 * outcomes["cancel_ack"], "most cancels find their maker"
    snapshot = exchange.engine.snapshot()
    assert snapshot.bids and snapshot.asks, "makers rest on both sides"


# --- the reply counter ---------------------------------------------------------------------------------


def count(pieces: list[bytes]) -> tuple[int, int]:
    counter = order_entry_counter()
    replies = sum(counter.feed(piece) for piece in pieces)
    return replies, counter.error_replies


def request_replies(stream: bytes) -> int:
    """Complete lines of `stream` that answer a request, the login's answer left out."""
    complete = lines(stream[: stream.rfind(b"\n") + 1])
    pushed = sum(1 for line in complete if json.loads(line)["type"] in ("fill", "cancelled", "decremented"))
    return len(complete) - pushed - 1


def test_the_counter_counts_one_reply_per_request_whatever_is_pushed_in_between() -> None:
    _, received, _ = run_through_oracle(connections=3, requests=600)
    stream = received[1]
    assert request_replies(stream) > 150 and b'"type":"fill"' in stream
    expected = (request_replies(stream), 0)
    assert count([stream]) == expected
    assert count([stream[i : i + 1] for i in range(len(stream))]) == expected
    head = stream[:2000]  # cut mid-line: the partial last line is not counted
    for cut in range(len(head) + 1):
        assert count([head[:cut], head[cut:]]) == (request_replies(head), 0), cut


GREETED = b'{"type":"login_ack","account":"a"}\n'


@pytest.mark.parametrize(
    ("stream", "replies", "errors"),
    [
        pytest.param(GREETED + b'{"type":"ack","client_order_id":"o1","order_id":1}\n', 1, 0, id="ack"),
        pytest.param(GREETED + b'{ "order_id":1, "type" : "ack" }\r\n', 1, 0, id="spacing-and-crlf"),
        pytest.param(GREETED + b'{"type":"fill","order_id":1}\n{"type":"cancelled"}\n', 0, 0, id="pushed"),
        pytest.param(
            GREETED + b'{"type":"reject","reason":"unknown_order","client_order_id":"o1"}\n', 1, 0, id="raced"
        ),
        pytest.param(
            GREETED + b'{"type":"reject","reason":"off_tick","client_order_id":"o1"}\n', 1, 1, id="refused"
        ),
        pytest.param(
            b'{"type":"reject","reason":"invalid_field","client_order_id":null}\n'
            b'{"type":"reject","reason":"not_logged_in","client_order_id":"o1"}\n',
            1,
            1,
            id="login-refused",
        ),
        pytest.param(
            b'{"type":"fill"}\n' + GREETED + b'{"type":"snapshot","seq":0}\n', 1, 0, id="pushed-first"
        ),
    ],
)
def test_replies_and_error_replies(stream: bytes, replies: int, errors: int) -> None:
    assert count([stream]) == (replies, errors)
    assert count([stream[i : i + 1] for i in range(len(stream))]) == (replies, errors)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b'{"type":"welcome"}\n', id="unknown-type"),
        pytest.param(b'{"order_id":1}\n', id="no-type"),
        pytest.param(b'{"type":"ack","type":"ack"}\n', id="two-types"),
        pytest.param(b"not json at all\n", id="garbage"),
    ],
)
def test_lines_outside_the_protocol_raise(line: bytes) -> None:
    counter = order_entry_counter()
    counter.feed(GREETED)
    with pytest.raises(ValueError):
        counter.feed(line)


def test_a_line_that_never_ends_raises_instead_of_buffering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl_orders, "MAX_LINE_BYTES", 100)
    counter = order_entry_counter()
    assert counter.feed(GREETED + b'{"type":"ack",' + b" " * 80) == 0
    with pytest.raises(ValueError, match="longer than 100"):
        counter.feed(b" " * 30)


def test_the_codec_is_registered_with_sessions_not_a_pool() -> None:
    codec = get_codec("jsonl-orders")
    assert codec.make_encoder is None and codec.make_sessions is OrderSessions
    assert isinstance(codec.make_parser(), JsonLinesReplyCounter)
    with pytest.raises(ValueError, match="exactly one of"):
        Codec("both", None, order_entry_counter)


# --- real runs against the oracle on loopback ---------------------------------------------------------


class _OrderEntry(asyncio.Protocol):
    def __init__(self, server: OracleServer) -> None:
        self.server = server
        self.buffer = b""
        self.conn = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.conn = self.server.exchange.connect()
        self.server.transports[self.conn] = transport

    def data_received(self, data: bytes) -> None:
        *complete, self.buffer = (self.buffer + data).split(b"\n")
        out: dict[int, list[bytes]] = {}
        for line in complete:
            outcome = self.server.exchange.handle(self.conn, line)
            for target, message in outcome.deliveries:
                out.setdefault(target, []).append(message.to_json_line().encode() + b"\n")
                if message.type in ("reject", "login_ack"):
                    self.server.seen[f"{message.type}/{getattr(message, 'reason', '')}"] += 1
        for target, parts in out.items():
            transport = self.server.transports.get(target)
            if transport is not None:
                transport.write(b"".join(parts))

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.exchange.disconnect(self.conn)
        self.server.transports.pop(self.conn, None)


class OracleServer(LoopbackServer):
    """The matching-engine oracle behind an asyncio server on 127.0.0.1, in a thread of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.exchange = Exchange()
        self.transports: dict[int, asyncio.Transport] = {}
        self.seen: Counter[str] = Counter()

    def protocol(self) -> asyncio.Protocol:
        return _OrderEntry(self)


def assert_clean(result: LoadResult, server: OracleServer, connections: int) -> None:
    assert result.planned == result.requests + result.dropped + result.unsent
    assert result.requests == result.completed + result.lost + result.timeouts
    assert result.completed > 50 and result.errors == 0, result.to_dict()
    assert server.seen["login_ack/"] == connections, "each connection logged in once, first"
    assert set(server.seen) <= {"login_ack/", "reject/unknown_order"}, server.seen


@pytest.mark.parametrize("pipeline", [1, 4])
def test_a_closed_loop_run_against_the_oracle(pipeline: int) -> None:
    spec = LoadSpec(
        mode="closed",
        connections=4,
        pipeline=pipeline,
        duration_s=0.5,
        warmup_s=0.2,
        encoder=WorkloadSpec(codec="jsonl-orders", pool_size=512),
    )
    with OracleServer() as server:
        result = run_load("127.0.0.1", server.port, spec)
    assert_clean(result, server, connections=4)


def test_an_open_loop_run_against_the_oracle() -> None:
    spec = LoadSpec(
        mode="open",
        rate=300,
        connections=3,
        duration_s=0.6,
        warmup_s=0.2,
        encoder=WorkloadSpec(codec="jsonl-orders", pool_size=512),
    )
    with OracleServer() as server:
        result = run_load("127.0.0.1", server.port, spec)
    assert_clean(result, server, connections=3)
    assert result.completed == result.requests and result.requests + result.dropped == 180
