"""Seeded random order streams (`oracle.random_stream`: limit, IOC, post-only and market orders, every
self-trade prevention mode, cancels of open, closed and other accounts' orders, retries, conflicting
duplicates, book queries and malformed requests) replayed in lockstep with the oracle: every reply,
every execution report on every session of its account, and every market-data message, line by line."""

import pytest
from oracle import random_stream

pytestmark = pytest.mark.criterion("oracle-streams")


@pytest.mark.parametrize("stream", [1, 2, 3])
def test_a_seeded_stream_matches_the_oracle_line_by_line(service, market, rng, evidence, stream):
    seed = rng.getrandbits(32)
    evidence.note(f"the requests of oracle.random_stream({seed}, commands=400), accounts renamed")
    m = market(service)
    m.feed()
    sessions = {n: [m.session(f"acct{n}")] for n in (1, 2, 3)}
    m.play(random_stream(seed, commands=400), sessions)
    m.book(sessions[1][0])
    m.settle()


def test_every_session_of_an_account_receives_its_reports(service, market, rng, evidence):
    seed = rng.getrandbits(32)
    evidence.note(
        f"the requests of oracle.random_stream({seed}, commands=400, accounts=4), each sent on one of "
        "its account's sessions (3, 2, 1 and 2 of them)"
    )
    m = market(service)
    m.feed()
    sessions = {
        n: [m.session(f"acct{n}") for _ in range(count)] for n, count in ((1, 3), (2, 2), (3, 1), (4, 2))
    }
    m.feed()
    m.play(random_stream(seed, commands=400, accounts=4), sessions, rng)
    m.settle()


def test_sessions_that_come_and_go_miss_only_what_happened_while_away(service, market, rng, evidence):
    seed = rng.getrandbits(32)
    evidence.note(
        f"the requests of oracle.random_stream({seed}, commands=480), in chunks of 60 with sessions and "
        "subscribers leaving and joining between chunks"
    )
    m = market(service)
    m.feed()
    sessions = {n: [m.session(f"acct{n}"), m.session(f"acct{n}")] for n in (1, 2, 3)}
    steps = [s for s in random_stream(seed, commands=480) if not s.line.startswith('{"op":"login"')]
    for start in range(0, len(steps), 60):
        m.play(steps[start : start + 60], sessions, rng)
        account = rng.choice((1, 2, 3))
        leaving = rng.choice(sessions[account])
        m.close(leaving)
        sessions[account].remove(leaving)
        if rng.random() < 0.7 or not sessions[account]:
            sessions[account].append(m.session(f"acct{account}"))
        if rng.random() < 0.5:
            open_feeds = [f for f in m.feeds if f.open]
            if len(open_feeds) > 1:
                gone = rng.choice(open_feeds)
                gone.client.close()
                gone.open = False
            m.feed()
    m.settle()


def test_a_long_stream_of_six_accounts(service, market, rng, evidence):
    seed = rng.getrandbits(32)
    evidence.note(f"the requests of oracle.random_stream({seed}, commands=1200, accounts=6)")
    m = market(service)
    m.feed()
    sessions = {n: [m.session(f"acct{n}")] for n in range(1, 7)}
    m.play(random_stream(seed, commands=1200, accounts=6), sessions)
    m.book(sessions[1][0])
    m.settle()
