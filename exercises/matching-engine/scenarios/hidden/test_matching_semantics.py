"""Matching (brief section 4.5): price-time priority with FIFO within a level, fills at the maker's price,
IOC that never rests, post-only that never takes, market orders that never rest, deep books and extreme
sizes. Each script runs in lockstep with the oracle on every connection, and the whole book (a `book`
request) is compared after every command."""

import pytest
from conformance.orders import cancel, limit, market_order
from oracle import random_stream

pytestmark = pytest.mark.criterion("matching-semantics")


def test_fifo_within_a_level_and_a_partial_fill_keeps_its_place(service, market, p):
    m = market(service)
    m.feed()
    bob, carol, dave = m.session("bob"), m.session("carol"), m.session("dave")
    m.play_with_books(
        [
            (bob, limit("b-1", "sell", p(10), "0.3")),
            (carol, limit("c-1", "sell", p(10), "0.2")),
            (bob, limit("b-2", "sell", p(10), "0.4")),
            (dave, limit("d-1", "buy", p(10), "0.1")),  # part of b-1; b-1 keeps its place
            (carol, limit("c-2", "sell", p(10), "0.5")),
            (dave, limit("d-2", "buy", p(10), "0.5", tif="ioc")),  # rest of b-1, c-1, part of b-2
            (dave, limit("d-3", "buy", p(10), "1.0", tif="ioc")),  # rest of b-2, then c-2
            # The same on the bid side.
            (carol, limit("c-3", "buy", p(-10), "0.2")),
            (bob, limit("b-3", "buy", p(-10), "0.2")),
            (carol, limit("c-4", "buy", p(-10), "0.2")),
            (dave, market_order("d-4", "sell", "0.3")),
            (bob, cancel("b-3")),
            (dave, market_order("d-5", "sell", "0.3")),
        ],
    )


def test_best_price_first_then_a_limit_stops_at_its_own_price(service, market, p):
    m = market(service)
    m.feed()
    bob, carol, dave = m.session("bob"), m.session("carol"), m.session("dave")
    m.play_with_books(
        [
            (bob, limit("b-1", "sell", p(4), "0.1")),
            (carol, limit("c-1", "sell", p(2), "0.1")),
            (bob, limit("b-2", "sell", p(3), "0.1")),
            (carol, limit("c-2", "sell", p(2), "0.1")),
            (bob, limit("b-3", "sell", p(6), "0.1")),
            (dave, limit("d-1", "buy", p(3), "0.5")),  # p(2) twice, p(3), then the rest rests at p(3)
            (carol, limit("c-3", "buy", p(-3), "0.1")),
            (bob, limit("b-4", "buy", p(-1), "0.1")),
            (carol, limit("c-4", "sell", p(-2), "0.6")),  # d-1's rest, b-4, then rests at p(-2)
            (dave, limit("d-2", "buy", p(6), "2.0", tif="ioc")),
        ],
    )


def test_trades_execute_at_the_makers_price(service, market, p):
    m = market(service)
    m.feed()
    bob, alice = m.session("bob"), m.session("alice")
    m.play_with_books(
        [
            (bob, limit("b-1", "buy", p(0), "0.2")),
            (alice, limit("a-1", "sell", p(-200), "0.1")),  # sells far lower: trades at b-1's price
            (bob, limit("b-2", "sell", p(50), "0.2")),
            (alice, limit("a-2", "buy", p(900), "0.3")),  # buys far higher: trades at b-2's price, rests 0.1
            (bob, market_order("b-3", "sell", "0.05")),
            (alice, cancel("a-2")),
            (bob, cancel("b-1")),
        ],
    )


def test_ioc_trades_what_it_can_and_never_rests(service, market, p):
    m = market(service)
    m.feed()
    bob, alice = m.session("bob"), m.session("alice")
    m.play_with_books(
        [
            (alice, limit("a-1", "buy", p(0), "0.3", tif="ioc")),  # nothing to trade: cancelled whole
            (bob, limit("b-1", "sell", p(2), "0.2")),
            (alice, limit("a-2", "buy", p(1), "0.3", tif="ioc")),  # does not reach: cancelled whole
            (alice, limit("a-3", "buy", p(2), "0.5", tif="ioc")),  # 0.2 traded, 0.3 cancelled
            (bob, limit("b-2", "sell", p(2), "0.2")),
            (alice, limit("a-4", "buy", p(3), "0.2", tif="ioc")),  # exactly filled: no cancelled report
            (bob, limit("b-3", "buy", p(-2), "0.4")),
            (alice, limit("a-5", "sell", p(-2), "0.1", tif="ioc")),
        ],
    )


