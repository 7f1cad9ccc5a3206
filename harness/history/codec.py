"""JSON for histories, so results and evidence can carry them and tests can replay them.

JSON has no bytes and no tuples, and a history needs both (RESP values are bytes; a cas carries an
``(expected, new)`` pair, and values must stay hashable). Bytes become ``{"$bytes": "..."}`` decoded as
latin-1 (lossless and still readable for ASCII values) and every JSON list is read back as a tuple.
"""

from __future__ import annotations

import json
from typing import Any, Final

from harness.history.events import Event, FaultEvent, OpEvent, Value
from harness.history.history import History, HistoryError

FORMAT_VERSION: Final = 1
_OP_TYPES: Final = ("invoke", "ok", "fail", "info")


def encode_value(value: Value) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": value.decode("latin-1")}
    if isinstance(value, tuple):
        return [encode_value(v) for v in value]
    return value


def decode_value(data: Any) -> Value:
    if isinstance(data, dict):
        if set(data) != {"$bytes"} or not isinstance(data["$bytes"], str):
            raise HistoryError(f"not a value: {data!r}")
        return data["$bytes"].encode("latin-1")
    if isinstance(data, list):
        return tuple(decode_value(v) for v in data)
    if data is None or isinstance(data, bool | int | float | str):
        return data
    raise HistoryError(f"not a value: {data!r}")


def event_to_dict(event: Event) -> dict[str, Any]:
    if isinstance(event, FaultEvent):
        return {
            "type": "fault",
            "name": event.name,
            "phase": event.phase,
            "time": event.time,
            "details": dict(event.details),
        }
    out: dict[str, Any] = {
        "type": event.type,
        "op": event.op_id,
        "process": event.process,
        "f": event.f,
        "key": encode_value(event.key),
        "value": encode_value(event.value),
        "time": event.time,
    }
    if event.error is not None:
        out["error"] = event.error
    return out


def event_from_dict(data: dict[str, Any]) -> Event:
    try:
        if data["type"] == "fault":
            if not isinstance(data["phase"], str) or not data["phase"]:
                raise HistoryError(f"fault phase must be a word such as start or stop, not {data['phase']!r}")
            details = data.get("details", {})
            if not isinstance(details, dict):
                raise HistoryError(f"fault details must be an object, not {details!r}")
            return FaultEvent(str(data["name"]), data["phase"], int(data["time"]), details)
        if data["type"] not in _OP_TYPES:
            raise HistoryError(f"unknown event type {data['type']!r}")
        process = data["process"]
        if not isinstance(process, int | str):
            raise HistoryError(f"process must be an integer or a string, not {process!r}")
        error = data.get("error")
        return OpEvent(
            type=data["type"],
            op_id=int(data["op"]),
            process=process,
            f=str(data["f"]),
            key=decode_value(data["key"]),
            value=decode_value(data.get("value")),
            time=int(data["time"]),
            error=None if error is None else str(error),
        )
    except KeyError as missing:
        raise HistoryError(f"event without {missing}: {data!r}") from None


def history_to_dict(history: History) -> dict[str, Any]:
    return {"version": FORMAT_VERSION, "events": [event_to_dict(e) for e in history.events]}


def history_from_dict(data: dict[str, Any]) -> History:
    if data.get("version") != FORMAT_VERSION:
        raise HistoryError(f"unsupported history format version {data.get('version')!r}")
    return History(tuple(event_from_dict(e) for e in data["events"]))


def history_to_json(history: History) -> str:
    return json.dumps(history_to_dict(history), separators=(",", ":"))


def history_from_json(text: str) -> History:
    return history_from_dict(json.loads(text))
