from __future__ import annotations

import json
from typing import Any

import pytest

from harness.history import History, HistoryError, HistoryRecorder, ManualClock, OpEvent, script


def rich_history() -> History:
    rec = HistoryRecorder(clock=ManualClock(start_ns=10**12, step_ns=1_000))
    with rec.op(1, "write", b"k\x00\xff", b"v\r\n\x80") as op:
        op.ok()
    with rec.op("client-2", "cas", "ключ", ("old", 2)) as op:
        op.ok(False)
    rec.fault_start("partition", {"sides": [["n1"], ["n2", "n3"]], "seconds": 1.5})
    with rec.op(3, "incr", "n", 5):
        raise TimeoutError("no reply in 1 s")
    rec.fault_stop("partition")
    with rec.op(4, "read", ("tuple", "key")) as op:
        op.fail("ERR wrong type")
    rec.invoke(5, "delete", "gone")  # never completed
    return rec.snapshot()


def test_round_trip_preserves_every_event() -> None:
    history = rich_history()
    text = history.to_json()
    again = History.from_json(text)
    assert again == history
    assert again.operations == history.operations
    assert again.fault_windows() == history.fault_windows()
    assert again.to_json() == text


def test_json_is_readable_for_ascii_bytes() -> None:
    data = json.loads(script("a write x 1", "a ok").to_json())
    assert data["version"] == 1
    assert data["events"][0] == {
        "type": "invoke",
        "op": 0,
        "process": "a",
        "f": "write",
        "key": "x",
        "value": 1,
        "time": 0,
    }
    rec = HistoryRecorder(clock=ManualClock())
    rec.invoke(1, "write", "k", b"hello")
    assert '{"$bytes":"hello"}' in rec.snapshot().to_json()


def _doc(*events: dict[str, Any], version: int = 1) -> str:
    return json.dumps({"version": version, "events": list(events)})


INVOKE = {"type": "invoke", "op": 1, "process": 1, "f": "read", "key": "k", "value": None, "time": 0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(_doc(version=2), "version", id="unknown-version"),
        pytest.param(_doc({**INVOKE, "type": "maybe"}), "unknown event type", id="unknown-type"),
        pytest.param(
            _doc({"type": "ok", "op": 1, "process": 1, "f": "read", "key": "k", "time": 1}),
            "not open",
            id="completion-without-invoke",
        ),
        pytest.param(_doc(INVOKE, {**INVOKE, "time": 1}), "invoked twice", id="invoked-twice"),
        pytest.param(_doc({k: v for k, v in INVOKE.items() if k != "f"}), "without 'f'", id="missing-field"),
        pytest.param(_doc({**INVOKE, "value": {"x": 1}}), "not a value", id="object-value"),
        pytest.param(
            _doc({"type": "fault", "name": "kill", "phase": 3, "time": 0}),
            "phase",
            id="bad-fault-phase",
        ),
        pytest.param(_doc({**INVOKE, "process": [1]}), "process", id="bad-process"),
    ],
)
def test_malformed_histories_are_refused(text: str, message: str) -> None:
    with pytest.raises(HistoryError, match=message):
        History.from_json(text)


def test_direct_construction_is_validated_too() -> None:
    done = OpEvent("ok", 1, 1, "read", "k", None, 0)
    with pytest.raises(HistoryError, match="not open"):
        History((done,))
