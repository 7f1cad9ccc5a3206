"""The matching-engine oracle's semantics, command by command: priority, prices, time in force,
self-trade prevention, cancels, idempotent retries, and a scripted session with the whole L2 book
checked after every command (the way well-tested engines are tested)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

EXERCISE = Path(__file__).resolve().parents[2] / "exercises" / "matching-engine"
if str(EXERCISE) not in sys.path:
    sys.path.insert(0, str(EXERCISE))

from oracle import (  # noqa: E402 - the oracle lives in the exercise folder, not in an installed package
    Ack,
    BookQuery,
    BookUpdate,
    Cancel,
    CancelAck,
    Cancelled,
    Decremented,
    Exchange,
    Fill,
    Login,
    LoginAck,
    NewOrder,
    Outcome,
    Reject,
    Snapshot,
    Trade,
)


def login(exchange: Exchange, account: str) -> int:
    conn = exchange.connect()
    assert exchange.handle(conn, Login(account=account).to_json_line()).to(conn) == [
        LoginAck(account=account)
    ]
    return conn


def limit(cid: str, side: str, price: str, qty: str, tif: str = "gtc", stp: str | None = None) -> str:
    return NewOrder(
        client_order_id=cid,
        side=side,
        type="limit",
        price=price,
        qty=qty,
        tif=tif,
        stp=stp,  # type: ignore[arg-type]
    ).to_json_line()


def market(cid: str, side: str, qty: str, stp: str | None = None) -> str:
    return NewOrder(client_order_id=cid, side=side, type="market", qty=qty, stp=stp).to_json_line()  # type: ignore[arg-type]


def book(exchange: Exchange) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    snapshot = exchange.engine.snapshot()
    return snapshot.bids, snapshot.asks


@pytest.fixture
def exchange() -> Exchange:
    return Exchange()


def fills(outcome: Outcome, conn: int) -> list[Fill]:
    return [m for m in outcome.to(conn) if isinstance(m, Fill)]


# --- priority and prices -------------------------------------------------------------------------------


def test_better_price_first_then_earlier_order_at_the_same_price(exchange: Exchange) -> None:
    a, b, c = login(exchange, "a"), login(exchange, "b"), login(exchange, "c")
    exchange.handle(a, limit("a1", "sell", "45010.0", "1.0"))
    exchange.handle(b, limit("b1", "sell", "45005.0", "0.3"))  # better price, later
    exchange.handle(a, limit("a2", "sell", "45005.0", "0.3"))  # same price, later still
    out = exchange.handle(c, limit("c1", "buy", "45010.0", "0.8"))
    assert [(f.client_order_id, f.price, f.qty) for f in fills(out, c)] == [
        ("c1", "45005.0", "0.30000000"),
        ("c1", "45005.0", "0.30000000"),
        ("c1", "45010.0", "0.20000000"),
    ]
    makers = [(f.client_order_id, f.qty, f.remaining) for f in fills(out, a) + fills(out, b)]
    assert sorted(makers) == [
        ("a1", "0.20000000", "0.80000000"),
        ("a2", "0.30000000", "0.00000000"),
        ("b1", "0.30000000", "0.00000000"),
    ]
    trades = [m for m in out.market_data if isinstance(m, Trade)]
    assert [(t.trade_id, t.price, t.side) for t in trades] == [
        (1, "45005.0", "buy"),
        (2, "45005.0", "buy"),
        (3, "45010.0", "buy"),
    ]
    # The b1 fill comes before a2's: time priority within the level.
    assert [f.trade_id for f in fills(out, b)] == [1]
    assert [f.trade_id for f in fills(out, a)] == [2, 3]
    assert book(exchange) == ([], [("45010.0", "0.80000000")])


def test_a_fill_executes_at_the_makers_price_not_the_takers(exchange: Exchange) -> None:
    a, b = login(exchange, "a"), login(exchange, "b")
    exchange.handle(a, limit("bid", "buy", "45000.0", "0.5"))
    out = exchange.handle(b, limit("ask", "sell", "44000.0", "0.2"))
    taker, maker = fills(out, b)[0], fills(out, a)[0]
    assert (taker.price, taker.liquidity, taker.remaining) == ("45000.0", "taker", "0.00000000")
    assert (maker.price, maker.liquidity, maker.remaining) == ("45000.0", "maker", "0.30000000")
    assert taker.trade_id == maker.trade_id == 1
    assert book(exchange) == ([("45000.0", "0.30000000")], [])


def test_the_reply_comes_before_the_requesters_own_reports(exchange: Exchange) -> None:
    a, b = login(exchange, "a"), login(exchange, "b")
    exchange.handle(a, limit("ask", "sell", "45000.0", "0.1"))
    out = exchange.handle(b, limit("bid", "buy", "45000.0", "0.3", tif="ioc"))
    assert [m.type for m in out.to(b)] == ["ack", "fill", "cancelled"]
    assert out.to(b)[2] == Cancelled(
        order_id=2, client_order_id="bid", reason="unfilled", remaining="0.20000000"
    )
    assert [m.type for m in out.market_data] == ["trade", "book"]


# --- time in force and order types ---------------------------------------------------------------------


def test_ioc_never_rests(exchange: Exchange) -> None:
    a = login(exchange, "a")
    out = exchange.handle(a, limit("i", "buy", "45000.0", "1.0", tif="ioc"))
    assert out.to(a) == [
        Ack(client_order_id="i", order_id=1),
        Cancelled(order_id=1, client_order_id="i", reason="unfilled", remaining="1.00000000"),
    ]
    assert out.market_data == []
    assert book(exchange) == ([], [])


def test_post_only_rests_when_it_does_not_cross_and_is_rejected_when_it_would(exchange: Exchange) -> None:
    a, b = login(exchange, "a"), login(exchange, "b")
    exchange.handle(a, limit("ask", "sell", "45000.0", "1.0"))
    rested = exchange.handle(b, limit("p1", "buy", "44999.5", "1.0", tif="post_only"))
    assert rested.to(b) == [Ack(client_order_id="p1", order_id=2)]
    crossing = exchange.handle(b, limit("p2", "buy", "45000.0", "1.0", tif="post_only"))
    assert crossing.to(b) == [Reject(reason="post_only_would_cross", client_order_id="p2")]  # type: ignore[arg-type]
    assert crossing.market_data == [] and crossing.to(a) == []
    assert book(exchange) == ([("44999.5", "1.00000000")], [("45000.0", "1.00000000")])
    # A rejected order consumed nothing: the same id is free, and order ids did not skip.
    again = exchange.handle(b, limit("p2", "buy", "44999.0", "1.0", tif="post_only"))
    assert again.to(b) == [Ack(client_order_id="p2", order_id=3)]


def test_market_order_sweeps_levels_and_never_rests(exchange: Exchange) -> None:
    a, b = login(exchange, "a"), login(exchange, "b")
    exchange.handle(a, limit("s1", "sell", "45000.0", "0.1"))
    exchange.handle(a, limit("s2", "sell", "45000.5", "0.2"))
    out = exchange.handle(b, market("m", "buy", "0.5"))
    assert [(f.price, f.qty, f.remaining) for f in fills(out, b)] == [
        ("45000.0", "0.10000000", "0.40000000"),
        ("45000.5", "0.20000000", "0.20000000"),
    ]
    assert out.to(b)[-1] == Cancelled(
        order_id=3, client_order_id="m", reason="unfilled", remaining="0.20000000"
    )
    update = out.market_data[-1]
    assert isinstance(update, BookUpdate)
    assert update.asks == [("45000.0", "0.00000000"), ("45000.5", "0.00000000")] and update.bids == []
    assert update.checksum == 0  # CRC32 of the empty string: the book is empty
    assert book(exchange) == ([], [])


def test_market_order_on_an_empty_book_is_acknowledged_then_cancelled(exchange: Exchange) -> None:
    a = login(exchange, "a")
    out = exchange.handle(a, market("m", "sell", "1.0"))
    assert [m.type for m in out.to(a)] == ["ack", "cancelled"]
    assert out.market_data == []


# --- self-trade prevention -----------------------------------------------------------------------------


def _self_trade_setup(exchange: Exchange) -> tuple[int, int]:
    """Account a rests 0.3 @ 45000.0 behind b's 0.1 @ 45000.0 and 0.5 @ 45001.0 of its own."""
    a, b = login(exchange, "a"), login(exchange, "b")
    exchange.handle(b, limit("b-ask", "sell", "45000.0", "0.1"))  # order 1
    exchange.handle(a, limit("a-ask", "sell", "45000.0", "0.3"))  # order 2
    exchange.handle(a, limit("a-ask2", "sell", "45001.0", "0.5"))  # order 3
    return a, b


