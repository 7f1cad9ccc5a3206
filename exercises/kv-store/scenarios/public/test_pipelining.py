"""Several commands sent in one write, answered in order."""

import pytest

pytestmark = pytest.mark.criterion("pipelining-basics")


def test_pipelined_commands_are_answered_in_order(service, resp, key):
    client = resp(service)
    client.pipeline(
        [
            ("SET", key(), "1"),
            ("INCR", key()),
            ("GET", key()),
            ("PING",),
            ("ECHO", "done"),
            ("DEL", key()),
        ],
        expect=["OK", 2, b"2", "PONG", b"done", 1],
    )


def test_pipeline_of_one_hundred_sets_and_gets(service, resp, key):
    client = resp(service)
    commands = [("SET", key(str(i)), f"value-{i}") for i in range(50)]
    commands += [("GET", key(str(i))) for i in range(50)]
    expected = ["OK"] * 50 + [f"value-{i}".encode() for i in range(50)]
    client.pipeline(commands, expect=expected)
