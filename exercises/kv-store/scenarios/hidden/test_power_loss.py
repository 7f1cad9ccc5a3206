"""Durability under power loss. kill -9 cannot show it (data handed to the kernel survives a process
crash), so the service's system calls are traced from the host: every acknowledged write must have been
fsynced (fdatasync, sync_file_range, msync) before its reply was sent. A trace that cannot decide (no
tracer, io_uring, no file writes) is unknown, never a pass or a fail.

Each value carries a unique marker, so the k-th +OK is checked against the first k values only: a service
that syncs one batch, then answers it while already writing the next (group commit) is right, not late."""

import pytest

from harness.faults import Acknowledged, SyscallTrace

pytestmark = [pytest.mark.criterion("power-loss"), pytest.mark.timeout(120)]

WHOLE_BUFFERS = 1 << 20  # strace -s: the markers must be visible in everything written


def _values(rng, count):
    nonce = f"{rng.getrandbits(48):012x}"
    return [f"{nonce}-{i:05d}" for i in range(count)]


def _traced(service, evidence, workload, values):
    if not service.managed:
        pytest.skip("needs a harness-managed service to trace its system calls")
    with SyscallTrace.of(service, capture_bytes=WHOLE_BUFFERS) as trace:
        workload()
    verdict = trace.verdict(Acknowledged([v.encode() for v in values]))
    evidence.note(f"syscall trace: {verdict.render()}")
    if verdict.status == "unknown":
        pytest.skip(f"the syscall trace could not decide: {verdict.reason}")
    return verdict


def test_every_acknowledged_write_is_fsynced_before_its_reply(fresh_service, resp, key, evidence, rng):
    client = resp(fresh_service, timeout=20)
    values = _values(rng, 41)

    def workload():
        # Only the basic writes, so a missing command elsewhere in the brief is not judged here.
        for i in range(40):
            client.call("SET", key(f"k{i}"), values[i], expect="OK")
        client.call("SET", key("k1"), values[40], "PX", 100000, expect="OK")

    verdict = _traced(fresh_service, evidence, workload, values)
    assert verdict.status == "pass", verdict.render()


def test_pipelined_writes_are_fsynced_before_their_replies(fresh_service, resp, key, evidence, rng):
    client = resp(fresh_service, timeout=20)
    values = _values(rng, 200)

    def workload():
        replies = client.pipeline([("SET", key(f"p{i}"), values[i]) for i in range(200)], timeout=20)
        assert replies == ["OK"] * 200, "every pipelined SET is acknowledged with +OK"

    verdict = _traced(fresh_service, evidence, workload, values)
    assert verdict.status == "pass", verdict.render()
