"""Many clients at once (brief sections 1 and 4): hundreds of connections trading against each other,
every request answered once and in order, every trade reported to both sides exactly once with ids
unique and gapless, reports reaching every session of an account in the same order, and clients that
stall mid-line or never send anything holding up no one."""

import json
import threading
import time
from collections import Counter, defaultdict

import pytest
from conformance import FeedBook, FeedProblem

from harness.drivers.jsonl import JsonLinesFailure

pytestmark = [pytest.mark.criterion("concurrency"), pytest.mark.timeout(120)]

REPLIES = frozenset({"login_ack", "ack", "cancel_ack", "reject", "snapshot"})


def _decoded(line):
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class Trader:
    """One connection; `call` returns the reply and keeps the reports that came before it."""

    def __init__(self, jsonl, service, account, timeout=20.0):
        self.account = account
        self.client = jsonl(service, timeout=timeout)
        self.reports = []
        self.replies = []

    def call(self, request):
        line = request if isinstance(request, str) else json.dumps(request, separators=(",", ":"))
        self.client.send_line(line)
        while True:
            raw = self.client.read_line()
            message = _decoded(raw)
            if message.get("type") in REPLIES:
                self.replies.append((line, message))
                return message
            self.reports.append(message)


def _expect(client, kind, what):
    line = client.read_line()
    assert _decoded(line).get("type") == kind, f"{what}: expected a {kind}, got {line[:200]}"


def _run_threads(targets, timeout):
    failures = []

    def guarded(target):
        try:
            target()
        except BaseException as exc:  # re-raised in the main thread so it is scored
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if failures:
        raise failures[0]
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, f"{stuck} of {len(threads)} clients had not finished after {timeout} s"


def _order(client_order_id, side, price, qty, tif="gtc"):
    return {
        "op": "new",
        "client_order_id": client_order_id,
        "side": side,
        "type": "limit",
        "price": price,
        "qty": qty,
        "tif": tif,
    }


def test_200_connections_trade_against_each_other_at_once(service, jsonl, market, tag, rng, evidence):
    market(service, trade=False)  # an empty book to start from
    feed = jsonl(service, port="market_data", timeout=20)
    book = FeedBook()
    book.apply(feed.read_line())
    traders = [Trader(jsonl, service, f"c{i}-{tag}") for i in range(200)]
    for trader in traders:
        reply = trader.call({"op": "login", "account": trader.account})
        assert reply.get("type") == "login_ack", f"login of {trader.account}: got {json.dumps(reply)[:200]}"
    barrier = threading.Barrier(len(traders), timeout=30)
    plans = {
        i: [
            (
                rng.choice(("buy", "sell")),
                45_000 + rng.randrange(-6, 7),
                rng.randint(1, 9),
                rng.choice(("gtc", "gtc", "ioc")),
            )
            for _ in range(12)
        ]
        for i in range(len(traders))
    }

    def work(index):
        trader = traders[index]

        def run():
            barrier.wait()
            for n, (side, price, lots, tif) in enumerate(plans[index]):
                reply = trader.call(_order(f"o-{n}", side, f"{price}.0", f"0.{lots:04d}", tif))
                assert reply.get("type") == "ack" and reply.get("client_order_id") == f"o-{n}", (
                    f"{trader.account}: expected the ack of o-{n}, got {json.dumps(reply)[:200]}"
                )
                if n % 4 == 3:
                    reply = trader.call({"op": "cancel", "client_order_id": f"o-{n - 2}"})
                    assert reply.get("type") in ("cancel_ack", "reject"), (
                        f"{trader.account}: expected a cancel_ack or reject of o-{n - 2}, got "
                        f"{json.dumps(reply)[:200]}"
                    )

        return run

    _run_threads([work(i) for i in range(len(traders))], timeout=60)
    # Collect every report: everything pushed before the reply to a final book request.
    snapshot = None
    for trader in traders:
        snapshot = trader.call({"op": "book"})
    last_seq = snapshot.get("seq")
    try:
        while book.seq < last_seq:
            book.apply(feed.read_line())
    except FeedProblem as problem:
        raise FeedProblem(f"the feed during the load: {problem.message}") from None
    rebuilt = json.loads(book.snapshot().to_json_line())
    assert rebuilt == snapshot, (
        f"the book rebuilt from the feed at seq {book.seq} differs from the last book reply "
        f"{json.dumps(snapshot)[:300]}"
    )

    order_ids = Counter()
    fills = defaultdict(list)
    for trader in traders:
        for _, reply in trader.replies:
            if reply.get("type") == "ack":
                order_ids[reply.get("order_id")] += 1
        for report in trader.reports:
            if report.get("type") == "fill":
                fills[report.get("trade_id")].append((trader.account, report))
    reused = [oid for oid, count in order_ids.items() if count > 1]
    assert not reused, f"order ids given to more than one order: {reused[:5]}"
    evidence.note(f"{len(order_ids)} orders, {len(fills)} trades, feed seq up to {book.seq}")
    assert book.trades == len(fills), (
        f"the feed printed {book.trades} trades, the execution reports name {len(fills)} trade ids"
    )
    trade_ids = sorted(fills)
    assert trade_ids == list(range(trade_ids[0], trade_ids[0] + len(trade_ids))), (
        f"trade ids are not consecutive: {trade_ids[:10]}…"
    )
    for trade_id, sides in fills.items():
        liquidity = sorted(report.get("liquidity") for _, report in sides)
        same = {(r.get("price"), r.get("qty")) for _, r in sides}
        assert liquidity == ["maker", "taker"] and len(same) == 1 and sides[0][0] != sides[1][0], (
            f"trade {trade_id} must be reported once to its maker and once to its taker (different "
            f"accounts, the same price and quantity), got {[json.dumps(r) for _, r in sides][:3]}"
        )