def test_stp_cancel_taker_keeps_earlier_fills_and_the_maker(exchange: Exchange) -> None:
    a, _ = _self_trade_setup(exchange)
    out = exchange.handle(a, limit("t", "buy", "45001.0", "1.0", stp="cancel_taker"))
    assert [m.type for m in out.to(a)] == ["ack", "fill", "cancelled"]
    assert out.to(a)[2] == Cancelled(order_id=4, client_order_id="t", reason="stp", remaining="0.90000000")
    assert book(exchange) == ([], [("45000.0", "0.30000000"), ("45001.0", "0.50000000")])


def test_cancel_taker_is_the_default_mode(exchange: Exchange) -> None:
    a, _ = _self_trade_setup(exchange)
    out = exchange.handle(a, limit("t", "buy", "45001.0", "1.0"))
    assert out.to(a)[-1] == Cancelled(order_id=4, client_order_id="t", reason="stp", remaining="0.90000000")


def test_stp_cancel_maker_removes_own_makers_and_keeps_matching(exchange: Exchange) -> None:
    a, _ = _self_trade_setup(exchange)
    out = exchange.handle(a, limit("t", "buy", "45001.0", "1.0", stp="cancel_maker"))
    assert [m.type for m in out.to(a)] == ["ack", "fill", "cancelled", "cancelled"]
    assert out.to(a)[2:] == [
        Cancelled(order_id=2, client_order_id="a-ask", reason="stp", remaining="0.30000000"),
        Cancelled(order_id=3, client_order_id="a-ask2", reason="stp", remaining="0.50000000"),
    ]
    # Nothing left to sell at or below 45001.0: the rest of the GTC bid rests.
    assert book(exchange) == ([("45001.0", "0.90000000")], [])


