"""One proxied connection: two bounded pumps (client -> service, service -> client) applying toxics.

Each direction is a reader that stamps every chunk with its arrival time and a writer that applies the
toxics in force when the chunk leaves. Latency waits until `arrival + latency`, never `now + latency`:
chunks that were pipelined arrive together and leave together, as with toxiproxy. The queue between
reader and writer is bounded, so a stalled direction pushes back on its sender instead of buffering.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.faults.toxics import (
    Bandwidth,
    Latency,
    LimitData,
    ResetPeer,
    Slicer,
    SlowClose,
    Stream,
    Timeout,
    Toxic,
    toxic_name,
)

READ_CHUNK = 64 * 1024
QUEUE_CHUNKS = 16
"""At most QUEUE_CHUNKS * READ_CHUNK bytes wait per direction (1 MiB)."""

BANDWIDTH_TICKS_PER_S = 50
"""A rate-limited chunk is written in pieces of rate/50 bytes, so the rate holds at 20 ms resolution."""

_Item = tuple[float, bytes] | None


def _rst(writer: asyncio.StreamWriter) -> None:
    """Close with an RST rather than a FIN: SO_LINGER with a zero timeout, then abort."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(eq=False)  # identity-hashed: the proxy keeps its open links in a set
class Link:
    client_reader: asyncio.StreamReader
    client_writer: asyncio.StreamWriter
    upstream_reader: asyncio.StreamReader
    upstream_writer: asyncio.StreamWriter
    toxics: Callable[[], list[Toxic]]
    """The proxy's toxics in force now (read on the loop thread)."""
    rng: random.Random
    on_closed: Callable[[Link], None]
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _decisions: dict[str, bool] = field(default_factory=dict)
    _timers: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _open_directions: int = 2
    _closed: bool = False

    # --- which toxics affect this connection -----------------------------------------------------------

    def active(self, stream: Stream) -> list[Toxic]:
        found = []
        for toxic in self.toxics():
            if toxic.stream != stream:
                continue
            name = toxic_name(toxic)
            if name not in self._decisions:
                self._decisions[name] = toxic.toxicity >= 1.0 or self.rng.random() < toxic.toxicity
            if self._decisions[name]:
                found.append(toxic)
        return found

    def toxics_changed(self) -> None:
        """Called by the proxy after a toxic was added or removed."""
        self.changed.set()
        self._arm_timers()

    def _arm_timers(self) -> None:
        timed = {
            toxic_name(t): t
            for stream in ("upstream", "downstream")
            for t in self.active(stream)
            if isinstance(t, ResetPeer) or (isinstance(t, Timeout) and t.timeout_ms > 0)
        }
        for name in list(self._timers):
            if name not in timed:
                self._timers.pop(name).cancel()
        for name, toxic in timed.items():
            if name not in self._timers:
                self._timers[name] = asyncio.ensure_future(self._fire(toxic))

    async def _fire(self, toxic: ResetPeer | Timeout) -> None:
        await asyncio.sleep(toxic.timeout_ms / 1000)
        self.close(reset=isinstance(toxic, ResetPeer))

    # --- pumps -----------------------------------------------------------------------------------------

    def run(self) -> None:
        self._arm_timers()
        directions: list[tuple[Stream, asyncio.StreamReader, asyncio.StreamWriter]] = [
            ("upstream", self.client_reader, self.upstream_writer),
            ("downstream", self.upstream_reader, self.client_writer),
        ]
        for stream, source, sink in directions:
            queue: asyncio.Queue[_Item] = asyncio.Queue(QUEUE_CHUNKS)
            self._tasks.append(asyncio.ensure_future(self._read(source, queue)))
            self._tasks.append(asyncio.ensure_future(self._write(stream, queue, sink)))

    async def _read(self, source: asyncio.StreamReader, queue: asyncio.Queue[_Item]) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await source.read(READ_CHUNK)
                if not data:
                    break
                await queue.put((loop.time(), data))
        except (ConnectionError, OSError):
            self.close(reset=True)
            return
        await queue.put(None)

    async def _write(self, stream: Stream, queue: asyncio.Queue[_Item], sink: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        passed = 0
        last_due = 0.0
        next_free = 0.0
        try:
            while True:
                item = await queue.get()
                await self._hold(stream)
                if item is None:
                    await self._end(stream, sink)
                    return
                arrival, data = item
                toxics = self.active(stream)
                delay_s = 0.0
                for toxic in toxics:
                    if isinstance(toxic, Latency):
                        jitter = self.rng.uniform(-toxic.jitter_ms, toxic.jitter_ms) if toxic.jitter_ms else 0
                        delay_s += max(0.0, toxic.latency_ms + jitter) / 1000
                # Never reorder: a chunk leaves no earlier than the one before it.
                last_due = max(arrival + delay_s, last_due)
                if last_due > loop.time():
                    await asyncio.sleep(last_due - loop.time())
                limit = next((t.bytes for t in toxics if isinstance(t, LimitData)), None)
                if limit is not None:
                    data = data[: max(0, limit - passed)]
                for piece, pause_s in self._pieces(data, toxics):
                    rate = next((t.rate for t in toxics if isinstance(t, Bandwidth)), None)
                    if rate:
                        next_free = max(next_free, loop.time())
                        if next_free > loop.time():
                            await asyncio.sleep(next_free - loop.time())
                        next_free += len(piece) / rate
                    sink.write(piece)
                    await sink.drain()
                    if pause_s:
                        await asyncio.sleep(pause_s)
                passed += len(data)
                if limit is not None and passed >= limit:
                    self.close()
                    return
        except (ConnectionError, OSError):
            self.close(reset=True)

    def _pieces(self, data: bytes, toxics: list[Toxic]) -> list[tuple[bytes, float]]:
        size = len(data) or 1
        pause_s = 0.0
        variation = 0
        for toxic in toxics:
            if isinstance(toxic, Slicer):
                size, variation, pause_s = (
                    max(1, toxic.average_size),
                    toxic.size_variation,
                    toxic.delay_us / 1e6,
                )
            elif isinstance(toxic, Bandwidth) and toxic.rate > 0:
                size = min(size, max(1, toxic.rate // BANDWIDTH_TICKS_PER_S))
        pieces = []
        start = 0
        while start < len(data):
            step = max(1, size + (self.rng.randint(-variation, variation) if variation else 0))
            pieces.append((data[start : start + step], pause_s))
            start += step
        return pieces

    async def _hold(self, stream: Stream) -> None:
        """While a blackhole (timeout toxic) is in force, forward nothing; wake when toxics change."""
        while any(isinstance(t, Timeout) for t in self.active(stream)):
            self.changed.clear()
            await self.changed.wait()

    async def _end(self, stream: Stream, sink: asyncio.StreamWriter) -> None:
        delay_ms = sum(t.delay_ms for t in self.active(stream) if isinstance(t, SlowClose))
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        if sink.can_write_eof():
            with contextlib.suppress(OSError):
                sink.write_eof()
        self._open_directions -= 1
        if self._open_directions == 0:
            self.close()

    def close(self, *, reset: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        current = asyncio.current_task()
        for task in [*self._tasks, *self._timers.values()]:
            if task is not current:
                task.cancel()
        for writer in (self.client_writer, self.upstream_writer):
            if reset:
                _rst(writer)
            else:
                writer.close()
        self.on_closed(self)
