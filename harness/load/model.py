"""What a load run is asked to do (:class:`LoadSpec`) and what it found (:class:`LoadResult`).

Latencies are integer microseconds. "Corrected" latencies are measured from each request's planned
send time, so a server that stalls is charged for every request the stall kept from being sent (the
coordinated-omission correction of wrk2); "uncorrected" ones from the moment the request was actually
written. In a closed loop the two are the same.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Mode = Literal["open", "closed"]

MAX_DURATION_S = 3600.0
MAX_CONNECTIONS = 10_000
MAX_PIPELINE = 1024
MAX_PROCESSES = 64


@dataclass(frozen=True)
class WorkloadSpec:
    """Which codec to speak and the shape of the requests it makes."""

    codec: str = "resp-set-get"
    keyspace: int = 10_000
    value_size: int = 16
    read_ratio: float = 0.5
    pool_size: int = 8192
    """Requests pre-encoded per process and cycled through; the hot path never encodes."""

    def __post_init__(self) -> None:
        if self.keyspace < 1 or self.value_size < 0 or self.pool_size < 1:
            raise ValueError("keyspace and pool_size must be >= 1, value_size >= 0")
        if not 0.0 <= self.read_ratio <= 1.0:
            raise ValueError("read_ratio must be within [0, 1]")


@dataclass(frozen=True)
class LoadSpec:
    """One load run.

    ``mode="open"`` sends at a constant total ``rate`` (requests/s, split across processes in
    proportion to their connections) whatever the server does; each connection carries at most
    ``pipeline`` requests at a time, and a due request finding every connection busy waits in a backlog
    (its latency still counted from its planned time). ``mode="closed"`` keeps ``pipeline`` requests in
    flight on each of ``connections`` connections, as fast as the server answers.
    """

    mode: Mode = "closed"
    rate: float | None = None
    connections: int = 50
    pipeline: int = 1
    duration_s: float = 10.0
    warmup_s: float = 1.0
    processes: int = 1
    seed: int = 0
    encoder: WorkloadSpec = field(default_factory=WorkloadSpec)
    cpus: tuple[int, ...] | None = None
    """Cores to pin generator processes to, round-robin; ``None``: the cores this process may use."""
    pin: bool = True
    send_tolerance_s: float = 0.010
    """Open loop: a send the generator itself could not make within this long of its planned time is
    dropped and counted (k6's dropped iterations). Must exceed the event loop's 1 ms timer step."""
    drain_timeout_s: float = 2.0
    """After the last send, how long to wait for replies still outstanding (then counted as timeouts)."""
    connect_timeout_s: float = 3.0
    max_cpu: float = 0.95
    """A generator process busier than this fraction of a core makes the run invalid for grading."""
    max_dropped_ratio: float = 0.001
    """Dropped sends above this fraction of planned ones make the run invalid for grading."""

    def __post_init__(self) -> None:
        if self.mode not in ("open", "closed"):
            raise ValueError(f"mode must be 'open' or 'closed', not {self.mode!r}")
        if self.mode == "open" and (self.rate is None or not 0 < self.rate < math.inf):
            raise ValueError("an open-loop run needs a finite rate > 0 (requests per second)")
        if not 1 <= self.processes <= MAX_PROCESSES:
            raise ValueError(f"processes must be within 1..{MAX_PROCESSES}")
        if not self.processes <= self.connections <= MAX_CONNECTIONS:
            raise ValueError(f"connections must be within processes..{MAX_CONNECTIONS}")
        if not 1 <= self.pipeline <= MAX_PIPELINE:
            raise ValueError(f"pipeline must be within 1..{MAX_PIPELINE}")
        if not 0 < self.duration_s <= MAX_DURATION_S or not 0 <= self.warmup_s <= MAX_DURATION_S:
            raise ValueError(f"duration_s must be within (0, {MAX_DURATION_S}], warmup_s >= 0")
        if not 0.002 <= self.send_tolerance_s <= 10 or not 0 <= self.drain_timeout_s <= 60:
            raise ValueError("send_tolerance_s must be within [0.002, 10], drain_timeout_s within [0, 60]")
        if not 0 < self.connect_timeout_s <= 60:
            raise ValueError("connect_timeout_s must be within (0, 60]")
        if self.cpus is not None and (not self.cpus or min(self.cpus) < 0):
            raise ValueError("cpus must be a non-empty tuple of core numbers")

    def connections_of(self, process: int) -> int:
        """How many of the connections process ``process`` opens."""
        share, extra = divmod(self.connections, self.processes)
        return share + (1 if process < extra else 0)

    def rate_of(self, process: int) -> float:
        """Open loop: process ``process``'s share of the rate (0.0 in a closed loop)."""
        if self.rate is None:
            return 0.0
        return self.rate * self.connections_of(process) / self.connections


@dataclass(frozen=True)
class LatencySummary:
    """Percentiles of one latency distribution, in microseconds (0 when nothing was recorded)."""

    count: int
    mean_us: float
    p50_us: int
    p90_us: int
    p99_us: int
    p999_us: int
    max_us: int


@dataclass(frozen=True)
class SecondSample:
    """One second of the measured window, by reply time (seconds past the window end are the drain)."""

    second: int
    completed: int
    errors: int
    dropped: int
    throughput: float
    p50_us: int
    p99_us: int
    p50_uncorrected_us: int
    p99_uncorrected_us: int


@dataclass(frozen=True)
class ProcessReport:
    """One generator process: where it ran and how busy it was."""

    index: int
    pid: int
    connections: int
    connected: int
    cpus: tuple[int, ...] | None
    """The cores it was pinned to, or ``None`` if it was not pinned."""
    pin_error: str | None
    cpu: float
    """Its CPU time over the measured window, as a fraction of one core."""


@dataclass(frozen=True)
class LoadResult:
    """Everything a run found. ``to_dict``/``to_json`` give plain JSON.

    Counts cover requests planned (open loop) or sent (closed loop) inside the measured window, after
    the warm-up. They add up: ``planned == requests + dropped + unsent`` and
    ``requests == completed + lost + timeouts``; ``errors`` is ``error_replies + connection_errors +
    lost + timeouts``.
    """

    host: str
    port: int
    spec: LoadSpec
    event_loop: str
    planned: int
    requests: int
    completed: int
    error_replies: int
    connection_errors: int
    """Connections refused, reset, closed by the server or sent unparseable bytes."""
    lost: int
    """Sent on a connection that then failed before replying."""
    timeouts: int
    """Still unanswered when the drain timeout ran out."""
    dropped: int
    """Open loop: sends the generator itself was too late to make (see ``send_tolerance_s``)."""
    unsent: int
    """Open loop: due sends still waiting for a free connection when the run ended."""
    throughput: float
    """Completed replies per second of the measured window."""
    latency: LatencySummary
    latency_uncorrected: LatencySummary
    send_lag: LatencySummary
    """Open loop: how late requests went out against their plan (timer step, backlog)."""
    time_series: tuple[SecondSample, ...]
    valid: bool
    invalid_reasons: tuple[str, ...]
    processes: tuple[ProcessReport, ...]
    histogram: str
    """The corrected latency HdrHistogram, V2 compressed and base64-encoded."""
    histogram_uncorrected: str

    @property
    def errors(self) -> int:
        return self.error_replies + self.connection_errors + self.lost + self.timeouts

    @property
    def generator_cpu(self) -> tuple[float, ...]:
        return tuple(p.cpu for p in self.processes)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["errors"] = self.errors
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)
