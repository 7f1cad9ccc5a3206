"""The RESP2 driver: codec, incremental parsing, failures as CandidateFailure, transcripts, reproduce."""

from __future__ import annotations

import contextlib
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from harness.drivers.resp import (
    MAX_REPLY_BYTES,
    ConnectionLost,
    ConnectionNotClosed,
    MalformedReply,
    Reply,
    ReplyTimeout,
    ReplyTooLarge,
    RespClient,
    RespError,
    RespFailure,
    RespParser,
    ServiceUnreachable,
    encode_command,
    encode_reply,
    expect_reply,
    render_bytes,
    show_reply,
)
from harness.errors import CandidateFailure

SAMPLES: list[Reply] = [
    "OK",
    "",
    RespError("ERR wrong number of arguments for 'get' command"),
    0,
    -9223372036854775808,
    9223372036854775807,
    b"",
    b"v",
    b"with\r\ncrlf\x00and\xffbinary",
    None,
    [],
    [b"a", None, 3, "OK", RespError("ERR x"), [b"nested", [None, []]]],
]


def _parse_all(parser: RespParser) -> list[tuple[Reply, bytes]]:
    out = []
    while (got := parser.next_reply()) is not None:
        out.append(got)
    return out


# --- values and codec ----------------------------------------------------------------------------------


def test_resp_error_is_a_value_distinct_from_a_simple_string() -> None:
    error = RespError("ERR x")
    assert error == RespError("ERR x")
    assert error != "ERR x"
    assert "ERR x" != error  # noqa: SIM300 - the reflected comparison is the point
    assert error.kind == "ERR"
    assert error.startswith("ERR")
    assert repr(error) == "RespError('ERR x')"
    assert not isinstance(error, Exception)


def test_encode_command_makes_a_multibulk_of_bulk_strings() -> None:
    assert encode_command("GET", b"k\x00", 12) == b"*3\r\n$3\r\nGET\r\n$2\r\nk\x00\r\n$2\r\n12\r\n"
    assert encode_command() == b"*0\r\n"
    with pytest.raises(TypeError):
        encode_command("SET", 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_command("SET", True)


@pytest.mark.parametrize("value", SAMPLES, ids=[show_reply(s) for s in SAMPLES])
def test_every_reply_type_round_trips(value: Reply) -> None:
    parser = RespParser()
    data = encode_reply(value)
    parser.feed(data + b"+next\r\n")
    assert _parse_all(parser) == [(value, data), ("next", b"+next\r\n")]


def test_null_array_decodes_to_none() -> None:
    parser = RespParser()
    parser.feed(b"*-1\r\n")
    assert parser.next_reply() == (None, b"*-1\r\n")


def test_incremental_parsing_at_every_split_point() -> None:
    stream = b"".join(encode_reply(v) for v in SAMPLES)
    expected = [(v, encode_reply(v)) for v in SAMPLES]
    for split in range(len(stream) + 1):
        parser = RespParser()
        parser.feed(stream[:split])
        got = _parse_all(parser)
        parser.feed(stream[split:])
        got += _parse_all(parser)
        assert got == expected, f"split at {split}"
        assert parser.pending == b""


def test_incremental_parsing_one_byte_at_a_time() -> None:
    stream = b"".join(encode_reply(v) for v in SAMPLES)
    parser = RespParser()
    got = []
    for index in range(len(stream)):
        parser.feed(stream[index : index + 1])
        got += _parse_all(parser)
    assert [v for v, _ in got] == SAMPLES


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"+OK\n", "bare LF"),
        (b"\n", "not a RESP2 type"),
        (b"!oops\r\n", "not a RESP2 type"),
        (b"_\r\n", "not a RESP2 type"),
        (b"$3\r\nabcXY", "not followed by CRLF"),
        (b"$-2\r\n", "negative length"),
        (b"*-5\r\n", "negative length"),
        (b"$abc\r\n", "not followed by a valid length"),
        (b"$+3\r\nabc\r\n", "not followed by a valid length"),
        (b":1.5\r\n", "not an integer"),
        (b":123456789012345678901\r\n", "not an integer"),
    ],
)
def test_malformed_replies_are_candidate_failures(data: bytes, fragment: str) -> None:
    parser = RespParser()
    parser.feed(data)
    with pytest.raises(MalformedReply, match=fragment) as info:
        parser.next_reply()
    assert isinstance(info.value, CandidateFailure)


