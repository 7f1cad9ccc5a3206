"""Durability (brief section 6): after kill -9 and a restart, every acknowledged order, cancel and trade is
there, nothing executes twice, and order ids, trade ids and the market-data seq carry on. Requests in
flight at the kill are sent again with the same client order id, and their answer decides (the original
ack: it was accepted once, and only once). Each scenario has a service of its own."""

import json
import socket
import threading
import time

import pytest
from conformance import FeedBook, FeedProblem
from oracle import random_stream

from harness.drivers.jsonl import ConnectionLost, JsonLinesFailure
from harness.load.jsonl_orders import ORDER_REPLIES, ORDER_REPORTS, JsonLinesReplyCounter

pytestmark = [pytest.mark.criterion("durability"), pytest.mark.timeout(120)]

ACCOUNTS = (1, 2, 3)
REPLIES = frozenset({"login_ack", "ack", "cancel_ack", "reject", "snapshot"})


def _sessions(m):
    """One session per account, and a second one for acct1 (reports reach both)."""
    sessions = {n: [m.session(f"acct{n}")] for n in ACCOUNTS}
    sessions[1].append(m.session("acct1"))
    return sessions


def _restart(service, evidence, what):
    started = time.monotonic()
    service.start()
    evidence.note(f"{what}: the service accepted connections {time.monotonic() - started:.1f} s after start")


def _recover(service, m, evidence, in_flight):
    """Restart, log in again, send the in-flight requests again, and compare the book and the feed."""
    m.crash()
    _restart(service, evidence, "after kill -9")
    sessions = _sessions(m)
    for step in in_flight:
        m.resend(sessions[step.conn][0], m.shift(step.line))
    for session in [s for group in sessions.values() for s in group]:
        m.drain(session)
    m.feed()  # its snapshot must be the oracle's: the same book and seq as before the kill
    return sessions


def test_kill_9_mid_stream_loses_nothing_and_executes_nothing_twice(fresh_service, market, rng, evidence):
    seed = rng.getrandbits(32)
    steps = [s for s in random_stream(seed, commands=600) if not s.line.startswith('{"op":"login"')]
    kills = sorted(rng.sample(range(60, 520), 2))
    evidence.note(
        f"the requests of oracle.random_stream({seed}, commands=600) on a fresh service, killed (kill -9) "
        f"at steps {kills[0]} and {kills[1]} with requests in flight, each restarted"
    )
    m = market(fresh_service, align=False)  # a fresh service: ids from 1, seq from 0
    m.feed()
    sessions = _sessions(m)
    done = 0
    for kill in kills:
        m.play(steps[done:kill], sessions, rng)
        in_flight, wanted = [steps[kill]], rng.randint(1, 6)
        while len(in_flight) < wanted and steps[kill + len(in_flight)].conn == steps[kill].conn:
            in_flight.append(steps[kill + len(in_flight)])
        for step in in_flight:  # one connection, so the service executes them in this order
            m.send_unread(sessions[step.conn][0], m.shift(step.line))
        time.sleep(rng.choice((0, 0.001, 0.003)))
        fresh_service.kill("SIGKILL")
        sessions = _recover(fresh_service, m, evidence, in_flight)
        done = kill + len(in_flight)
    m.play(steps[done:], sessions, rng)
    m.book(sessions[1][0])
    m.settle()


def test_a_clean_kill_9_keeps_the_book_ids_and_seq(fresh_service, market, rng, evidence):
    seed = rng.getrandbits(32)
    steps = random_stream(seed, commands=300)
    evidence.note(f"oracle.random_stream({seed}, commands=300), kill -9 after the 150th request")
    m = market(fresh_service, align=False)
    m.feed()
    sessions = _sessions(m)
    m.play(steps[:150], sessions, rng)
    fresh_service.kill("SIGKILL")
    sessions = _recover(fresh_service, m, evidence, [])
    m.play(steps[150:], sessions, rng)  # retries of earlier orders get their original acks
    m.book(sessions[2][0])
    m.settle()


def _answer(client, line):
    client.send_line(line)
    return _next_reply(client)


def _next_reply(client):
    """The next reply, skipping execution reports."""
    while True:
        raw = client.read_line()
        try:
            reply = json.loads(raw)
        except ValueError:
            reply = None
        if isinstance(reply, dict) and reply.get("type") in REPLIES:
            return reply, raw


def _order(account, serial, side, price):
    return json.dumps(
        {
            "op": "new",
            "client_order_id": f"w-{serial}",
            "side": side,
            "type": "limit",
            "price": f"{price}.0",
            "qty": f"0.{(serial % 9) + 1:04d}",
            "tif": "gtc",
        },
        separators=(",", ":"),
    )


