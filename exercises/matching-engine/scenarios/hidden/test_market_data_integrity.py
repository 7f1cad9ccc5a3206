"""Market data (brief section 5) judged as a subscriber sees it, not against the oracle's matching: each
subscriber rebuilds the book from its snapshot and the `book` messages after it (conformance.FeedBook),
and every `seq` must follow the last without a gap, every checksum must be the CRC32 the subscriber
computes itself (the oracle's checksum code over the rebuilt top ten levels), and the rebuilt book must
be the book the service answers to a `book` request at the same seq. Orders come from seeded random
streams sent by a plain client that reads only its replies."""

import json

import pytest
from conformance import FeedBook, FeedProblem
from conformance.orders import Ladder, cancel, limit, market_order
from oracle import Snapshot, parse_order_entry, random_stream

pytestmark = pytest.mark.criterion("market-data-integrity")

REPLIES = frozenset({"login_ack", "ack", "cancel_ack", "reject", "snapshot"})


def decoded(line):
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def answer(client, request):
    """Send a request and return its reply, skipping the execution reports pushed meanwhile."""
    client.send_line(request if isinstance(request, str) else json.dumps(request, separators=(",", ":")))
    while True:
        line = client.read_line()
        reply = decoded(line)
        if reply.get("type") in REPLIES:
            return reply, line


class Subscriber:
    """A market-data connection and the book it rebuilds."""

    def __init__(self, jsonl, service, name):
        self.name = name
        self.client = jsonl(service, port="market_data")
        self.client.label = f"{name} ({self.client.label})"
        self.book = FeedBook()
        self.lines = {}
        self._read()

    def _read(self, timeout=5.0):
        line = self.client.read_line(timeout)
        try:
            message = self.book.apply(line)
        except FeedProblem as problem:
            raise FeedProblem(f"{self.name}: {problem.message}") from None
        self.lines[message.seq] = message
        return message

    def read_until(self, seq):
        while self.book.seq < seq:
            self._read()


def traders(jsonl, service, m, count):
    clients = {}
    for n in range(1, count + 1):
        client = jsonl(service)
        client.label = f"acct{n} ({client.label})"
        reply, line = answer(client, {"op": "login", "account": m.account(f"acct{n}")})
        assert reply.get("type") == "login_ack", f"login of acct{n}: expected a login_ack, got {line[:200]}"
        clients[n] = client
    return clients


def service_book(client):
    """The service's answer to a book request, strictly parsed and checked like a subscriber's snapshot."""
    _, line = answer(client, {"op": "book"})
    check = FeedBook()
    try:
        check.apply(line)
    except FeedProblem as problem:
        raise FeedProblem(f"the reply to a book request: {problem.message}") from None
    snapshot = parse_order_entry(line)
    assert isinstance(snapshot, Snapshot)
    return snapshot


def same_book(subscriber, snapshot):
    subscriber.read_until(snapshot.seq)
    rebuilt = subscriber.book.snapshot()
    if rebuilt != snapshot:
        sides = [
            f"{name}: rebuilt {getattr(rebuilt, name)[:6]}, answered {getattr(snapshot, name)[:6]}"
            for name in ("bids", "asks")
            if getattr(rebuilt, name) != getattr(snapshot, name)
        ]
        raise AssertionError(
            f"{subscriber.name}: the book rebuilt from the feed up to seq {rebuilt.seq} differs from the "
            f"book the service answers at seq {snapshot.seq}: " + "; ".join(sides or ["seq or checksum"])
        )


def play(clients, m, steps):
    for step in steps:
        if not step.line.startswith('{"op":"login"'):
            answer(clients[step.conn], m.shift(step.line))


def test_a_subscriber_rebuilds_the_book_and_every_checksum_matches(service, jsonl, market, rng, evidence):
    seed = rng.getrandbits(32)
    evidence.note(f"orders: oracle.random_stream({seed}, commands=500)")
    m = market(service)
    subscriber = Subscriber(jsonl, service, "md")
    clients = traders(jsonl, service, m, 3)
    play(clients, m, random_stream(seed, commands=500))
    same_book(subscriber, service_book(clients[1]))
    assert subscriber.book.trades and subscriber.book.updates, "the stream printed no trade or book message"


def test_subscribers_joining_mid_stream_continue_the_sequence(service, jsonl, market, rng, evidence):
    seed = rng.getrandbits(32)
    evidence.note(f"orders: oracle.random_stream({seed}, commands=480); a subscriber joins every 80")
    m = market(service)
    clients = traders(jsonl, service, m, 3)
    steps = random_stream(seed, commands=480)
    subscribers = []
    for start in range(0, len(steps), 80):
        subscribers.append(Subscriber(jsonl, service, f"md{len(subscribers) + 1}"))
        play(clients, m, steps[start : start + 80])
    final = service_book(clients[1])
    for subscriber in subscribers:
        same_book(subscriber, final)
    first = subscribers[0]
    for later in subscribers[1:]:
        for seq, message in later.lines.items():
            if seq in first.lines and message != first.lines[seq] and message.type != "snapshot":
                raise AssertionError(
                    f"seq {seq} is {first.lines[seq].to_json_line()} on {first.name} and "
                    f"{message.to_json_line()} on {later.name}: one stream is shared by all subscribers"
                )


