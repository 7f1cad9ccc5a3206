"""Input validation (brief sections 2, 3 and 4.2): every reject reason, the order the checks run in (the
first failure decides), the client order id echoed only when valid, malformed JSON, requests split at
every byte or joined in one write, over-long lines answered and closed, and a service that stays up for
everyone else whatever one connection sends. Every reply is compared with the oracle's, and a feed is
connected throughout: a rejected request publishes nothing."""

import json
import socket
import struct

import pytest

pytestmark = pytest.mark.criterion("input-validation")

MAX_LINE = 4096


def new(**changes):
    """A limit buy that rests far below any other scenario's prices, with `changes` (None drops a field)."""
    order = {
        "op": "new",
        "client_order_id": "v-1",
        "side": "buy",
        "type": "limit",
        "price": "1500.0",
        "qty": "0.1",
        "tif": "gtc",
    }
    order.update(changes)
    return json.dumps({k: v for k, v in order.items() if v is not None}, separators=(",", ":"))


def decoded(line):
    """A reply line as a dict ({} if it is not a JSON object), for checks outside the lockstep."""
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _run(service, market, lines, *, login=True):
    m = market(service, trade=False)
    m.feed()
    trader = m.session("trader", login=login)
    for line in lines:
        m.request(trader, line)
    m.book(trader)
    m.settle()
    return m


def test_malformed_json_is_rejected_and_the_connection_kept(service, market):
    _run(
        service,
        market,
        [
            "{not json",
            "[1,2,3]",
            '"new"',
            "42",
            "null",
            "{'op':'book'}",
            '{"op":"book",}',
            '{"op":"book"',
            '{"op":"book"} {"op":"book"}',
            '{"op":"book"}x',
            '{"op":"book","x":NaN}',
            '{"op":"book","x":Infinity}',
            '{"op":"book","x":-Infinity}',
            b'{"op":"book","x":"\xff"}',
            b'{"op":"book","x":"\xc0\xaf"}',
            b'{"op":"new","client_order_id":"v\xe9"}',
            b"\x00\x01\x02",
            '{"op":"book","x":01}',
            '{"op":"book","x":"tab\tinside"}',
            "{}",
        ],
    )


def test_op_and_session_are_checked_before_the_fields(service, market):
    _run(
        service,
        market,
        [
            '{"op":"book"}',
            new(price="1.23", side="up"),  # not logged in beats every field problem
            '{"op":"cancel","order_id":"x"}',
            '{"op":"login"}',
            '{"op":"login","account":""}',
            '{"op":"login","account":"' + "a" * 33 + '"}',
            '{"op":"login","account":"a b"}',
            '{"op":"login","account":5}',
            '{"op":"login","account":"x","extra":1}',
            '{"op":"login","account":"trader-is-me"}',
            '{"op":"login","account":"other"}',
            '{"op":"login","account":"x","zzz":1}',
            '{"op":"fly","client_order_id":"o1"}',
            '{"client_order_id":"o1"}',
            '{"op":5}',
            '{"op":null}',
            '{"op":"BOOK"}',
            '{"op":["book"]}',
        ],
        login=False,
    )


def test_unknown_fields_are_refused_before_missing_or_invalid_ones(service, market):
    _run(
        service,
        market,
        [
            '{"op":"book","depth":5}',
            '{"op":"book","x":1e300}',
            '{"op":"book","client_order_id":"c1"}',
            '{"op":"cancel","client_order_id":"x","reason":"y"}',
            new(price="1.23", leverage="5"),
            new(Price="1500.0"),
            '{"op":"new","client_order_id":"u1","side":"buy","extra":null}',
            '{"op":"new","client_order_id":"u1","side":"buy","type":"limit","price":"1.0","qty":"1","tif":"gtc",'
            '"stp":"cancel_taker","post_only":true}',
        ],
    )


