"""Malformed requests: Redis's exact protocol error, then the connection closes; the server keeps
serving everyone else."""

import pytest

from harness.drivers.resp import RespError, encode_command, expect_reply, render_bytes

pytestmark = pytest.mark.criterion("protocol-errors")

MULTIBULK = RespError("ERR Protocol error: invalid multibulk length")
BULK = RespError("ERR Protocol error: invalid bulk length")

CASES = [
    pytest.param(b"*abc\r\n", MULTIBULK, id="count not a number"),
    pytest.param(b"*2147483648\r\n", MULTIBULK, id="count above 2147483647"),
    pytest.param(b"*1\r\n$-10\r\n", BULK, id="negative bulk length"),
    pytest.param(b"*1\r\n$-1\r\n", BULK, id="bulk length -1 in a request"),
    pytest.param(b"*1\r\n$abc\r\n", BULK, id="bulk length not a number"),
    pytest.param(
        b"*1\r\nfoo\r\n", RespError("ERR Protocol error: expected '$', got 'f'"), id="no $ before an argument"
    ),
    pytest.param(
        b"*2\r\n$4\r\nECHO\r\nxyz\r\n",
        RespError("ERR Protocol error: expected '$', got 'x'"),
        id="no $ before the second argument",
    ),
]


@pytest.mark.parametrize(("request_bytes", "error"), CASES)
def test_protocol_error_is_reported_then_the_connection_closes(service, resp, request_bytes, error):
    client = resp(service)
    client.send_raw(request_bytes)
    expect_reply(client.read_reply(), error, f"reply to {render_bytes(request_bytes)}")
    client.expect_closed(timeout=2.0)
    resp(service).call("PING", expect="PONG")


@pytest.mark.parametrize(("request_bytes", "error"), CASES[:1] + CASES[5:6])
def test_protocol_error_split_across_writes(service, resp, request_bytes, error):
    client = resp(service)
    for index in range(len(request_bytes)):
        client.send_raw(request_bytes[index : index + 1])
    expect_reply(client.read_reply(), error, f"reply to {render_bytes(request_bytes)} sent a byte at a time")
    client.expect_closed(timeout=2.0)


def test_replies_before_a_protocol_error_are_sent_first(service, resp, key):
    client = resp(service)
    client.send_raw(
        encode_command("SET", key("before"), "v")
        + encode_command("GET", key("before"))
        + b"*abc\r\n"
        + encode_command("SET", key("after"), "v")
    )
    replies = [client.read_reply() for _ in range(3)]
    expect_reply(replies, ["OK", b"v", MULTIBULK], "replies to SET, GET, then *abc in one write")
    client.expect_closed(timeout=2.0)
    resp(service).call("EXISTS", key("after"), expect=0)


def test_protocol_error_on_one_connection_does_not_disturb_another(service, resp, key):
    bystander = resp(service)
    bystander.call("SET", key(), "1", expect="OK")
    offender = resp(service)
    offender.send_raw(b"*1\r\n$-10\r\n")
    expect_reply(offender.read_reply(), BULK, "reply to *1\\r\\n$-10\\r\\n")
    offender.expect_closed(timeout=2.0)
    bystander.call("INCR", key(), expect=2)
