"""The one instrument: decimal strings on the wire, integer units inside, never a float.

A price of "45285.5" with one decimal is 452855 price units; a quantity of "0.00100000" with eight
decimals is 100000 quantity units. The tick and the lot are whole numbers of those units, so every
check is integer arithmetic and every rendering is exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from oracle.reasons import Reason

#: Digits, optionally a dot and at least one more digit: no sign, exponent, spaces or bare dot.
_DECIMAL: Final = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
#: Longer strings are refused before any arithmetic, so a hostile "1" followed by 10^6 zeros costs nothing.
MAX_DECIMAL_CHARS: Final = 32


class Rejected(Exception):
    """A request the exchange refuses, with the reason code the reject message carries."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class Instrument:
    """Price and quantity rules. Units are 10**-decimals of the quote (price) and base (quantity)."""

    symbol: str = "BTC/USD"
    price_decimals: int = 1
    qty_decimals: int = 8
    tick: int = 5
    """0.5 USD: prices must be a multiple of this many price units."""
    lot: int = 10_000
    """0.0001 BTC: quantities must be a multiple of this many quantity units."""
    max_price: int = 10_000_000
    """1,000,000.0 USD."""
    max_qty: int = 1_000_000_000_000
    """10,000.00000000 BTC."""

    def parse_price(self, value: object) -> int:
        """Price units of a wire price, or `Rejected` with invalid_price / price_precision / off_tick."""
        units = _parse_units(value, self.price_decimals, Reason.INVALID_PRICE, Reason.PRICE_PRECISION)
        if not 0 < units <= self.max_price:
            raise Rejected(Reason.INVALID_PRICE)
        if units % self.tick:
            raise Rejected(Reason.OFF_TICK)
        return units

    def parse_qty(self, value: object) -> int:
        """Quantity units, or `Rejected` with invalid_quantity / quantity_precision / off_lot."""
        units = _parse_units(value, self.qty_decimals, Reason.INVALID_QUANTITY, Reason.QUANTITY_PRECISION)
        if not 0 < units <= self.max_qty:
            raise Rejected(Reason.INVALID_QUANTITY)
        if units % self.lot:
            raise Rejected(Reason.OFF_LOT)
        return units

    def price_text(self, units: int) -> str:
        return format_units(units, self.price_decimals)

    def qty_text(self, units: int) -> str:
        return format_units(units, self.qty_decimals)


def _parse_units(value: object, decimals: int, invalid: Reason, precision: Reason) -> int:
    # Order of checks is part of the contract: shape, then precision; range and step come after.
    if not isinstance(value, str) or len(value) > MAX_DECIMAL_CHARS:
        raise Rejected(invalid)
    match = _DECIMAL.fullmatch(value)
    if match is None:
        raise Rejected(invalid)
    whole: str = match.group(1)
    fraction: str = match.group(2) or ""
    if len(fraction) > decimals:
        raise Rejected(precision)  # even "1.000000000": more digits than the field has is refused
    scale: int = 10**decimals
    return int(whole) * scale + int(fraction.ljust(decimals, "0") or "0")


def format_units(units: int, decimals: int) -> str:
    """Units as the wire writes them: always exactly `decimals` digits after the dot ("0.00100000")."""
    if units < 0:
        raise ValueError(f"negative amount {units}")
    if decimals == 0:
        return str(units)
    scale = 10**decimals
    return f"{units // scale}.{units % scale:0{decimals}d}"


DEFAULT_INSTRUMENT: Final = Instrument()
