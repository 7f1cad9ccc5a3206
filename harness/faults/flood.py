"""Resource-exhaustion clients: slowloris and connection floods. Seeded, bounded in count and time.

Slowloris holds hundreds of connections, each trickling a byte at a time of a request that looks valid
(a SET whose value is declared as a megabyte), so a service that gives every connection a thread or
waits for whole requests without a deadline runs out of something. Scenarios probe the service with a
normal client while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass

from harness.faults._loop import LoopThread

SLOW_HEADER = b"*3\r\n$3\r\nSET\r\n$9\r\nslowloris\r\n$1048576\r\n"
MAX_CONNECTIONS = 2000
MAX_DURATION_S = 600.0
CONNECT_TIMEOUT_S = 2.0


@dataclass
class SlowlorisReport:
    opened: int = 0
    failed_to_open: int = 0
    closed_by_service: int = 0
    """Connections the service closed or reset: a service defending itself does this."""
    bytes_sent: int = 0
    seconds: float = 0.0


class Slowloris:
    """Run in the background while the block runs (at most `duration_s`):

    with Slowloris(host, port, connections=300, seed=1) as attack:
        ...   # a normal client should still be served
    attack.report
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connections: int = 200,
        interval_s: float = 1.0,
        duration_s: float = 60.0,
        seed: int = 0,
    ) -> None:
        self.address = (host, port)
        self.connections = min(connections, MAX_CONNECTIONS)
        self.interval_s = interval_s
        self.duration_s = min(duration_s, MAX_DURATION_S)
        self.report = SlowlorisReport()
        self._rng = random.Random(seed)
        self._loop = LoopThread("slowloris")
        self._done: asyncio.Event | None = None
        self._started = 0.0

    async def _one(self, delay_s: float) -> None:
        assert self._done is not None
        await asyncio.sleep(delay_s)  # spread the opening over the first interval
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(*self.address), CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError):
            self.report.failed_to_open += 1
            return
        self.report.opened += 1
        payload = SLOW_HEADER
        sent = 0
        try:
            while not self._done.is_set():
                byte = payload[sent : sent + 1] if sent < len(payload) else b"x"
                writer.write(byte)
                await writer.drain()
                sent += 1
                self.report.bytes_sent += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._done.wait(), self.interval_s)
        except OSError:
            self.report.closed_by_service += 1
        finally:
            writer.transport.abort()

    async def _run(self) -> None:
        self._done = asyncio.Event()
        rng = self._rng
        tasks = [
            asyncio.ensure_future(self._one(rng.uniform(0, self.interval_s))) for _ in range(self.connections)
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), self.duration_s)
        self._done.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> Slowloris:
        self._started = time.monotonic()
        self._loop.start()
        self._future = asyncio.run_coroutine_threadsafe(self._run(), self._loop.loop)
        return self

    def __exit__(self, *exc: object) -> None:
        done = self._done
        if done is not None:
            self._loop.loop.call_soon_threadsafe(done.set)
        with contextlib.suppress(Exception):
            self._future.result(timeout=self.interval_s + CONNECT_TIMEOUT_S + 5)
        self._loop.stop()
        self.report.seconds = time.monotonic() - self._started


@dataclass
class FloodReport:
    attempted: int = 0
    connected: int = 0
    refused: int = 0
    timed_out: int = 0
    seconds: float = 0.0


async def _flood(
    address: tuple[str, int], bursts: int, per_burst: int, pause_s: float, deadline_s: float, send: bytes
) -> FloodReport:
    report = FloodReport()
    started = time.monotonic()

    async def one() -> None:
        report.attempted += 1
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(*address), CONNECT_TIMEOUT_S)
        except TimeoutError:
            report.timed_out += 1
            return
        except OSError:
            report.refused += 1
            return
        report.connected += 1
        if send:
            with contextlib.suppress(OSError):
                writer.write(send)
        writer.transport.abort()  # close at once: the service sees a burst of opens and resets

    for _ in range(bursts):
        if time.monotonic() - started > deadline_s:
            break
        await asyncio.gather(*(one() for _ in range(per_burst)))
        await asyncio.sleep(pause_s)
    report.seconds = time.monotonic() - started
    return report


def connection_flood(
    host: str,
    port: int,
    *,
    bursts: int = 10,
    per_burst: int = 200,
    pause_s: float = 0.1,
    deadline_s: float = 30.0,
    send: bytes = b"",
) -> FloodReport:
    """`bursts` bursts of `per_burst` connections opened at once and closed at once (optionally after
    writing `send`, e.g. half a command). Blocks until done or `deadline_s`."""
    per_burst = min(per_burst, MAX_CONNECTIONS)
    return asyncio.run(_flood((host, port), bursts, per_burst, pause_s, deadline_s, send))
