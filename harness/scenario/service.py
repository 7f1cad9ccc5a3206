"""What a scenario sees of the service under test, independent of how it runs.

Scenarios talk to a `ServiceHandle`; the harness provides one backed by a Docker container, and one for an
address the candidate runs themselves (`harness check --address`), which cannot be killed or restarted.
A service may listen on several ports (`service.extra_ports` in exercise.yaml): `port` is the main one,
`port_of(name)` any of them, the main one being `MAIN_PORT`.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import pytest

from harness.errors import ExerciseError, UsageError
from harness.exercise import MAIN_PORT, ServiceSpec


@dataclass(frozen=True)
class StopOutcome:
    """How a graceful stop went: exit code, seconds it took, whether it had to be killed."""

    exit_code: int | None
    seconds: float
    forced: bool


class ServiceHandle(Protocol):
    """A started service under test."""

    name: str
    managed: bool
    """False when the harness does not control the process (an external address)."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int:
        """The main port (`service.port` in exercise.yaml)."""

    def port_of(self, name: str) -> int:
        """The port named `name`: `MAIN_PORT` or one of exercise.yaml's `service.extra_ports`."""

    def is_alive(self) -> bool: ...

    def start(self) -> None:
        """Start (or start again, keeping /data) and wait until it accepts connections."""

    def stop(self, timeout: float) -> StopOutcome:
        """SIGTERM, wait up to `timeout` seconds, then SIGKILL."""

    def kill(self, signal: str = "SIGKILL") -> None: ...

    def restart(self) -> None: ...

    def logs(self, tail_bytes: int = 4000) -> str: ...


class ServiceFactory(Protocol):
    """Creates services for one scenario run."""

    def shared(self) -> tuple[ServiceHandle, str | None]:
        """The long-lived service most scenarios share, started; restarted (keeping /data) if an earlier
        scenario left it dead, with a note saying so for the evidence."""

    def fresh(self, name: str) -> AbstractContextManager[ServiceHandle]:
        """A service of its own with an empty /data, removed afterwards."""

    def close(self) -> None: ...


def tcp_accepts(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_named(ports: Mapping[str, int], name: str) -> int:
    """`ports[name]`, or an error naming the ports there are (a scenario asked for an undeclared one)."""
    try:
        return ports[name]
    except KeyError:
        raise ExerciseError(
            f"the service has no port named '{name}' (it has {', '.join(ports)})",
            hint="declare it under service.extra_ports in exercise.yaml",
        ) from None


@dataclass(frozen=True)
class ExternalAddress:
    """Where a service the candidate started listens: `--address HOST:PORT` gives the main port, each
    `--port NAME=PORT` another; a port not given is assumed at its number in exercise.yaml (the brief's
    default, which is what a service started without settings listens on)."""

    host: str
    ports: dict[str, int]
    """Every port of the exercise by name, `MAIN_PORT` included."""

    @classmethod
    def resolve(cls, spec: ServiceSpec, host: str, port: int, named: Mapping[str, int]) -> ExternalAddress:
        known = {p.name: p.number for p in spec.ports()}
        unknown = sorted(name for name in named if name not in known or name == MAIN_PORT)
        if unknown:
            extra = ", ".join(n for n in known if n != MAIN_PORT) or "none"
            raise UsageError(
                f"--port {unknown[0]}=...: the exercise has no extra port of that name",
                hint=f"its extra ports: {extra}; the main port is given by --address",
            )
        return cls(host, {**known, **named, MAIN_PORT: port})


@dataclass
class ExternalService:
    """A service the candidate started themselves; the harness can only connect to it."""

    address_host: str
    address_port: int
    name: str = "external"
    managed: bool = False
    extra_ports: dict[str, int] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.address_host

    @property
    def port(self) -> int:
        return self.address_port

    def port_of(self, name: str) -> int:
        return port_named({MAIN_PORT: self.address_port, **self.extra_ports}, name)

    def is_alive(self) -> bool:
        ports = [self.address_port, *self.extra_ports.values()]
        return all(tcp_accepts(self.host, port) for port in ports)

    def _unsupported(self, what: str) -> None:
        pytest.skip(f"needs a harness-managed service to {what}; run without --address to include it")

    def start(self) -> None:
        if not self.is_alive():
            self._unsupported("start it")

    def stop(self, timeout: float) -> StopOutcome:
        self._unsupported("stop it")
        raise AssertionError("unreachable")

    def kill(self, signal: str = "SIGKILL") -> None:
        self._unsupported("kill it")

    def restart(self) -> None:
        self._unsupported("restart it")

    def logs(self, tail_bytes: int = 4000) -> str:
        return "(logs of an external service are not collected)"


@dataclass
class ExternalServiceFactory:
    """Every scenario shares the one external address; a 'fresh' service cannot be made."""

    host: str
    port: int
    extra_ports: dict[str, int] = field(default_factory=dict)

    @classmethod
    def at(cls, address: ExternalAddress) -> ExternalServiceFactory:
        extra = {name: port for name, port in address.ports.items() if name != MAIN_PORT}
        return cls(address.host, address.ports[MAIN_PORT], extra)

    def _service(self) -> ExternalService:
        return ExternalService(self.host, self.port, extra_ports=dict(self.extra_ports))

    def shared(self) -> tuple[ServiceHandle, str | None]:
        return self._service(), None

    @contextmanager
    def _fresh(self) -> Iterator[ServiceHandle]:
        pytest.skip("needs a fresh harness-managed service; run without --address to include it")
        yield self._service()  # pragma: no cover - skip raises

    def fresh(self, name: str) -> AbstractContextManager[ServiceHandle]:
        return self._fresh()

    def close(self) -> None:
        return None
