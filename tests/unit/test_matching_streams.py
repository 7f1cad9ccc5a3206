"""Long seeded random order streams through the oracle: invariants checked after every command
(quantity conservation, an uncrossed book, fills at the maker's price, no self-trade, gapless market
data a client can rebuild the book from) and determinism (same seed, byte-identical output)."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import pytest

EXERCISE = Path(__file__).resolve().parents[2] / "exercises" / "matching-engine"
if str(EXERCISE) not in sys.path:
    sys.path.insert(0, str(EXERCISE))

from oracle import (  # noqa: E402 - the oracle lives in the exercise folder, not in an installed package
    DEFAULT_INSTRUMENT,
    Ack,
    BookUpdate,
    CancelAck,
    Cancelled,
    Decremented,
    Exchange,
    Fill,
    Replay,
    Snapshot,
    Step,
    Trade,
    book_checksum,
    random_stream,
    replay,
)

SEEDS = [1, 2, 3]
COMMANDS = 2500


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed={s}" for s in SEEDS])
def replayed(request: pytest.FixtureRequest) -> tuple[list[Step], Replay]:
    steps = random_stream(request.param, commands=COMMANDS)
    return steps, replay(steps)


def _units(text: str) -> int:
    return DEFAULT_INSTRUMENT.parse_qty(text) if text != "0.00000000" else 0


def _request(line: str) -> dict[str, object]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def test_the_stream_exercises_every_path(replayed: tuple[list[Step], Replay]) -> None:
    _, result = replayed
    seen: set[str] = set()
    for record in result.records:
        for _, message in record.outcome.deliveries:
            seen.add(message.type + ":" + str(getattr(message, "reason", "")))
    for expected in (
        "fill:",
        "ack:",
        "cancel_ack:",
        "snapshot:",
        "decremented:stp",
        "cancelled:stp",
        "cancelled:unfilled",
        "reject:unknown_order",
        "reject:not_your_order",
        "reject:duplicate_client_order_id",
        "reject:post_only_would_cross",
        "reject:off_tick",
        "reject:malformed_json",
    ):
        assert expected in seen, f"the random stream never produced {expected}"


def test_book_is_never_crossed_and_l2_is_the_sum_of_open_orders(replayed: tuple[list[Step], Replay]) -> None:
    steps, _ = replayed
    exchange = Exchange()
    conns: dict[int, int] = {}
    for index, step in enumerate(steps):
        if step.conn not in conns:
            conns[step.conn] = exchange.connect()
        exchange.handle(conns[step.conn], step.line)
        book = exchange.engine.book
        best_bid, best_ask = book.bids.best(), book.asks.best()
        assert best_bid is None or best_ask is None or best_bid < best_ask, f"crossed after step {index}"
        totals: dict[tuple[str, int], int] = defaultdict(int)
        for order in exchange.engine.open_orders.values():
            assert order.remaining > 0
            totals[(order.side, order.price)] += order.remaining
        l2 = {("buy", p): q for p, q in book.l2("buy")} | {("sell", p): q for p, q in book.l2("sell")}
        assert l2 == totals, f"L2 differs from the open orders after step {index}"
        bids, asks = [p for p, _ in book.l2("buy")], [p for p, _ in book.l2("sell")]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks)


def test_quantity_is_conserved_for_every_order(replayed: tuple[list[Step], Replay]) -> None:
    steps, result = replayed
    exchange = Exchange()
    original: dict[int, int] = {}
    accounted: dict[int, int] = defaultdict(int)
    for record in result.records:
        for conn, message in record.outcome.deliveries:
            assert conn == record.step.conn or not isinstance(message, Ack)
            if isinstance(message, Ack) and message.order_id not in original:
                original[message.order_id] = DEFAULT_INSTRUMENT.parse_qty(json.loads(record.step.line)["qty"])
            elif isinstance(message, Fill | Decremented):
                accounted[message.order_id] += _units(message.qty)
            elif isinstance(message, Cancelled | CancelAck):
                accounted[message.order_id] += _units(message.remaining)
    # Replay once more to read the open orders at the end of the stream.
    conns: dict[int, int] = {}
    for step in steps:
        if step.conn not in conns:
            conns[step.conn] = exchange.connect()
        exchange.handle(conns[step.conn], step.line)
    for order_id, order in exchange.engine.open_orders.items():
        accounted[order_id] += order.remaining
    assert original, "the stream placed no order"
    assert dict(accounted) == {k: v for k, v in original.items() if v}, "filled + cancelled + open != ordered"


def test_every_trade_is_one_maker_and_one_taker_of_different_accounts_at_the_makers_price(
    replayed: tuple[list[Step], Replay],
) -> None:
    _, result = replayed
    limit_price: dict[int, str] = {}
    account_of_conn: dict[int, str] = {}
    for record in result.records:
        request = _request(record.step.line)
        if request.get("op") == "login":
            account_of_conn[record.step.conn] = request["account"]
        fills: dict[int, list[tuple[int, Fill]]] = defaultdict(list)
        for conn, message in record.outcome.deliveries:
            if isinstance(message, Ack) and message.order_id not in limit_price:
                limit_price[message.order_id] = request.get("price", "market")
            if isinstance(message, Fill):
                fills[message.trade_id].append((conn, message))
        trades = [m for m in record.outcome.market_data if isinstance(m, Trade)]
        assert sorted(fills) == [t.trade_id for t in trades], "one trade message per trade, in order"
        for trade in trades:
            (c1, f1), (c2, f2) = fills[trade.trade_id]
            taker, maker = (f1, f2) if f1.liquidity == "taker" else (f2, f1)
            assert {f1.liquidity, f2.liquidity} == {"maker", "taker"}
            assert account_of_conn[c1] != account_of_conn[c2], "a self-trade got through"
            assert taker.side == trade.side != maker.side
            assert f1.price == f2.price == trade.price == limit_price[maker.order_id], (
                "not at the maker's price"
            )
            assert f1.qty == f2.qty == trade.qty
            if limit_price[taker.order_id] != "market":
                taker_limit = DEFAULT_INSTRUMENT.parse_price(limit_price[taker.order_id])
                price = DEFAULT_INSTRUMENT.parse_price(trade.price)
                assert price <= taker_limit if taker.side == "buy" else price >= taker_limit


def test_a_client_rebuilds_the_book_from_the_market_data_alone(replayed: tuple[list[Step], Replay]) -> None:
    _, result = replayed
    bids: dict[str, str] = {}
    asks: dict[str, str] = {}
    seq = 0
    for record in result.records:
        for message in record.outcome.market_data:
            assert message.seq == seq + 1, "gap or repeat in the market-data sequence"
            seq = message.seq
            if isinstance(message, BookUpdate):
                for levels, side in ((message.bids, bids), (message.asks, asks)):
                    for price, qty in levels:
                        if qty == "0.00000000":
                            assert price in side, "a delete of a level the client never saw"
                            del side[price]
                        else:
                            side[price] = qty
                top_bids = sorted(bids.items(), key=lambda kv: -DEFAULT_INSTRUMENT.parse_price(kv[0]))
                top_asks = sorted(asks.items(), key=lambda kv: DEFAULT_INSTRUMENT.parse_price(kv[0]))
                assert book_checksum(top_asks, top_bids) == message.checksum
        assert record.book.seq == seq
        assert record.book.bids == sorted(bids.items(), key=lambda kv: -DEFAULT_INSTRUMENT.parse_price(kv[0]))
        assert record.book.asks == sorted(asks.items(), key=lambda kv: DEFAULT_INSTRUMENT.parse_price(kv[0]))
        for _, message in record.outcome.deliveries:
            if isinstance(message, Snapshot):
                assert message == record.book, "a book query answers the current book and seq"


def test_same_seed_same_bytes_and_a_different_seed_differs() -> None:
    def everything(seed: int) -> list[str]:
        result = replay(random_stream(seed, commands=800))
        lines = result.market_data_lines()
        for conn in (1, 2, 3):
            lines += [f"{conn}:{line}" for line in result.lines_for(conn)]
        lines += [r.book.to_json_line() for r in result.records]
        return lines

    first, second = everything(11), everything(11)
    assert first == second
    assert len(first) > 1000
    assert random_stream(11, commands=50) == random_stream(11, commands=50)
    assert everything(12) != first


def test_restart_keeps_every_acknowledged_effect() -> None:
    steps = random_stream(21, commands=600)
    exchange = Exchange()
    conns = {n: exchange.connect() for n in (1, 2, 3)}
    acknowledged = []
    for step in steps[:400]:
        replies = exchange.handle(conns[step.conn], step.line).to(conns[step.conn])
        if replies and isinstance(replies[0], Ack):
            acknowledged.append((step, replies[0]))
    before = exchange.engine.snapshot()
    exchange.restart()
    conns = {n: exchange.connect() for n in (1, 2, 3)}
    for step in steps[:3]:
        exchange.handle(conns[step.conn], step.line)  # log in again
    assert exchange.engine.snapshot() == before
    # Sending every acknowledged order again changes nothing: each is a retry, answered by its ack.
    # (Rejected orders are not in this list: they left no trace, so they could be accepted now.)
    assert len(acknowledged) > 200
    for step, ack in acknowledged:
        outcome = exchange.handle(conns[step.conn], step.line)
        assert outcome.deliveries == [(conns[step.conn], ack)]
        assert outcome.market_data == []
    assert exchange.engine.snapshot() == before
