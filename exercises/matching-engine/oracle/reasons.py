"""The fixed list of reject reasons and cancel reasons, as the wire spells them."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a request was rejected. The value is the wire's `reason` string."""

    LINE_TOO_LONG = "line_too_long"
    MALFORMED_JSON = "malformed_json"
    UNKNOWN_OP = "unknown_op"
    NOT_LOGGED_IN = "not_logged_in"
    ALREADY_LOGGED_IN = "already_logged_in"
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    INVALID_PRICE = "invalid_price"
    PRICE_PRECISION = "price_precision"
    OFF_TICK = "off_tick"
    INVALID_QUANTITY = "invalid_quantity"
    QUANTITY_PRECISION = "quantity_precision"
    OFF_LOT = "off_lot"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    POST_ONLY_WOULD_CROSS = "post_only_would_cross"
    UNKNOWN_ORDER = "unknown_order"
    NOT_YOUR_ORDER = "not_your_order"


class CancelReason(StrEnum):
    """Why an order ended without filling completely, other than its owner's cancel request."""

    UNFILLED = "unfilled"
    """IOC or market order: the part that found no liquidity."""
    STP = "stp"
    """Self-trade prevention."""
