"""The matching engine's wire format in the oracle: the Kraken checksum vector, decimal strings to
integer units and back, each reject reason and the order the checks run in, strict message parsing."""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path

import pytest
from pydantic import ValidationError

EXERCISE = Path(__file__).resolve().parents[2] / "exercises" / "matching-engine"
if str(EXERCISE) not in sys.path:
    sys.path.insert(0, str(EXERCISE))

from oracle import (  # noqa: E402 - the oracle lives in the exercise folder, not in an installed package
    MAX_LINE_BYTES,
    Exchange,
    Instrument,
    Login,
    NewOrder,
    Reject,
    Snapshot,
    book_checksum,
    checksum_field,
    checksum_string,
    format_units,
    parse_market_data,
    parse_order_entry,
    random_stream,
    replay,
)

# --- the Kraken WebSocket v2 book checksum -------------------------------------------------------------

# The example book of Kraken's "Spot Websockets (v2) Book Checksum" guide
# (docs.kraken.com/api/docs/guides/spot-ws-book-v2), exactly as published; its checksum is 3310070434.
KRAKEN_BIDS = [
    ("45283.5", "0.10000000"),
    ("45283.4", "1.54582015"),
    ("45282.1", "0.10000000"),
    ("45281.0", "0.10000000"),
    ("45280.3", "1.54592586"),
    ("45279.0", "0.07990000"),
    ("45277.6", "0.03310103"),
    ("45277.5", "0.30000000"),
    ("45277.3", "1.54602737"),
    ("45276.6", "0.15445238"),
]
KRAKEN_ASKS = [
    ("45285.2", "0.00100000"),
    ("45286.4", "1.54571953"),
    ("45286.6", "1.54571109"),
    ("45289.6", "1.54560911"),
    ("45290.2", "0.15890660"),
    ("45291.8", "1.54553491"),
    ("45294.7", "0.04454749"),
    ("45296.1", "0.35380000"),
    ("45297.5", "0.09945542"),
    ("45299.5", "0.18772827"),
]
KRAKEN_CHECKSUM = 3310070434


def test_checksum_reproduces_the_published_example() -> None:
    assert book_checksum(KRAKEN_ASKS, KRAKEN_BIDS) == KRAKEN_CHECKSUM


def test_checksum_string_takes_asks_then_bids_without_dots_or_leading_zeros() -> None:
    assert checksum_field("45285.2") == "452852"
    assert checksum_field("0.00100000") == "100000"
    text = checksum_string(KRAKEN_ASKS, KRAKEN_BIDS)
    assert text.startswith("452852100000" + "4528641545719534")
    assert text.endswith("45276615445238")
    assert zlib.crc32(text.encode()) == KRAKEN_CHECKSUM
    # Bids first, or the quantity's leading zeros kept, gives a different value.
    assert book_checksum(KRAKEN_BIDS, KRAKEN_ASKS) != KRAKEN_CHECKSUM


def test_checksum_covers_only_the_top_ten_levels() -> None:
    deeper_asks = [*KRAKEN_ASKS, ("45300.0", "9.00000000")]
    deeper_bids = [*KRAKEN_BIDS, ("45270.0", "9.00000000")]
    assert book_checksum(deeper_asks, deeper_bids) == KRAKEN_CHECKSUM
    changed = [*KRAKEN_ASKS[:9], ("45299.5", "0.18772828")]
    assert book_checksum(changed, KRAKEN_BIDS) != KRAKEN_CHECKSUM
    assert book_checksum([], []) == 0