def test_missing_and_invalid_fields(service, market):
    _run(
        service,
        market,
        [
            new(qty=None),
            new(price=None),
            new(tif=None),
            new(type=None),
            '{"op":"new","client_order_id":"t1","side":"buy","type":"limit","qty":"0.1"}',
            '{"op":"new","client_order_id":"t2","side":"buy","type":"stop","qty":"0.1"}',
            new(side="up"),
            new(side="BUY"),
            new(side=1),
            new(type="stop"),
            new(tif="fok"),
            new(tif="GTC"),
            new(stp="none"),
            '{"op":"new","client_order_id":"v-1","side":"buy","type":"limit","price":"1500.0","qty":"0.1",'
            '"tif":"gtc","stp":null}',
            new(type="market", tif=None),  # a market order with a price
            new(type="market", price=None),  # a market order with tif gtc
            new(type="market", price=None, tif="post_only"),
            '{"op":"new","client_order_id":"m1","side":"buy","type":"market","qty":"0.1","tif":null}',
            new(client_order_id="v 1"),
            new(client_order_id="a" * 37),
            new(client_order_id=""),
            new(client_order_id=17),
            new(client_order_id="v.1"),
            new(side="up", price="1.23"),  # invalid_field beats the price
            new(client_order_id="v 1", qty="0"),
            '{"op":"cancel"}',
            '{"op":"cancel","client_order_id":"o1","order_id":1}',
            '{"op":"cancel","order_id":0}',
            '{"op":"cancel","order_id":-3}',
            '{"op":"cancel","order_id":"1"}',
            '{"op":"cancel","order_id":true}',
            '{"op":"cancel","order_id":1.5}',
            '{"op":"cancel","order_id":1.0}',
            '{"op":"cancel","order_id":9223372036854775808}',
            '{"op":"cancel","order_id":null}',
            '{"op":"cancel","client_order_id":"a b"}',
            '{"op":"cancel","client_order_id":5}',
        ],
    )


def test_prices_are_checked_shape_precision_range_then_tick(service, market):
    lines = [
        new(price=p)
        for p in (
            "45000.25",
            "1500.00",
            "0.00",
            "0.0",
            "0",
            "-1500.0",
            "+1500.0",
            "1.5e3",
            "1500.",
            ".5",
            " 1500.0",
            "1500.0 ",
            "1,500.0",
            "",
            "0x10",
            "\uff11\uff15\uff10\uff10",  # fullwidth digits
            "1000000.5",
            "1000001.3",
            "1500.3",
            "0.3",
            "1" * 33,
            "0" * 26 + "1500.0",  # 32 characters: fine
            "0" * 27 + "1500.0",  # 33 characters
        )
    ]
    lines += [
        new(price=1500.5),
        new(price=1500),
        new(price=None, qty="0.1").replace('"qty"', '"price":null,"qty"'),
        new(price=["1500.0"]),
        new(client_order_id="edge-1", price="0.5"),
        new(client_order_id="edge-2", price="1500"),
        new(client_order_id="edge-3", price="001500.5"),
        new(client_order_id="edge-4", side="sell", price="1000000.0"),
        '{"op":"cancel","client_order_id":"edge-1"}',
        '{"op":"cancel","client_order_id":"edge-2"}',
        '{"op":"cancel","client_order_id":"edge-3"}',
        '{"op":"cancel","client_order_id":"edge-4"}',
    ]
    _run(service, market, lines)


def test_quantities_are_checked_shape_precision_range_then_lot(service, market):
    lines = [
        new(qty=q)
        for q in (
            "0.000100000",
            "0.000000000",
            "0",
            "0.0",
            "-0.1",
            "0.1e1",
            "1.",
            "",
            "10000.0001",
            "10001",
            "10000.00005",
            "0.00015",
            "1.00005",
            "0.00000001",
        )
    ]
    lines += [
        new(qty=0.1),
        new(qty=1),
        new(price="1500.3", qty="0"),  # the price is checked first
        new(price="45000.25", qty="0.000000001"),
        new(type="market", price=None, tif=None, qty="0.00015"),
        new(client_order_id="edge-1", qty="0.0001"),
        new(client_order_id="edge-2", qty="10000.00000000"),
        new(client_order_id="edge-3", qty="0.30000000"),
        new(client_order_id="edge-4", qty="0002"),
        '{"op":"cancel","client_order_id":"edge-1"}',
        '{"op":"cancel","client_order_id":"edge-2"}',
        '{"op":"cancel","client_order_id":"edge-3"}',
        '{"op":"cancel","client_order_id":"edge-4"}',
    ]
    _run(service, market, lines)