def test_orders_acknowledged_under_concurrent_load_survive_kill_9(fresh_service, jsonl, tag, rng, evidence):
    """Eight clients place resting orders (bids below 20000, asks above 60000: nothing trades) and cancel
    some; the kill comes while all are busy. Afterwards every acknowledged order is open with its whole
    quantity, every acknowledged cancel stands, and a request in flight is answered as it must be."""
    writers = 8
    subscriber = jsonl(fresh_service, port="market_data")
    feed = FeedBook()
    feed_problems = []
    acked = [{} for _ in range(writers)]  # client order id -> (order_id, request line)
    cancelled = [set() for _ in range(writers)]
    in_flight = [None] * writers
    stop = threading.Event()
    clients = [jsonl(fresh_service, timeout=5) for _ in range(writers)]

    def watch():
        try:
            while True:
                feed.apply(subscriber.read_line(timeout=30))
        except FeedProblem as problem:
            feed_problems.append(problem)
        except JsonLinesFailure:
            pass  # the end of the feed at the kill

    def work(index):
        client, account = clients[index], f"w{index}-{tag}"
        try:
            _answer(client, json.dumps({"op": "login", "account": account}))
            serial = 0
            while not stop.is_set():
                serial += 1
                side, price = ("buy", 10_000 + serial % 500) if index % 2 else ("sell", 70_000 + serial % 500)
                line = _order(account, serial, side, price)
                in_flight[index] = line
                reply, _ = _answer(client, line)
                in_flight[index] = None
                if reply.get("type") == "ack":
                    acked[index][f"w-{serial}"] = (reply.get("order_id"), line)
                if serial % 5 == 0:
                    target = f"w-{serial - 2}"
                    line = json.dumps({"op": "cancel", "client_order_id": target})
                    in_flight[index] = line
                    reply, _ = _answer(client, line)
                    in_flight[index] = None
                    if reply.get("type") == "cancel_ack":
                        cancelled[index].add(target)
        except JsonLinesFailure:
            pass  # the kill: nothing after it is acknowledged

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(writers)]
    for thread in threads:
        thread.start()
    time.sleep(1.0 + rng.random() * 0.5)
    fresh_service.kill("SIGKILL")
    stop.set()
    for thread in [*threads, watcher]:
        thread.join(10)
    if feed_problems:
        raise feed_problems[0]
    last_seq = feed.seq or 0
    total = sum(len(a) for a in acked)
    evidence.note(
        f"{total} orders and {sum(len(c) for c in cancelled)} cancels were acknowledged before the kill; "
        f"subscribers had seen seq {last_seq}"
    )
    assert total > 50, f"only {total} orders were acknowledged in the second before the kill"
    _restart(fresh_service, evidence, f"after kill -9 with {total} orders acknowledged")

    after = jsonl(fresh_service, port="market_data")
    snapshot = json.loads(after.read_line())
    assert isinstance(snapshot.get("seq"), int) and snapshot["seq"] >= last_seq, (
        f"after the restart the feed's snapshot has seq {snapshot.get('seq')}, but subscribers had already "
        f"seen seq {last_seq} before the kill: seq carries on across restarts"
    )
    top_order_id = max((oid for a in acked for oid, _ in a.values() if isinstance(oid, int)), default=0)
    for index in range(writers):
        client, account = jsonl(fresh_service), f"w{index}-{tag}"
        _answer(client, json.dumps({"op": "login", "account": account}))
        pending = json.loads(in_flight[index]) if in_flight[index] else {}
        if pending.get("op") == "new":
            # Sent, never answered: executed before the kill or not at all. Either way, now once.
            reply, raw = _answer(client, in_flight[index])
            assert reply.get("type") == "ack", (
                f"{account} sent {in_flight[index]} just before the kill and again after the restart: "
                f"expected an ack (the original, or a new one if it was never accepted), got {raw[:200]}"
            )
            acked[index][pending["client_order_id"]] = (reply.get("order_id"), in_flight[index])
        # Every acknowledged order, in one write: a retry of each cancelled one, a cancel of each other.
        checks = sorted(acked[index].items())
        requests = [
            line if oid in cancelled[index] else json.dumps({"op": "cancel", "client_order_id": oid})
            for oid, (_, line) in checks
        ]
        client.send_raw("".join(f"{r}\n" for r in requests).encode())
        for (client_order_id, (order_id, line)), request in zip(checks, requests, strict=True):
            reply, raw = _next_reply(client)
            if client_order_id in cancelled[index]:
                assert reply == {"type": "ack", "client_order_id": client_order_id, "order_id": order_id}, (
                    f"{account}'s order {client_order_id} was acknowledged as order {order_id} and cancelled "
                    f"before kill -9; sent again after the restart it must get its original ack, got "
                    f"{raw[:200]}"
                )
                continue
            raced = pending.get("op") == "cancel" and pending.get("client_order_id") == client_order_id
            if raced and reply.get("type") == "reject" and reply.get("reason") == "unknown_order":
                continue  # the in-flight cancel was executed before the kill
            expected = {
                "type": "cancel_ack",
                "client_order_id": client_order_id,
                "order_id": order_id,
                "remaining": f"{json.loads(line)['qty']}0000",
            }
            assert reply == expected, (
                f"{account}'s order {client_order_id} (order {order_id}) was acknowledged before kill -9 and "
                f"never traded or cancelled: after the restart, {request} must give "
                f"{json.dumps(expected)}, got {raw[:200]}"
            )
    probe = jsonl(fresh_service)
    _answer(probe, json.dumps({"op": "login", "account": f"probe-{tag}"}))
    reply, raw = _answer(probe, _order("probe", 1, "buy", 100))
    assert isinstance(reply.get("order_id"), int) and reply["order_id"] > top_order_id, (
        f"the first order after the restart got {raw[:200]}, but order ids up to {top_order_id} had been "
        "given out before the kill: ids carry on across restarts"
    )