def test_oversized_replies_are_refused_as_soon_as_they_are_announced() -> None:
    parser = RespParser(max_reply_bytes=1024)
    parser.feed(b"$4611686018427387904\r\n")
    with pytest.raises(ReplyTooLarge):
        parser.next_reply()
    parser = RespParser(max_reply_bytes=1024)
    parser.feed(b"*2147483647\r\n")
    with pytest.raises(ReplyTooLarge):
        parser.next_reply()
    parser = RespParser(max_reply_bytes=1024)
    parser.feed(b"*3\r\n$600\r\n" + b"x" * 600 + b"\r\n$600\r\n")
    with pytest.raises(ReplyTooLarge):
        parser.next_reply()


def test_long_lines_and_deep_nesting_are_refused() -> None:
    parser = RespParser(max_line_bytes=100)
    parser.feed(b"+" + b"x" * 200)
    with pytest.raises(MalformedReply, match="longer than 100"):
        parser.next_reply()
    parser = RespParser(max_depth=4)
    parser.feed(b"*1\r\n" * 10 + b":1\r\n")
    with pytest.raises(MalformedReply, match="nested"):
        parser.next_reply()


def test_a_bulk_reply_at_the_default_limit_is_accepted() -> None:
    parser = RespParser()
    payload = b"x" * (MAX_REPLY_BYTES - 100)
    parser.feed(encode_reply(payload))
    got = parser.next_reply()
    assert got is not None and got[0] == payload


# --- rendering -----------------------------------------------------------------------------------------


def test_bytes_render_readably_with_escapes_and_elision() -> None:
    assert render_bytes(b'a\r\n\t\\"\x00\xff') == '"a\\r\\n\\t\\\\\\"\\x00\\xff"'
    long = render_bytes(b"a" * 1000 + b"END", 40)
    assert long.startswith('"aaaa') and long.endswith('END"') and "bytes elided" in long
    assert len(long) < 120


def test_show_reply_reads_like_redis_cli() -> None:
    assert show_reply("OK") == "OK"
    assert show_reply(b"v") == '"v"'
    assert show_reply(3) == "(integer) 3"
    assert show_reply(None) == "(nil)"
    assert show_reply(RespError("ERR x")) == "(error) ERR x"
    assert show_reply([b"a", None]) == '["a", (nil)]'


def test_expect_reply_says_what_was_expected_and_what_came_back() -> None:
    expect_reply(b"v", b"v", "GET k")
    with pytest.raises(AssertionError, match=r'^GET k: expected "v", got \(nil\)$'):
        expect_reply(None, b"v", "GET k")
    with pytest.raises(AssertionError, match=r"expected OK, got \(error\) OK"):
        expect_reply(RespError("OK"), "OK", "SET")


# --- a scripted server ---------------------------------------------------------------------------------

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


