"""Slow consumers (brief section 5.3): order entry never waits for market data. A subscriber that never
reads is disconnected once more than 1 MiB of lines would queue for it, an order-entry connection that
never reads its execution reports is closed past 1 MiB (its orders stay in the book), and meanwhile
other clients keep trading with their acks inside a latency budget."""

import json
import socket
import threading
import time

import pytest
from conformance import FeedBook

from harness.drivers.jsonl import ConnectionLost, JsonLinesFailure
from harness.load.jsonl_orders import ORDER_REPLIES, ORDER_REPORTS, JsonLinesReplyCounter

pytestmark = [pytest.mark.criterion("backpressure"), pytest.mark.timeout(120)]

REPLIES = frozenset({"login_ack", "ack", "cancel_ack", "reject", "snapshot"})
#: How much must have been published to a slow consumer before it must be gone: the brief's 1 MiB queue,
#: plus what the kernels buffer on the way (Linux grows a socket's send buffer up to 4 MiB, tcp_wmem, even
#: towards a receiver with a tiny window: about 3 MB measured).
PUBLISHED = 6 * 1024 * 1024
#: The slowest an order ack may be while the service sheds a slow consumer.
ACK_BUDGET_S = 1.0


def _reply(client):
    while True:
        line = client.read_line()
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if isinstance(message, dict) and message.get("type") in REPLIES:
            return message, line


def _login(jsonl, service, account, timeout=5.0):
    client = jsonl(service, timeout=timeout)
    client.send_line(json.dumps({"op": "login", "account": account}))
    _reply(client)
    return client


def _order(client_order_id, side, price, qty, tif="gtc"):
    return json.dumps(
        {
            "op": "new",
            "client_order_id": client_order_id,
            "side": side,
            "type": "limit",
            "price": price,
            "qty": qty,
            "tif": tif,
        },
        separators=(",", ":"),
    )


