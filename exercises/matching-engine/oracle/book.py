"""The order book: price levels of resting orders in arrival order, and its aggregated L2 view.

Deliberately plain (sorted lists and insertion-ordered dicts): the oracle is judged on being obviously
right, not fast.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field

from oracle.messages import Side


@dataclass
class RestingOrder:
    order_id: int
    account: str
    client_order_id: str
    side: Side
    price: int
    remaining: int


@dataclass
class PriceLevel:
    price: int
    orders: dict[int, RestingOrder] = field(default_factory=dict)
    """By order id; a dict keeps insertion order, which is time priority."""
    total: int = 0

    def first(self) -> RestingOrder:
        return next(iter(self.orders.values()))


class BookSide:
    """One side's levels; `best_first()` walks them in priority order (bids high to low, asks low to high)."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.levels: dict[int, PriceLevel] = {}
        self._prices: list[int] = []  # ascending

    def best(self) -> int | None:
        if not self._prices:
            return None
        return self._prices[-1] if self.side == "buy" else self._prices[0]

    def best_first(self) -> Iterator[PriceLevel]:
        prices = reversed(self._prices) if self.side == "buy" else iter(self._prices)
        for price in list(prices):
            yield self.levels[price]

    def total_at(self, price: int) -> int:
        level = self.levels.get(price)
        return level.total if level else 0

    def add(self, order: RestingOrder) -> None:
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = PriceLevel(order.price)
            bisect.insort(self._prices, order.price)
        level.orders[order.order_id] = order
        level.total += order.remaining

    def reduce(self, order: RestingOrder, qty: int) -> None:
        """Take `qty` off a resting order (a fill or a decrement); remove it when nothing is left."""
        if not 0 < qty <= order.remaining:
            raise ValueError(f"cannot take {qty} off order {order.order_id} with {order.remaining} left")
        level = self.levels[order.price]
        order.remaining -= qty
        level.total -= qty
        if order.remaining == 0:
            self._drop(level, order)

    def remove(self, order: RestingOrder) -> None:
        level = self.levels[order.price]
        level.total -= order.remaining
        self._drop(level, order)

    def _drop(self, level: PriceLevel, order: RestingOrder) -> None:
        del level.orders[order.order_id]
        if not level.orders:
            del self.levels[level.price]
            self._prices.pop(bisect.bisect_left(self._prices, level.price))


class OrderBook:
    def __init__(self) -> None:
        self.bids = BookSide("buy")
        self.asks = BookSide("sell")

    def side(self, side: Side) -> BookSide:
        return self.bids if side == "buy" else self.asks

    def opposite(self, side: Side) -> BookSide:
        return self.asks if side == "buy" else self.bids

    def l2(self, side: Side) -> list[tuple[int, int]]:
        """(price, total) per level, best first."""
        return [(level.price, level.total) for level in self.side(side).best_first()]
