"""What a scenario sees of the service under test, independent of how it runs.

Scenarios talk to a `ServiceHandle`; the harness provides one backed by a Docker container, and one for an
address the candidate runs themselves (`harness check --address`), which cannot be killed or restarted.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

import pytest


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
    def port(self) -> int: ...

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


@dataclass
class ExternalService:
    """A service the candidate started themselves; the harness can only connect to it."""

    address_host: str
    address_port: int
    name: str = "external"
    managed: bool = False

    @property
    def host(self) -> str:
        return self.address_host

    @property
    def port(self) -> int:
        return self.address_port

    def is_alive(self) -> bool:
        return tcp_accepts(self.host, self.port)

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

    def shared(self) -> tuple[ServiceHandle, str | None]:
        return ExternalService(self.host, self.port), None

    @contextmanager
    def _fresh(self) -> Iterator[ServiceHandle]:
        pytest.skip("needs a fresh harness-managed service; run without --address to include it")
        yield ExternalService(self.host, self.port)  # pragma: no cover - skip raises

    def fresh(self, name: str) -> AbstractContextManager[ServiceHandle]:
        return self._fresh()

    def close(self) -> None:
        return None
