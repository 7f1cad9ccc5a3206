"""SIGTERM (brief section 1): the server stops accepting, makes everything acknowledged durable and exits
with status 0 within 5 s - idle, with clients and subscribers connected, with a request half sent, and
in the middle of an order flow - and the next start has every acknowledged order."""

import json
import threading
import time

import pytest
from oracle import random_stream

from harness.drivers.jsonl import JsonLinesFailure

pytestmark = [pytest.mark.criterion("graceful-shutdown"), pytest.mark.timeout(90)]


def _decoded(line):
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _stop_gracefully(service):
    outcome = service.stop(5)
    assert not outcome.forced, (
        f"SIGTERM: expected the server to exit within 5 s, it had to be killed after {outcome.seconds:.1f} s"
    )
    assert outcome.exit_code == 0, (
        f"SIGTERM: expected exit status 0, got {outcome.exit_code} after {outcome.seconds:.1f} s"
    )


def test_sigterm_with_sessions_subscribers_and_a_half_sent_request(fresh_service, market, rng, evidence):
    seed = rng.getrandbits(32)
    steps = [s for s in random_stream(seed, commands=300) if not s.line.startswith('{"op":"login"')]
    evidence.note(f"oracle.random_stream({seed}, commands=300): SIGTERM after the 150th request")
    m = market(fresh_service, align=False)
    m.feed()
    sessions = {n: [m.session(f"acct{n}")] for n in (1, 2, 3)}
    m.play(steps[:150], sessions)
    idle = m.session("idle", login=False)
    idle.client.send_raw(b'{"op":"new","client_order_id":"half","si')  # never finished
    _stop_gracefully(fresh_service)
    m.crash()
    fresh_service.start()
    m.feed()  # the same book and seq as before the stop
    sessions = {n: [m.session(f"acct{n}")] for n in (1, 2, 3)}
    m.play(steps[150:], sessions)
    m.settle()


def test_sigterm_in_the_middle_of_an_order_flow(fresh_service, jsonl, tag):
    """Four clients place resting orders as fast as they are answered; SIGTERM comes in the middle. Every
    order acknowledged before the server went away must be there after the next start."""
    acked = [[] for _ in range(4)]
    clients = [jsonl(fresh_service) for _ in range(4)]

    def work(index):
        client = clients[index]
        try:
            client.send_line(json.dumps({"op": "login", "account": f"t{index}-{tag}"}))
            client.read_line()
            serial = 0
            while True:
                serial += 1
                price = 10_000 + serial % 300 if index % 2 else 80_000 + serial % 300
                order = {
                    "op": "new",
                    "client_order_id": f"t-{serial}",
                    "side": "buy" if index % 2 else "sell",
                    "type": "limit",
                    "price": f"{price}.0",
                    "qty": "0.0001",
                    "tif": "gtc",
                }
                client.send_line(json.dumps(order))
                if _decoded(client.read_line()).get("type") == "ack":
                    acked[index].append(f"t-{serial}")
        except JsonLinesFailure:
            pass  # the server went away

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.8)
    _stop_gracefully(fresh_service)
    for thread in threads:
        thread.join(10)
    assert sum(map(len, acked)) > 20, "fewer than 20 orders were acknowledged before SIGTERM"
    fresh_service.start()
    for index, ids in enumerate(acked):
        client = jsonl(fresh_service)
        client.send_line(json.dumps({"op": "login", "account": f"t{index}-{tag}"}))
        client.read_line()
        client.send_raw(
            "".join(json.dumps({"op": "cancel", "client_order_id": i}) + "\n" for i in ids).encode()
        )
        for client_order_id in ids:
            line = client.read_line()
            reply = _decoded(line)
            assert reply.get("type") == "cancel_ack" and reply.get("remaining") == "0.00010000", (
                f"order {client_order_id} of t{index}-{tag} was acknowledged before SIGTERM; after the next "
                f"start, cancelling it must give a cancel_ack with remaining 0.00010000, got {line[:200]}"
            )


def test_sigterm_when_idle_exits_at_once(fresh_service):
    outcome = fresh_service.stop(5)
    assert not outcome.forced and outcome.exit_code == 0, (
        f"SIGTERM to an idle server: expected exit status 0 within 5 s, got "
        f"{'a kill after 5 s' if outcome.forced else f'status {outcome.exit_code}'}"
    )
