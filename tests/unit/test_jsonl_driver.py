"""The JSON-lines driver: requests and replies, pushed messages, every misbehaviour as a one-line
CandidateFailure, bounded reading, transcripts and reproduce commands, against an in-process server."""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from harness.drivers.jsonl import (
    ConnectionLost,
    ConnectionNotClosed,
    InvalidJson,
    JsonLinesClient,
    JsonLinesFailure,
    LineTooLong,
    ReplyTimeout,
    ServiceUnreachable,
    decode_object,
    encode_line,
)
from harness.errors import CandidateFailure

Handler = Callable[[socket.socket], None]


@contextlib.contextmanager
def serve(handler: Handler) -> Iterator[int]:
    """A one-connection TCP server on 127.0.0.1 running `handler` in a thread; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def run() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                handler(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        listener.close()
        thread.join(5)


def read_lines(conn: socket.socket, count: int) -> list[bytes]:
    data = b""
    while data.count(b"\n") < count:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n")[:count]


def client(port: int, timeout: float = 2.0, **kwargs: int) -> JsonLinesClient:
    return JsonLinesClient(
        "127.0.0.1", port, timeout=timeout, label="client 1", repro_address=("127.0.0.1", 7400), **kwargs
    )


def assert_one_line(failure: CandidateFailure) -> None:
    assert failure.message and "\n" not in failure.message, failure.message


# --- encoding ------------------------------------------------------------------------------------------


class _Typed:
    def to_json_line(self) -> str:
        return '{"op":"book"}'


def test_encode_line_is_compact_and_ends_in_a_newline() -> None:
    assert (
        encode_line({"op": "new", "qty": "0.1", "note": "é"})
        == '{"op":"new","qty":"0.1","note":"é"}\n'.encode()
    )
    assert encode_line(_Typed()) == b'{"op":"book"}\n'
    assert encode_line({"op": "a\nb"}) == b'{"op":"a\\nb"}\n', "a newline in a value is escaped"
    with pytest.raises(ValueError):
        encode_line(_Newline())


class _Newline:
    def to_json_line(self) -> str:
        return '{"a":1}\n{"b":2}'


def test_decode_object_never_makes_a_float() -> None:
    assert decode_object(b'{"price":45000.5,"n":3}') == {"price": Decimal("45000.5"), "n": 3}
    for bad in (b"[1]", b'"x"', b"{", b'{"x":NaN}'):
        with pytest.raises(ValueError):
            decode_object(bad)


# --- requests and replies ------------------------------------------------------------------------------


def test_request_returns_the_reply_and_records_a_transcript() -> None:
    def handler(conn: socket.socket) -> None:
        assert read_lines(conn, 1) == [b'{"op":"login","account":"a\\"b"}']
        conn.sendall(b'{"type":"login_')  # a reply in pieces
        time.sleep(0.02)
        conn.sendall(b'ack","account":"a\\"b"}\n')
        read_lines(conn, 1)
        conn.sendall(b'{"type":"snapshot","seq":0}\r\n{"type":"extra"}\n')

    with serve(handler) as port, client(port) as c:
        assert c.request({"op": "login", "account": 'a"b'}) == {"type": "login_ack", "account": 'a"b'}
        assert c.request(_Typed()) == {"type": "snapshot", "seq": 0}
        assert c.read_line() == '{"type":"extra"}'
        text = c.transcript()
    assert text.startswith("client 1 (127.0.0.1:")
    assert '>> "{\\"op\\":\\"login\\",\\"account\\":\\"a\\\\\\"b\\"}\\n"' in text
    assert '<< "{\\"type\\":\\"snapshot\\",\\"seq\\":0}\\r"' in text


def test_request_with_a_reply_predicate_keeps_pushed_messages() -> None:
    def handler(conn: socket.socket) -> None:
        read_lines(conn, 1)
        conn.sendall(
            b'{"type":"fill","trade_id":1}\n{"type":"fill","trade_id":2}\n{"type":"ack","order_id":9}\n'
        )
        time.sleep(0.2)

    with serve(handler) as port, client(port) as c:
        reply = c.request({"op": "new"}, reply=lambda m: m["type"] == "ack")
        assert reply == {"type": "ack", "order_id": 9}
        assert [m["trade_id"] for m in c.pushed] == [1, 2]


# --- failures ------------------------------------------------------------------------------------------


def test_connection_refused_is_a_candidate_failure() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens here now
    with pytest.raises(ServiceUnreachable, match=rf"could not connect to 127.0.0.1:{port}: ") as info:
        client(port)
    assert isinstance(info.value, JsonLinesFailure) and isinstance(info.value, CandidateFailure)
    assert_one_line(info.value)


def test_no_reply_in_time() -> None:
    with serve(lambda conn: (read_lines(conn, 1), time.sleep(0.5))) as port, client(port) as c:
        started = time.monotonic()
        with pytest.raises(
            ReplyTimeout, match=r'^no line within 0.2 s after the line "{\\"op\\":\\"book\\"}"$'
        ) as info:
            c.request({"op": "book"}, timeout=0.2)
        assert time.monotonic() - started < 1.5
    assert_one_line(info.value)
    assert "no line within 0.2 s" in c.transcript()


def test_partial_line_then_timeout_says_how_much_arrived() -> None:
    def handler(conn: socket.socket) -> None:
        read_lines(conn, 1)
        conn.sendall(b'{"type":')
        time.sleep(0.5)

    with (
        serve(handler) as port,
        client(port) as c,
        pytest.raises(ReplyTimeout, match=r"only 8 bytes of it arrived"),
    ):
        c.request({"op": "book"}, timeout=0.2)


def test_closed_instead_of_a_reply() -> None:
    with serve(lambda conn: read_lines(conn, 1)) as port, client(port) as c:
        with pytest.raises(ConnectionLost, match="closed by the service instead of a line") as info:
            c.request({"op": "book"})
        assert c.is_closed
        assert_one_line(info.value)
        with pytest.raises(ConnectionLost, match="already closed by the service"):
            c.send({"op": "book"})


def test_closed_in_the_middle_of_a_line() -> None:
    def handler(conn: socket.socket) -> None:
        read_lines(conn, 1)
        conn.sendall(b'{"type":"ack"')

    middle = r"in the middle of a line .* \(after 13 bytes without a newline\)"
    with serve(handler) as port, client(port) as c, pytest.raises(ConnectionLost, match=middle):
        c.request({"op": "book"})


def test_reset_is_a_connection_lost() -> None:
    def handler(conn: socket.socket) -> None:
        read_lines(conn, 1)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST

    with (
        serve(handler) as port,
        client(port) as c,
        pytest.raises(ConnectionLost, match="reset by the service"),
    ):
        c.request({"op": "book"})


@pytest.mark.parametrize(
    ("sent", "why"),
    [
        (b"{not json\n", "not a JSON object"),
        (b"[1,2]\n", "not a JSON object"),
        (b'{"x":NaN}\n', "not a JSON object"),
        (b'{"x":"\xff"}\n', "not UTF-8"),
    ],
)
def test_a_line_that_is_not_a_json_object(sent: bytes, why: str) -> None:
    def handler(conn: socket.socket) -> None:
        read_lines(conn, 1)
        conn.sendall(sent)
        time.sleep(0.2)

    with serve(handler) as port, client(port) as c:
        with pytest.raises(InvalidJson, match=why) as info:
            c.request({"op": "book"})
        assert_one_line(info.value)


def test_an_oversized_line_fails_without_unbounded_buffering() -> None:
    stop = threading.Event()

    def handler(conn: socket.socket) -> None:
        read_lines(conn, 1)
        with contextlib.suppress(OSError):
            while not stop.is_set():  # a newline never comes
                conn.sendall(b"a" * 65536)

    with serve(handler) as port, client(port, max_line_bytes=100_000) as c:
        try:
            with pytest.raises(LineTooLong, match=r"longer than 100000 bytes") as info:
                c.request({"op": "book"})
            assert len(c._buffer) < 100_000 + 256 * 1024, "the client kept reading past its bound"
            assert_one_line(info.value)
        finally:
            stop.set()


def test_a_line_exactly_at_the_bound_is_accepted() -> None:
    line = b'{"pad":"' + b"x" * (1000 - 10) + b'"}'
    assert len(line) == 1000

    def handler(conn: socket.socket) -> None:
        read_lines(conn, 1)
        conn.sendall(line + b"\n")

    with serve(handler) as port, client(port, max_line_bytes=1000) as c:
        assert len(c.request({"op": "book"})["pad"]) == 990


def test_expect_closed_and_expect_silence() -> None:
    def handler(conn: socket.socket) -> None:
        read_lines(conn, 1)
        conn.sendall(b'{"type":"reject","reason":"line_too_long"}\n')

    with serve(handler) as port, client(port) as c:
        c.send_line(b"x" * 5000)
        assert c.read_json()["reason"] == "line_too_long"
        c.expect_closed(timeout=2)

    def chatty(conn: socket.socket) -> None:
        read_lines(conn, 1)
        time.sleep(0.1)
        conn.sendall(b'{"type":"late"}\n')
        time.sleep(0.5)

    with serve(chatty) as port, client(port) as c:
        c.send({"op": "x"})
        with pytest.raises(ConnectionNotClosed, match=r"but it sent .*late") as info:
            c.expect_closed(timeout=2)
        assert_one_line(info.value)

    with serve(chatty) as port, client(port) as c:
        c.send({"op": "x"})
        c.expect_silence(0.05)
        with pytest.raises(AssertionError, match=r"expected nothing more .* got .*late"):
            c.expect_silence(1.0)


# --- reproduce -----------------------------------------------------------------------------------------


def _echo_ok(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while conn.recv(65536):
            conn.sendall(b'{"type":"ok"}\n')


def _shell_output(command: str) -> bytes:
    """Run a reproduce command with netcat replaced by `cat`, returning the bytes it would send."""
    body, _, address = command.rpartition(" | nc -q1 ")
    assert body and address == "127.0.0.1 7400", command
    return subprocess.run(["sh", "-c", body], capture_output=True, check=True, timeout=10).stdout


def test_reproduce_sends_exactly_the_same_bytes_with_pauses() -> None:
    with serve(_echo_ok) as port, client(port) as c:
        assert c.reproduce() is None
        c.send({"op": "login", "account": "it's"})
        c.read_line()
        time.sleep(0.1)
        c.send_line('{"op":"x","s":"100% \\\\ -"}')
        c.send_raw(b"-" + b"z" * 300 + b"\x00\xff\n")
        command = c.reproduce()
    assert command is not None
    assert "sleep 0.1" in command
    assert "head -c 300 /dev/zero | tr" in command, "long runs are generated, not spelled out"
    expected = (
        b'{"op":"login","account":"it\'s"}\n{"op":"x","s":"100% \\\\ -"}\n'
        + b"-"
        + b"z" * 300
        + b"\x00\xff\n"
    )
    assert _shell_output(command) == expected


def test_reproduce_of_a_long_session_keeps_the_first_line_and_the_latest() -> None:
    with serve(_echo_ok) as port, client(port) as c:
        c.send({"op": "login", "account": "a"})
        for index in range(60):
            c.send({"op": "new", "client_order_id": f"order-{index:03d}", "qty": "0.10000000"})
        command = c.reproduce()
    assert command is not None and len(command) <= 1800
    sent = _shell_output(command).decode().splitlines()
    assert sent[0] == '{"op":"login","account":"a"}'
    assert sent[-1] == '{"op":"new","client_order_id":"order-059","qty":"0.10000000"}'
    numbers = [int(line.split("order-")[1][:3]) for line in sent[1:]]
    assert numbers == list(range(60 - len(numbers), 60)) and len(numbers) >= 5