def test_every_session_of_an_account_sees_its_reports_in_the_same_order(service, jsonl, market, tag, rng):
    market(service, trade=False)
    account = f"many-{tag}"
    sessions = [Trader(jsonl, service, account) for _ in range(10)]
    for session in sessions:
        session.call({"op": "login", "account": account})
    makers = [Trader(jsonl, service, f"mk{i}-{tag}") for i in range(4)]
    for i, maker in enumerate(makers):
        maker.call({"op": "login", "account": maker.account})
        for n in range(40):
            maker.call(_order(f"m-{n}", "sell", f"{46_000 + n % 10}.0", f"0.{(n + i) % 7 + 1:04d}"))

    plans = [[rng.randint(1, 6) for _ in range(15)] for _ in sessions]

    def work(index):
        def run():
            for n, lots in enumerate(plans[index]):
                sessions[index].call(_order(f"s{index}-{n}", "buy", "46009.0", f"0.{lots:04d}", "ioc"))

        return run

    _run_threads([work(i) for i in range(len(sessions))], timeout=60)
    for session in sessions:
        session.call({"op": "book"})
    first = sessions[0].reports
    assert first, "no execution report reached the account's sessions"
    for index, session in enumerate(sessions[1:], start=2):
        if session.reports != first:
            at = next(
                (i for i, (a, b) in enumerate(zip(first, session.reports, strict=False)) if a != b),
                min(len(first), len(session.reports)),
            )
            raise AssertionError(
                f"sessions 1 and {index} of {account} received different execution reports (at report "
                f"{at + 1} of {len(first)} and {len(session.reports)}): every session of the account gets "
                "every report, in the order they happen (brief section 4.3)"
            )


def test_300_connections_open_at_once_are_all_answered(service, jsonl, tag):
    clients = [jsonl(service, timeout=20) for _ in range(300)]
    for index, client in enumerate(clients):
        client.send_line(json.dumps({"op": "login", "account": f"idle{index}-{tag}"}))
        client.send_line('{"op":"book"}')
    for index, client in enumerate(clients):
        for expected in ("login_ack", "snapshot"):
            line = client.read_line()
            assert _decoded(line).get("type") == expected, (
                f"connection {index + 1} of 300: expected a {expected}, got {line[:200]}"
            )
    for client in clients[:250]:
        client.close()
    last = clients[-1]
    last.send_line(json.dumps(_order("after", "buy", "100.0", "0.0001")))
    _expect(last, "ack", "an order on the last of 300 connections, 250 of them just closed")
    last.send_line(json.dumps({"op": "cancel", "client_order_id": "after"}))
    _expect(last, "cancel_ack", "its cancel")


def test_a_stalled_client_does_not_block_others(service, jsonl, tag):
    stalled = jsonl(service)
    stalled.send_line(json.dumps({"op": "login", "account": f"stall-{tag}"}))
    stalled.read_line()
    stalled.send_raw(b'{"op":"new","client_order_id":"late","side":"buy","type":"limit",')  # stops mid-line
    silent = jsonl(service)  # connected, never sends anything
    worker = jsonl(service, timeout=1.0)
    worker.send_line(json.dumps({"op": "login", "account": f"work-{tag}"}))
    worker.read_line()
    try:
        for n in range(100):
            worker.send_line(json.dumps(_order(f"w-{n}", "buy", "100.0", "0.0001")))
            assert _decoded(worker.read_line()).get("type") == "ack", f"order w-{n} was not acknowledged"
            worker.send_line(json.dumps({"op": "cancel", "client_order_id": f"w-{n}"}))
            assert _decoded(worker.read_line()).get("type") == "cancel_ack", f"w-{n} was not cancelled"
    except JsonLinesFailure as failure:
        raise AssertionError(
            f"with one client stalled halfway through a line and one connected in silence, another "
            f"client's request went unanswered: {failure.message}"
        ) from None
    stalled.send_raw(b'"price":"100.0","qty":"0.0001","tif":"gtc"}\n')
    line = stalled.read_line()
    assert _decoded(line).get("type") == "ack", (
        f"the stalled order, once completed: expected an ack, got {line}"
    )
    silent.send_line('{"op":"book"}')
    _expect(silent, "snapshot", "a book request on the connection that had been silent")
    stalled.send_line(json.dumps({"op": "cancel", "client_order_id": "late"}))
    _expect(stalled, "cancel_ack", "a cancel of the stalled order")
