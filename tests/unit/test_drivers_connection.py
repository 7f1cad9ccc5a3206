"""What the RESP and JSON-lines drivers share (connection.py, reproduce.py): the bounded transcript, the
shell pieces of reproduce commands, and the send path's failures, each raised as the driver's own class.

Reading, framing and the rest are tested through each driver (test_resp_driver.py, test_jsonl_driver.py).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest

from harness.drivers import jsonl, resp
from harness.drivers.connection import Event, Transcript
from harness.drivers.reproduce import netcat, pause, printf, shell_pieces
from harness.errors import CandidateFailure

# --- transcript ----------------------------------------------------------------------------------------


def test_an_empty_transcript_renders_as_nothing() -> None:
    assert Transcript().render("client 1 (127.0.0.1:6379)") == ""


def test_a_transcript_keeps_the_latest_events_and_counts_the_dropped() -> None:
    transcript = Transcript(limit=3)
    for number in range(5):
        transcript.push(Event(float(number), "send", f"line {number}"))
    transcript.push(Event(12.5, "recv", "the end"))
    assert transcript.dropped == 3
    assert transcript.render("client 1 (h:1)").splitlines() == [
        "client 1 (h:1):",
        "  \u2026 3 earlier events not shown",
        "  [  3.000 s] >> line 3",
        "  [  4.000 s] >> line 4",
        "  [ 12.500 s] << the end",
    ]


def test_a_note_is_stamped_with_the_time_since_the_transcript_began() -> None:
    ticks = iter([100.0, 101.25])
    transcript = Transcript(clock=lambda: next(ticks))
    transcript.note("connection closed by the service")
    assert transcript.render("c") == "c:\n  [  1.250 s] -- connection closed by the service"


def test_events_show_their_direction() -> None:
    assert [Event(0, kind, "x").show() for kind in ("send", "recv", "note")] == [">> x", "<< x", "-- x"]


# --- reproduce pieces ----------------------------------------------------------------------------------


def test_printf_reproduces_every_byte() -> None:
    data = b"-" + bytes(range(256)) + b"%s'\\"
    out = subprocess.run(["sh", "-c", printf(data)], capture_output=True, check=True, timeout=10).stdout
    assert out == data


@pytest.mark.parametrize(
    ("data", "pieces"),
    [
        pytest.param(b"", [], id="nothing"),
        pytest.param(b"a" * 127, [b"a" * 127], id="a-run-below-the-threshold-is-spelled-out"),
        pytest.param(b"a" * 128, ["head -c 128 /dev/zero | tr '\\000' '\\141'"], id="a-run-is-generated"),
        pytest.param(
            b"x" + b"\x00" * 200 + b"y", [b"x", "head -c 200 /dev/zero", b"y"], id="zeros-need-no-tr"
        ),
    ],
)
def test_shell_pieces(data: bytes, pieces: list[bytes | str]) -> None:
    assert shell_pieces(data) == pieces


@pytest.mark.parametrize(
    ("previous_end", "at", "expected"),
    [
        pytest.param(None, 5.0, [], id="first-send"),
        pytest.param(1.0, 1.04, [], id="too-short-to-matter"),
        pytest.param(1.0, 1.25, ["sleep 0.25"], id="a-pause"),
    ],
)
def test_pause(previous_end: float | None, at: float, expected: list[str]) -> None:
    assert pause(previous_end, at) == expected


def test_netcat_groups_several_commands() -> None:
    assert netcat(["printf 'a'"], ("127.0.0.1", 7400)) == "printf 'a' | nc -q1 127.0.0.1 7400"
    assert (
        netcat(["printf 'a'", "sleep 0.10"], ("my host", 1))
        == "{ printf 'a'; sleep 0.10; } | nc -q1 'my host' 1"
    )


# --- the connection, through both drivers ----------------------------------------------------------------


@contextlib.contextmanager
def serve(handler: Callable[[socket.socket], None]) -> Iterator[int]:
    """A one-connection TCP server on 127.0.0.1 running `handler` in a thread; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                handler(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(5)


Client = resp.RespClient | jsonl.JsonLinesClient
Driver = Callable[[int, float], Client]


def _resp(port: int, timeout: float) -> Client:
    return resp.RespClient("127.0.0.1", port, timeout=timeout, label="c", repro_address=("127.0.0.1", 1))


def _jsonl(port: int, timeout: float) -> Client:
    return jsonl.JsonLinesClient(
        "127.0.0.1", port, timeout=timeout, label="c", repro_address=("127.0.0.1", 1)
    )


DRIVERS = [pytest.param(_resp, resp, id="resp"), pytest.param(_jsonl, jsonl, id="jsonl")]


@pytest.mark.parametrize(("driver", "module"), DRIVERS)
def test_a_service_that_stops_reading_is_a_send_timeout(driver: Driver, module: ModuleType) -> None:
    with serve(lambda conn: time.sleep(1.5)) as port, driver(port, 0.3) as client:
        started = time.monotonic()
        stopped = r"^the service stopped reading: only \d+ of 20000000 bytes of the bytes .* within 0\.3 s$"
        with pytest.raises(module.SendTimeout, match=stopped):
            client.send_raw(b"a" * 20_000_000)
        assert time.monotonic() - started < 1.2
        text = client.transcript()
    assert "of 20000000 bytes accepted in 0.3 s" in text


@pytest.mark.parametrize(("driver", "module"), DRIVERS)
def test_a_client_closed_by_the_scenario_says_so(driver: Driver, module: ModuleType) -> None:
    with serve(lambda conn: time.sleep(0.5)) as port:
        opened = driver(port, 1.0)
        with opened as client:
            assert client is opened
        client.close()  # idempotent
        assert not client.is_closed, "closed by the scenario, not by the service"
        with pytest.raises(module.ConnectionLost, match=r"^c was already closed by the scenario$"):
            client.send_raw(b"x")


@pytest.mark.parametrize(
    ("driver", "module", "failure", "unread"),
    [
        pytest.param(_resp, resp, resp.ReplyTooLarge, "replies", id="resp"),
        pytest.param(_jsonl, jsonl, jsonl.LineTooLong, "lines", id="jsonl"),
    ],
)
def test_too_much_unread_while_sending_is_refused(
    driver: Driver,
    module: ModuleType,
    failure: type[CandidateFailure],
    unread: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module, "MAX_BUFFERED_BYTES", 1024 * 1024)

    def floods(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(b"x" * 4 * 1024 * 1024)  # never reads
            time.sleep(1)

    overflow = rf"^the service sent more than 1 MiB of unread {unread} while the bytes "
    with serve(floods) as port, driver(port, 5.0) as client, pytest.raises(failure, match=overflow):
        client.send_raw(b"a" * 50_000_000)
