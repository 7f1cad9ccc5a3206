"""Codecs by name. Built-ins are registered on import, so spawned worker processes see them too."""

from __future__ import annotations

from harness.load.codec import Codec
from harness.load.jsonl_orders import JSONL_ORDERS
from harness.load.resp import RESP_SET_GET

_CODECS: dict[str, Codec] = {}


def register_codec(codec: Codec) -> None:
    """Make ``codec`` selectable by name (``WorkloadSpec(codec=...)``)."""
    _CODECS[codec.name] = codec


def get_codec(name: str) -> Codec:
    try:
        return _CODECS[name]
    except KeyError:
        known = ", ".join(sorted(_CODECS))
        raise ValueError(f"unknown codec {name!r} (known: {known})") from None


def codec_names() -> list[str]:
    return sorted(_CODECS)


register_codec(RESP_SET_GET)
register_codec(JSONL_ORDERS)
