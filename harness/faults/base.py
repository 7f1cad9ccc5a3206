"""What every fault is: a named start/stop pair that a schedule drives.

`start` applies the fault, `stop` undoes it; `stop` must be safe to call when `start` failed half-way or was
never called, because the schedule heals in a `finally` by stopping every fault it may have started.
"""

from __future__ import annotations

from typing import Any, Protocol

from harness.errors import InfrastructureError


class FaultUnavailable(InfrastructureError):
    """This fault cannot be applied on this machine or to this service (a harness limit, never scored)."""


class Fault(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def details(self) -> dict[str, Any]:
        """What the fault does, for the timeline (JSON-friendly values)."""
        ...


class Recorder(Protocol):
    """Receives every fault event, e.g. to write it into a Jepsen-style history. Called from the thread
    that runs the schedule; `monotonic_ns` is `time.monotonic_ns()` at the event."""

    def on_event(self, name: str, phase: str, monotonic_ns: int, details: dict[str, Any]) -> None: ...
