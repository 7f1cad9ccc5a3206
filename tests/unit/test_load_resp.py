"""The RESP encoder and the reply counter, fed every split of the stream."""

from __future__ import annotations

import random

import pytest

from harness.load import RespReplyCounter, RespSetGetEncoder, WorkloadSpec, get_codec, resp_command

# (frame, top-level replies it holds, of which error replies)
REPLIES: list[tuple[bytes, int, int]] = [
    (b"+OK\r\n", 1, 0),
    (b"-ERR wrong type\r\n", 1, 1),
    (b":1000\r\n", 1, 0),
    (b"$5\r\nhello\r\n", 1, 0),
    (b"$-1\r\n", 1, 0),
    (b"$0\r\n\r\n", 1, 0),
    (b"$12\r\n$3\r\n*2\r\n-x\r\n\r\n", 1, 0),  # a payload that looks like frames
    (b"*-1\r\n", 1, 0),
    (b"*0\r\n", 1, 0),
    (b"*3\r\n:1\r\n$-1\r\n*2\r\n+a\r\n-nested error\r\n", 1, 0),
    (b"%1\r\n+k\r\n*1\r\n$1\r\nv\r\n", 1, 0),
    (b"~2\r\n#t\r\n_\r\n", 1, 0),
    (b"|1\r\n+ttl\r\n:3\r\n,1.5\r\n", 1, 0),  # an attribute, then the reply it annotates
    (b">2\r\n+invalidate\r\n*0\r\n", 0, 0),  # a push is not a reply
    (b"!5\r\nERR x\r\n", 1, 1),
    (b"=7\r\ntxt:abc\r\n", 1, 0),
    (b"(12345678901234567890\r\n", 1, 0),
    (b"*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n", 1, 0),  # an attribute inside an array takes no slot
]
STREAM = b"".join(frame for frame, _, _ in REPLIES)
TOTAL = sum(n for _, n, _ in REPLIES)
ERRORS = sum(e for _, _, e in REPLIES)


def count(pieces: list[bytes]) -> tuple[int, int]:
    counter = RespReplyCounter()
    replies = sum(counter.feed(piece) for piece in pieces)
    return replies, counter.error_replies


def test_each_frame_alone() -> None:
    for frame, replies, errors in REPLIES:
        assert count([frame]) == (replies, errors), frame


def test_whole_stream_at_once() -> None:
    assert count([STREAM]) == (TOTAL, ERRORS)


def test_every_single_split_point() -> None:
    for cut in range(len(STREAM) + 1):
        assert count([STREAM[:cut], STREAM[cut:]]) == (TOTAL, ERRORS), cut


def test_every_pair_of_split_points_in_a_frame_pair() -> None:
    data = b"$10\r\n0123456789\r\n*2\r\n+a\r\n-b\r\n-top\r\n"
    for i in range(len(data) + 1):
        for j in range(i, len(data) + 1):
            assert count([data[:i], data[i:j], data[j:]]) == (3, 1), (i, j)


def test_byte_by_byte() -> None:
    assert count([STREAM[i : i + 1] for i in range(len(STREAM))]) == (TOTAL, ERRORS)


def test_replies_complete_only_when_their_last_byte_arrives() -> None:
    counter = RespReplyCounter()
    assert counter.feed(b"+OK\r") == 0
    assert counter.feed(b"\n$3\r\nab") == 1
    assert counter.feed(b"c\r") == 0
    assert counter.feed(b"\n") == 1


def test_line_only_fast_path_counts_errors() -> None:
    counter = RespReplyCounter()
    assert counter.feed(b"+OK\r\n-ERR a\r\n:1\r\n-ERR b\r\n") == 4
    assert counter.error_replies == 2


def test_large_bulk_is_skipped_not_buffered() -> None:
    counter = RespReplyCounter()
    assert counter.feed(b"$100000\r\n" + b"x" * 10) == 0
    for _ in range(9999):
        assert counter.feed(b"y" * 10) == 0
    assert counter.feed(b"\r\n+OK\r\n") == 2


def test_garbage_raises_value_error() -> None:
    with pytest.raises(ValueError):
        RespReplyCounter().feed(b"$abc\r\n")


def test_encoder_frames_are_counted_as_one_each_and_are_seeded() -> None:
    encoder = RespSetGetEncoder(WorkloadSpec(keyspace=100, value_size=8, read_ratio=0.5))
    frames = encoder.requests(random.Random(7), 200)
    assert frames == encoder.requests(random.Random(7), 200)
    assert frames != encoder.requests(random.Random(8), 200)
    assert count([b"".join(frames)]) == (200, 0)
    gets = [f for f in frames if f.startswith(b"*2\r\n$3\r\nGET\r\n")]
    sets = [f for f in frames if f.startswith(b"*3\r\n$3\r\nSET\r\n")]
    assert len(gets) + len(sets) == 200 and 60 < len(gets) < 140
    assert all(f.endswith(b"\r\n$8\r\n" + f[-10:-2] + b"\r\n") for f in sets)


def test_resp_command_and_registry() -> None:
    assert resp_command(b"GET", b"k") == b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    codec = get_codec("resp-set-get")
    assert isinstance(codec.make_parser(), RespReplyCounter)
    with pytest.raises(ValueError, match="unknown codec"):
        get_codec("nope")
