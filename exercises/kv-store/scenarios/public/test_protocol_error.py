"""A malformed request is answered with Redis's protocol error, then the connection is closed."""

import pytest

from harness.drivers.resp import RespError, expect_reply

pytestmark = pytest.mark.criterion("protocol-error-basics")


def test_missing_bulk_header_is_a_protocol_error_and_closes(service, resp):
    client = resp(service)
    client.send_raw(b"*1\r\nfoo\r\n")
    expect_reply(
        client.read_reply(),
        RespError("ERR Protocol error: expected '$', got 'f'"),
        r"reply to *1\r\nfoo\r\n",
    )
    client.expect_closed(timeout=2.0)
    resp(service).call("PING", expect="PONG")
