"""Many clients at once: interleaved work on hundreds of connections, and clients that stall or stop
reading must not hold up anyone else."""

import threading
import time

import pytest

from harness.drivers.resp import encode_command, expect_reply, show_reply

pytestmark = pytest.mark.criterion("concurrency")


def _run_threads(targets, timeout):
    failures = []

    def guarded(target):
        try:
            target()
        except BaseException as exc:  # re-raised in the main thread so it is scored
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if failures:
        raise failures[0]
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, f"{stuck} of {len(threads)} clients had not finished after {timeout} s"


def test_150_clients_interleave_reads_and_writes(service, resp, key):
    clients = [resp(service, timeout=10) for _ in range(150)]
    barrier = threading.Barrier(len(clients), timeout=30)
    rounds = 20

    def work(index, client):
        def run():
            barrier.wait()
            mine = key(f"c{index}")
            for round_ in range(rounds):
                client.call("SET", mine, f"{index}:{round_}", expect="OK")
                client.pipeline(
                    [("GET", mine), ("SET", mine, f"{index}:{round_}b"), ("GET", mine)],
                    expect=[f"{index}:{round_}".encode(), "OK", f"{index}:{round_}b".encode()],
                )
                count = client.call("INCR", key("shared"))  # atomic across all clients
                assert isinstance(count, int), (
                    f"INCR of the shared counter: expected an integer, got {show_reply(count)}"
                )

        return run

    _run_threads([work(i, c) for i, c in enumerate(clients)], timeout=50)
    resp(service).call("GET", key("shared"), expect=str(150 * rounds).encode())


def test_a_stalled_client_does_not_block_others(service, resp, key):
    stalled = resp(service)
    stalled.send_raw(b"*3\r\n$3\r\nSET\r\n$" + str(len(key("s"))).encode())  # stops mid-header
    silent = resp(service)  # connected, never sends anything
    worker = resp(service, timeout=1.0)
    for i in range(200):
        worker.call("SET", key(str(i)), i, expect="OK")
    worker.call("GET", key("0"), expect=b"0")
    worker.call("GET", key("199"), expect=b"199")
    stalled.send_raw(b"\r\n" + key("s").encode() + b"\r\n$2\r\nok\r\n")
    expect_reply(stalled.read_reply(), "OK", "reply to the stalled SET once completed")
    silent.call("GET", key("s"), expect=b"ok")


def test_a_client_that_stops_reading_does_not_block_others(service, resp, key):
    value = b"z" * 100_000
    resp(service).call("SET", key("big"), value, expect="OK")
    hog = resp(service, timeout=10)
    hog.send_raw(b"".join(encode_command("GET", key("big")) for _ in range(100)))  # ~10 MB of replies, unread
    worker = resp(service, timeout=1.0)
    for i in range(100):
        worker.call("SET", key("n"), i, expect="OK")
        worker.call("GET", key("n"), expect=str(i).encode())
    for index in range(100):
        expect_reply(hog.read_reply(), value, f"reply {index + 1} of 100 to the slow reader's GETs")


def test_hundreds_of_connections_open_at_once(service, resp, key):
    clients = [resp(service) for _ in range(300)]
    for index, client in enumerate(clients):
        client.send("SET", key(str(index)), index)
    for index, client in enumerate(clients):
        expect_reply(client.read_reply(), "OK", f"reply to SET on connection {index + 1} of 300")
    for client in clients:
        client.close()
    resp(service).call("GET", key("299"), expect=b"299")