def test_post_only_never_takes_liquidity(service, market, p):
    m = market(service)
    m.feed()
    bob, alice = m.session("bob"), m.session("alice")
    m.play_with_books(
        [
            (alice, limit("a-1", "buy", p(50), "0.1", tif="post_only")),  # nothing opposite: rests
            (bob, limit("b-1", "sell", p(60), "0.2")),
            (bob, limit("b-2", "buy", p(40), "0.2")),
            (alice, limit("a-2", "buy", p(60), "0.1", tif="post_only")),  # at the best ask: refused
            (alice, limit("a-3", "buy", p(70), "0.1", tif="post_only")),  # through it: refused
            (alice, limit("a-4", "buy", p(59), "0.1", tif="post_only")),  # just below: rests
            (alice, limit("a-5", "sell", p(50), "0.1", tif="post_only")),  # at her own bid: refused too
            (alice, limit("a-6", "sell", p(51), "0.1", tif="post_only")),
            (alice, limit("a-2", "buy", p(55), "0.1", tif="post_only")),  # the refused id is free again
            (bob, limit("b-3", "sell", p(51), "0.3", tif="gtc")),  # an ordinary order takes a-4, a-2
            (alice, cancel("a-1")),
            (alice, cancel("a-6")),
        ],
    )


def test_market_orders_never_rest(service, market, p):
    m = market(service)
    m.feed()
    bob, carol, alice = m.session("bob"), m.session("carol"), m.session("alice")
    m.play_with_books(
        [
            (alice, market_order("a-1", "buy", "0.5")),  # an empty side: all of it unfilled
            (bob, limit("b-1", "sell", p(0), "0.1")),
            (carol, limit("c-1", "sell", p(1000), "0.2")),  # no price protection: far away still trades
            (bob, limit("b-2", "sell", p(3), "0.3")),
            (alice, market_order("a-2", "buy", "0.05")),  # part of the best level
            (alice, market_order("a-3", "buy", "1.0")),  # every level, the rest cancelled
            (bob, limit("b-3", "buy", p(-4), "0.2")),
            (carol, limit("c-2", "buy", p(-4000), "0.2")),
            (alice, market_order("a-4", "sell", "0.4", stp="cancel_both")),
            (alice, market_order("a-5", "sell", "0.1")),
        ],
    )


def test_a_deep_book_beyond_the_checksums_ten_levels(service, market, p):
    m = market(service)
    m.feed()
    bob, carol, alice = m.session("bob"), m.session("carol"), m.session("alice")
    steps = []
    for level in range(15):
        steps.append((bob if level % 2 else carol, limit(f"s-{level}", "sell", p(20 + level), "0.1")))
        steps.append((carol if level % 2 else bob, limit(f"b-{level}", "buy", p(-20 - level), "0.1")))
    steps += [
        (bob, limit("deep-1", "sell", p(33), "0.4")),  # the 14th level: outside the checksum
        (bob, cancel("deep-1")),
        (carol, cancel("b-12")),
        (alice, market_order("a-1", "buy", "1.25")),  # twelve levels and part of one more in one command
        (alice, limit("a-2", "sell", p(-25), "0.55", tif="ioc")),
    ]
    m.play_with_books(steps)


def test_extreme_prices_and_sizes(service, market):
    m = market(service)
    m.feed()
    bob, carol, alice = m.session("bob"), m.session("carol"), m.session("alice")
    m.play_with_books(
        [
            (bob, limit("b-1", "sell", "1000000.0", "10000")),
            (carol, limit("c-1", "sell", "1000000.0", "10000.00000000")),
            (bob, limit("b-2", "sell", "1000000.0", "9999.9999")),  # a level of 29999.9999
            (carol, limit("c-2", "buy", "0.5", "10000")),
            (bob, limit("b-3", "buy", "0.5", "0.0001")),
            (alice, market_order("a-1", "buy", "10000")),
            (alice, market_order("a-2", "buy", "10000")),
            (alice, limit("a-3", "buy", "1000000.0", "10000", tif="ioc")),
            (alice, limit("a-4", "sell", "0.5", "10000", tif="ioc")),
            (alice, market_order("a-5", "sell", "0.0001")),
        ],
    )


@pytest.mark.parametrize("stream", [1, 2])
def test_the_whole_book_after_every_command_of_a_random_stream(service, market, rng, stream):
    m = market(service)
    m.feed()
    sessions = {n: [m.session(f"acct{n}")] for n in (1, 2, 3)}
    viewer = m.session("viewer", login=False)
    for step in random_stream(rng.getrandbits(32), commands=150):
        if not step.line.startswith('{"op":"login"'):
            m.request(sessions[step.conn][0], m.shift(step.line))
            m.book(viewer)
    m.settle()


def test_a_final_sweep_empties_the_book(service, market, rng):
    m = market(service)
    m.feed()
    sessions = {n: [m.session(f"acct{n}")] for n in (1, 2, 3)}
    m.play(random_stream(rng.getrandbits(32), commands=250), sessions)
    sweeper = m.session("sweeper")
    book = m.book(sweeper)
    for side, levels in (("buy", book.asks), ("sell", book.bids)):
        total = sum(int(qty.replace(".", "")) for _, qty in levels)
        if total:
            m.request(sweeper, market_order(f"sweep-{side}", side, f"{total // 10**8}.{total % 10**8:08d}"))
    final = m.book(sweeper)
    assert not final.bids and not final.asks and final.checksum == 0, f"the book after the sweep: {final}"
    m.settle()
