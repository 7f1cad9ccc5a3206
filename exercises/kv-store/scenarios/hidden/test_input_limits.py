"""Hostile sizes: the 1 MiB bulk cap, the 64 KiB inline limit, and counts or lengths announced but never
sent (which must not be allocated up front)."""

import pytest

from harness.drivers.resp import RespError, encode_command, expect_reply

pytestmark = pytest.mark.criterion("input-limits")

MIB = 1024 * 1024
BULK = RespError("ERR Protocol error: invalid bulk length")


def test_value_of_exactly_1_mib_is_stored_and_returned(service, resp, key, rng):
    client = resp(service)
    value = rng.randbytes(16) * (MIB // 16)
    client.call("SET", key(), value, expect="OK", timeout=10)
    client.call("GET", key(), expect=value, timeout=10)
    client.call("DEL", key(), expect=1)


def test_bulk_length_over_the_cap_is_refused_before_its_payload(service, resp, key):
    client = resp(service)
    name = key().encode()
    client.send_raw(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1048577\r\n" % (len(name), name))
    expect_reply(client.read_reply(), BULK, "reply to a SET announcing a 1048577-byte value")
    client.expect_closed(timeout=2.0)
    resp(service).call("EXISTS", key(), expect=0)


def test_bulk_length_far_over_the_cap_is_refused(service, resp):
    client = resp(service)
    client.send_raw(b"*1\r\n$9223372036854775807\r\n")
    expect_reply(client.read_reply(), BULK, "reply to a bulk length of 2^63-1")
    client.expect_closed(timeout=2.0)


def test_inline_request_over_64_kib_is_refused(service, resp):
    client = resp(service)
    client.send_raw(b"a" * 70_000)
    expect_reply(
        client.read_reply(),
        RespError("ERR Protocol error: too big inline request"),
        "reply to 70000 bytes without a newline",
    )
    client.expect_closed(timeout=2.0)
    resp(service).call("PING", expect="PONG")


def test_long_inline_request_under_the_limit_is_accepted(service, resp):
    client = resp(service)
    client.send_raw(b"ECHO " + b"b" * 60_000 + b"\r\n")
    expect_reply(client.read_reply(), b"b" * 60_000, "reply to an inline ECHO of 60000 bytes")


def test_huge_announced_counts_and_lengths_are_not_allocated_up_front(service, resp):
    # Each of these is valid so far; the server must wait for data rather than reserve memory for it.
    teasers = [
        b"*2147483647\r\n$4\r\nPING\r\n",
        b"*1048577\r\n",
        b"*2\r\n$4\r\nECHO\r\n$1048576\r\nabc",
    ]
    clients = []
    for teaser in teasers * 4:
        client = resp(service)
        client.send_raw(teaser)
        clients.append(client)
    probe = resp(service)
    probe.call("PING", expect="PONG")
    for client in clients:
        client.close()
    resp(service).call("ECHO", "alive", expect=b"alive")


def test_pipeline_of_values_near_the_cap(service, resp, key, rng):
    client = resp(service)
    values = [bytes([rng.randrange(256)]) * (MIB - i) for i in range(4)]
    commands = [("SET", key(str(i)), v) for i, v in enumerate(values)]
    client.pipeline(commands, expect=["OK"] * 4, timeout=10)
    client.call("MGET", *[key(str(i)) for i in range(4)], expect=values, timeout=10)
    client.call("DEL", *[key(str(i)) for i in range(4)], expect=4)


def test_command_with_many_small_arguments(service, resp, key):
    client = resp(service)
    names = [key(str(i)) for i in range(5000)]
    client.call("EXISTS", *names, expect=0)
    client.send_raw(encode_command("MSET", *[p for n in names[:2000] for p in (n, "x")]))
    expect_reply(client.read_reply(), "OK", "reply to MSET of 2000 keys")
    client.call("DEL", *names, expect=2000)