def test_stp_cancel_both(exchange: Exchange) -> None:
    a, _ = _self_trade_setup(exchange)
    out = exchange.handle(a, limit("t", "buy", "45001.0", "1.0", stp="cancel_both"))
    assert out.to(a)[2:] == [
        Cancelled(order_id=2, client_order_id="a-ask", reason="stp", remaining="0.30000000"),
        Cancelled(order_id=4, client_order_id="t", reason="stp", remaining="0.90000000"),
    ]
    assert book(exchange) == ([], [("45001.0", "0.50000000")])


def test_stp_decrement_and_cancel_smaller_taker(exchange: Exchange) -> None:
    a, _ = _self_trade_setup(exchange)
    out = exchange.handle(a, limit("t", "buy", "45001.0", "0.25", stp="decrement_and_cancel"))
    # 0.1 trades with b; the remaining 0.15 meets a's 0.3: the maker loses 0.15, the taker is cancelled.
    assert out.to(a)[2:] == [
        Decremented(order_id=2, client_order_id="a-ask", qty="0.15000000", remaining="0.15000000"),
        Cancelled(order_id=4, client_order_id="t", reason="stp", remaining="0.15000000"),
    ]
    assert [m.type for m in out.market_data] == ["trade", "book"]
    assert book(exchange) == ([], [("45000.0", "0.15000000"), ("45001.0", "0.50000000")])