def test_the_engine_renders_its_book_to_the_same_checksum() -> None:
    # An instrument whose tick and lot allow the example's levels; the book is built from orders.
    exchange = Exchange(Instrument(tick=1, lot=1))
    conn = exchange.connect()
    exchange.handle(conn, Login(account="mm").to_json_line())
    for index, (side, levels) in enumerate((("buy", KRAKEN_BIDS), ("sell", KRAKEN_ASKS))):
        for level, (price, qty) in enumerate(reversed(levels)):
            order = NewOrder(
                client_order_id=f"o{index}-{level}",
                side=side,
                type="limit",
                price=price,
                qty=qty,
                tif="gtc",  # type: ignore[arg-type]
            )
            exchange.handle(conn, order.to_json_line())
    snapshot = exchange.engine.snapshot()
    assert snapshot.bids == KRAKEN_BIDS and snapshot.asks == KRAKEN_ASKS
    assert snapshot.checksum == KRAKEN_CHECKSUM


# --- decimals ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "decimals", "text"),
    [
        (452855, 1, "45285.5"),
        (100000, 8, "0.00100000"),
        (0, 1, "0.0"),
        (10**12, 8, "10000.00000000"),
        (7, 0, "7"),
    ],
)
def test_format_units_writes_exactly_the_fields_decimals(units: int, decimals: int, text: str) -> None:
    assert format_units(units, decimals) == text


@pytest.mark.parametrize(
    ("text", "units"),
    [("45285", 452850), ("45285.5", 452855), ("045285.0", 452850), ("0.5", 5), ("1000000.0", 10_000_000)],
)
def test_prices_parse_to_integer_units(text: str, units: int) -> None:
    assert Instrument().parse_price(text) == units


@pytest.mark.parametrize(
    ("text", "units"),
    [("0.0001", 10_000), ("0.00100000", 100_000), ("1", 10**8), ("10000.00000000", 10**12)],
)
def test_quantities_parse_to_integer_units(text: str, units: int) -> None:
    assert Instrument().parse_qty(text) == units


# --- requests: every reason, and which check wins ------------------------------------------------------

GOOD = {
    "op": "new",
    "client_order_id": "o1",
    "side": "buy",
    "type": "limit",
    "price": "45000.0",
    "qty": "0.1",
    "tif": "gtc",
}


def _new(**changes: object) -> str:
    fields = {**GOOD, **changes}
    return json.dumps({k: v for k, v in fields.items() if v is not _DROP}, separators=(",", ":"))


_DROP = object()

