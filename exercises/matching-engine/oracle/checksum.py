"""The Kraken WebSocket v2 book checksum, computed from the wire's decimal strings.

Top 10 asks (lowest price first), then top 10 bids (highest first); for each level the price then the
quantity, each with its "." removed and then its leading zeros; CRC32 of the concatenation as an
unsigned 32-bit integer. Working on the strings, as a client does, keeps the trailing zeros that carry
the precision ("0.00100000" contributes "100000").
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Final

CHECKSUM_DEPTH: Final = 10


def checksum_field(text: str) -> str:
    """ "45285.2" -> "452852", "0.00100000" -> "100000"."""
    return text.replace(".", "").lstrip("0")


def checksum_string(asks: Iterable[Sequence[str]], bids: Iterable[Sequence[str]]) -> str:
    """The string the CRC is taken of; `asks` and `bids` best first, as (price, qty) text pairs."""
    parts: list[str] = []
    for levels in (asks, bids):
        for price, qty in islice(levels, CHECKSUM_DEPTH):
            parts.append(checksum_field(price) + checksum_field(qty))
    return "".join(parts)


def book_checksum(asks: Iterable[Sequence[str]], bids: Iterable[Sequence[str]]) -> int:
    """CRC32 of the top of the book; an empty book gives 0 (the CRC of the empty string)."""
    return zlib.crc32(checksum_string(asks, bids).encode("ascii")) & 0xFFFFFFFF