def test_stp_decrement_and_cancel_smaller_maker_then_continues(exchange: Exchange) -> None:
    a, _ = _self_trade_setup(exchange)
    out = exchange.handle(a, limit("t", "buy", "45001.0", "1.0", stp="decrement_and_cancel"))
    # 0.1 trades with b, then a's 0.3 and 0.5 are cancelled against the taker, which keeps 0.1 and rests.
    assert out.to(a)[2:] == [
        Cancelled(order_id=2, client_order_id="a-ask", reason="stp", remaining="0.30000000"),
        Decremented(order_id=4, client_order_id="t", qty="0.30000000", remaining="0.60000000"),
        Cancelled(order_id=3, client_order_id="a-ask2", reason="stp", remaining="0.50000000"),
        Decremented(order_id=4, client_order_id="t", qty="0.50000000", remaining="0.10000000"),
    ]
    assert book(exchange) == ([("45001.0", "0.10000000")], [])


def test_stp_decrement_and_cancel_equal_sizes_cancels_both(exchange: Exchange) -> None:
    a, _ = _self_trade_setup(exchange)
    out = exchange.handle(a, limit("t", "buy", "45000.0", "0.4", stp="decrement_and_cancel"))
    assert out.to(a)[2:] == [
        Cancelled(order_id=2, client_order_id="a-ask", reason="stp", remaining="0.30000000"),
        Cancelled(order_id=4, client_order_id="t", reason="stp", remaining="0.30000000"),
    ]
    assert book(exchange) == ([], [("45001.0", "0.50000000")])


def test_orders_of_other_accounts_never_trigger_stp(exchange: Exchange) -> None:
    a, b = login(exchange, "a"), login(exchange, "b")
    exchange.handle(b, limit("b-ask", "sell", "45000.0", "0.1", stp="cancel_both"))
    out = exchange.handle(a, limit("t", "buy", "45000.0", "0.1", stp="cancel_both"))
    assert [m.type for m in out.to(a)] == ["ack", "fill"]


# --- cancels -------------------------------------------------------------------------------------------


def test_cancel_by_client_order_id_or_order_id_and_only_ones_own(exchange: Exchange) -> None:
    a, b = login(exchange, "a"), login(exchange, "b")
    exchange.handle(a, limit("x", "buy", "45000.0", "0.1"))
    exchange.handle(a, limit("y", "buy", "44999.0", "0.2"))
    exchange.handle(b, limit("x", "buy", "44998.0", "0.3"))  # client order ids are per account
    assert exchange.handle(b, Cancel(order_id=1).to_json_line()).to(b) == [
        Reject(reason="not_your_order", client_order_id=None)  # type: ignore[arg-type]
    ]
    out = exchange.handle(b, Cancel(client_order_id="x").to_json_line())
    assert out.to(b) == [CancelAck(client_order_id="x", order_id=3, remaining="0.30000000")]
    assert out.to(a) == []
    assert out.market_data == [
        BookUpdate(seq=4, bids=[("44998.0", "0.00000000")], asks=[], checksum=out.market_data[0].checksum)
    ]  # type: ignore[union-attr]
    assert exchange.handle(a, Cancel(order_id=2).to_json_line()).to(a) == [
        CancelAck(client_order_id="y", order_id=2, remaining="0.20000000")
    ]
    for line, reason, cid in [
        (Cancel(order_id=2).to_json_line(), "unknown_order", None),  # already cancelled
        (Cancel(client_order_id="y").to_json_line(), "unknown_order", "y"),
        (Cancel(client_order_id="never").to_json_line(), "unknown_order", "never"),
        (Cancel(order_id=99).to_json_line(), "unknown_order", None),
    ]:
        assert exchange.handle(a, line).to(a) == [Reject(reason=reason, client_order_id=cid)], line  # type: ignore[arg-type]
    assert book(exchange) == ([("45000.0", "0.10000000")], [])


