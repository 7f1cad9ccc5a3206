"""Self-trade prevention (brief section 4.5): when the next resting order to match is the incoming order's
own account's, no trade happens and the *incoming* order's mode decides - cancel_taker (the default),
cancel_maker, cancel_both (resting order's report first), decrement_and_cancel. Trades before the
self-match stand; a prevented self-trade prints no trade and takes no trade id. Compared with the oracle
on every connection, with the whole book after every command."""

import pytest
from conformance.orders import limit, market_order
from oracle import random_stream

pytestmark = pytest.mark.criterion("self-trade-prevention")


@pytest.mark.parametrize("stp", [None, "cancel_taker"])
def test_cancel_taker_cancels_the_incoming_order_and_keeps_the_resting_one(service, market, p, stp):
    m = market(service)
    m.feed()
    alice, bob = m.session("alice"), m.session("bob")
    m.play_with_books(
        [
            (bob, limit("b-1", "sell", p(0), "0.1")),
            (alice, limit("a-1", "sell", p(0), "0.2")),
            (bob, limit("b-2", "sell", p(1), "0.3")),
            (alice, limit("a-2", "buy", p(1), "0.5", stp=stp)),  # trades with b-1, then meets a-1
            (bob, limit("b-3", "buy", p(-1), "0.2")),
            (alice, market_order("a-3", "buy", "0.1", stp=stp)),  # meets a-1 first: nothing trades
            (alice, limit("a-4", "sell", p(-1), "0.1", tif="ioc", stp=stp)),
        ],
    )


def test_cancel_maker_cancels_resting_orders_and_matching_goes_on(service, market, p):
    m = market(service)
    m.feed()
    alice, bob = m.session("alice"), m.session("bob")
    m.play_with_books(
        [
            (alice, limit("a-1", "sell", p(0), "0.2")),
            (bob, limit("b-1", "sell", p(0), "0.3")),
            (alice, limit("a-2", "sell", p(1), "0.1")),
            (bob, limit("b-2", "sell", p(2), "0.5")),
            (alice, limit("a-3", "buy", p(2), "0.6", stp="cancel_maker")),
            (alice, limit("a-4", "buy", p(-3), "0.2", stp="cancel_taker")),
            (alice, market_order("a-5", "sell", "0.5", stp="cancel_maker")),  # cancels a-4, then nothing left
        ],
    )


def test_cancel_both_cancels_both_resting_report_first(service, market, p):
    m = market(service)
    m.feed()
    alice, bob = m.session("alice"), m.session("bob")
    m.play_with_books(
        [
            (bob, limit("b-1", "buy", p(0), "0.1")),
            (alice, limit("a-1", "buy", p(0), "0.4")),
            (bob, limit("b-2", "buy", p(-1), "0.4")),
            (alice, limit("a-2", "sell", p(-1), "0.3", stp="cancel_both")),  # b-1 trades, then a-1 meets
            (alice, limit("a-3", "buy", p(-5), "0.1")),
            (alice, limit("a-4", "sell", p(-10), "0.3", tif="ioc", stp="cancel_both")),
        ],
    )


@pytest.mark.parametrize("case", ["taker-larger", "maker-larger", "equal"])
def test_decrement_and_cancel(service, market, p, case):
    taker, maker = {"taker-larger": ("0.5", "0.2"), "maker-larger": ("0.2", "0.5"), "equal": ("0.3", "0.3")}[
        case
    ]
    m = market(service)
    m.feed()
    alice, bob = m.session("alice"), m.session("bob")
    m.play_with_books(
        [
            (alice, limit("a-1", "buy", p(0), maker)),
            (bob, limit("b-1", "buy", p(-1), "0.4")),
            (alice, limit("a-2", "sell", p(-1), taker, stp="decrement_and_cancel")),
            (alice, limit("a-3", "sell", p(5), maker)),
            (bob, limit("b-2", "sell", p(6), "0.1")),
            (alice, market_order("a-4", "buy", taker, stp="decrement_and_cancel")),
            (alice, limit("a-5", "buy", p(6), taker, tif="ioc", stp="decrement_and_cancel")),
        ],
    )


def test_the_incoming_orders_mode_decides_not_the_resting_ones(service, market, p):
    m = market(service)
    m.feed()
    alice = m.session("alice")
    m.play_with_books(
        [
            (alice, limit("a-1", "sell", p(0), "0.2", stp="cancel_maker")),
            (alice, limit("a-2", "sell", p(1), "0.2", stp="decrement_and_cancel")),
            (alice, limit("a-3", "buy", p(1), "0.3")),  # default cancel_taker: both resting stay
            (alice, limit("a-4", "buy", p(1), "0.3", stp="cancel_maker")),  # both resting go, a-4 rests
            (alice, limit("a-5", "sell", p(1), "0.1", stp="cancel_both")),
        ],
    )


def test_every_session_of_the_account_gets_the_stp_reports(service, market, p):
    m = market(service)
    m.feed()
    alice, alice2, alice3, bob = m.session("alice"), m.session("alice"), m.session("alice"), m.session("bob")
    m.play_with_books(
        [
            (alice, limit("a-1", "sell", p(0), "0.2")),
            (bob, limit("b-1", "sell", p(0), "0.1")),
            (alice2, limit("a-2", "sell", p(1), "0.2")),
            (alice3, limit("a-3", "buy", p(2), "0.6", stp="decrement_and_cancel")),
            (alice2, market_order("a-4", "buy", "0.1", stp="cancel_both")),
            (bob, market_order("b-2", "buy", "0.05")),  # the next trade id: none was taken
        ],
    )


@pytest.mark.parametrize("stream", [1, 2])
def test_a_random_stream_of_two_accounts_self_matching_often(service, market, rng, stream):
    m = market(service)
    m.feed()
    sessions = {n: [m.session(f"acct{n}")] for n in (1, 2)}
    m.play(random_stream(rng.getrandbits(32), commands=250, accounts=2), sessions)
    m.book(sessions[1][0])
    m.settle()
