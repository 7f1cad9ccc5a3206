"""The reference matching model: price-time priority, fills at the maker's price, IOC / post-only /
market semantics, the four self-trade prevention modes, idempotent client order ids.

One command in, one `EngineResult` out: the reply to the requester, the execution reports for
accounts (in the order they happen) and the market-data messages (trades, then at most one book
update). Nothing here knows about connections or JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from oracle.book import BookSide, OrderBook, RestingOrder
from oracle.checksum import book_checksum
from oracle.instrument import DEFAULT_INSTRUMENT, Instrument, Rejected
from oracle.messages import (
    Ack,
    BookUpdate,
    CancelAck,
    Cancelled,
    Decremented,
    Fill,
    Level,
    Reject,
    Side,
    Snapshot,
    Trade,
)
from oracle.reasons import CancelReason, Reason
from oracle.requests import CancelCommand, NewOrderCommand

Report: TypeAlias = Fill | Cancelled | Decremented
Public: TypeAlias = Trade | BookUpdate


@dataclass
class EngineResult:
    reply: Ack | CancelAck | Reject
    reports: list[tuple[str, Report]] = field(default_factory=list)
    """(account, report) in the order the events happened."""
    public: list[Public] = field(default_factory=list)


@dataclass(frozen=True)
class OrderRecord:
    """Every acknowledged order, kept forever: idempotent retries and cancel lookups need it."""

    order_id: int
    account: str
    client_order_id: str
    content: tuple[object, ...]
    ack: Ack


def _crosses(side: Side, limit: int | None, maker_price: int) -> bool:
    """Whether a taker on `side` with `limit` (None: market) may trade at `maker_price`."""
    if limit is None:
        return True
    return maker_price <= limit if side == "buy" else maker_price >= limit


class MatchingEngine:
    def __init__(self, instrument: Instrument = DEFAULT_INSTRUMENT) -> None:
        self.instrument = instrument
        self.book = OrderBook()
        self.open_orders: dict[int, RestingOrder] = {}
        self.records: dict[int, OrderRecord] = {}
        self._by_client_id: dict[tuple[str, str], OrderRecord] = {}
        self.next_order_id = 1
        self.next_trade_id = 1
        self.seq = 0
        """The last market-data sequence number used (0: none yet)."""

    # -- views

    def levels(self, side: Side) -> list[Level]:
        text = self.instrument
        return [(text.price_text(p), text.qty_text(q)) for p, q in self.book.l2(side)]

    def checksum(self) -> int:
        return book_checksum(self.levels("sell"), self.levels("buy"))

    def snapshot(self) -> Snapshot:
        return Snapshot(
            seq=self.seq, bids=self.levels("buy"), asks=self.levels("sell"), checksum=self.checksum()
        )

    # -- commands

    def new_order(self, account: str, command: NewOrderCommand) -> EngineResult:
        key = (account, command.client_order_id)
        known = self._by_client_id.get(key)
        if known is not None:
            if known.content == command.content():
                return EngineResult(known.ack)  # a retry: the original ack, nothing executes again
            return EngineResult(Reject(reason=Reason.DUPLICATE_CLIENT_ORDER_ID, client_order_id=key[1]))
        opposite = self.book.opposite(command.side)
        best = opposite.best()
        if command.tif == "post_only" and best is not None and _crosses(command.side, command.price, best):
            return EngineResult(Reject(reason=Reason.POST_ONLY_WOULD_CROSS, client_order_id=key[1]))

        ack = Ack(client_order_id=command.client_order_id, order_id=self.next_order_id)
        self.next_order_id += 1
        record = OrderRecord(ack.order_id, account, command.client_order_id, command.content(), ack)
        self.records[ack.order_id] = record
        self._by_client_id[key] = record
        result = EngineResult(ack)
        taker = RestingOrder(
            ack.order_id, account, command.client_order_id, command.side, command.price or 0, command.qty
        )
        touched = _Touched(self.book)
        taker_cancelled = self._match(command, taker, opposite, touched, result)
        if taker.remaining and not taker_cancelled:
            if command.type == "limit" and command.tif in ("gtc", "post_only"):
                touched.note(command.side, taker.price)
                self.book.side(command.side).add(taker)
                self.open_orders[taker.order_id] = taker
            else:
                result.reports.append((account, self._cancelled(taker, CancelReason.UNFILLED)))
        self._publish_book(touched, result)
        return result

    def cancel(self, account: str, command: CancelCommand) -> EngineResult:
        if command.order_id is not None:
            record = self.records.get(command.order_id)
            if record is not None and record.account != account:
                return EngineResult(Reject(reason=Reason.NOT_YOUR_ORDER, client_order_id=None))
        else:
            assert command.client_order_id is not None
            record = self._by_client_id.get((account, command.client_order_id))
        order = self.open_orders.get(record.order_id) if record else None
        if order is None:
            return EngineResult(Reject(reason=Reason.UNKNOWN_ORDER, client_order_id=command.client_order_id))
        touched = _Touched(self.book)
        touched.note(order.side, order.price)
        remaining = order.remaining
        self.book.side(order.side).remove(order)
        del self.open_orders[order.order_id]
        result = EngineResult(
            CancelAck(
                client_order_id=order.client_order_id,
                order_id=order.order_id,
                remaining=self.instrument.qty_text(remaining),
            )
        )
        self._publish_book(touched, result)
        return result

    # -- matching

    def _match(
        self,
        command: NewOrderCommand,
        taker: RestingOrder,
        opposite: BookSide,
        touched: _Touched,
        result: EngineResult,
    ) -> bool:
        """Trade `taker` against the opposite side; True if self-trade prevention cancelled the taker."""
        while taker.remaining:
            best = opposite.best()
            if best is None or not _crosses(command.side, command.price, best):
                return False
            maker = opposite.levels[best].first()
            touched.note(maker.side, maker.price)
            if maker.account == taker.account:
                if self._prevent_self_trade(command, taker, maker, opposite, result):
                    return True
                continue
            qty = min(taker.remaining, maker.remaining)
            trade_id = self.next_trade_id
            self.next_trade_id += 1
            opposite.reduce(maker, qty)
            taker.remaining -= qty
            if maker.remaining == 0:
                del self.open_orders[maker.order_id]
            result.reports.append((taker.account, self._fill(taker, trade_id, maker.price, qty, "taker")))
            result.reports.append((maker.account, self._fill(maker, trade_id, maker.price, qty, "maker")))
            self.seq += 1
            result.public.append(
                Trade(
                    seq=self.seq,
                    trade_id=trade_id,
                    side=taker.side,
                    price=self.instrument.price_text(maker.price),
                    qty=self.instrument.qty_text(qty),
                )
            )
        return False

    def _prevent_self_trade(
        self,
        command: NewOrderCommand,
        taker: RestingOrder,
        maker: RestingOrder,
        opposite: BookSide,
        result: EngineResult,
    ) -> bool:
        """Apply the taker's STP mode to one would-be self-trade; True if the taker is now cancelled.
        Reports go out maker first, then taker."""
        account = taker.account
        mode = command.stp
        if mode in ("cancel_maker", "cancel_both"):
            result.reports.append((account, self._cancelled(maker, CancelReason.STP)))
            opposite.remove(maker)
            del self.open_orders[maker.order_id]
        if mode in ("cancel_taker", "cancel_both"):
            result.reports.append((account, self._cancelled(taker, CancelReason.STP)))
            return True
        if mode == "cancel_maker":
            return False
        # decrement_and_cancel: the smaller is cancelled, the larger loses the smaller's quantity;
        # equal sizes cancel both. No trade is printed.
        qty = min(taker.remaining, maker.remaining)
        if maker.remaining == qty:
            result.reports.append((account, self._cancelled(maker, CancelReason.STP)))
            opposite.remove(maker)
            del self.open_orders[maker.order_id]
        else:
            opposite.reduce(maker, qty)
            result.reports.append((account, self._decremented(maker, qty)))
        if taker.remaining == qty:
            result.reports.append((account, self._cancelled(taker, CancelReason.STP)))
            taker.remaining = 0
            return True
        taker.remaining -= qty
        result.reports.append((account, self._decremented(taker, qty)))
        return False

    # -- messages

    def _fill(self, order: RestingOrder, trade_id: int, price: int, qty: int, liquidity: str) -> Fill:
        text = self.instrument
        return Fill(
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            trade_id=trade_id,
            side=order.side,
            price=text.price_text(price),
            qty=text.qty_text(qty),
            remaining=text.qty_text(order.remaining),
            liquidity="taker" if liquidity == "taker" else "maker",
        )

    def _cancelled(self, order: RestingOrder, reason: CancelReason) -> Cancelled:
        return Cancelled(
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            reason="stp" if reason is CancelReason.STP else "unfilled",
            remaining=self.instrument.qty_text(order.remaining),
        )

    def _decremented(self, order: RestingOrder, qty: int) -> Decremented:
        return Decremented(
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            qty=self.instrument.qty_text(qty),
            remaining=self.instrument.qty_text(order.remaining),
        )

    def _publish_book(self, touched: _Touched, result: EngineResult) -> None:
        """One book update per command: every level whose total changed, with its new total."""
        bids, asks = touched.changes()
        if not bids and not asks:
            return
        text = self.instrument
        self.seq += 1
        result.public.append(
            BookUpdate(
                seq=self.seq,
                bids=[(text.price_text(p), text.qty_text(q)) for p, q in bids],
                asks=[(text.price_text(p), text.qty_text(q)) for p, q in asks],
                checksum=self.checksum(),
            )
        )


class _Touched:
    """Level totals as they were before a command, to report only what the command changed."""

    def __init__(self, book: OrderBook) -> None:
        self._book = book
        self._before: dict[tuple[Side, int], int] = {}

    def note(self, side: Side, price: int) -> None:
        self._before.setdefault((side, price), self._book.side(side).total_at(price))

    def changes(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids high to low, asks low to high) of (price, new total), 0 for a deleted level."""
        changed = {
            key: now
            for key, before in self._before.items()
            if (now := self._book.side(key[0]).total_at(key[1])) != before
        }
        bids = sorted(((p, q) for (s, p), q in changed.items() if s == "buy"), reverse=True)
        asks = sorted((p, q) for (s, p), q in changed.items() if s == "sell")
        return bids, asks


__all__ = ["EngineResult", "MatchingEngine", "OrderRecord", "Rejected"]
