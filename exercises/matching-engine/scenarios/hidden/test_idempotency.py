"""Idempotent retries (brief section 4.4): a `new` whose client order id the account already used for an
accepted order, with every other field the same *value*, is answered with the original ack and nothing
else happens - after a dropped connection, from another session, after the order filled or was
cancelled, and after a restart. Any field different is duplicate_client_order_id; a rejected order
leaves its id free. Compared with the oracle on every connection, the feed included."""

import pytest
from conformance.orders import cancel, limit, market_order
from oracle import random_stream

pytestmark = pytest.mark.criterion("idempotency")


def test_a_retry_after_a_dropped_connection_gets_the_original_ack(service, market, p):
    m = market(service)
    m.feed()
    bob = m.session("bob")
    alice = m.session("alice")
    m.request(bob, limit("b-1", "sell", p(0), "0.5"))
    order = limit("a-1", "buy", p(0), "0.3")
    m.request_unread(alice, order)  # executed (the feed shows it), the ack lost with the connection
    again = m.session("alice")
    m.request(again, order)  # the original ack, no second trade
    m.request(again, order)
    m.book(again)
    m.settle()


def test_retries_spelled_differently_are_the_same_order(service, market, p):
    m = market(service)
    m.feed()
    alice = m.session("alice")
    m.request(alice, limit("a-1", "buy", p(0), "0.3"))
    m.request(alice, limit("a-1", "buy", p(0), "0.30000000"))
    m.request(alice, limit("a-1", "buy", p(0), "000.3000"))
    m.request(alice, limit("a-1", "buy", p(0), "0.3", stp="cancel_taker"))  # the default, said aloud
    m.request(
        alice,
        '{"tif":"gtc","qty":"0.3","price":"' + p(0) + '","type":"limit","side":"buy","client_order_id":"a-1",'
        '"op":"new"}',
    )
    whole = p(0).removesuffix(".0") if p(0).endswith(".0") else None
    if whole:
        m.request(alice, limit("a-1", "buy", whole, "0.3"))  # "45000" is "45000.0"
    m.request(alice, market_order("a-2", "sell", "0.1"))
    m.request(alice, market_order("a-2", "sell", "0.1") | {"tif": "ioc"})  # market orders are IOC anyway
    m.book(alice)
    m.settle()


@pytest.mark.parametrize(
    "change",
    [
        {"side": "sell"},
        {"type": "market", "price": None, "tif": None},
        {"price": "+1"},
        {"qty": "0.3001"},
        {"tif": "post_only"},
        {"tif": "ioc"},
        {"stp": "cancel_maker"},
    ],
    ids=["side", "type", "price", "qty", "tif-post_only", "tif-ioc", "stp"],
)
def test_any_other_value_is_a_duplicate(service, market, p, change):
    m = market(service)
    m.feed()
    alice = m.session("alice")
    original = limit("a-1", "buy", p(0), "0.3")
    m.request(alice, original)
    changed = {**original, **change}
    if changed.get("price") == "+1":
        changed["price"] = p(1)
    m.request(alice, {k: v for k, v in changed.items() if v is not None})
    m.request(alice, original)
    m.book(alice)
    m.settle()


def test_retries_after_a_fill_a_cancel_or_an_ioc_remainder_change_nothing(service, market, p):
    m = market(service)
    m.feed()
    alice, bob = m.session("alice"), m.session("bob")
    orders = [
        (bob, limit("b-1", "sell", p(0), "0.2")),
        (alice, limit("a-1", "buy", p(0), "0.2")),  # fills b-1 completely
        (alice, limit("a-2", "buy", p(-5), "0.4")),
        (alice, cancel("a-2")),
        (bob, limit("b-2", "sell", p(1), "0.1")),
        (alice, limit("a-3", "buy", p(1), "0.3", tif="ioc")),  # 0.1 traded, 0.2 cancelled unfilled
        (alice, limit("a-4", "sell", p(-5), "0.1", stp="cancel_taker")),  # nothing to trade: rests
        (alice, limit("a-5", "buy", p(-5), "0.1")),
        (alice, limit("a-6", "sell", p(-5), "0.1", stp="cancel_both")),  # meets a-5: both cancelled
    ]
    for session, request in orders:
        m.request(session, request)
    for session, request in orders:
        if request["op"] == "new":
            m.request(session, request)  # every one: its original ack, nothing else
    m.book(alice)
    m.settle()


def test_a_retry_from_another_session_and_the_same_id_in_another_account(service, market, p):
    m = market(service)
    m.feed()
    alice, alice2, bob = m.session("alice"), m.session("alice"), m.session("bob")
    m.request(alice, limit("x-1", "sell", p(0), "0.2"))
    m.request(alice2, limit("x-1", "sell", p(0), "0.2"))  # a retry from the account's other session
    m.request(bob, limit("x-1", "buy", p(0), "0.1"))  # bob's own x-1: a new order
    m.request(bob, limit("x-1", "buy", p(0), "0.1"))
    m.request(alice2, limit("x-1", "sell", p(0), "0.3"))
    m.book(bob)
    m.settle()


def test_a_rejected_order_leaves_its_client_order_id_free(service, market, p):
    m = market(service)
    m.feed()
    alice, bob = m.session("alice"), m.session("bob")
    m.request(bob, limit("b-1", "sell", p(0), "0.2"))
    m.request(alice, limit("a-1", "buy", p(0), "0.2", tif="post_only"))  # would cross: refused
    m.request(alice, limit("a-1", "buy", p(0), "0.2", tif="post_only"))  # not a retry: refused again
    m.request(alice, limit("a-1", "buy", p(0), "0.2"))  # the id is free: a new order that trades
    m.request(alice, limit("a-1", "buy", p(0), "0.2"))
    m.book(alice)
    m.settle()


def test_retries_after_a_restart_get_the_original_ack(fresh_service, market, rng, evidence):
    seed = rng.getrandbits(32)
    steps = [s for s in random_stream(seed, commands=200) if not s.line.startswith('{"op":"login"')]
    evidence.note(
        f"oracle.random_stream({seed}, commands=200), then kill -9, a restart, and every `new` of it sent "
        "again from new sessions"
    )
    m = market(fresh_service, align=False)
    sessions = {n: [m.session(f"acct{n}")] for n in (1, 2, 3)}
    m.play(steps, sessions)
    fresh_service.kill("SIGKILL")
    m.crash()
    fresh_service.start()
    m.feed()
    sessions = {n: [m.session(f"acct{n}")] for n in (1, 2, 3)}
    m.play([s for s in steps if s.line.startswith('{"op":"new"')], sessions)
    m.book(sessions[1][0])
    m.settle()
