"""Open-loop pacing: the planned send times of a constant-rate schedule, and which are due now.

Request ``k`` of a process is planned at ``start + k / rate``. Each tick asks :meth:`Pacer.due` what is
due at ``now``; everything planned up to ``now`` comes back at once (the event loop's timers step in
whole milliseconds, so at more than 1000 requests/s a tick sends a batch). A due send planned more than
``tolerance`` before ``now`` is one the generator itself was too late for (its loop was busy): it is
dropped and counted, not sent late, so the generator's own lag is never charged to the server. The clock
is the caller's: ``now`` is a parameter, which keeps this module pure and testable.

Sends up to half a timer step early are allowed (``lookahead``), so that on average sends are on time
rather than half a step late; latency is always timed from the later of planned and actual send time,
so an early send never shortens a measured latency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Due:
    send: list[float]
    """Planned times of the requests to send now, oldest first."""
    dropped: int
    dropped_measured: int
    """Of ``dropped``, those planned inside the measured window (at or after ``measure_start``)."""


class Pacer:
    def __init__(
        self, start: float, rate: float, stop: float, tolerance: float, measure_start: float
    ) -> None:
        if rate <= 0 or stop < start or tolerance < 0:
            raise ValueError("need rate > 0, stop >= start and tolerance >= 0")
        self.start = start
        self.rate = rate
        self.interval = 1.0 / rate
        self.tolerance = tolerance
        self.measure_start = measure_start
        self.total = self._count_before(stop)
        """How many sends the schedule plans in ``[start, stop)``."""
        self.first_measured = self._count_before(measure_start)
        self.next_index = 0

    def _count_before(self, t: float) -> int:
        """How many planned times are strictly before ``t``."""
        if t <= self.start:
            return 0
        return max(0, math.ceil((t - self.start) * self.rate - 1e-9))

    def planned(self, index: int) -> float:
        return self.start + index * self.interval

    @property
    def finished(self) -> bool:
        return self.next_index >= self.total

    @property
    def measured_total(self) -> int:
        return self.total - self.first_measured

    def next_time(self) -> float | None:
        """When the next send is planned, or ``None`` once the schedule is exhausted."""
        return None if self.finished else self.planned(self.next_index)

    def due(self, now: float, lookahead: float = 0.0) -> Due:
        """What to send at ``now``: everything planned up to ``now + lookahead``, less what is dropped.

        A ``lookahead`` of half the timer step centres the send-time error on zero instead of making
        every send up to a whole step late; a send made early is timed from when it was actually sent.
        """
        upto = self._count_upto(now + lookahead)
        if now < self.measure_start:  # never pull a measured send forward into the warm-up
            upto = min(upto, max(self._count_upto(now), self.first_measured))
        upto = min(self.total, upto)
        if upto <= self.next_index:
            return Due([], 0, 0)
        late = min(upto, self._count_before(now - self.tolerance))
        dropped = max(0, late - self.next_index)
        dropped_measured = max(0, late - max(self.next_index, self.first_measured)) if dropped else 0
        first = self.next_index + dropped
        self.next_index = upto
        start, interval = self.start, self.interval
        return Due([start + k * interval for k in range(first, upto)], dropped, dropped_measured)

    def _count_upto(self, t: float) -> int:
        """How many planned times are at or before ``t``."""
        if t < self.start:
            return 0
        return math.floor((t - self.start) * self.rate + 1e-9) + 1
