"""Durability: every acknowledged write survives kill -9, including writes acknowledged while many
clients were writing when the kill came; expiry deadlines are absolute across restarts."""

import threading
import time

import pytest

from harness.drivers.resp import RespError, RespFailure, show_reply

pytestmark = [pytest.mark.criterion("durability"), pytest.mark.timeout(120)]

#: How long a restarted service may answer -LOADING (Redis's "still reading my log") before it counts.
LOADING_GRACE_S = 20.0


def _restarted(service, resp):
    """Restart after a kill and return a client once the service is past loading its data: Redis accepts
    connections while it replays its log and answers -LOADING meanwhile, a documented transient state."""
    service.start()
    client = resp(service)
    deadline = time.monotonic() + LOADING_GRACE_S
    while True:
        reply = client.call("EXISTS", "harness:loading-probe")
        if not (isinstance(reply, RespError) and reply.startswith("LOADING")) or time.monotonic() > deadline:
            return client
        time.sleep(0.1)


def _mismatches(client, expected):
    """Compare every key's value (None = must be absent) with pipelined GETs; describe what differs."""
    names = sorted(expected)
    wrong = []
    for start in range(0, len(names), 500):
        batch = names[start : start + 500]
        values = client.pipeline([("GET", name) for name in batch], timeout=10)
        wrong += [
            f"{name}: expected {show_reply(expected[name])}, got {show_reply(value)}"
            for name, value in zip(batch, values, strict=True)
            if value != expected[name]
        ]
    return wrong


def test_acknowledged_writes_survive_kill_9(fresh_service, resp, key, rng):
    client = resp(fresh_service)
    expected = {}
    for i in range(300):
        value = rng.randbytes(rng.randrange(1, 200))
        client.call("SET", key(f"s{i}"), value, expect="OK")
        expected[key(f"s{i}")] = value
    for i in range(30):
        client.call("DEL", key(f"s{i * 7}"), expect=1)
        expected[key(f"s{i * 7}")] = None
    for i in range(20):
        client.call("INCRBY", key(f"n{i % 4}"), i, expect=sum(range(i % 4, i + 1, 4)))
    for n in range(4):
        expected[key(f"n{n}")] = str(sum(range(n, 20, 4))).encode()
    pairs = {key(f"m{i}"): f"multi-{i}".encode() for i in range(20)}
    client.call("MSET", *[part for item in pairs.items() for part in item], expect="OK")
    expected.update(pairs)
    live = sum(v is not None for v in expected.values())
    client.call("DBSIZE", expect=live)

    fresh_service.kill("SIGKILL")
    after = _restarted(fresh_service, resp)
    wrong = _mismatches(after, expected)
    assert not wrong, f"{len(wrong)} acknowledged writes differ after kill -9 and restart: " + "; ".join(
        wrong[:5]
    )
    after.call("DBSIZE", expect=live)


def test_writes_acknowledged_during_a_load_survive_kill_9(fresh_service, resp, key):
    writers = 8
    clients = [resp(fresh_service, timeout=3.0) for _ in range(writers)]
    acknowledged = [dict() for _ in range(writers)]
    increments = [0] * writers
    stop = threading.Event()

    def write(index, client):
        count = 0
        try:
            while not stop.is_set():
                name = key(f"w{index}-{count}")
                if client.call("SET", name, f"{index}-{count}") == "OK":
                    acknowledged[index][name] = f"{index}-{count}".encode()
                if isinstance(client.call("INCR", key(f"count{index}")), int):
                    increments[index] += 1
                count += 1
        except RespFailure:
            pass  # the kill: from here on nothing is acknowledged

    threads = [threading.Thread(target=write, args=(i, c), daemon=True) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    fresh_service.kill("SIGKILL")
    stop.set()
    for thread in threads:
        thread.join(10)
    total = sum(len(a) for a in acknowledged)
    assert total > 0, "no write was acknowledged in the second before the kill"

    after = _restarted(fresh_service, resp)
    expected = {name: value for acks in acknowledged for name, value in acks.items()}
    wrong = _mismatches(after, expected)
    assert not wrong, (
        f"{len(wrong)} of {total} writes acknowledged before kill -9 are missing or wrong after restart: "
        + "; ".join(wrong[:5])
    )
    for index in range(writers):
        counter = after.call("GET", key(f"count{index}"))
        low, high = (
            increments[index],
            increments[index] + 1,
        )  # the last INCR may have been applied unacknowledged
        value = int(counter) if isinstance(counter, bytes) and counter.lstrip(b"-").isdigit() else None
        assert value is not None and low <= value <= high, (
            f"counter of writer {index + 1} after kill -9: expected {low} (acknowledged INCRs), "
            f"got {show_reply(counter)}"
        )


def test_expiry_deadlines_are_absolute_across_a_restart(fresh_service, resp, key):
    client = resp(fresh_service)
    client.call("SET", key("long"), "v", "EX", 1000, expect="OK")
    client.call("SET", key("short"), "v", "PX", 1500, expect="OK")
    short_acked = time.monotonic()
    client.call("SET", key("forever"), "v", expect="OK")
    client.call("SET", key("later"), "v", expect="OK")
    client.call("PEXPIRE", key("later"), 100_000, expect=1)

    fresh_service.kill("SIGKILL")
    after = _restarted(fresh_service, resp)
    pttl = after.call("PTTL", key("short"))
    elapsed_ms = (time.monotonic() - short_acked) * 1000
    if elapsed_ms > 1600:
        assert pttl == -2, (
            f"PTTL of a PX 1500 key {elapsed_ms:.0f} ms later, after a restart: expected -2 "
            f"(expired while the server was down), got {show_reply(pttl)}"
        )
    elif elapsed_ms < 1400:
        assert isinstance(pttl, int) and 0 < pttl <= 1500 - elapsed_ms + 100, (
            f"PTTL of a PX 1500 key {elapsed_ms:.0f} ms later, after a restart: expected the key to be there "
            f"with at most {1500 - elapsed_ms:.0f} ms left (the deadline is absolute), got {show_reply(pttl)}"
        )
    ttl = after.call("TTL", key("long"))
    assert isinstance(ttl, int) and 960 <= ttl <= 1000, (
        f"TTL of an EX 1000 key after a restart: expected 960-1000, got {show_reply(ttl)}"
    )
    pttl = after.call("PTTL", key("later"))
    assert isinstance(pttl, int) and 60_000 <= pttl <= 100_000, (
        f"PTTL after PEXPIRE 100000 and a restart: expected 60000-100000, got {show_reply(pttl)}"
    )
    after.call("TTL", key("forever"), expect=-1)
    remaining = short_acked + 1.6 - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
    after.call("GET", key("short"), expect=None)