def read_until(conn: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def client(port: int, timeout: float = 2.0) -> RespClient:
    return RespClient("127.0.0.1", port, timeout=timeout, label="client 1", repro_address=("127.0.0.1", 6379))


def test_call_returns_the_reply_and_records_a_transcript() -> None:
    def handler(conn: socket.socket) -> None:
        assert read_until(conn, b"k\r\n") == b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
        conn.sendall(b"$1\r")  # a reply in pieces
        time.sleep(0.02)
        conn.sendall(b"\nv\r\n")
        read_until(conn, b"PING\r\n")
        conn.sendall(b"+PONG\r\n:1\r\n")

    with serve(handler) as port, client(port) as c:
        assert c.call("GET", "k", expect=b"v") == b"v"
        assert c.pipeline([["PING"], ["EXISTS", "k"]]) == ["PONG", 1]
        text = c.transcript()
    assert text.startswith(f"client 1 (127.0.0.1:{port}):")
    assert ">> GET k" in text
    assert '<< "$1\\r\\nv\\r\\n"' in text
    assert ">> pipeline of 2: PING | EXISTS k" in text
    assert '<< 2 replies: "+PONG\\r\\n:1\\r\\n"' in text


def test_no_reply_in_time_is_a_one_line_candidate_failure() -> None:
    with serve(lambda conn: (read_until(conn, b"\r\nk\r\n"), time.sleep(0.5))) as port, client(port) as c:
        started = time.monotonic()
        with pytest.raises(ReplyTimeout) as info:
            c.call("GET", "k", timeout=0.2)
        assert time.monotonic() - started < 0.45
    assert info.value.message == "no reply within 0.2 s to GET k"
    assert isinstance(info.value, CandidateFailure)


def test_a_closed_connection_is_a_candidate_failure() -> None:
    with serve(lambda conn: read_until(conn, b"\r\nk\r\n")) as port, client(port) as c:
        with pytest.raises(ConnectionLost, match="closed by the service instead of a reply to GET k"):
            c.call("GET", "k")
        with pytest.raises(ConnectionLost, match="already closed"):
            c.call("PING")


def test_a_reset_connection_is_a_candidate_failure() -> None:
    def handler(conn: socket.socket) -> None:
        read_until(conn, b"PING\r\n")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with serve(handler) as port, client(port) as c, pytest.raises(ConnectionLost, match="reset"):
        c.call("PING")


def test_a_reply_cut_short_says_so() -> None:
    def handler(conn: socket.socket) -> None:
        read_until(conn, b"\r\nk\r\n")
        conn.sendall(b"$10\r\nabc")

    with serve(handler) as port, client(port) as c:
        with pytest.raises(ConnectionLost, match="in the middle of the reply to GET k"):
            c.call("GET", "k")
        assert 'abc"' in c.transcript()


def test_a_refused_connection_is_a_candidate_failure() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(ServiceUnreachable, match=f"could not connect to 127.0.0.1:{port}"):
        client(port)


def test_a_hostile_length_fails_fast_without_allocating() -> None:
    def handler(conn: socket.socket) -> None:
        read_until(conn, b"PING\r\n")
        conn.sendall(b"$9000000000000000000\r\n")
        time.sleep(0.5)

    with serve(handler) as port, client(port) as c:
        started = time.monotonic()
        with pytest.raises(ReplyTooLarge, match="reply to PING"):
            c.call("PING")
        assert time.monotonic() - started < 0.4


def test_malformed_reply_names_the_command() -> None:
    def handler(conn: socket.socket) -> None:
        read_until(conn, b"PING\r\n")
        conn.sendall(b"PONG\r\n")

    with (
        serve(handler) as port,
        client(port) as c,
        pytest.raises(MalformedReply, match="in the reply to PING"),
    ):
        c.call("PING")


def test_expect_closed_passes_on_close_and_fails_otherwise() -> None:
    def closes(conn: socket.socket) -> None:
        read_until(conn, b"\r\n")
        conn.sendall(b"-ERR Protocol error: invalid multibulk length\r\n")

    with serve(closes) as port, client(port) as c:
        c.send_raw(b"*abc\r\n")
        assert c.read_reply() == RespError("ERR Protocol error: invalid multibulk length")
        c.expect_closed(1.0)
        assert c.is_closed

    with serve(lambda conn: (read_until(conn, b"\r\n"), time.sleep(0.6))) as port, client(port) as c:
        c.send_raw(b"*abc\r\n")
        with pytest.raises(ConnectionNotClosed, match=r"still open 0\.2 s later"):
            c.expect_closed(0.2)

    def talks(conn: socket.socket) -> None:
        read_until(conn, b"\r\n")
        conn.sendall(b"+extra\r\n")
        time.sleep(0.3)

    with serve(talks) as port, client(port) as c:
        c.send_raw(b"*abc\r\n")
        with pytest.raises(ConnectionNotClosed, match="extra"):
            c.expect_closed(1.0)


def test_expect_silence() -> None:
    def pushes(conn: socket.socket) -> None:
        read_until(conn, b"\r\n")
        time.sleep(0.1)
        conn.sendall(b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n")
        time.sleep(0.3)

    with serve(pushes) as port, client(port) as c:
        c.send_raw(b"SUBSCRIBE c\r\n")
        c.expect_silence(0.05)
        with pytest.raises(AssertionError, match=r'got \["message", "c", "m"\]'):
            c.expect_silence(0.5)


def test_a_service_closing_while_a_large_request_is_sent_is_reported_by_the_read() -> None:
    def rejects(conn: socket.socket) -> None:
        conn.recv(1000)
        conn.sendall(b"-ERR Protocol error: too big inline request\r\n")

    with serve(rejects) as port, client(port) as c:
        c.send_raw(b"a" * 4_000_000)  # must not raise although the peer stops reading
        assert c.read_reply() == RespError("ERR Protocol error: too big inline request")
        c.expect_closed(2.0)


def test_every_failure_is_a_candidate_failure() -> None:
    for failure in (ServiceUnreachable, ReplyTimeout, ConnectionLost, ConnectionNotClosed, MalformedReply):
        assert issubclass(failure, RespFailure)
        assert issubclass(failure, CandidateFailure)


# --- reproduce -----------------------------------------------------------------------------------------


def _echo_server(conn: socket.socket) -> None:
    """Answers +OK to every complete line or command it can see, until the client closes."""
    with contextlib.suppress(OSError):
        while conn.recv(65536):
            conn.sendall(b"+OK\r\n")


def _shell_output(command: str) -> bytes:
    """Run a reproduce command with netcat replaced by `cat`, returning the bytes it would send."""
    body, _, _ = command.rpartition(" | nc -q1 ")
    assert body, command
    return subprocess.run(["sh", "-c", body], capture_output=True, check=True, timeout=10).stdout


def test_reproduce_plain_commands_as_redis_cli_lines() -> None:
    with serve(_echo_server) as port, client(port) as c:
        c.call("SET", "it's", "a b")
        c.call("GET", "it's")
        command = c.reproduce()
    assert command == (
        "redis-cli -h 127.0.0.1 -p 6379 SET 'it'\"'\"'s' 'a b'; "
        "redis-cli -h 127.0.0.1 -p 6379 GET 'it'\"'\"'s'"
    )


def test_reproduce_raw_bytes_through_printf_exactly() -> None:
    tricky = b"-dash '%s' \\ \x00\x01\xff\r\n" + b"x" * 500 + b"\r\n*1\r\n$4\r\nPING\r\n"
    with serve(_echo_server) as port, client(port) as c:
        c.send_raw(tricky)
        c.read_reply()
        c.call("SET", "k", b"\x00bin")
        command = c.reproduce()
    assert command is not None
    assert command.endswith(" | nc -q1 127.0.0.1 6379")
    assert "head -c 500 /dev/zero | tr" in command
    assert _shell_output(command) == tricky + encode_command("SET", "k", b"\x00bin")


def test_reproduce_keeps_only_the_last_few_sends_and_pauses() -> None:
    with serve(_echo_server) as port, client(port) as c:
        for index in range(9):
            c.call("SET", f"k{index}", "v")
        time.sleep(0.12)
        c.call("GET", "k8")
        command = c.reproduce()
    assert command is not None
    assert "k4" not in command and "SET k5 v" in command
    assert "; sleep 0.1" in command
    assert command.endswith("GET k8")


def test_reproduce_uses_netcat_for_subscriptions_and_split_writes() -> None:
    with serve(_echo_server) as port, client(port) as c:
        c.send_raw(b"*1\r\n$4\r\nPI")
        c.send_raw(b"NG\r\n")
        c.read_reply()
        c.send("SUBSCRIBE", "ch")
        command = c.reproduce()
        text = c.transcript()
    assert command is not None
    assert _shell_output(command) == b"*1\r\n$4\r\nPING\r\n" + encode_command("SUBSCRIBE", "ch")
    assert "(in 2 writes: 10 + 4 bytes)" in text


def test_reproduce_is_none_before_anything_is_sent() -> None:
    with serve(_echo_server) as port, client(port) as c:
        assert c.reproduce() is None
        assert c.transcript() == ""


# --- against a real redis-server, when one is installed -----------------------------------------------


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with tempfile.TemporaryDirectory() as workdir:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--proto-max-bulk-len",
                "1mb",
                "--dir",
                workdir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                    break
                time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(10)


def test_against_redis_server(redis_port: int) -> None:
    with client(redis_port) as c:
        assert c.call("SET", "driver:k", b"v\r\n\x00") == "OK"
        assert c.call("GET", "driver:k") == b"v\r\n\x00"
        assert c.call("GET") == RespError("ERR wrong number of arguments for 'get' command")
        assert c.pipeline([["DEL", "driver:k"], ["MGET", "driver:k", "driver:x"]]) == [1, [None, None]]
        big = b"y" * (1024 * 1024)
        assert c.call("SET", "driver:big", big) == "OK"
        assert c.call("GET", "driver:big") == big
        c.send_raw(b"*1\r\n$1048577\r\n")
        assert c.read_reply() == RespError("ERR Protocol error: invalid bulk length")
        c.expect_closed(2.0)
