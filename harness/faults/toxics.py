"""Toxics: toxiproxy's vocabulary of network misbehaviour, as data.

Each toxic applies to one direction: `upstream` is client -> service, `downstream` is service -> client.
`toxicity` is the chance that a given connection is affected (decided once per connection, seeded).
Units follow the name: `_ms` milliseconds, `_us` microseconds, bytes and bytes per second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Stream = Literal["upstream", "downstream"]


@dataclass(frozen=True)
class Latency:
    """Delay every chunk by `latency_ms` ± `jitter_ms` counted from the chunk's arrival, so pipelined
    chunks are not delayed one after another (no pile-up); chunks keep their order."""

    latency_ms: float
    jitter_ms: float = 0.0
    stream: Stream = "downstream"
    toxicity: float = 1.0
    name: str = ""


@dataclass(frozen=True)
class Bandwidth:
    """Limit the direction to `rate` bytes per second."""

    rate: int
    stream: Stream = "downstream"
    toxicity: float = 1.0
    name: str = ""


@dataclass(frozen=True)
class Slicer:
    """Split each chunk into pieces of about `average_size` bytes (± `size_variation`), `delay_us` apart:
    exercises a parser's handling of frames split anywhere."""

    average_size: int
    size_variation: int = 0
    delay_us: int = 0
    stream: Stream = "upstream"
    toxicity: float = 1.0
    name: str = ""


@dataclass(frozen=True)
class ResetPeer:
    """Reset both sides of the connection (TCP RST) `timeout_ms` after the toxic meets it."""

    timeout_ms: float = 0.0
    stream: Stream = "downstream"
    toxicity: float = 1.0
    name: str = ""


@dataclass(frozen=True)
class Timeout:
    """Blackhole: stop forwarding (data is held, within the bounded buffers, and flows again when the
    toxic is removed); with `timeout_ms` > 0, close the connection that long after the toxic meets it."""

    timeout_ms: float = 0.0
    stream: Stream = "downstream"
    toxicity: float = 1.0
    name: str = ""


@dataclass(frozen=True)
class LimitData:
    """Close the connection once `bytes` bytes have passed in this direction."""

    bytes: int
    stream: Stream = "downstream"
    toxicity: float = 1.0
    name: str = ""


@dataclass(frozen=True)
class SlowClose:
    """Delay passing on the end of the stream (FIN) by `delay_ms`."""

    delay_ms: float
    stream: Stream = "downstream"
    toxicity: float = 1.0
    name: str = ""


Toxic = Latency | Bandwidth | Slicer | ResetPeer | Timeout | LimitData | SlowClose

_KINDS: dict[type, str] = {
    Latency: "latency",
    Bandwidth: "bandwidth",
    Slicer: "slicer",
    ResetPeer: "reset_peer",
    Timeout: "timeout",
    LimitData: "limit_data",
    SlowClose: "slow_close",
}


def kind(toxic: Toxic) -> str:
    return _KINDS[type(toxic)]


def toxic_name(toxic: Toxic) -> str:
    """The toxic's name, or toxiproxy's default `<kind>_<stream>`."""
    return toxic.name or f"{kind(toxic)}_{toxic.stream}"
