"""Process and container faults on a Docker service, applied from the host (docker API or host signals).

The service's container has no capabilities and must not be given any to be faulted: kill, signals, the
cgroup freezer, network membership and CPU limits are all changed from outside it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from docker.errors import APIError, NotFound

from harness.faults.base import FaultUnavailable


class FaultableService(Protocol):
    """What process faults need of a service; `harness.sandbox.service.DockerService` provides it."""

    name: str

    def kill(self, signal: str = "SIGKILL") -> None: ...

    def start(self) -> None: ...

    def pause(self) -> None: ...

    def unpause(self) -> None: ...

    def network_names(self) -> list[str]: ...

    def disconnect(self, network: str | None = None) -> str: ...

    def reconnect(self, network: str) -> None: ...

    def host_pids(self) -> list[int]: ...

    def cpu_limit(self) -> int: ...

    def set_cpu_limit(self, nano_cpus: int) -> None: ...


@dataclass
class KillRestart:
    """kill -9, then (on stop) start again with /data kept: a crash and a supervisor's restart."""

    service: FaultableService
    name: str = "kill-restart"

    def start(self) -> None:
        self.service.kill("SIGKILL")

    def stop(self) -> None:
        self.service.start()

    def details(self) -> dict[str, Any]:
        return {"service": self.service.name, "signal": "SIGKILL"}


@dataclass
class SignalStop:
    """SIGSTOP every process of the container, SIGCONT on stop: a GC pause or a stalled VM.

    `docker kill -s SIGSTOP` would only stop the container's init (the service runs under `init: true`),
    and SIGSTOP cannot be forwarded, so each process is signalled from the host by its host PID.
    """

    service: FaultableService
    name: str = "sigstop"
    _stopped: list[int] = field(default_factory=list, init=False)

    def start(self) -> None:
        pids = [pid for pid in self.service.host_pids() if pid > 0]
        if not pids or not all(os.path.exists(f"/proc/{pid}") for pid in pids):
            raise FaultUnavailable(
                f"cannot see the processes of {self.service.name} from here",
                hint="the harness must share the Docker engine's PID namespace (run on the same host)",
            )
        # Children first, so the service does not see its init stop before it does.
        for pid in reversed(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
            self._stopped.append(pid)

    def stop(self) -> None:
        for pid in self._stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self._stopped.clear()

    def details(self) -> dict[str, Any]:
        return {"service": self.service.name, "pids": list(self._stopped)}


@dataclass
class Freeze:
    """`docker pause`: the cgroup freezer stops every process at once, unlike signals it is invisible
    to the service."""

    service: FaultableService
    name: str = "pause"
    _paused: bool = field(default=False, init=False)

    def start(self) -> None:
        self.service.pause()
        self._paused = True

    def stop(self) -> None:
        if self._paused:
            with contextlib.suppress(NotFound):
                self.service.unpause()
            self._paused = False

    def details(self) -> dict[str, Any]:
        return {"service": self.service.name}


@dataclass
class Partition:
    """Cut a set of nodes off their network, then reconnect them.

    Each node in `isolated` loses every link (to the host, to clients, to the other nodes). For a cluster
    split into sides that still talk among themselves, use `SplitPartition`. Docker may give a node a new IP
    on reconnect; the service's `host` follows it, and `proxied()` resolves the address per connection.
    """

    isolated: Sequence[FaultableService]
    name: str = "partition"
    _cut: list[tuple[FaultableService, str]] = field(default_factory=list, init=False)

    def start(self) -> None:
        for node in self.isolated:
            self._cut.append((node, node.disconnect()))

    def stop(self) -> None:
        while self._cut:
            node, network = self._cut.pop()
            with contextlib.suppress(APIError):
                node.reconnect(network)

    def details(self) -> dict[str, Any]:
        return {"isolated": [node.name for node in self.isolated]}


class NetworkMaker(Protocol):
    """Creates and removes the side networks of a split (e.g. a DockerServiceFactory's client)."""

    def create(self, name: str) -> str: ...

    def remove(self, name: str) -> None: ...


@dataclass
class SplitPartition:
    """Split nodes into sides: each side moves to a network of its own, so a side's nodes still reach each
    other and the host, but not the other sides. Designed for multi-node clusters; not yet exercised by a
    test (only single-node services exist today)."""

    sides: Sequence[Sequence[FaultableService]]
    networks: NetworkMaker
    name: str = "split"
    _moves: list[tuple[FaultableService, str, str]] = field(default_factory=list, init=False)
    _made: list[str] = field(default_factory=list, init=False)

    def start(self) -> None:
        for number, side in enumerate(self.sides):
            side_network = self.networks.create(f"{self.name}-side-{number}")
            self._made.append(side_network)
            for node in side:
                original = node.disconnect()
                self._moves.append((node, original, side_network))
                node.reconnect(side_network)

    def stop(self) -> None:
        while self._moves:
            node, original, side_network = self._moves.pop()
            with contextlib.suppress(APIError):
                node.disconnect(side_network)
            with contextlib.suppress(APIError):
                node.reconnect(original)
        while self._made:
            with contextlib.suppress(APIError):
                self.networks.remove(self._made.pop())

    def details(self) -> dict[str, Any]:
        return {"sides": [[node.name for node in side] for side in self.sides]}


@dataclass
class CpuSqueeze:
    """Lower the container's CPU limit to `cpus` (e.g. 0.05 of a CPU), restore the original on stop."""

    service: FaultableService
    cpus: float = 0.05
    name: str = "cpu-squeeze"
    _original: int | None = field(default=None, init=False)

    def start(self) -> None:
        self._original = self.service.cpu_limit()
        self.service.set_cpu_limit(max(int(self.cpus * 1e9), 10_000_000))

    def stop(self) -> None:
        if self._original is not None:
            with contextlib.suppress(NotFound):
                self.service.set_cpu_limit(self._original)
            self._original = None

    def details(self) -> dict[str, Any]:
        return {"service": self.service.name, "cpus": self.cpus}
