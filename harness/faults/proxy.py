"""A TCP fault proxy on 127.0.0.1, with toxics added and removed while connections are open.

The proxy runs its own event loop on a background thread so synchronous scenario code can drive it:

    with proxied(service) as svc:                   # svc.host / svc.port: connect here
        with svc.proxy.toxic(Latency(200, stream="upstream")):
            ...

The service's address is resolved for every new connection, so the proxy keeps working when a partition
fault reconnects the service and Docker hands it a new IP.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ExerciseError, InfrastructureError
from harness.exercise import MAIN_PORT
from harness.faults._link import Link
from harness.faults._loop import LoopThread
from harness.faults.toxics import Toxic, kind, toxic_name
from harness.scenario.service import ServiceHandle, StopOutcome

MAX_CONNECTIONS = 1024
CONNECT_TIMEOUT_S = 5.0

Address = Callable[[], tuple[str, int]]


class FaultProxy:
    """Listens on `listen_host`:ephemeral and forwards each connection to `upstream()`."""

    def __init__(
        self,
        upstream: Address | tuple[str, int],
        *,
        seed: int = 0,
        listen_host: str = "127.0.0.1",
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self._upstream: Address = upstream if callable(upstream) else (lambda: upstream)
        self._listen_host = listen_host
        self._max_connections = max_connections
        self._rng = random.Random(seed)
        self._toxics: dict[str, Toxic] = {}
        self._links: set[Link] = set()
        self._loop = LoopThread("fault-proxy")
        self._server: asyncio.Server | None = None
        self._port = 0
        self.refused = 0
        """Connections closed at once because `max_connections` were open or the service was unreachable."""

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._loop.start()
        self._server = self._loop.call(asyncio.start_server(self._accept, self._listen_host, 0))
        self._port = int(self._server.sockets[0].getsockname()[1])
        return self

    def close(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for link in list(self._links):
                link.close()

        with contextlib.suppress(Exception):
            self._loop.call(shutdown())
        self._loop.stop()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def host(self) -> str:
        return self._listen_host

    @property
    def port(self) -> int:
        if not self._port:
            raise InfrastructureError("the fault proxy is not started")
        return self._port

    # --- toxics ----------------------------------------------------------------------------------------

    def add(self, toxic: Toxic) -> str:
        """Put `toxic` in force on open and future connections; returns its name."""
        name = toxic_name(toxic)

        def apply() -> None:
            if name in self._toxics:
                raise InfrastructureError(f"toxic {name} already exists")
            self._toxics[name] = toxic
            self._changed()

        self._loop.call_soon(apply)
        return name

    def remove(self, name: str) -> None:
        def apply() -> None:
            if self._toxics.pop(name, None) is not None:
                self._changed()

        self._loop.call_soon(apply)

    def clear(self) -> None:
        def apply() -> None:
            self._toxics.clear()
            self._changed()

        self._loop.call_soon(apply)

    def toxics(self) -> list[Toxic]:
        return self._loop.call_soon(lambda: list(self._toxics.values()))

    def connections(self) -> int:
        return self._loop.call_soon(lambda: len(self._links))

    @contextlib.contextmanager
    def toxic(self, toxic: Toxic) -> Iterator[str]:
        name = self.add(toxic)
        try:
            yield name
        finally:
            self.remove(name)

    def _changed(self) -> None:
        for link in list(self._links):
            link.toxics_changed()

    # --- connections (loop thread) ---------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._links) >= self._max_connections:
            self.refused += 1
            writer.close()
            return
        try:
            host, port = self._upstream()
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError, InfrastructureError):
            self.refused += 1
            writer.close()
            return
        link = Link(
            reader,
            writer,
            up_reader,
            up_writer,
            toxics=lambda: list(self._toxics.values()),
            rng=random.Random(self._rng.random()),
            on_closed=self._links.discard,
        )
        self._links.add(link)
        link.run()


@dataclass
class ToxicFault:
    """A toxic as a schedulable fault: in force between start and stop."""

    proxy: FaultProxy
    toxic: Toxic
    name: str = ""
    _added: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.name = self.name or toxic_name(self.toxic)

    def start(self) -> None:
        self._added = self.proxy.add(self.toxic)

    def stop(self) -> None:
        if self._added is not None:
            self.proxy.remove(self._added)
            self._added = None

    def details(self) -> dict[str, Any]:
        return {"toxic": kind(self.toxic), **{k: v for k, v in vars(self.toxic).items() if k != "name"}}


@dataclass
class ProxiedService:
    """A service seen through a fault proxy: `host`/`port` are the proxy's, the rest is the service's."""

    service: ServiceHandle
    proxy: FaultProxy

    @property
    def name(self) -> str:
        return f"{self.service.name} (proxied)"

    @property
    def managed(self) -> bool:
        return self.service.managed

    @property
    def host(self) -> str:
        return self.proxy.host

    @property
    def port(self) -> int:
        return self.proxy.port

    def port_of(self, name: str) -> int:
        """The proxy's port for the main port. The proxy carries only that one: another port at the
        proxy's host would be a wrong address, so scenarios reach it through `service.service`."""
        if name != MAIN_PORT:
            self.service.port_of(name)  # an undeclared name is reported as such
            raise ExerciseError(
                f"only the main port goes through the fault proxy, not '{name}'",
                hint="connect to proxied.service.host and proxied.service.port_of(name) for that one",
            )
        return self.proxy.port

    def is_alive(self) -> bool:
        return self.service.is_alive()

    def start(self) -> None:
        self.service.start()

    def stop(self, timeout: float) -> StopOutcome:
        return self.service.stop(timeout)

    def kill(self, signal: str = "SIGKILL") -> None:
        self.service.kill(signal)

    def restart(self) -> None:
        self.service.restart()

    def logs(self, tail_bytes: int = 4000) -> str:
        return self.service.logs(tail_bytes)


@contextlib.contextmanager
def proxied(service: ServiceHandle, *, seed: int = 0) -> Iterator[ProxiedService]:
    """Run a fault proxy in front of `service` for the duration of the block."""
    with FaultProxy(lambda: (service.host, service.port), seed=seed) as proxy:
        yield ProxiedService(service, proxy)
