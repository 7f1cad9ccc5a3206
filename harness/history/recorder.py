"""`HistoryRecorder`: what scenario clients write to while they run, from threads or asyncio tasks.

A scenario records one operation in two lines::

    with recorder.op(process, "write", key, value) as op:
        op.ok(client.set(key, value))

Leaving the block by an *indeterminate* exception (a timeout, a lost connection: the request may or may
not have been applied) records ``info`` and swallows it, because during a fault that is the expected
outcome and the workload should carry on. A *definite* failure (the connection was refused, so nothing
was sent) records ``fail`` and is swallowed too. Any other exception records ``fail`` and propagates: it is
a bug or a misbehaving service, and the scenario should stop there. Cancellation and Ctrl-C record
``info`` (the request may be in flight) and propagate.

One `threading.Lock` guards the events; it is never held across an ``await`` or a call into the client,
so recording is safe from threads and from tasks on one event loop. The clock is read under the lock, so
the order of events is the order of their times, which is what checkers rely on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Final, TypeVar

from harness.drivers.resp_codec import (
    ConnectionLost,
    ReplyTimeout,
    RespError,
    SendTimeout,
    ServiceUnreachable,
)
from harness.history.events import Completion, Event, FaultEvent, OpEvent, Phase, Process, Value
from harness.history.history import History

T = TypeVar("T")
ExceptionKinds = tuple[type[BaseException], ...]

#: The request may have been applied: record ``info``.
INDETERMINATE: Final[ExceptionKinds] = (
    TimeoutError,
    ConnectionError,
    ReplyTimeout,
    SendTimeout,
    ConnectionLost,
)
#: The request was certainly not applied (nothing reached the service): record ``fail``. Checked first,
#: because ConnectionRefusedError is also a ConnectionError.
DEFINITE: Final[ExceptionKinds] = (ServiceUnreachable, ConnectionRefusedError)


class OpHandle:
    """An invoked operation awaiting its completion; complete it exactly once."""

    def __init__(self, recorder: HistoryRecorder, invocation: OpEvent) -> None:
        self._recorder = recorder
        self.invocation = invocation
        self.completion: OpEvent | None = None

    @property
    def done(self) -> bool:
        return self.completion is not None

    def ok(self, result: Value = None) -> None:
        """It happened; ``result`` is what came back (the value read, the new counter)."""
        self._complete("ok", result, None)

    def fail(self, error: str | None = None) -> None:
        """It certainly did not happen (an error reply, a cas whose expected value did not match)."""
        self._complete("fail", None, error)

    def info(self, error: str | None = None) -> None:
        """Nobody knows whether it happened (a timeout): it may take effect at any later time."""
        self._complete("info", None, error)

    def _complete(self, kind: Completion, result: Value, error: str | None) -> None:
        self.completion = self._recorder._complete(self, kind, result, error)


class _OpContext:
    def __init__(self, recorder: HistoryRecorder, handle: OpHandle) -> None:
        self._recorder = recorder
        self._handle = handle

    def __enter__(self) -> OpHandle:
        return self._handle

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        return self._recorder._settle(self._handle, exc)


class HistoryRecorder:
    """Collects operations and faults; `snapshot()` returns the immutable `History` checkers take."""

    def __init__(
        self,
        *,
        clock: Callable[[], int] = time.monotonic_ns,
        indeterminate: ExceptionKinds = INDETERMINATE,
        definite: ExceptionKinds = DEFINITE,
    ) -> None:
        self._clock = clock
        self.indeterminate = indeterminate
        self.definite = definite
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._next_id = 0
        self._open: set[int] = set()

    # --- operations ------------------------------------------------------------------------------------

    def invoke(self, process: Process, f: str, key: Value, value: Value = None) -> OpHandle:
        """Record that ``process`` sent an operation now; complete the handle when the outcome is known."""
        with self._lock:
            op_id = self._next_id
            self._next_id += 1
            event = OpEvent("invoke", op_id, process, f, key, value, self._clock())
            self._events.append(event)
            self._open.add(op_id)
        return OpHandle(self, event)

    def op(self, process: Process, f: str, key: Value, value: Value = None) -> _OpContext:
        """Invoke now and settle on leaving the block (see the module docstring)."""
        return _OpContext(self, self.invoke(process, f, key, value))

    def call(self, process: Process, f: str, key: Value, value: Value, fn: Callable[[], T]) -> T | None:
        """Run ``fn`` as one operation and record its return value as the ``ok`` result.

        An error reply (`RespError`) records ``fail``: the service refused the operation. Returns None when
        the operation ended in a swallowed exception (``fail`` or ``info``).
        """
        with self.op(process, f, key, value) as handle:
            result = fn()
            _settle_result(handle, result)
            return result
        return None

    async def acall(
        self, process: Process, f: str, key: Value, value: Value, fn: Callable[[], Awaitable[T]]
    ) -> T | None:
        """`call` for a coroutine function: ``await recorder.acall(p, "read", k, None, lambda: c.get(k))``."""
        with self.op(process, f, key, value) as handle:
            result = await fn()
            _settle_result(handle, result)
            return result
        return None

    def _complete(self, handle: OpHandle, kind: Completion, result: Value, error: str | None) -> OpEvent:
        call = handle.invocation
        with self._lock:
            if call.op_id not in self._open:
                raise RuntimeError(f"operation {call.op_id} ({call.f} {call.key!r}) completed twice")
            self._open.discard(call.op_id)
            event = OpEvent(kind, call.op_id, call.process, call.f, call.key, result, self._clock(), error)
            self._events.append(event)
        return event

    def _settle(self, handle: OpHandle, exc: BaseException | None) -> bool:
        """Record the outcome of a ``with recorder.op(...)`` block; True swallows ``exc``."""
        if exc is None:
            if not handle.done:
                handle.info("the block ended without recording an outcome")
                raise RuntimeError(
                    f"operation {handle.invocation.f} {handle.invocation.key!r}: call op.ok(), op.fail() or "
                    "op.info() before leaving the block"
                )
            return False
        if handle.done:  # completed, then something else went wrong: not the operation's outcome
            return False
        text = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, Exception):  # cancelled or interrupted: the request may be in flight
            handle.info(text)
            return False
        if isinstance(exc, self.definite):
            handle.fail(text)
            return True
        if isinstance(exc, self.indeterminate):
            handle.info(text)
            return True
        handle.fail(text)
        return False

    # --- faults ----------------------------------------------------------------------------------------

    def fault_start(self, name: str, details: Mapping[str, Any] | None = None) -> None:
        self._fault(name, "start", details, None)

    def fault_stop(self, name: str, details: Mapping[str, Any] | None = None) -> None:
        self._fault(name, "stop", details, None)

    def fault(self, name: str, details: Mapping[str, Any] | None = None) -> _FaultContext:
        """``with recorder.fault("partition", {"minority": ["n1"]}): ...`` records the start and the stop."""
        return _FaultContext(self, name, details)

    def on_event(self, name: str, phase: str, monotonic_ns: int, details: dict[str, Any]) -> None:
        """The fault schedule's recorder hook (`harness.faults.base.Recorder`), so the faults a schedule
        injects land in the same history as the operations. Every phase is kept: ``start`` and ``stop``/
        ``heal`` make fault windows, the rest (``error``, ``begin``, ``recovered``...) are markers. The
        schedule's timestamp is kept too; it comes from the same clock as the default one."""
        self._fault(name, phase, details, monotonic_ns)

    def _fault(self, name: str, phase: Phase, details: Mapping[str, Any] | None, at: int | None) -> None:
        frozen = dict(details or {})  # a copy: the caller may keep mutating its dict
        with self._lock:
            self._events.append(FaultEvent(name, phase, self._clock() if at is None else at, frozen))

    # --- results ---------------------------------------------------------------------------------------

    def snapshot(self) -> History:
        """The history so far; operations still open appear as ``info``."""
        with self._lock:
            return History(tuple(self._events))


class _FaultContext:
    def __init__(self, recorder: HistoryRecorder, name: str, details: Mapping[str, Any] | None) -> None:
        self._recorder, self._name, self._details = recorder, name, details

    def __enter__(self) -> None:
        self._recorder.fault_start(self._name, self._details)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._recorder.fault_stop(self._name)


def _as_value(result: object) -> Value:
    """Client results as history values: lists become tuples; anything else unknown becomes its repr."""
    if result is None or isinstance(result, bool | int | float | str | bytes):
        return result
    if isinstance(result, list | tuple):
        return tuple(_as_value(r) for r in result)
    return repr(result)


def _settle_result(handle: OpHandle, result: object) -> None:
    if isinstance(result, RespError):
        handle.fail(str(result))
    else:
        handle.ok(_as_value(result))
