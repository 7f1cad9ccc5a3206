"""Request framing: pipelines split at every byte boundary or sent a byte at a time, large pipelines
written before any reply is read, inline commands, and requests that are empty."""

import time

import pytest

from harness.drivers.resp import encode_command, expect_reply

pytestmark = pytest.mark.criterion("framing")


def _pipeline(key, round_):
    """A small pipeline whose replies depend on the round, so a stale reply shows; same length every round."""
    value = f"v{round_:04d}\r\n*1\r\n$4\r\nPING\r\n".encode()  # payload that looks like a request
    commands = [
        ("SET", key("k"), value),
        ("GET", key("k")),
        ("INCR", key("n")),
        ("ECHO", f"r{round_:04d}"),
        ("DEL", key("k")),
    ]
    expected = ["OK", value, round_ + 1, f"r{round_:04d}".encode(), 1]
    return b"".join(encode_command(*c) for c in commands), expected


def test_pipeline_split_at_every_byte_boundary(service, resp, key):
    client = resp(service)
    data, _ = _pipeline(key, 0)
    for split in range(1, len(data)):
        data, expected = _pipeline(key, split - 1)
        client.send_raw(data[:split])
        time.sleep(0.002)  # let the first part arrive on its own
        client.send_raw(data[split:])
        replies = [client.read_reply() for _ in expected]
        expect_reply(replies, expected, f"replies to a pipeline split after byte {split} of {len(data)}")


def test_pipeline_sent_one_byte_at_a_time(service, resp, key):
    client = resp(service)
    data, expected = _pipeline(key, 0)
    for index in range(len(data)):
        client.send_raw(data[index : index + 1])
        time.sleep(0.001)
    replies = [client.read_reply() for _ in expected]
    expect_reply(replies, expected, f"replies to a pipeline of {len(expected)} sent one byte at a time")


def test_large_value_arriving_in_random_pieces(service, resp, key, rng):
    client = resp(service)
    value = rng.randbytes(32) * 4096  # 128 KiB
    data = encode_command("SET", key(), value) + encode_command("GET", key())
    cuts = sorted(rng.sample(range(1, len(data)), 40))
    for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
        client.send_raw(data[start:end])
    expect_reply(client.read_reply(), "OK", "reply to SET of 128 KiB sent in 41 pieces")
    expect_reply(client.read_reply(), value, "reply to GET of that value")


def test_large_pipeline_written_before_any_reply_is_read(service, resp, key):
    client = resp(service)
    count = 5000
    commands = []
    expected = []
    for i in range(count):
        commands.append(("SET", key(str(i % 500)), f"{i:0100d}"))
        expected.append("OK")
        commands.append(("GET", key(str(i % 500))))
        expected.append(f"{i:0100d}".encode())
    client.pipeline(commands, expect=expected, timeout=10)


def test_inline_commands(service, resp, key):
    client = resp(service)
    client.send_raw(b"PING\r\n")
    expect_reply(client.read_reply(), "PONG", "reply to inline PING")
    client.send_raw(f"SET {key()} hello\r\n".encode())
    expect_reply(client.read_reply(), "OK", "reply to inline SET")
    client.send_raw(f"GET {key()}\n".encode())
    expect_reply(client.read_reply(), b"hello", "reply to inline GET ended by a bare \\n")
    client.send_raw(f"exists {key()} {key()}\r\nECHO world\r\n".encode())
    expect_reply(client.read_reply(), 2, "reply to inline EXISTS")
    expect_reply(client.read_reply(), b"world", "reply to inline ECHO sent in the same write")


def test_inline_and_multibulk_requests_mixed_in_one_write(service, resp, key):
    client = resp(service)
    client.send_raw(
        f"SET {key()} 1\r\n".encode()
        + encode_command("INCR", key())
        + f"INCRBY {key()} 10\n".encode()
        + encode_command("GET", key())
    )
    replies = [client.read_reply() for _ in range(4)]
    expect_reply(replies, ["OK", 2, 12, b"12"], "replies to inline and multibulk requests interleaved")


def test_inline_request_split_across_writes(service, resp, key):
    client = resp(service)
    for piece in [b"SE", f"T {key()} spl".encode(), b"it\r", b"\nGET ", f"{key()}\r\n".encode()]:
        client.send_raw(piece)
        time.sleep(0.005)
    expect_reply(client.read_reply(), "OK", "reply to an inline SET split across writes")
    expect_reply(client.read_reply(), b"split", "reply to the inline GET after it")


def test_empty_requests_are_ignored(service, resp):
    client = resp(service)
    client.send_raw(b"\r\n\n*0\r\n*-10\r\n\r\nPING\r\n")
    expect_reply(client.read_reply(), "PONG", "first reply after empty lines, *0 and *-10, then PING")
    client.call("ECHO", "still open", expect=b"still open")
