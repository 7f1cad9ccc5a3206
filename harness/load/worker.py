"""One generator process: its connections, its event loop, its histograms.

Hot path, per read: one parser call, then one loop over the replies it completed, each popping its
request's planned (and actual) send time and bumping a ``dict`` counter for its latency in whole
microseconds. Histograms are fed from those counters once a second. Sends write pre-encoded frames
(or, for codecs with per-connection state, frames the connection's session fills in from templates),
several per ``write`` where several are due on one connection.

Talks to the parent over a pipe: ``ready`` (after connecting), then waits for the common start time,
then ``done`` with a report made of plain values (histograms encoded).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import resource
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from multiprocessing.connection import Connection
from typing import Any, cast

from harness.load.codec import Codec, ConnectionRequests, SessionEncoder
from harness.load.histogram import LatencyHistogram
from harness.load.model import LoadSpec
from harness.load.pacing import Pacer
from harness.load.registry import get_codec

clock: Callable[[], float] = time.perf_counter  # CLOCK_MONOTONIC: comparable across processes
RECONNECT_DELAY_S = 0.1
MIN_TICK_S = 0.001
START_WAIT_S = 120.0


@dataclass(frozen=True)
class WorkerPlan:
    index: int
    host: str
    port: int
    spec: LoadSpec
    cpus: tuple[int, ...] | None


def loop_factory() -> tuple[Callable[[], asyncio.AbstractEventLoop], str]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; plain asyncio still works
        return asyncio.new_event_loop, "asyncio"
    return uvloop.new_event_loop, "uvloop"


def pin(cpus: tuple[int, ...] | None) -> tuple[tuple[int, ...] | None, str | None]:
    """Pin this process to ``cpus``; the cores it ended up on (or ``None``) and any error."""
    if cpus is None:
        return None, None
    try:
        os.sched_setaffinity(0, set(cpus))
        return tuple(sorted(os.sched_getaffinity(0))), None
    except (OSError, AttributeError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker_main(plan: WorkerPlan, pipe: Connection) -> None:
    """Process entry point."""
    pinned, pin_error = pin(plan.cpus)
    factory, loop_name = loop_factory()
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            report = runner.run(Worker(plan, pipe).run())
    except BaseException as exc:
        with contextlib.suppress(OSError):
            pipe.send({"kind": "fatal", "error": f"{type(exc).__name__}: {exc}"})
        raise
    report.update(pid=os.getpid(), cpus=pinned, pin_error=pin_error, event_loop=loop_name)
    pipe.send({"kind": "done", "report": report})


class _Conn(asyncio.Protocol):
    """One connection. Its FIFO holds, per request in flight, ``(planned, actual)`` send times."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.parser = worker.codec.make_parser()
        sessions = worker.sessions
        #: Where this connection's requests come from; None: the worker's shared pool.
        self.requests: ConnectionRequests | None = None if sessions is None else sessions.connection()
        self.fifo: deque[tuple[float, float]] = deque()
        self.transport: asyncio.Transport | None = None
        self.alive = False
        self.errors_seen = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.alive = True
        if self.requests is not None and self.requests.greeting:
            self.transport.write(self.requests.greeting)  # a login: first on the wire, never timed

    def data_received(self, data: bytes) -> None:
        try:
            n = self.parser.feed(data)
        except (ValueError, IndexError):  # not the protocol we speak: count it, drop the connection
            self.worker.protocol_errors += 1
            if self.transport is not None:
                self.transport.abort()
            return
        if n:
            self.worker.on_replies(self, n)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.alive:
            self.alive = False
            self.worker.on_lost(self, exc)


