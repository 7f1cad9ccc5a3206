from __future__ import annotations

import asyncio
import threading

import pytest

from harness.drivers.resp_codec import (
    ConnectionLost,
    MalformedReply,
    ReplyTimeout,
    RespError,
    ServiceUnreachable,
)
from harness.history import FaultEvent, FaultWindow, History, HistoryRecorder, ManualClock, OpEvent, script


def recorder() -> HistoryRecorder:
    return HistoryRecorder(clock=ManualClock())


def kinds(rec: HistoryRecorder) -> list[str]:
    return [e.type if isinstance(e, OpEvent) else f"{e.name}:{e.phase}" for e in rec.snapshot().events]


def test_op_block_records_invoke_and_ok_with_times_and_result() -> None:
    rec = recorder()
    with rec.op(3, "read", "k") as op:
        op.ok(b"v")
    invoke, done = rec.snapshot().events
    assert isinstance(invoke, OpEvent) and isinstance(done, OpEvent)
    assert (invoke.type, invoke.process, invoke.f, invoke.key, invoke.time) == ("invoke", 3, "read", "k", 0)
    assert (done.type, done.value, done.time, done.op_id) == ("ok", b"v", 1, invoke.op_id)


@pytest.mark.parametrize(
    ("raised", "recorded", "propagates"),
    [
        pytest.param(TimeoutError("slow"), "info", False, id="timeout-is-indeterminate"),
        pytest.param(ConnectionResetError("reset"), "info", False, id="reset-is-indeterminate"),
        pytest.param(ReplyTimeout("no reply in 2 s"), "info", False, id="reply-timeout-is-indeterminate"),
        pytest.param(ConnectionLost("closed"), "info", False, id="connection-lost-is-indeterminate"),
        pytest.param(ConnectionRefusedError("refused"), "fail", False, id="refused-is-definite"),
        pytest.param(ServiceUnreachable("refused"), "fail", False, id="unreachable-is-definite"),
        pytest.param(MalformedReply("junk"), "fail", True, id="other-failure-propagates"),
        pytest.param(KeyError("bug"), "fail", True, id="scenario-bug-propagates"),
        pytest.param(KeyboardInterrupt(), "info", True, id="interrupt-is-indeterminate-and-propagates"),
    ],
)
def test_op_block_classifies_exceptions(raised: BaseException, recorded: str, propagates: bool) -> None:
    rec = recorder()

    def run() -> None:
        with rec.op(1, "write", "k", 1):
            raise raised

    if propagates:
        with pytest.raises(type(raised)):
            run()
    else:
        run()
    assert kinds(rec) == ["invoke", recorded]
    done = rec.snapshot().events[1]
    assert isinstance(done, OpEvent) and done.error is not None and type(raised).__name__ in done.error


def test_indeterminate_kinds_are_configurable() -> None:
    rec = HistoryRecorder(clock=ManualClock(), indeterminate=(ValueError,), definite=())
    with rec.op(1, "write", "k", 1):
        raise ValueError("maybe")
    with pytest.raises(TimeoutError), rec.op(1, "write", "k", 2):
        raise TimeoutError("now a surprise")
    assert kinds(rec) == ["invoke", "info", "invoke", "fail"]


def test_leaving_the_block_without_an_outcome_is_a_loud_scenario_bug() -> None:
    rec = recorder()
    with pytest.raises(RuntimeError, match=r"call op\.ok\(\)"), rec.op(1, "write", "k", 1):
        pass
    assert kinds(rec) == ["invoke", "info"]


def test_an_exception_after_the_outcome_is_not_the_operations_outcome() -> None:
    rec = recorder()
    with pytest.raises(AssertionError), rec.op(1, "read", "k") as op:
        op.ok(b"1")
        raise AssertionError("the scenario's own check failed")
    assert kinds(rec) == ["invoke", "ok"]


def test_completing_twice_is_refused() -> None:
    rec = recorder()
    handle = rec.invoke(1, "write", "k", 1)
    handle.ok()
    with pytest.raises(RuntimeError, match="completed twice"):
        handle.fail("again")


def test_call_records_result_and_error_replies() -> None:
    rec = recorder()
    assert rec.call(1, "read", "k", None, lambda: b"v") == b"v"
    assert rec.call(1, "incr", "k", None, lambda: RespError("ERR value is not an integer")) is not None

    def timeout() -> bytes:
        raise TimeoutError

    assert rec.call(1, "read", "k", None, timeout) is None
    ops = rec.snapshot().operations
    assert [(op.status, op.result, op.error) for op in ops] == [
        ("ok", b"v", None),
        ("fail", None, "ERR value is not an integer"),
        ("info", None, "TimeoutError: "),
    ]