def test_a_long_log_is_replayed_quickly(fresh_service, jsonl, tag, rng, evidence):
    """The brief asks for restarts within the 20 s start-up limit with a few hundred thousand orders in the
    log: 120 000 requests (resting makers, crossing takers, cancels) get a proportional budget."""
    orders = 120_000
    budget_s = 20 * orders / 300_000 + 4  # a proportional share of 20 s, plus room for starting a container
    makers = socket.create_connection((fresh_service.host, fresh_service.port), timeout=20)
    takers = socket.create_connection((fresh_service.host, fresh_service.port), timeout=20)
    counters = {}
    for name, sock in (("mk", makers), ("tk", takers)):
        counters[sock] = JsonLinesReplyCounter(replies=ORDER_REPLIES, pushed=ORDER_REPORTS, error=b"reject")
        _pipelined(sock, counters[sock], [json.dumps({"op": "login", "account": f"{name}-{tag}"})])
    sent = 0
    while sent < orders:
        batch = []
        for _ in range(500):
            sent += 1
            price = 45_000 + rng.randrange(1, 200)
            batch.append(_order("mk", sent, "sell", price) if sent % 7 else _cancel(sent - 3))
        _pipelined(makers, counters[makers], batch)
        sent += 1
        sweep = {"op": "new", "client_order_id": f"w-{sent}", "side": "buy", "type": "limit"}
        sweep |= {"price": "45100.0", "qty": "0.1000", "tif": "ioc"}
        _pipelined(takers, counters[takers], [json.dumps(sweep)])
    book = jsonl(fresh_service)
    book.send_line('{"op":"book"}')
    before = json.loads(book.read_line(timeout=20))
    fresh_service.kill("SIGKILL")
    started = time.monotonic()
    fresh_service.start()
    took = time.monotonic() - started
    evidence.note(f"{sent} requests in the log; the restart took {took:.1f} s (budget {budget_s:.0f} s)")
    after = jsonl(fresh_service)
    after.send_line('{"op":"book"}')
    line = after.read_line(timeout=20)
    assert json.loads(line) == before, (
        f"after kill -9 and a restart with {sent} requests in the log, the book differs: before "
        f"{json.dumps(before)[:200]}, after {line[:200]}"
    )
    assert took <= budget_s, (
        f"with {sent} requests in the log the service took {took:.1f} s to accept connections again; at "
        f"that pace a few hundred thousand orders would not fit the brief's 20 s start-up limit "
        f"(at most {budget_s:.0f} s expected here)"
    )


def _cancel(serial):
    return json.dumps({"op": "cancel", "client_order_id": f"w-{serial}"})


def _pipelined(sock, counter, lines):
    """Send the lines in one write and wait until each is answered (counting replies, parsing nothing)."""
    sock.sendall("".join(f"{line}\n" for line in lines).encode())
    answered = 0
    while answered < len(lines):
        data = sock.recv(1 << 20)
        if not data:
            raise ConnectionLost("the service closed the connection during the load")
        answered += counter.feed(data)