def test_deep_books_checksum_only_the_top_ten_levels(service, jsonl, market, rng):
    m = market(service)
    subscriber = Subscriber(jsonl, service, "md")
    clients = traders(jsonl, service, m, 2)
    p = Ladder(rng.randrange(20_000, 60_000))
    for level in range(25):
        lots = rng.randrange(1, 30)
        answer(clients[1], limit(f"s-{level}", "sell", p(10 + level), f"0.{lots:04d}"))
        answer(clients[2], limit(f"b-{level}", "buy", p(-10 - level), f"0.{lots:04d}"))
    for i in range(60):
        level = rng.randrange(0, 25)
        side, sign, client = rng.choice((("sell", 1, clients[1]), ("buy", -1, clients[2])))
        action = rng.random()
        if action < 0.4:
            answer(client, limit(f"x-{i}", side, p(sign * (10 + level)), f"0.{rng.randrange(1, 50):04d}"))
        elif action < 0.8:
            answer(client, cancel(f"{'s' if side == 'sell' else 'b'}-{level}"))
        else:
            taker = clients[2] if side == "sell" else clients[1]
            answer(taker, market_order(f"t-{i}", "buy" if side == "sell" else "sell", "0.0150"))
    same_book(subscriber, service_book(clients[1]))


def test_rejections_retries_and_queries_publish_nothing(service, jsonl, market, rng):
    m = market(service)
    clients = traders(jsonl, service, m, 2)
    alice, bob = clients[1], clients[2]
    p = Ladder(rng.randrange(20_000, 60_000))
    answer(bob, limit("b-1", "buy", p(0), "0.3"))
    answer(alice, limit("a-1", "buy", p(-1), "0.2"))
    before = service_book(alice)
    subscriber = Subscriber(jsonl, service, "md")
    # Only requests that change nothing whatever the matching does (what an IOC or a post-only order
    # changes is the matching's business, judged elsewhere; an empty book message is caught everywhere).
    quiet = [
        (alice, '{"op":"book","depth":5}'),
        (alice, limit("a-2", "buy", p(0), "0.3", tif="gtc") | {"price": "1.23"}),
        (alice, limit("a-2", "buy", p(0), "0.3", tif="gtc") | {"qty": "0.00015"}),
        (bob, limit("b-1", "buy", p(0), "0.3")),  # a retry
        (bob, limit("b-1", "buy", p(0), "0.4")),  # a duplicate
        (alice, cancel("never-placed")),
        (bob, {"op": "cancel", "order_id": 0}),
        (alice, {"op": "login", "account": "again"}),
        (alice, {"op": "book"}),
    ]
    for client, request in quiet:
        answer(client, request)
    after = service_book(alice)
    subscriber.client.expect_silence(0.2)
    assert after.seq == before.seq, (
        f"seq went from {before.seq} to {after.seq} over requests that change nothing (rejections, a "
        "retry, a book request): rejected requests, retries and login/book requests publish nothing"
    )
    answer(alice, limit("a-7", "buy", p(-2), "0.1"))
    same_book(subscriber, service_book(alice))
    assert subscriber.book.seq == before.seq + 1, (
        f"one new resting order after seq {before.seq} must publish exactly one book message, the feed "
        f"reached seq {subscriber.book.seq}"
    )


def test_bytes_sent_to_the_feed_are_ignored(service, jsonl, market, rng):
    m = market(service)
    subscriber = Subscriber(jsonl, service, "md")
    subscriber.client.send_raw(b'{"op":"login","account":"x"}\n' + rng.randbytes(65536) + b"\n{\n")
    clients = traders(jsonl, service, m, 3)
    play(clients, m, random_stream(rng.getrandbits(32), commands=200))
    subscriber.client.send_raw(b"x" * 10_000)
    same_book(subscriber, service_book(clients[1]))


def test_thirty_subscribers_receive_the_same_messages(service, jsonl, market, rng):
    m = market(service)
    subscribers = [Subscriber(jsonl, service, f"md{n}") for n in range(1, 31)]
    clients = traders(jsonl, service, m, 3)
    play(clients, m, random_stream(rng.getrandbits(32), commands=200))
    final = service_book(clients[1])
    for subscriber in subscribers:
        same_book(subscriber, final)
        if subscriber.lines != subscribers[0].lines:
            seq = next(s for s in subscriber.lines if subscriber.lines[s] != subscribers[0].lines.get(s))
            raise AssertionError(
                f"seq {seq} differs between md1 and {subscriber.name}: every subscriber gets the same stream"
            )


def test_trades_then_one_book_message_per_command(service, jsonl, market, rng):
    """Each command publishes its trades, then at most one book message: the feed is cut into commands at
    the seq of a book request sent after each, and each piece must be trade* book."""
    m = market(service)
    subscriber = Subscriber(jsonl, service, "md")
    clients = traders(jsonl, service, m, 2)
    bob, alice = clients[1], clients[2]
    p = Ladder(rng.randrange(20_000, 60_000))
    commands = [(bob, limit(f"b-{i}", "sell", p(i // 2), "0.1")) for i in range(8)]
    commands += [
        (alice, limit("a-1", "buy", p(3), "0.75", tif="ioc")),  # eight trades through four levels
        (alice, limit("a-2", "buy", p(3), "0.2")),  # the rest of the book, then rests: both sides change
        (bob, market_order("b-9", "sell", "0.3")),
    ]
    seq = subscriber.book.seq
    for client, request in commands:
        answer(client, request)
        end = service_book(client).seq
        subscriber.read_until(end)
        kinds = [subscriber.lines[s].type for s in range(seq + 1, end + 1)]
        assert not kinds[:-1] or set(kinds[:-1]) == {"trade"}, (
            f"the market data of {json.dumps(request)} is {kinds}: a command publishes its trades, then "
            "one book message (brief section 5.1)"
        )
        assert kinds and kinds[-1] == "book", (
            f"{json.dumps(request)} changed the book but published {kinds or 'nothing'}: after its trades, "
            "one book message with every level it changed (brief section 5.1)"
        )
        seq = end