def test_asyncio_tasks_and_cancellation() -> None:
    rec = HistoryRecorder()

    async def client(process: int) -> None:
        async def get() -> int:
            await asyncio.sleep(0)
            return process

        for _ in range(20):
            await rec.acall(process, "read", "k", None, get)

    async def hang() -> None:
        with rec.op(99, "write", "k", 1):
            await asyncio.sleep(10)

    async def main() -> None:
        stuck = asyncio.create_task(hang())
        await asyncio.gather(*(client(p) for p in range(5)))
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck

    asyncio.run(main())
    history = rec.snapshot()
    statuses = [op.status for op in history.operations]
    assert statuses.count("ok") == 100 and statuses.count("info") == 1
    cancelled = next(op for op in history.operations if op.process == 99)
    assert cancelled.error is not None and "CancelledError" in cancelled.error


def test_threads_record_a_valid_history_in_time_order() -> None:
    rec = HistoryRecorder()

    def client(process: int) -> None:
        for i in range(300):
            with rec.op(process, "write", f"k{i % 7}", i) as op:
                op.ok()

    threads = [threading.Thread(target=client, args=(p,)) for p in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    history = rec.snapshot()  # History validates the pairing
    assert len(history.operations) == 2400
    times = [e.time for e in history.events]
    assert times == sorted(times)
    assert len({op.op_id for op in history.operations}) == 2400


def test_snapshot_shows_unfinished_operations_as_info() -> None:
    rec = recorder()
    rec.invoke(1, "write", "k", 1)
    (op,) = rec.snapshot().operations
    assert (op.status, op.complete_time, op.error) == ("info", None, "no completion recorded")


def test_faults_are_recorded_beside_operations() -> None:
    clock = ManualClock()
    rec = HistoryRecorder(clock=clock)
    with rec.fault("partition", {"minority": ["n1"]}), rec.op(1, "read", "k") as op:
        op.info("timeout")
    rec.on_event("kill", "start", 1_000, {"signal": "SIGKILL"})
    history = rec.snapshot()
    assert kinds(rec) == ["partition:start", "invoke", "info", "partition:stop", "kill:start"]
    assert history.fault_windows() == (
        FaultWindow("partition", 0, 3, {"minority": ["n1"]}),
        FaultWindow("kill", 1_000, None, {"signal": "SIGKILL"}),
    )
    assert history.fault_windows(["kill"])[0].covers(5_000)


def test_a_fault_schedules_timeline_goes_into_the_history() -> None:
    # harness.faults' schedule reports these phases; heal closes a window, the rest are markers.
    rec = recorder()
    for name, phase, at in [
        ("schedule", "begin", 0),
        ("pause", "start", 10),
        ("pause", "error", 11),
        ("pause", "heal", 20),
        ("schedule", "recovered", 30),
        ("schedule", "end", 31),
    ]:
        rec.on_event(name, phase, at, {})
    history = rec.snapshot()
    assert [(e.name, e.phase) for e in history.faults][2] == ("pause", "error")
    assert history.fault_windows() == (FaultWindow("pause", 10, 20),)
    assert History.from_json(history.to_json()) == history


def test_fault_details_are_copied() -> None:
    rec = recorder()
    details = {"target": "a"}
    rec.fault_start("pause", details)
    details["target"] = "b"
    event = rec.snapshot().events[0]
    assert isinstance(event, FaultEvent) and event.details == {"target": "a"}


def test_history_views() -> None:
    history = script(
        "a write x 1",
        "b write y 2",
        "a ok",
        "! crash start",
        "b info",
        "c read x",
        "! crash stop",
        "c ok 1",
    )
    assert history.keys() == ("x", "y")
    pairs = history.completed()
    outcomes = [(call.f, done.type) for call, done in pairs]
    assert outcomes == [("write", "ok"), ("write", "info"), ("read", "ok")]
    per_key = history.by_key()
    assert [op.f for op in per_key["x"].operations] == ["write", "read"]
    assert len(per_key["y"].faults) == 2  # faults belong to every key
    (window,) = history.fault_windows()
    assert window.name == "crash" and window.stop is not None and window.stop > window.start
    assert history.operations[2].describe() == "#2 pc read 'x' -> ok 1"
