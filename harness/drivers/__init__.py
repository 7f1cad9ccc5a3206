"""Protocol clients scenarios use to drive a service under test, each recording a readable transcript."""

from harness.drivers.resp import (
    ConnectionLost,
    ConnectionNotClosed,
    MalformedReply,
    ReplyTimeout,
    ReplyTooLarge,
    RespClient,
    RespError,
    RespFailure,
    RespParser,
    SendTimeout,
    ServiceUnreachable,
    encode_command,
    encode_reply,
    expect_reply,
    show_reply,
)

__all__ = [
    "ConnectionLost",
    "ConnectionNotClosed",
    "MalformedReply",
    "ReplyTimeout",
    "ReplyTooLarge",
    "RespClient",
    "RespError",
    "RespFailure",
    "RespParser",
    "SendTimeout",
    "ServiceUnreachable",
    "encode_command",
    "encode_reply",
    "expect_reply",
    "show_reply",
]