def test_a_partly_filled_order_cancels_its_remainder(exchange: Exchange) -> None:
    a, b = login(exchange, "a"), login(exchange, "b")
    exchange.handle(a, limit("big", "sell", "45000.0", "1.0"))
    exchange.handle(b, market("m", "buy", "0.4"))
    assert exchange.handle(a, Cancel(client_order_id="big").to_json_line()).to(a) == [
        CancelAck(client_order_id="big", order_id=1, remaining="0.60000000")
    ]
    assert exchange.handle(a, Cancel(client_order_id="big").to_json_line()).to(a)[0].type == "reject"


# --- idempotency and durability ------------------------------------------------------------------------


def test_a_retry_returns_the_original_ack_and_executes_nothing(exchange: Exchange) -> None:
    a, b = login(exchange, "a"), login(exchange, "b")
    exchange.handle(b, limit("ask", "sell", "45000.0", "1.0"))
    first = exchange.handle(a, limit("buy-1", "buy", "45000.0", "0.4"))
    assert [m.type for m in first.to(a)] == ["ack", "fill"]
    # Same content written differently (decimals, field order) is the same order.
    retry_line = (
        '{"qty":"0.4000","price":"45000","op":"new","side":"buy","type":"limit","tif":"gtc",'
        '"stp":"cancel_taker","client_order_id":"buy-1"}'
    )
    for line in (limit("buy-1", "buy", "45000.0", "0.4"), retry_line):
        again = exchange.handle(a, line)
        assert again.deliveries == [(a, first.to(a)[0])]
        assert again.market_data == []
    assert book(exchange) == ([], [("45000.0", "0.60000000")])
    conflicting = exchange.handle(a, limit("buy-1", "buy", "45000.0", "0.5"))
    assert conflicting.to(a) == [Reject(reason="duplicate_client_order_id", client_order_id="buy-1")]  # type: ignore[arg-type]
    # After a crash and recovery the retry still finds the original order.
    exchange.restart()
    a2 = login(exchange, "a")
    assert exchange.handle(a2, limit("buy-1", "buy", "45000.0", "0.4")).to(a2) == [
        Ack(client_order_id="buy-1", order_id=2)
    ]
    assert exchange.engine.next_order_id == 3 and exchange.engine.next_trade_id == 2


def test_reports_reach_every_session_of_the_account_and_survive_reconnects(exchange: Exchange) -> None:
    a1, a2, b = login(exchange, "a"), login(exchange, "a"), login(exchange, "b")
    exchange.handle(a1, limit("ask", "sell", "45000.0", "1.0"))
    out = exchange.handle(b, limit("bid", "buy", "45000.0", "0.1"))
    assert len(fills(out, a1)) == len(fills(out, a2)) == 1
    exchange.disconnect(a1)
    exchange.disconnect(a2)
    out = exchange.handle(b, limit("bid2", "buy", "45000.0", "0.1"))
    assert [c for c, _ in out.deliveries] == [b, b]  # nobody of account a is connected
    assert book(exchange) == ([], [("45000.0", "0.80000000")])


def test_book_query_matches_the_market_data_state(exchange: Exchange) -> None:
    a = login(exchange, "a")
    exchange.handle(a, limit("b1", "buy", "44999.5", "0.00100000"))
    exchange.handle(a, limit("s1", "sell", "45000.0", "0.0020"))
    reply = exchange.handle(a, BookQuery().to_json_line()).to(a)
    assert reply == [
        Snapshot(
            seq=2,
            bids=[("44999.5", "0.00100000")],
            asks=[("45000.0", "0.00200000")],
            checksum=reply[0].checksum,  # type: ignore[union-attr]
        )
    ]
    assert reply[0].checksum == exchange.engine.checksum() != 0  # type: ignore[union-attr]


# --- a scripted session, whole L2 after every command --------------------------------------------------

