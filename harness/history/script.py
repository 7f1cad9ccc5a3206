"""Histories written by hand, for tests of checkers and for explaining a counter-example.

``script`` reads one line per event; operations are named by a label, which is also their process::

    script(
        "a write x 1",    # a invokes write x 1
        "b read x",       # b invokes read x, concurrently
        "a ok",
        "b ok 1",         # b read 1
        "c cas x 1 2",    # cas takes expected and new
        "c info",         # timed out: it may or may not have happened
        "! crash start",  # faults: "! name start|stop"
    )

Tokens are integers, ``nil`` (None), ``true``/``false``, or else strings. Each event is one tick of a
`ManualClock` unless a line says ``@ 2.5`` (seconds) first, to put events at chosen times.
"""

from __future__ import annotations

from typing import Final

from harness.history.events import Value
from harness.history.history import History
from harness.history.recorder import HistoryRecorder, OpHandle

_NS: Final = 1_000_000_000
_WORDS: Final[dict[str, Value]] = {"nil": None, "true": True, "false": False}


class ManualClock:
    """A clock for tests: each reading moves it on by ``step_ns``; `advance` and `set` jump."""

    def __init__(self, start_ns: int = 0, step_ns: int = 1) -> None:
        self.now = start_ns
        self.step_ns = step_ns

    def __call__(self) -> int:
        now = self.now
        self.now += self.step_ns
        return now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * _NS)

    def set(self, seconds: float) -> None:
        self.now = int(seconds * _NS)


def token(text: str) -> Value:
    if text in _WORDS:
        return _WORDS[text]
    try:
        return int(text)
    except ValueError:
        return text


def script(*lines: str) -> History:
    """A `History` from lines such as ``"a write x 1"``, ``"a ok"`` (see the module docstring)."""
    clock = ManualClock()
    recorder = HistoryRecorder(clock=clock)
    open_ops: dict[str, OpHandle] = {}
    for line in lines:
        words = line.split()
        if words[:1] == ["@"]:
            clock.set(float(words[1]))
            words = words[2:]
        if not words:
            continue
        if words[0] == "!":
            name, phase = words[1], words[2]
            (recorder.fault_start if phase == "start" else recorder.fault_stop)(name)
        elif words[1] in ("ok", "fail", "info"):
            handle = open_ops.pop(words[0])
            rest = words[2:]
            if words[1] == "ok":
                handle.ok(token(rest[0]) if rest else None)
            else:
                (handle.fail if words[1] == "fail" else handle.info)(" ".join(rest) or None)
        else:
            label, f, key, *args = words
            values = [token(a) for a in args]
            value: Value = tuple(values) if len(values) > 1 else (values[0] if values else None)
            open_ops[label] = recorder.invoke(label, f, key, value)
    return recorder.snapshot()