def test_client_order_ids_are_echoed_only_when_valid(service, market):
    _run(
        service,
        market,
        [
            '{"op":"fly","client_order_id":"echo-1"}',
            '{"op":"login","account":"x","client_order_id":"echo-2"}',
            new(client_order_id="echo-3", price="1500.3"),
            new(client_order_id="a" * 36, price="1500.3"),
            new(client_order_id="a" * 37, price="1500.3"),
            new(client_order_id="aZ09_-", price="1500.3"),
            new(client_order_id="caf\u00e9", price="1500.3"),
            new(client_order_id="a" * 36),
            '{"op":"cancel","client_order_id":"' + "a" * 36 + '"}',
            '{"op":"cancel","client_order_id":"echo-9","order_id":"x"}',
        ],
    )


def test_duplicate_client_order_ids_and_ids_left_free(service, market):
    m = market(service)
    m.feed()
    alice = m.session("alice")
    bob = m.session("bob")
    m.request(alice, new(client_order_id="d-1"))
    m.request(alice, new(client_order_id="d-1", price="1501.0"))
    m.request(alice, new(client_order_id="d-1", side="sell", price="90000.0"))
    m.request(alice, new(client_order_id="d-1", tif="post_only"))
    m.request(alice, new(client_order_id="d-1", stp="cancel_both"))
    m.request(bob, new(client_order_id="d-1"))  # client order ids are per account
    m.request(alice, new(client_order_id="d-2", price="1500.3"))  # rejected: its id stays free
    m.request(alice, new(client_order_id="d-2", qty="0.2"))
    m.request(alice, {"op": "cancel", "client_order_id": "d-2"})
    m.request(alice, new(client_order_id="d-2", qty="0.3"))  # cancelled, but taken forever
    m.request(bob, {"op": "cancel", "client_order_id": "d-1"})
    m.request(bob, new(client_order_id="d-1", qty="0.3"))
    m.book(alice)
    m.settle()


def test_cancel_refusals(service, market):
    m = market(service)
    m.feed()
    alice = m.session("alice")
    bob = m.session("bob")
    m.request(alice, new(client_order_id="a-1", side="sell", price="52000.0", qty="0.5"))
    m.request(bob, {"op": "cancel", "order_id": m.order_id(1)})  # another account's: not_your_order
    m.request(bob, {"op": "cancel", "client_order_id": "a-1"})  # bob has no a-1: unknown_order
    m.request(bob, new(client_order_id="b-1", side="buy", type="market", price=None, tif=None, qty="0.5"))
    m.request(alice, {"op": "cancel", "client_order_id": "a-1"})  # filled: unknown_order
    m.request(alice, {"op": "cancel", "order_id": m.order_id(1)})
    m.request(alice, {"op": "cancel", "order_id": m.order_id(2)})  # bob's, filled: still not yours
    m.request(alice, new(client_order_id="a-2"))
    m.request(alice, {"op": "cancel", "order_id": m.order_id(3)})
    m.request(alice, {"op": "cancel", "order_id": m.order_id(3)})  # cancelled already
    m.request(alice, {"op": "cancel", "order_id": 2**62})  # never given out
    m.request(alice, {"op": "cancel", "order_id": 2**63 - 1})
    m.book(alice)
    m.settle()


def test_a_line_over_4096_bytes_is_refused_then_the_connection_closed(service, market):
    m = market(service, trade=False)
    m.feed()
    trader = m.session("trader")
    exact = new(client_order_id="exact")
    exact = exact[:-1] + " " * (MAX_LINE - len(exact)) + "}"
    assert len(exact) == MAX_LINE
    m.request(trader, exact)  # exactly at the limit: an ordinary request
    m.request(trader, {"op": "cancel", "client_order_id": "exact"})
    over = new(client_order_id="over")
    over = over[:-1] + " " * (MAX_LINE + 1 - len(over)) + "}"
    m.request(trader, over)  # line_too_long, then closed
    other = m.session("other")
    m.book(other)
    again = m.session("trader")
    m.request(again, {"op": "cancel", "client_order_id": "over"})  # the long line changed nothing
    m.book(again)
    m.settle()