def _silent_socket(service, port_name, first=b""):
    """A connection with a tiny receive buffer that is never read from."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect((service.host, service.port_of(port_name)))
    if first:
        sock.sendall(first)
    return sock


def _disconnected(sock, wait_s=3.0):
    """Read what is buffered; True once the service has closed or reset the connection, False if it is
    still open with nothing more to read after `wait_s`. Returns (closed, bytes read)."""
    sock.settimeout(wait_s)
    received = bytearray()
    try:
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                return True, bytes(received)
            received += chunk
    except (ConnectionResetError, BrokenPipeError):
        return True, bytes(received)
    except TimeoutError:
        return False, bytes(received)
    finally:
        sock.close()


class Probe:
    """A client placing and cancelling one small order every 20 ms, timing each ack."""

    def __init__(self, jsonl, service, account):
        self.client = _login(jsonl, service, account, timeout=5.0)
        self.client.label = f"probe ({self.client.label})"
        self.latencies = []
        self.failure = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        serial = 0
        try:
            while not self._stop.is_set():
                serial += 1
                line = (
                    _order(f"probe-{serial}", "buy", "100.0", "0.0001")
                    if serial % 2
                    else json.dumps({"op": "cancel", "client_order_id": f"probe-{serial - 1}"})
                )
                started = time.monotonic()
                self.client.send_line(line)
                _reply(self.client)
                self.latencies.append(time.monotonic() - started)
                time.sleep(0.02)
        except JsonLinesFailure as failure:
            self.failure = failure

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        if self.failure is not None:
            raise AssertionError(
                f"while a consumer was not reading, another client's order went unanswered: "
                f"{self.failure.message} (order entry never waits for a slow consumer, brief section 5.3)"
            )
        assert len(self.latencies) >= 10, f"the probe placed only {len(self.latencies)} orders"
        worst = max(self.latencies)
        assert worst <= ACK_BUDGET_S, (
            f"while a consumer was not reading, another client's order waited {worst * 1000:.0f} ms for its "
            f"ack (at most {ACK_BUDGET_S * 1000:.0f} ms expected; brief section 5.3: order entry never waits)"
        )
        return worst


class _Raw:
    """A logged-in order-entry connection that only counts replies (no parsing, no transcript): the load
    here must be cheap to make, because several MiB of market data take tens of thousands of orders."""

    def __init__(self, service, account):
        self.sock = socket.create_connection((service.host, service.port), timeout=5)
        self.counter = JsonLinesReplyCounter(replies=ORDER_REPLIES, pushed=ORDER_REPORTS, error=b"reject")
        self.call([json.dumps({"op": "login", "account": account})])

    def call(self, lines):
        """Send the lines in one write; wait until each is answered."""
        self.sock.sendall("".join(f"{line}\n" for line in lines).encode())
        answered = 0
        while answered < len(lines):
            try:
                data = self.sock.recv(1 << 20)
            except OSError as error:
                raise ConnectionLost(f"the connection failed: {error}") from None
            if not data:
                raise ConnectionLost("the service closed the connection")
            answered += self.counter.feed(data)
        return self.counter.error_replies

    def close(self):
        self.sock.close()


class Traders:
    """Two accounts: one places batches of resting sells in one write, the other sweeps them."""

    def __init__(self, service, tag, rng):
        self.maker = _Raw(service, f"mk-{tag}")
        self.taker = _Raw(service, f"tk-{tag}")
        self.rng = rng
        self.serial = 0

    def batch(self, size=200):
        lines = []
        total = 0
        for _ in range(size):
            self.serial += 1
            lots = self.rng.randint(1, 5)
            total += lots
            price = f"{90_000 + self.rng.randrange(0, 400)}.0"
            lines.append(_order(f"m-{self.serial}", "sell", price, f"0.{lots:04d}"))
        self.serial += 1
        errors = self.maker.call(lines)
        errors += self.taker.call(
            [_order(f"t-{self.serial}", "buy", "1000000.0", f"0.{total:04d}", tif="ioc")]
        )
        assert not errors, f"{errors} of the load's orders were rejected"

    def close(self):
        self.maker.close()
        self.taker.close()


class Reader:
    """A subscriber that reads as fast as it can, keeping the bytes to check afterwards."""

    def __init__(self, service):
        self.sock = socket.create_connection((service.host, service.port_of("market_data")), timeout=10)
        self.data = bytearray()
        self.closed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                return
            self.data += chunk

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def check(self):
        book = FeedBook()
        for line in bytes(self.data).split(b"\n")[:-1]:
            book.apply(line.decode("utf-8", "replace"))
        return book


def test_a_subscriber_that_never_reads_is_disconnected_while_orders_keep_their_latency(
    service, jsonl, market, tag, rng, evidence
):
    market(service, trade=False)  # an empty book: the sweeps take only this scenario's orders
    slow = _silent_socket(service, "market_data")
    reader = Reader(service)
    traders = Traders(service, tag, rng)
    probe = Probe(jsonl, service, f"probe-{tag}")
    deadline = time.monotonic() + 40
    stalled = None
    try:
        while len(reader.data) < PUBLISHED and time.monotonic() < deadline and not reader.closed:
            traders.batch()
    except JsonLinesFailure as failure:
        stalled = failure
    finally:
        reader.stop()
    worst = probe.stop()
    if stalled is not None:
        raise AssertionError(
            f"order entry stopped answering while a subscriber was not reading: {stalled.message} "
            "(brief section 5.3: order entry never waits for market data)"
        )
    evidence.note(
        f"{len(reader.data)} bytes of market data published while one subscriber never read; the slowest "
        f"probe ack took {worst * 1000:.0f} ms"
    )
    assert not reader.closed, (
        f"a subscriber reading as fast as it can was disconnected after {len(reader.data)} bytes"
    )
    assert len(reader.data) >= PUBLISHED, f"only {len(reader.data)} bytes were published in 40 s"
    reader.check()  # what the reading subscriber got is a gapless, consistent feed
    closed, buffered = _disconnected(slow)
    assert closed, (
        f"a subscriber that never read was still connected after {len(reader.data) / 2**20:.1f} MiB of "
        f"market data were published ({len(buffered)} bytes reached it): past 1 MiB queued it must be "
        "disconnected (brief section 5.3)"
    )
    check = FeedBook()
    for line in buffered.split(b"\n")[:-1]:  # what did reach it: a gapless prefix of the feed
        check.apply(line.decode("utf-8", "replace"))


def test_an_order_entry_client_that_never_reads_its_reports_is_closed_and_its_orders_stay(
    service, jsonl, market, tag, rng, evidence
):
    market(service, trade=False)
    account = f"mk-{tag}"
    resting = _order("keep-me", "buy", "200.0", "0.5")
    silent = _silent_socket(
        service,
        "main",
        json.dumps({"op": "login", "account": account}).encode() + b"\n" + resting.encode() + b"\n",
    )
    traders = Traders(service, tag, rng)  # its maker is the silent client's account too
    probe = Probe(jsonl, service, f"probe-{tag}")
    fills = 0
    deadline = time.monotonic() + 40
    stalled = None
    try:
        while fills * 200 < PUBLISHED and time.monotonic() < deadline:
            traders.batch()
            fills += 200
    except JsonLinesFailure as failure:
        stalled = failure
    worst = probe.stop()
    if stalled is not None:
        raise AssertionError(
            f"order entry stopped answering while a client was not reading its execution reports: "
            f"{stalled.message}"
        )
    evidence.note(
        f"about {fills} fill reports pushed to {account}, whose first connection never reads; the slowest "
        f"probe ack took {worst * 1000:.0f} ms"
    )
    closed, _ = _disconnected(silent)
    assert closed, (
        f"an order-entry connection that never read was still open after about {fills} fill reports "
        "(~200 bytes each) were pushed to it: past 1 MiB queued it must be closed (brief section 5.3)"
    )
    traders.close()
    other = _login(jsonl, service, account)
    other.send_line(json.dumps({"op": "cancel", "client_order_id": "keep-me"}))
    reply, line = _reply(other)
    assert reply.get("type") == "cancel_ack" and reply.get("remaining") == "0.50000000", (
        f"the closed connection's resting order stays in the book: cancelling keep-me from another session "
        f"of {account} must give a cancel_ack with remaining 0.50000000, got {line[:200]}"
    )
