"""Reading one request line the way the exchange must: a typed command, or the one reject reason.

The checks run in the brief's order and the first failure decides the reason:
line_too_long, malformed_json, op (missing_field / unknown_op), session (not_logged_in /
already_logged_in), unknown_field, missing_field, invalid_field, price, quantity.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, TypeAlias, TypeVar

from oracle.instrument import Instrument, Rejected
from oracle.messages import (
    ORDER_TYPES,
    SIDES,
    STP_MODES,
    TIMES_IN_FORCE,
    OrderType,
    Side,
    StpMode,
    TimeInForce,
)
from oracle.reasons import Reason

#: Longest request line, in bytes, not counting the "\n".
MAX_LINE_BYTES: Final = 4096

ACCOUNT_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
CLIENT_ORDER_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,36}")
MAX_ORDER_ID: Final = 2**63 - 1

_ALLOWED: Final[dict[str, frozenset[str]]] = {
    "login": frozenset({"op", "account"}),
    "new": frozenset({"op", "client_order_id", "side", "type", "price", "qty", "tif", "stp"}),
    "cancel": frozenset({"op", "client_order_id", "order_id"}),
    "book": frozenset({"op"}),
}
_NEEDS_LOGIN: Final = frozenset({"new", "cancel"})

_T = TypeVar("_T", bound=str)


@dataclass(frozen=True)
class LoginCommand:
    account: str


@dataclass(frozen=True)
class NewOrderCommand:
    client_order_id: str
    side: Side
    type: OrderType
    price: int | None
    """Price units; None for a market order."""
    qty: int
    tif: TimeInForce
    stp: StpMode

    def content(self) -> tuple[object, ...]:
        """What makes a retry 'the same order': every field but the id, after defaults are applied."""
        return (self.side, self.type, self.price, self.qty, self.tif, self.stp)


@dataclass(frozen=True)
class CancelCommand:
    client_order_id: str | None
    order_id: int | None


@dataclass(frozen=True)
class BookCommand:
    pass


Command: TypeAlias = LoginCommand | NewOrderCommand | CancelCommand | BookCommand


class RequestRejected(Rejected):
    """`Rejected` with the client order id the reject message echoes (None when there is none)."""

    def __init__(self, reason: Reason, client_order_id: str | None) -> None:
        super().__init__(reason)
        self.client_order_id = client_order_id


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _valid_client_order_id(value: object) -> str | None:
    return value if isinstance(value, str) and CLIENT_ORDER_ID_PATTERN.fullmatch(value) else None


def decode_request(line: bytes, *, logged_in: bool, instrument: Instrument) -> Command | None:
    """The command on `line` (without its "\\n"), None for a blank line, or `RequestRejected`."""
    if len(line) > MAX_LINE_BYTES:
        raise RequestRejected(Reason.LINE_TOO_LONG, None)
    if not line.strip(b" \t\r"):
        return None
    try:
        # No float is ever made: a JSON number with a fraction becomes a Decimal, and fails the type
        # checks below like any other non-string price.
        obj = json.loads(line.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RequestRejected(Reason.MALFORMED_JSON, None) from None
    if not isinstance(obj, dict):
        raise RequestRejected(Reason.MALFORMED_JSON, None)
    client_order_id = _valid_client_order_id(obj.get("client_order_id"))

    def reject(reason: Reason) -> RequestRejected:
        return RequestRejected(reason, client_order_id)

    if "op" not in obj:
        raise reject(Reason.MISSING_FIELD)
    op = obj["op"]
    if not isinstance(op, str) or op not in _ALLOWED:
        raise reject(Reason.UNKNOWN_OP)
    if op in _NEEDS_LOGIN and not logged_in:
        raise reject(Reason.NOT_LOGGED_IN)
    if op == "login" and logged_in:
        raise reject(Reason.ALREADY_LOGGED_IN)
    if any(key not in _ALLOWED[op] for key in obj):
        raise reject(Reason.UNKNOWN_FIELD)
    try:
        if op == "login":
            return _login(obj)
        if op == "new":
            return _new_order(obj, instrument)
        if op == "cancel":
            return _cancel(obj)
        return BookCommand()
    except RequestRejected:
        raise
    except Rejected as exc:
        raise reject(exc.reason) from None


def _login(obj: dict[str, object]) -> LoginCommand:
    if "account" not in obj:
        raise Rejected(Reason.MISSING_FIELD)
    account = obj["account"]
    if not isinstance(account, str) or not ACCOUNT_PATTERN.fullmatch(account):
        raise Rejected(Reason.INVALID_FIELD)
    return LoginCommand(account)


def _new_order(obj: dict[str, object], instrument: Instrument) -> NewOrderCommand:
    required = ["client_order_id", "side", "type", "qty"]
    if obj.get("type") == "limit":
        required += ["price", "tif"]
    if any(name not in obj for name in required):
        raise Rejected(Reason.MISSING_FIELD)
    client_order_id = _valid_client_order_id(obj["client_order_id"])
    side = _choice(obj["side"], SIDES)
    order_type = _choice(obj["type"], ORDER_TYPES)
    stp = _choice(obj.get("stp", "cancel_taker"), STP_MODES)
    if order_type == "limit":
        tif = _choice(obj["tif"], TIMES_IN_FORCE)
    elif obj.get("tif", "ioc") != "ioc" or "price" in obj:
        raise Rejected(Reason.INVALID_FIELD)  # a market order has no price and is always IOC
    else:
        tif = "ioc"
    if client_order_id is None:
        raise Rejected(Reason.INVALID_FIELD)
    price = instrument.parse_price(obj["price"]) if order_type == "limit" else None
    qty = instrument.parse_qty(obj["qty"])
    return NewOrderCommand(client_order_id, side, order_type, price, qty, tif, stp)


def _choice(value: object, options: tuple[_T, ...]) -> _T:
    """`value` if it is one of `options` (exact strings), else invalid_field."""
    for option in options:
        if value == option and isinstance(value, str):
            return option
    raise Rejected(Reason.INVALID_FIELD)


def _cancel(obj: dict[str, object]) -> CancelCommand:
    if "client_order_id" not in obj and "order_id" not in obj:
        raise Rejected(Reason.MISSING_FIELD)
    if "client_order_id" in obj and "order_id" in obj:
        raise Rejected(Reason.INVALID_FIELD)
    if "client_order_id" in obj:
        client_order_id = _valid_client_order_id(obj["client_order_id"])
        if client_order_id is None:
            raise Rejected(Reason.INVALID_FIELD)
        return CancelCommand(client_order_id, None)
    order_id = obj["order_id"]
    # bool is an int in Python but `true` is not an order id.
    if type(order_id) is not int or not 1 <= order_id <= MAX_ORDER_ID:
        raise Rejected(Reason.INVALID_FIELD)
    return CancelCommand(None, order_id)