REJECTIONS: list[tuple[str, str | bytes, str, str | None]] = [
    ("over the line limit", b"{" + b" " * MAX_LINE_BYTES + b"}", "line_too_long", None),
    ("not json", "{not json", "malformed_json", None),
    ("not an object", "[1,2]", "malformed_json", None),
    ("a json string", '"new"', "malformed_json", None),
    ("not utf-8", b'{"op":"book","x":"\xff"}', "malformed_json", None),
    ("NaN is not json", '{"op":"book","x":NaN}', "malformed_json", None),
    ("no op", '{"client_order_id":"o1"}', "missing_field", "o1"),
    ("op not a string", '{"op":5}', "unknown_op", None),
    ("unknown op", '{"op":"fly","client_order_id":"o1"}', "unknown_op", "o1"),
    ("already logged in", '{"op":"login","account":"b"}', "already_logged_in", None),
    ("unknown field on book", '{"op":"book","depth":5}', "unknown_field", None),
    ("unknown field beats a bad price", _new(price="1.23", leverage="5"), "unknown_field", "o1"),
    ("missing qty", _new(qty=_DROP), "missing_field", "o1"),
    ("limit without price", _new(price=_DROP), "missing_field", "o1"),
    ("limit without tif", _new(tif=_DROP), "missing_field", "o1"),
    ("bad side", _new(side="up"), "invalid_field", "o1"),
    ("bad type", _new(type="stop"), "invalid_field", "o1"),
    ("bad tif", _new(tif="fok"), "invalid_field", "o1"),
    ("bad stp", _new(stp="none"), "invalid_field", "o1"),
    ("market with a price", _new(type="market", tif=_DROP), "invalid_field", "o1"),
    ("market with gtc", _new(type="market", price=_DROP), "invalid_field", "o1"),
    ("client order id with a space", _new(client_order_id="o 1"), "invalid_field", None),
    ("client order id of 37 chars", _new(client_order_id="a" * 37), "invalid_field", None),
    ("client order id a number", _new(client_order_id=1), "invalid_field", None),
    ("invalid field beats a bad price", _new(side="up", price="1.23"), "invalid_field", "o1"),
    ("price as a json number", _new(price=45000.5), "invalid_price", "o1"),
    ("price zero", _new(price="0.0"), "invalid_price", "o1"),
    ("price negative", _new(price="-45000.0"), "invalid_price", "o1"),
    ("price with exponent", _new(price="4.5e4"), "invalid_price", "o1"),
    ("price with a bare dot", _new(price="45000."), "invalid_price", "o1"),
    ("price over the maximum", _new(price="1000000.5"), "invalid_price", "o1"),
    ("price with two decimals", _new(price="45000.05"), "price_precision", "o1"),
    ("price with a zero too many", _new(price="45000.00"), "price_precision", "o1"),
    ("price off tick", _new(price="45000.3"), "off_tick", "o1"),
    ("price beats quantity", _new(price="45000.3", qty="0"), "off_tick", "o1"),
    ("qty zero", _new(qty="0.00000000"), "invalid_quantity", "o1"),
    ("qty negative", _new(qty="-0.1"), "invalid_quantity", "o1"),
    ("qty over the maximum", _new(qty="10000.0001"), "invalid_quantity", "o1"),
    ("qty with nine decimals", _new(qty="0.000100000"), "quantity_precision", "o1"),
    ("qty off lot", _new(qty="0.00015"), "off_lot", "o1"),
    ("cancel without an id", '{"op":"cancel"}', "missing_field", None),
    ("cancel with both ids", '{"op":"cancel","client_order_id":"o1","order_id":1}', "invalid_field", "o1"),
    ("cancel order id zero", '{"op":"cancel","order_id":0}', "invalid_field", None),
    ("cancel order id a string", '{"op":"cancel","order_id":"1"}', "invalid_field", None),
    ("cancel order id true", '{"op":"cancel","order_id":true}', "invalid_field", None),
    ("cancel order id too big", '{"op":"cancel","order_id":9223372036854775808}', "invalid_field", None),
]


@pytest.mark.parametrize(
    ("line", "reason", "client_order_id"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS]
)
def test_each_bad_request_gets_its_reason(
    line: str | bytes, reason: str, client_order_id: str | None
) -> None:
    exchange = Exchange()
    conn = exchange.connect()
    exchange.handle(conn, Login(account="a").to_json_line())
    outcome = exchange.handle(conn, line)
    assert outcome.to(conn) == [Reject(reason=reason, client_order_id=client_order_id)]  # type: ignore[arg-type]
    assert outcome.market_data == []
    assert outcome.close == (reason == "line_too_long"), "only an over-long line closes the connection"
    assert exchange.engine.next_order_id == 1, "a rejected request creates no order"


def test_sessions_order_entry_needs_a_login_and_queries_do_not() -> None:
    exchange = Exchange()
    conn = exchange.connect()
    # Session state is checked before the fields: even a malformed order says "log in first".
    assert exchange.handle(conn, _new(price="1.23")).to(conn) == [
        Reject(reason="not_logged_in", client_order_id="o1")
    ]  # type: ignore[arg-type]
    assert exchange.handle(conn, '{"op":"cancel","order_id":1}').to(conn)[0].reason == "not_logged_in"  # type: ignore[union-attr]
    assert exchange.handle(conn, '{"op":"book"}').to(conn) == [Snapshot(seq=0, bids=[], asks=[], checksum=0)]
    for account in ("", "a" * 33, "a b", "é"):
        line = Login(account=account).to_json_line()
        assert exchange.handle(conn, line).to(conn)[0].reason == "invalid_field", account  # type: ignore[union-attr]
    assert exchange.handle(conn, '{"op":"login"}').to(conn)[0].reason == "missing_field"  # type: ignore[union-attr]


