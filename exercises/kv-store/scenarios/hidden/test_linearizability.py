"""Consistency under faults: registers (SET/GET on a few keys) driven by several clients through a fault
proxy that adds latency and then cuts the clients off (a partition between clients and service) for a
while. The recorded history (invoke → ok | fail | info) must be linearizable; a search that runs out of
budget is unknown, never a pass."""

import random
import threading
import time

import pytest

from harness.checks import Budget, check_linearizable
from harness.drivers.resp import (
    ConnectionLost,
    ReplyTimeout,
    RespClient,
    SendTimeout,
    ServiceUnreachable,
)
from harness.faults import Latency, Timeout, proxied
from harness.history import HistoryRecorder
from harness.scenario.evidence import history_latency_chart

pytestmark = [pytest.mark.criterion("linearizability"), pytest.mark.timeout(120)]

CLIENTS = 6
KEYS = 3
WORKLOAD_S = 6.0
PARTITION_AT_S, PARTITION_FOR_S = 2.0, 1.5
OP_TIMEOUT_S = 0.5
INDETERMINATE = (ReplyTimeout, ConnectionLost, SendTimeout)


def _worker(process, target, keys, recorder, deadline, seed):
    rng = random.Random(f"{seed}:{process}")
    client, written = None, 0
    while time.monotonic() < deadline:
        if client is None:
            try:
                client = RespClient(
                    target.host,
                    target.port,
                    timeout=OP_TIMEOUT_S,
                    label=f"c{process}",
                    repro_address=("127.0.0.1", 6379),
                )
            except ServiceUnreachable:
                time.sleep(0.05)
                continue
        key = rng.choice(keys)
        if rng.random() < 0.5:
            written += 1
            value = f"{process}-{written}"
            op = recorder.invoke(process, "write", key, value)
            call = ("SET", key, value)
        else:
            op = recorder.invoke(process, "read", key)
            call = ("GET", key)
        try:
            reply = client.call(*call)
        except INDETERMINATE as exc:
            op.info(str(exc))  # it may or may not have taken effect
            client.close()
            client = None  # a late reply would desynchronise this connection
            continue
        op.ok(None if call[0] == "SET" else reply)
    if client is not None:
        client.close()


def test_registers_are_linearizable_under_latency_and_a_partition(fresh_service, key, seed, evidence):
    recorder = HistoryRecorder()
    keys = [key(f"r{i}") for i in range(KEYS)]
    with proxied(fresh_service, seed=seed) as target:
        target.proxy.add(Latency(5, jitter_ms=5, stream="upstream"))
        target.proxy.add(Latency(5, jitter_ms=5, stream="downstream"))
        deadline = time.monotonic() + WORKLOAD_S
        workers = [
            threading.Thread(target=_worker, args=(p, target, keys, recorder, deadline, seed), daemon=True)
            for p in range(CLIENTS)
        ]
        for worker in workers:
            worker.start()
        time.sleep(PARTITION_AT_S)
        with (
            recorder.fault("partition", {"kind": "blackhole both ways"}),
            target.proxy.toxic(Timeout(0, stream="upstream")),
            target.proxy.toxic(Timeout(0, stream="downstream")),
        ):
            time.sleep(PARTITION_FOR_S)
        for worker in workers:
            worker.join(timeout=WORKLOAD_S + 10)
    history = recorder.snapshot()
    # For the reports: latency through the partition, the partition shaded (a gap where nothing completed).
    evidence.chart(history_latency_chart(history, title="register latency through a partition"))
    completed = sum(1 for op in history.operations if op.status == "ok")
    evidence.note(f"history: {len(history.operations)} operations, {completed} ok, over {KEYS} keys")
    assert completed >= 50, f"only {completed} operations completed in {WORKLOAD_S:g} s"
    result = check_linearizable(history, budget=Budget(max_seconds=20.0))
    evidence.note(f"linearizability: {result.summary}\n{result.details}")
    if result.status == "unknown":
        pytest.skip(f"the linearizability check could not decide: {result.summary}")
    assert result.status == "pass", result.summary
