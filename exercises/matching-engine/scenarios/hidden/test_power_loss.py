"""Durability under power loss (brief section 6): every accepted order and cancel is made durable with
fdatasync *before* anything about it leaves the process - its reply, the execution reports and the
market data it causes. kill -9 cannot show this (data handed to the kernel survives a process crash),
so the service's system calls are traced from the host (harness.faults.SyscallTrace). A trace that
cannot decide (no tracer, io_uring, no file writes) is unknown, never a pass or a fail."""

import time

import pytest
from conformance.orders import cancel, limit, market_order

from harness.faults import Acknowledged, SyscallTrace

pytestmark = [pytest.mark.criterion("power-loss"), pytest.mark.timeout(120)]

WHOLE_BUFFERS = 1 << 20  # strace -s: the client order ids must be visible in everything written
#: Kept tracing after the last reply: a service that writes its log late (a background flush every second)
#: then shows acknowledgements sent before their data was even written.
SETTLE_S = 1.2


def _verdict(trace, evidence, expected=None):
    verdict = trace.verdict(expected) if expected is not None else trace.verdict()
    evidence.note(f"syscall trace: {verdict.render()}")
    if verdict.status == "unknown":
        pytest.skip(f"the syscall trace could not decide: {verdict.reason}")
    return verdict


def _managed(service):
    if not service.managed:
        pytest.skip("needs a harness-managed service to trace its system calls")


def _workload(rng, nonce, count):
    """Sequential requests that are all accepted (limit GTC and IOC, market orders, cancels of earlier
    orders), with a fixed-width client order id per order that marks it in the log."""
    ids, requests = [], []
    for i in range(count):
        account = rng.choice((1, 2, 3))
        if i > 5 and rng.random() < 0.2:
            owner, target = rng.choice(ids)
            requests.append((owner, cancel(target)))
            continue
        client_order_id = f"pw{nonce}{i:04d}"
        ids.append((account, client_order_id))
        side = rng.choice(("buy", "sell"))
        kind = rng.random()
        if kind < 0.1:
            order = market_order(client_order_id, side, "0.0003")
        else:
            ticks = rng.randint(-4, 4) + (-2 if side == "buy" else 2)
            tif = "ioc" if kind < 0.3 else "gtc"
            order = limit(
                client_order_id, side, f"{45000 + ticks * 0.5:.1f}", f"0.000{rng.randint(1, 9)}", tif
            )
        requests.append((account, order))
    return ids, requests


def test_orders_and_cancels_are_synced_before_their_replies_reports_and_market_data(
    fresh_service, market, rng, evidence
):
    """One request at a time, waiting for every line it causes on every connection (the lockstep), so
    every line the service sends must follow a sync of everything it wrote before; and each order's ack
    must follow a sync of the write that holds its client order id."""
    _managed(fresh_service)
    m = market(fresh_service, align=False, timeout=20)
    m.feed()
    sessions = {n: m.session(f"acct{n}") for n in (1, 2, 3)}
    ids, requests = _workload(rng, f"{rng.getrandbits(32):08x}", 60)
    with SyscallTrace.of(fresh_service, capture_bytes=WHOLE_BUFFERS) as trace:
        for account, request in requests:
            m.request(sessions[account], request)
        time.sleep(SETTLE_S)  # a log written late, in the background, shows within the trace
    verdict = _verdict(trace, evidence)
    assert verdict.status == "pass", verdict.render()
    verdict = _verdict(trace, evidence, Acknowledged([i.encode() for _, i in ids], reply=b'"ack"'))
    assert verdict.status == "pass", verdict.render()


def test_pipelined_orders_are_synced_before_their_acks(fresh_service, market, rng, evidence):
    """200 resting orders in one write: a service may sync them in batches (group commit), so the k-th
    ack needs only the first k orders synced; each order is found in the log by its client order id."""
    _managed(fresh_service)
    m = market(fresh_service, align=False, timeout=20)
    trader = m.session("trader")
    nonce = f"{rng.getrandbits(40):010x}"
    ids = [f"pl{nonce}{i:05d}" for i in range(200)]
    requests = [
        limit(client_order_id, "buy" if i % 2 else "sell", f"{30000 + i if i % 2 else 70000 - i}.0", "0.0001")
        for i, client_order_id in enumerate(ids)
    ]
    with SyscallTrace.of(fresh_service, capture_bytes=WHOLE_BUFFERS) as trace:
        m.pipeline(trader, requests)
        time.sleep(SETTLE_S)
    verdict = _verdict(trace, evidence, Acknowledged([i.encode() for i in ids], reply=b'"ack"'))
    assert verdict.status == "pass", verdict.render()