def test_an_endless_line_is_answered_without_waiting_for_its_newline(service, jsonl, market, evidence):
    m = market(service, trade=False)
    trader = m.session("trader")
    total = 24 * 1024 * 1024
    evidence.note(
        f"{total} bytes without a newline: the service must answer line_too_long once 4096 have arrived "
        "and close the connection, never buffering the rest"
    )
    trader.client.send_raw(b'{"op":"book","pad":"' + b"x" * total)
    reply = trader.client.read_line(timeout=10)
    assert decoded(reply) == {"type": "reject", "reason": "line_too_long", "client_order_id": None}, (
        f'after {total} bytes without a newline: expected {{"type":"reject","reason":"line_too_long",'
        f'"client_order_id":null}} then the connection closed, got {reply[:200]}'
    )
    trader.client.expect_closed(timeout=5)
    m.exchange.disconnect(trader.conn)
    trader.open = False
    m.book(m.session("other"))


def test_requests_split_at_every_byte_or_joined_in_one_write(service, market):
    m = market(service)
    m.feed()
    alice = m.session("alice")
    bob = m.session("bob")
    lines = [
        new(client_order_id="s-1", side="sell", price="47000.0", qty="0.3"),
        b'{"op":"new","client_order_id":"caf\xc3\xa9","side":"buy"}',  # a two-byte character split too
        '{"op":"book"',
        new(client_order_id="s-2", side="buy", type="market", price=None, tif=None, qty="0.1"),
    ]
    for index, line in enumerate(lines):
        who = bob if index == 3 else alice
        size = len(line) + 2
        m.request(who, line, ending=b"\r\n", cuts=range(1, size), pause=0.001)
    m.pipeline(
        alice,
        [
            new(client_order_id=f"p-{i}", side="sell", price=f"{47000 + i}.0", qty="0.1")
            if i % 3
            else "{bad json"
            for i in range(30)
        ]
        + ["", "   ", '{"op":"book"}', '{"op":"cancel","client_order_id":"s-1"}'],
    )
    m.pipeline(bob, [new(client_order_id="s-3", type="market", price=None, tif=None, qty="2")])
    m.book(bob)
    m.settle()


def test_blank_lines_are_ignored(service, market):
    _run(service, market, ["", " ", "\t", "\r", " \t \r", "", '{"op":"book"}', "  "])


def test_hostile_input_leaves_the_service_up_for_everyone(service, market, rng):
    m = market(service, trade=False)
    m.feed()
    hostile = m.session("hostile")
    bystander = m.session("bystander")
    m.request(bystander, new(client_order_id="keep", qty="0.7"))
    garbage = [bytes(rng.choice([b for b in range(256) if b != 0x0A]) for _ in range(60)) for _ in range(20)]
    for line in garbage:
        if line.strip(b" \t\r"):
            m.request(hostile, line)
    odd = [
        '{"op":"book","x":' + "1" * 300 + "}",  # an integer past every integer type, within a double
        '{"op":"cancel","order_id":' + "9" * 300 + "}",
        '{"op":"cancel","order_id":18446744073709551616}',
        '{"op":"cancel","order_id":1e19}',
        '{"op":"cancel","order_id":-0}',
        new(price=1e300),
        new(qty=-1e-300),
        '{"op":"book","x":"' + "\\u0000" * 600 + '"}',
        '{"op":"book","x":"\\ud83d\\ude00"}',
        '{"op":"book","x":{"a":{"b":{"c":[1,2,{"d":null}]}}}}',
        '{"op":"book","x":' + "[" * 60 + "]" * 60 + "}",  # deep, within the brief's 64 levels
        '{"op":"cancel","order_id":' + "[" * 60 + "]" * 60 + "}",
    ]
    for line in odd:
        m.request(hostile, line)
        m.book(bystander)
    _reset_midway(service)
    m.book(hostile)
    m.request(bystander, {"op": "cancel", "client_order_id": "keep"})
    m.settle()


def _reset_midway(service):
    """A connection that sends half a request and is reset (RST), and one reset before sending anything."""
    for data in (b'{"op":"new","client_order_id":"half', b""):
        with socket.create_connection((service.host, service.port), timeout=5) as sock:
            sock.sendall(data)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
