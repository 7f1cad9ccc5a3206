"""Jepsen-style histories: clients record operations (invoke, then ok | fail | info) and faults in one
sequence while a scenario runs; checkers (`harness.checks`) judge the history afterwards."""

from harness.history.codec import history_from_dict, history_from_json, history_to_dict, history_to_json
from harness.history.events import (
    Completion,
    Event,
    FaultEvent,
    FaultWindow,
    Operation,
    OpEvent,
    Process,
    Value,
)
from harness.history.history import History, HistoryError
from harness.history.recorder import DEFINITE, INDETERMINATE, HistoryRecorder, OpHandle
from harness.history.script import ManualClock, script

__all__ = [
    "DEFINITE",
    "INDETERMINATE",
    "Completion",
    "Event",
    "FaultEvent",
    "FaultWindow",
    "History",
    "HistoryError",
    "HistoryRecorder",
    "ManualClock",
    "OpEvent",
    "OpHandle",
    "Operation",
    "Process",
    "Value",
    "history_from_dict",
    "history_from_json",
    "history_to_dict",
    "history_to_json",
    "script",
]