class Worker:
    def __init__(self, plan: WorkerPlan, pipe: Connection) -> None:
        spec = plan.spec
        self.plan = plan
        self.spec = spec
        self.pipe = pipe
        self.codec: Codec = get_codec(spec.encoder.codec)
        rng = random.Random(spec.seed * 1_000_003 + plan.index)
        self.sessions: SessionEncoder | None = None
        self.pool: list[bytes] = []
        if self.codec.make_sessions is not None:
            self.sessions = self.codec.make_sessions(spec.encoder, rng)
        else:
            assert self.codec.make_encoder is not None  # Codec insists on one of the two
            self.pool = self.codec.make_encoder(spec.encoder).requests(rng, spec.encoder.pool_size)
        self.cursor = 0
        self.open_loop = spec.mode == "open"
        self.conns: list[_Conn] = []
        self.free: deque[_Conn] = deque()  # one entry per free pipeline slot
        self.backlog: deque[float] = deque()  # planned times of due sends waiting for a free slot
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pacer: Pacer | None = None
        self.t0 = self.ms = self.end = 0.0
        self.stopping = False
        self.finished: asyncio.Future[None] | None = None
        # counts (measured window only)
        self.requests = 0
        self.error_replies = 0
        self.connected = 0
        self.connection_errors = 0
        self.protocol_errors = 0
        self.lost = 0
        self.dropped = 0
        self.first_error: str | None = None
        # latency: counters for the current second, histograms per second and overall
        self.sec = 0
        self.corr: dict[int, int] = {}
        self.unc: dict[int, int] = {}
        self.lag: dict[int, int] = {}
        self.sec_stats: dict[int, list[int]] = {}  # second -> [completed, errors, dropped]
        self.sec_hist: dict[int, tuple[str, str]] = {}
        self.h_corr = LatencyHistogram()
        self.h_unc = LatencyHistogram()
        self.cpu_start = self.cpu_end = 0.0
        self.wall_start = self.wall_end = 0.0

    # --- set-up ------------------------------------------------------------------------------------

    async def _connect(self) -> _Conn | None:
        loop = asyncio.get_running_loop()
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(lambda: _Conn(self), self.plan.host, self.plan.port),
                self.spec.connect_timeout_s,
            )
        except (TimeoutError, OSError) as exc:
            self.connection_errors += 1
            if self.first_error is None:
                self.first_error = f"{type(exc).__name__}: {exc}"
            return None
        conn = proto
        self.conns.append(conn)
        if self.open_loop:
            self.free.extend(repeat(conn, self.spec.pipeline))
        return conn

    async def run(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        self.loop = loop
        spec = self.spec
        n = spec.connections_of(self.plan.index)
        await asyncio.gather(*(self._connect() for _ in range(n)))
        connect_failures = self.connection_errors
        self.connected = len(self.conns)
        self.pipe.send({"kind": "ready", "connected": len(self.conns), "error": self.first_error})
        if not self.pipe.poll(START_WAIT_S):
            raise TimeoutError("no start signal from the parent process")
        start_at = self.pipe.recv()
        if start_at is None or not self.conns:
            self._close()
            return self._report(connect_failures)
        await asyncio.sleep(max(0.0, float(start_at) - clock()))

        gc.collect()
        gc.disable()
        try:
            self.finished = loop.create_future()
            now = clock()
            self.t0 = now
            self.ms = now + spec.warmup_s
            self.end = self.ms + spec.duration_s
            self.cpu_start, self.wall_start = cpu_seconds(), now
            loop.call_later(spec.warmup_s, self._on_measure_start)
            loop.call_later(self.end - now, self._on_end)
            if self.open_loop:
                rate = spec.rate_of(self.plan.index)
                self.pacer = Pacer(now, rate, self.end, spec.send_tolerance_s, self.ms)
                self._tick()
            else:
                for conn in list(self.conns):
                    self._write(conn, spec.pipeline, now)
            await self.finished
        finally:
            gc.enable()
        self._roll(-1)
        self._close()
        return self._report(connect_failures)

    def _close(self) -> None:
        for conn in self.conns:
            conn.alive = False
            if conn.transport is not None:
                conn.transport.abort()

    # --- phases ------------------------------------------------------------------------------------

    def _on_measure_start(self) -> None:
        self.cpu_start, self.wall_start = cpu_seconds(), clock()

    def _on_end(self) -> None:
        self.cpu_end, self.wall_end = cpu_seconds(), clock()
        self.stopping = True
        assert self.loop is not None
        self.loop.call_later(self.spec.drain_timeout_s, self._finish)
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        """Finish early once nothing is left to send or to wait for (else the drain deadline will)."""
        if not self.stopping or self.backlog:
            return
        if self.pacer is not None and not self.pacer.finished:
            return
        if not any(c.fifo for c in self.conns):
            self._finish()

    def _finish(self) -> None:
        if self.finished is not None and not self.finished.done():
            self.finished.set_result(None)

    # --- sending -----------------------------------------------------------------------------------

    def _write(self, conn: _Conn, n: int, now: float) -> None:
        """Closed loop: send the next ``n`` requests on ``conn``."""
        pool = self.pool
        i = self.cursor
        requests = conn.requests
        if requests is not None:
            data = requests.take() if n == 1 else b"".join([requests.take() for _ in range(n)])
        elif n == 1:
            data = pool[i]
            self.cursor = (i + 1) % len(pool)
        else:
            parts = pool[i : i + n]
            while len(parts) < n:
                parts += pool[: n - len(parts)]
            self.cursor = (i + n) % len(pool)
            data = b"".join(parts)
        if now >= self.ms:
            self.requests += n
        conn.fifo.extend(repeat((now, now), n))
        assert conn.transport is not None
        conn.transport.write(data)

    def _tick(self) -> None:
        """Open loop: send what the schedule says is due, then sleep until the next planned send."""
        pacer = self.pacer
        assert pacer is not None and self.loop is not None
        now = clock()
        due = pacer.due(now, MIN_TICK_S / 2)
        if due.dropped_measured:
            self.dropped += due.dropped_measured
            self._stats(now)[2] += due.dropped_measured
        if due.send:
            self.backlog.extend(due.send)
            self._send_backlog(now)
        nxt = pacer.next_time()
        if nxt is None:
            self._maybe_finish()
            return
        # Timers step in whole milliseconds: never ask for less (uvloop would spin on a 0 ms timer),
        # and send whatever has come due by then as one batch.
        self.loop.call_later(max(MIN_TICK_S, nxt - clock()), self._tick)

    def _send_backlog(self, now: float) -> None:
        backlog, free, pool, ms = self.backlog, self.free, self.pool, self.ms
        size = len(pool)
        i = self.cursor
        out: dict[_Conn, list[bytes]] = {}
        lag = self.lag
        sent = 0
        while backlog and free:
            conn = free.popleft()
            if not conn.alive:
                continue
            planned = backlog.popleft()
            parts = out.get(conn)
            if parts is None:
                parts = out[conn] = []
            if conn.requests is None:
                parts.append(pool[i])
                i += 1
                if i == size:
                    i = 0
            else:
                parts.append(conn.requests.take())
            if planned >= ms:
                sent += 1
                v = int((now - planned) * 1e6) if now > planned else 0
                lag[v] = lag.get(v, 0) + 1
            # Timed from the later of planned and actual: a send made early (within the look-ahead)
            # is timed from when it went out.
            conn.fifo.append((planned if planned < now else now, now))
        self.cursor = i
        self.requests += sent
        for conn, parts in out.items():
            assert conn.transport is not None
            conn.transport.write(parts[0] if len(parts) == 1 else b"".join(parts))

    # --- receiving ---------------------------------------------------------------------------------

    def _stats(self, now: float) -> list[int]:
        sec = int(now - self.ms) if now >= self.ms else -1
        stats = self.sec_stats.get(sec)
        if stats is None:
            stats = self.sec_stats[sec] = [0, 0, 0]
        return stats

    def on_replies(self, conn: _Conn, n: int) -> None:
        now = clock()
        fifo = conn.fifo
        ms = self.ms
        errors = conn.parser.error_replies - conn.errors_seen
        conn.errors_seen += errors
        if now < ms:
            for _ in range(n):
                fifo.popleft()
        else:
            sec = int(now - ms)
            if sec != self.sec:
                self._roll(sec)
            corr, unc = self.corr, self.unc
            done = 0
            pop = fifo.popleft
            if self.open_loop:
                for _ in range(n):
                    planned, actual = pop()
                    if planned < ms:
                        continue
                    done += 1
                    v = int((now - planned) * 1e6)
                    corr[v] = corr.get(v, 0) + 1
                    v = int((now - actual) * 1e6)
                    unc[v] = unc.get(v, 0) + 1
            else:  # planned == actual: the uncorrected histogram is the same one
                for _ in range(n):
                    planned = pop()[0]
                    if planned < ms:
                        continue
                    done += 1
                    v = int((now - planned) * 1e6)
                    corr[v] = corr.get(v, 0) + 1
            self.error_replies += errors
            stats = self._stats(now)
            stats[0] += done
            stats[1] += errors
        if self.open_loop:
            self.free.extend(repeat(conn, n))
            if self.backlog:
                self._send_backlog(now)
        elif now < self.end and not self.stopping:
            self._write(conn, n, now)
        if self.stopping:
            self._maybe_finish()

    def _roll(self, sec: int) -> None:
        """Move the current second's counters into histograms; ``sec`` becomes current."""
        if self.corr or self.unc:
            h_corr, h_unc = LatencyHistogram(), LatencyHistogram()
            h_corr.record_counts(self.corr)
            h_unc.record_counts(self.unc if self.open_loop else self.corr)
            self.h_corr.add(h_corr)
            self.h_unc.add(h_unc)
            self.sec_hist[self.sec] = (h_corr.encode(), h_unc.encode())
            self.corr, self.unc = {}, {}
        self.sec = sec

    def on_lost(self, conn: _Conn, exc: Exception | None) -> None:
        now = clock()
        in_flight = sum(1 for planned, _ in conn.fifo if planned >= self.ms)
        conn.fifo.clear()
        if self.finished is None or self.finished.done():
            return
        self.lost += in_flight
        self.connection_errors += 1
        if now >= self.ms:
            self._stats(now)[1] += 1
        if self.first_error is None:
            self.first_error = f"connection lost: {exc}" if exc else "connection closed by the server"
        if now < self.end and not self.stopping and self.loop is not None:
            self.loop.call_later(RECONNECT_DELAY_S, self._reconnect)
        self._maybe_finish()

    def _reconnect(self) -> None:
        if self.stopping or self.loop is None:
            return
        self.loop.create_task(self._reconnect_async())

    async def _reconnect_async(self) -> None:
        conn = await self._connect()
        if self.stopping:
            return
        if conn is None:
            if clock() < self.end and self.loop is not None:
                self.loop.call_later(RECONNECT_DELAY_S, self._reconnect)
            return
        now = clock()
        if self.open_loop:
            if self.backlog:
                self._send_backlog(now)
        else:
            self._write(conn, self.spec.pipeline, now)

    # --- report ------------------------------------------------------------------------------------

    def _report(self, connect_failures: int) -> dict[str, Any]:
        ms = self.ms
        timeouts = sum(1 for c in self.conns for planned, _ in c.fifo if planned >= ms)
        unsent = sum(1 for planned in self.backlog if planned >= ms)
        if self.pacer is not None:
            planned = self.pacer.measured_total
            # schedule the run ended before reaching (only with a zero drain timeout)
            unsent += max(0, self.pacer.total - max(self.pacer.next_index, self.pacer.first_measured))
        else:
            planned = self.requests
        h_lag = LatencyHistogram()
        h_lag.record_counts(self.lag)
        wall = (self.wall_end or clock()) - self.wall_start
        cpu = (self.cpu_end or cpu_seconds()) - self.cpu_start
        return {
            "index": self.plan.index,
            "connections": self.spec.connections_of(self.plan.index),
            "connected": self.connected,
            "connect_failures": connect_failures,
            "first_error": self.first_error,
            "planned": planned,
            "requests": self.requests,
            "completed": sum(s[0] for k, s in self.sec_stats.items() if k >= 0),
            "error_replies": self.error_replies,
            "connection_errors": self.connection_errors + self.protocol_errors,
            "lost": self.lost,
            "timeouts": timeouts,
            "dropped": self.dropped,
            "unsent": unsent,
            "seconds": {k: v for k, v in self.sec_stats.items() if k >= 0},
            "second_histograms": self.sec_hist,
            "histogram": self.h_corr.encode(),
            "histogram_uncorrected": self.h_unc.encode(),
            "histogram_lag": h_lag.encode(),
            "cpu": cpu / wall if wall > 0 else 0.0,
        }
