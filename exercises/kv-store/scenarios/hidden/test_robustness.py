"""Robustness against hostile clients: slowloris, malformed-input fuzzing, and floods of huge declared
lengths. The service must stay up, keep serving others promptly, and keep its memory bounded."""

import time

import pytest

from harness.faults import Slowloris, run_fuzz

pytestmark = [pytest.mark.criterion("robustness"), pytest.mark.timeout(150)]

#: A client beside the attack must be served within this long per command.
LATENCY_BUDGET_S = 0.5


def _timed_round_trips(resp, service, key, rounds):
    client = resp(service, timeout=5)
    slowest = 0.0
    for i in range(rounds):
        started = time.monotonic()
        client.call("SET", key(f"r{i}"), f"v{i}", expect="OK")
        client.call("GET", key(f"r{i}"), expect=f"v{i}".encode())
        slowest = max(slowest, time.monotonic() - started)
    return slowest


def test_slowloris_does_not_starve_other_clients(fresh_service, resp, key, seed, evidence):
    with Slowloris(
        fresh_service.host, fresh_service.port, connections=300, interval_s=1.0, duration_s=8.0, seed=seed
    ) as attack:
        time.sleep(2.0)  # let the half-open connections pile up
        slowest = _timed_round_trips(resp, fresh_service, key, rounds=20)
    evidence.note(
        f"slowloris: {attack.report.opened} connections opened, {attack.report.closed_by_service} closed "
        f"by the service; slowest SET+GET beside it {slowest * 1000:.0f} ms"
    )
    assert attack.report.opened > 0, "the attack could not open any connection"
    assert slowest <= LATENCY_BUDGET_S, (
        f"with {attack.report.opened} slow clients connected, a SET+GET took {slowest * 1000:.0f} ms "
        f"(budget {LATENCY_BUDGET_S * 1000:.0f} ms): connections must not wait for each other"
    )


def test_malformed_input_never_kills_or_hangs_the_service(fresh_service, seed, evidence):
    # 0.1 s of quiet after each case: a frame that crashes the service does so within microseconds, and
    # most cases (incomplete frames) wait the whole of it; 0.3 s made this one scenario 23 s of a grade.
    report = run_fuzz(
        (fresh_service.host, fresh_service.port), seed=seed, count=150, deadline_s=60, case_timeout_s=0.1
    )
    evidence.note(f"fuzzing: {report.cases_run} malformed requests sent (seed {seed})")
    if report.failures:
        first = report.failures[0]
        evidence.note(f"reproduce: {first.reproduce('127.0.0.1', fresh_service.port)}")
    assert not report.failures, (
        f"{len(report.failures)} malformed request(s) {report.failures[0].outcome} the service: "
        f"{report.failures[0].detail}"
    )


def _memory_mb(service):
    stats = service.container.stats(stream=False)
    return stats["memory_stats"].get("usage", 0) / (1024 * 1024)


def test_memory_stays_bounded_under_huge_declared_lengths(fresh_service, resp, evidence):
    import socket

    if not hasattr(fresh_service, "container"):
        pytest.skip("needs a harness-managed service to read its memory use")
    before = _memory_mb(fresh_service)
    attackers = []
    try:
        for i in range(100):
            conn = socket.create_connection((fresh_service.host, fresh_service.port), timeout=5)
            # Half declare a bulk at the 1 MiB cap and send none of it; half declare 4 GiB (over the cap).
            declared = 1048576 if i % 2 else 4294967296
            conn.sendall(f"*1\r\n${declared}\r\nxx".encode())
            attackers.append(conn)
        time.sleep(1.0)
        during = _memory_mb(fresh_service)
        client = resp(fresh_service, timeout=5)
        client.call("SET", "memory-probe", "alive", expect="OK")
    finally:
        for conn in attackers:
            conn.close()
    evidence.note(f"memory: {before:.0f} MiB before, {during:.0f} MiB with 100 huge declarations pending")
    assert during - before <= 256, (
        f"memory grew by {during - before:.0f} MiB for 100 pending requests that declared 1 MiB-4 GiB "
        "and sent 2 bytes: allocate as data arrives, not as lengths are declared"
    )