def test_a_line_exactly_at_the_limit_is_accepted_and_blank_lines_are_ignored() -> None:
    exchange = Exchange()
    conn = exchange.connect()
    body = b'{"op":"book"}'
    line = body + b" " * (MAX_LINE_BYTES - len(body))
    assert len(line) == MAX_LINE_BYTES
    assert exchange.handle(conn, line).to(conn)[0].type == "snapshot"
    assert exchange.handle(conn, b"").deliveries == []
    assert exchange.handle(conn, b"  \r").deliveries == []
    assert exchange.handle(conn, b'{"op":"book"}\r').to(conn)[0].type == "snapshot"


def test_an_over_long_line_ends_the_session() -> None:
    exchange = Exchange()
    conn = exchange.connect()
    exchange.handle(conn, Login(account="a").to_json_line())
    assert exchange.handle(conn, b"x" * (MAX_LINE_BYTES + 1)).close
    with pytest.raises(KeyError):
        exchange.handle(conn, '{"op":"book"}')


# --- message classes -----------------------------------------------------------------------------------


def test_every_message_of_a_replay_parses_back_to_itself() -> None:
    result = replay(random_stream(5, commands=400))
    kinds = set()
    for record in result.records:
        for _, message in record.outcome.deliveries:
            assert parse_order_entry(message.to_json_line()) == message
            kinds.add(message.type)
        for message in record.outcome.market_data:
            assert parse_market_data(message.to_json_line()) == message
            kinds.add(message.type)
    assert kinds == {
        "login_ack",
        "ack",
        "cancel_ack",
        "reject",
        "snapshot",
        "fill",
        "cancelled",
        "decremented",
        "trade",
        "book",
    }


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"ack","client_order_id":"o1","order_id":"1"}',  # id as a string
        '{"type":"ack","client_order_id":"o1","order_id":1,"extra":true}',
        '{"type":"ack","client_order_id":"o1"}',
        '{"type":"cancel_ack","client_order_id":"o1","order_id":1,"remaining":"0.1"}',  # not 8 decimals
        '{"type":"cancel_ack","client_order_id":"o1","order_id":1,"remaining":"00.10000000"}',
        '{"type":"reject","reason":"because","client_order_id":null}',
        '{"type":"snapshot","seq":1,"bids":[["45000.00","0.10000000"]],"asks":[],"checksum":1}',
        '{"type":"snapshot","seq":1,"bids":[],"asks":[],"checksum":4294967296}',
        # A market-data message is not an order-entry message.
        '{"type":"trade","seq":1,"trade_id":1,"side":"buy","price":"45000.0","qty":"0.10000000"}',
        '{"type":"ack","client_order_id":"o1","order_id":1.0}',
        "not json",
    ],
)
def test_order_entry_parsing_is_strict(line: str) -> None:
    with pytest.raises(ValidationError):
        parse_order_entry(line)


def test_market_data_parsing_is_strict() -> None:
    good = '{"type":"trade","seq":3,"trade_id":1,"side":"sell","price":"45000.0","qty":"0.10000000"}'
    assert parse_market_data(good).seq == 3  # type: ignore[union-attr]
    with pytest.raises(ValidationError):
        parse_market_data(good.replace('"sell"', '"short"'))
    with pytest.raises(ValidationError):
        parse_market_data('{"type":"ack","client_order_id":"o1","order_id":1}')


def test_request_lines_leave_out_absent_optional_fields() -> None:
    order = NewOrder(client_order_id="m1", side="sell", type="market", qty="0.1000")
    assert (
        order.to_json_line()
        == '{"op":"new","client_order_id":"m1","side":"sell","type":"market","qty":"0.1000"}'
    )