L2 = tuple[list[tuple[str, str]], list[tuple[str, str]]]
SCRIPT: list[tuple[str, str, L2]] = [
    ("a", limit("a1", "sell", "45010.0", "1.0"), ([], [("45010.0", "1.00000000")])),
    (
        "a",
        limit("a2", "sell", "45005.0", "0.5"),
        ([], [("45005.0", "0.50000000"), ("45010.0", "1.00000000")]),
    ),
    (
        "b",
        limit("b1", "sell", "45005.0", "0.25"),
        ([], [("45005.0", "0.75000000"), ("45010.0", "1.00000000")]),
    ),
    (
        "b",
        limit("b2", "buy", "44990.0", "0.4"),
        ([("44990.0", "0.40000000")], [("45005.0", "0.75000000"), ("45010.0", "1.00000000")]),
    ),
    (
        "a",
        limit("a3", "buy", "44995.0", "0.1"),
        (
            [("44995.0", "0.10000000"), ("44990.0", "0.40000000")],
            [("45005.0", "0.75000000"), ("45010.0", "1.00000000")],
        ),
    ),
    (
        "a",
        limit("a4", "buy", "44995.0", "0.1", tif="post_only"),  # joins its level: no cross
        (
            [("44995.0", "0.20000000"), ("44990.0", "0.40000000")],
            [("45005.0", "0.75000000"), ("45010.0", "1.00000000")],
        ),
    ),
    (
        "c",
        limit("c1", "buy", "45005.0", "0.6"),  # takes a2 (0.5) then b1 (0.1)
        (
            [("44995.0", "0.20000000"), ("44990.0", "0.40000000")],
            [("45005.0", "0.15000000"), ("45010.0", "1.00000000")],
        ),
    ),
    (
        "a",
        Cancel(client_order_id="a1").to_json_line(),
        ([("44995.0", "0.20000000"), ("44990.0", "0.40000000")], [("45005.0", "0.15000000")]),
    ),
    (
        "c",
        limit("c2", "sell", "44995.0", "0.5", tif="post_only"),
        ([("44995.0", "0.20000000"), ("44990.0", "0.40000000")], [("45005.0", "0.15000000")]),
    ),  # rejected
    ("c", market("c3", "sell", "0.45"), ([("44990.0", "0.15000000")], [("45005.0", "0.15000000")])),
    ("c", market("c4", "buy", "10.0"), ([("44990.0", "0.15000000")], [])),
    ("c", limit("c5", "sell", "0.5", "1.0", tif="ioc"), ([], [])),  # the final sweep
]


def test_scripted_session_whole_book_after_every_command(exchange: Exchange) -> None:
    conns = {name: login(exchange, name) for name in ("a", "b", "c")}
    trades: list[Trade] = []
    seq = 0
    for index, (who, line, expected) in enumerate(SCRIPT):
        out = exchange.handle(conns[who], line)
        assert book(exchange) == expected, f"after command {index + 1}: {line}"
        for message in out.market_data:
            seq += 1
            assert message.seq == seq, "market-data sequence numbers are gapless"
            if isinstance(message, Trade):
                trades.append(message)
        # The book update always carries the checksum of the whole book after the command.
        updates = [m for m in out.market_data if isinstance(m, BookUpdate)]
        assert all(u.checksum == exchange.engine.checksum() for u in updates)
    assert [(t.price, t.qty, t.side) for t in trades] == [
        ("45005.0", "0.50000000", "buy"),
        ("45005.0", "0.10000000", "buy"),
        ("44995.0", "0.10000000", "sell"),
        ("44995.0", "0.10000000", "sell"),
        ("44990.0", "0.25000000", "sell"),
        ("45005.0", "0.15000000", "buy"),
        ("44990.0", "0.15000000", "sell"),
    ]
    assert book(exchange) == ([], []), "the final sweep empties the book"
    assert exchange.engine.open_orders == {}
    assert exchange.engine.checksum() == 0
