"""Every wire message as a small typed class: `to_json_line()` to write it, `parse_*` to read one.

Requests (client to exchange) are what scenarios send; `requests.decode_request` is the exchange's own,
stricter reading of a raw line with the reject reasons. Outbound messages (exchange to client) parse
strictly (exact JSON types, no unknown fields, canonical decimal strings), so a service's line either
becomes the same object the oracle produced or fails to parse.

`to_json_line()` renders compact JSON with the fields in declaration order and no trailing newline;
the oracle's output is therefore byte-for-byte deterministic. Services need not match byte-for-byte:
scenarios compare parsed messages (see the brief, section "Conventions").
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from oracle.reasons import Reason

Side: TypeAlias = Literal["buy", "sell"]
OrderType: TypeAlias = Literal["limit", "market"]
TimeInForce: TypeAlias = Literal["gtc", "ioc", "post_only"]
StpMode: TypeAlias = Literal["cancel_taker", "cancel_maker", "cancel_both", "decrement_and_cancel"]

SIDES: Final[tuple[Side, ...]] = ("buy", "sell")
ORDER_TYPES: Final[tuple[OrderType, ...]] = ("limit", "market")
TIMES_IN_FORCE: Final[tuple[TimeInForce, ...]] = ("gtc", "ioc", "post_only")
STP_MODES: Final[tuple[StpMode, ...]] = (
    "cancel_taker",
    "cancel_maker",
    "cancel_both",
    "decrement_and_cancel",
)

#: Canonical renderings for the brief's instrument: no leading zeros, exactly 1 and 8 decimals.
PriceText = Annotated[str, StringConstraints(pattern=r"^(0|[1-9][0-9]{0,15})\.[0-9]$")]
QtyText = Annotated[str, StringConstraints(pattern=r"^(0|[1-9][0-9]{0,15})\.[0-9]{8}$")]
OrderId = Annotated[int, Field(ge=1, le=2**63 - 1)]
Seq = Annotated[int, Field(ge=0, le=2**63 - 1)]
Checksum = Annotated[int, Field(ge=0, le=2**32 - 1)]
Level: TypeAlias = tuple[PriceText, QtyText]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def to_json_line(self) -> str:
        """Compact JSON, fields in declaration order, absent optional request fields left out."""
        return self.model_dump_json(exclude_none=isinstance(self, _Request))


# --- requests ------------------------------------------------------------------------------------------


class _Request(_Message):
    pass


class Login(_Request):
    op: Literal["login"] = "login"
    account: str


class NewOrder(_Request):
    op: Literal["new"] = "new"
    client_order_id: str
    side: Side
    type: OrderType
    price: str | None = None
    qty: str
    tif: TimeInForce | None = None
    stp: StpMode | None = None


class Cancel(_Request):
    op: Literal["cancel"] = "cancel"
    client_order_id: str | None = None
    order_id: int | None = None


class BookQuery(_Request):
    op: Literal["book"] = "book"


Request: TypeAlias = Login | NewOrder | Cancel | BookQuery


# --- order entry replies and execution reports ----------------------------------------------------------


class LoginAck(_Message):
    type: Literal["login_ack"] = "login_ack"
    account: str


class Ack(_Message):
    type: Literal["ack"] = "ack"
    client_order_id: str
    order_id: OrderId


class CancelAck(_Message):
    type: Literal["cancel_ack"] = "cancel_ack"
    client_order_id: str
    order_id: OrderId
    remaining: QtyText
    """What was still open, and is now cancelled."""


class Reject(_Message):
    type: Literal["reject"] = "reject"
    reason: Annotated[Reason, Field(strict=False)]
    """One of the fixed list; a plain string from it is accepted when building one in Python."""
    client_order_id: str | None
    """The request's client_order_id when it had a valid one, else null."""


class Snapshot(_Message):
    """The whole book: the reply to `book`, and the first line on every market-data connection."""

    type: Literal["snapshot"] = "snapshot"
    seq: Seq
    bids: list[Level]
    asks: list[Level]
    checksum: Checksum


class Fill(_Message):
    type: Literal["fill"] = "fill"
    order_id: OrderId
    client_order_id: str
    trade_id: OrderId
    side: Side
    price: PriceText
    qty: QtyText
    remaining: QtyText
    liquidity: Literal["maker", "taker"]


class Cancelled(_Message):
    """An order ended by the exchange (IOC/market remainder, self-trade prevention)."""

    type: Literal["cancelled"] = "cancelled"
    order_id: OrderId
    client_order_id: str
    reason: Literal["unfilled", "stp"]
    remaining: QtyText


class Decremented(_Message):
    """Decrement-and-cancel self-trade prevention took `qty` off an order that stays alive."""

    type: Literal["decremented"] = "decremented"
    order_id: OrderId
    client_order_id: str
    reason: Literal["stp"] = "stp"
    qty: QtyText
    remaining: QtyText


# --- market data ----------------------------------------------------------------------------------------


class Trade(_Message):
    type: Literal["trade"] = "trade"
    seq: Seq
    trade_id: OrderId
    side: Side
    """The taker's side."""
    price: PriceText
    qty: QtyText


class BookUpdate(_Message):
    """Levels whose total changed in one command; qty "0.00000000" deletes a level."""

    type: Literal["book"] = "book"
    seq: Seq
    bids: list[Level]
    asks: list[Level]
    checksum: Checksum


OrderEntryMessage: TypeAlias = LoginAck | Ack | CancelAck | Reject | Snapshot | Fill | Cancelled | Decremented
MarketDataMessage: TypeAlias = Snapshot | Trade | BookUpdate
Outbound: TypeAlias = OrderEntryMessage | Trade | BookUpdate

_ORDER_ENTRY: Final[TypeAdapter[OrderEntryMessage]] = TypeAdapter(
    Annotated[OrderEntryMessage, Field(discriminator="type")]
)
_MARKET_DATA: Final[TypeAdapter[MarketDataMessage]] = TypeAdapter(
    Annotated[MarketDataMessage, Field(discriminator="type")]
)


def parse_order_entry(line: str | bytes) -> OrderEntryMessage:
    """A line from the order-entry port; raises pydantic.ValidationError if it is not one."""
    return _ORDER_ENTRY.validate_json(line, strict=True)


def parse_market_data(line: str | bytes) -> MarketDataMessage:
    """A line from the market-data port; raises pydantic.ValidationError if it is not one."""
    return _MARKET_DATA.validate_json(line, strict=True)
