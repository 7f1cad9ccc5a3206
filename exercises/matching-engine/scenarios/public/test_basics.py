"""The basics: log in, rest an order, cross it, cancel, the simplest rejections, and the brief's example
session (section 7) line by line, each compared with the oracle on every connection, market data
included."""

from pathlib import Path

import pytest
from conformance.brief import example_requests, with_account

pytestmark = pytest.mark.criterion("basics")

BRIEF = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_login_is_acknowledged_and_the_book_needs_no_login(service, market):
    m = market(service, trade=False)
    viewer = m.session("viewer", login=False)
    m.book(viewer)
    alice = m.session("alice")
    m.book(alice)
    m.settle()


def test_the_briefs_example_session(service, market, evidence):
    m = market(service)
    evidence.note(
        "the brief's section 7, request by request; accounts get a suffix of this scenario's own and order "
        f"ids start after the {m.order_id_offset} the service gave out before it"
    )
    m.feed()
    sessions = {}
    for who, line in example_requests(BRIEF):
        if who not in sessions:
            sessions[who] = m.session(who, login=False)
        m.request(sessions[who], m.shift(with_account(line, m.account(who))))
    m.settle()


def test_a_resting_order_is_acknowledged_published_and_cancelled(service, market, rng):
    m = market(service, trade=False)
    m.feed()
    alice = m.session("alice")
    price = f"{44000 + rng.randrange(0, 2000)}.5"
    m.request(
        alice,
        {
            "op": "new",
            "client_order_id": "a-1",
            "side": "buy",
            "type": "limit",
            "price": price,
            "qty": "0.25",
            "tif": "gtc",
        },
    )
    m.book(alice)
    m.request(alice, {"op": "cancel", "client_order_id": "a-1"})
    m.book(alice)
    m.settle()


def test_a_crossing_order_trades_at_the_makers_price(service, market, rng):
    m = market(service)
    m.feed()
    bob = m.session("bob")
    alice = m.session("alice")
    ask = 45000 + rng.randrange(0, 100)
    m.request(
        bob,
        {
            "op": "new",
            "client_order_id": "b-1",
            "side": "sell",
            "type": "limit",
            "price": f"{ask}.0",
            "qty": "0.5",
            "tif": "gtc",
        },
    )
    m.request(
        alice,
        {
            "op": "new",
            "client_order_id": "a-1",
            "side": "buy",
            "type": "limit",
            "price": f"{ask + 20}.0",
            "qty": "0.2",
            "tif": "gtc",
        },
    )
    m.book(alice)
    m.request(bob, {"op": "cancel", "order_id": m.order_id(1)})
    m.book(bob)
    m.settle()


def _new(**changes):
    order = {
        "op": "new",
        "client_order_id": "r-1",
        "side": "buy",
        "type": "limit",
        "price": "45000.0",
        "qty": "0.1",
        "tif": "gtc",
    }
    return {**order, **changes}


REJECTIONS = [
    pytest.param(True, '{"op":"book",', id="malformed_json"),
    pytest.param(True, '{"op":"buy"}', id="unknown_op"),
    pytest.param(False, _new(), id="not_logged_in"),
    pytest.param(True, _new(price="45000.25"), id="price_precision"),
    pytest.param(True, _new(price="45000.3"), id="off_tick"),
    pytest.param(True, _new(qty="0"), id="invalid_quantity"),
    pytest.param(True, _new(qty="0.00015"), id="off_lot"),
    pytest.param(True, {"op": "cancel", "client_order_id": "never-placed"}, id="unknown_order"),
]


@pytest.mark.parametrize(("login", "request_"), REJECTIONS)
def test_a_simple_rejection(service, market, login, request_):
    m = market(service, trade=False)
    m.feed()
    trader = m.session("trader", login=login)
    m.request(trader, request_)
    m.book(trader)  # a rejected request changes nothing
    m.settle()
