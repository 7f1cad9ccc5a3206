"""The matching-engine exercise's oracle: the reference model every scenario compares a service with.

Import it with the exercise folder on sys.path (``from oracle import Exchange``); see NOTES.md.
"""

from oracle.book import OrderBook, RestingOrder
from oracle.checksum import book_checksum, checksum_field, checksum_string
from oracle.exchange import Exchange, Outcome
from oracle.instrument import DEFAULT_INSTRUMENT, Instrument, Rejected, format_units
from oracle.matching import EngineResult, MatchingEngine
from oracle.messages import (
    Ack,
    BookQuery,
    BookUpdate,
    Cancel,
    CancelAck,
    Cancelled,
    Decremented,
    Fill,
    Login,
    LoginAck,
    NewOrder,
    Reject,
    Snapshot,
    Trade,
    parse_market_data,
    parse_order_entry,
)
from oracle.reasons import CancelReason, Reason
from oracle.requests import MAX_LINE_BYTES, decode_request
from oracle.stream import Replay, Step, StepRecord, random_stream, replay

__all__ = [
    "DEFAULT_INSTRUMENT",
    "MAX_LINE_BYTES",
    "Ack",
    "BookQuery",
    "BookUpdate",
    "Cancel",
    "CancelAck",
    "CancelReason",
    "Cancelled",
    "Decremented",
    "EngineResult",
    "Exchange",
    "Fill",
    "Instrument",
    "Login",
    "LoginAck",
    "MatchingEngine",
    "NewOrder",
    "OrderBook",
    "Outcome",
    "Reason",
    "Reject",
    "Rejected",
    "Replay",
    "RestingOrder",
    "Snapshot",
    "Step",
    "StepRecord",
    "Trade",
    "book_checksum",
    "checksum_field",
    "checksum_string",
    "decode_request",
    "format_units",
    "parse_market_data",
    "parse_order_entry",
    "random_stream",
    "replay",
]
