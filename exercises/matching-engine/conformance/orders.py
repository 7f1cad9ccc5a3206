"""Request builders for scripted scenarios: ``limit("b-1", "sell", "45010.0", "0.3")``."""

from __future__ import annotations

from typing import Any

from oracle import DEFAULT_INSTRUMENT


def limit(
    client_order_id: str, side: str, price: str, qty: str, tif: str = "gtc", stp: str | None = None
) -> dict[str, Any]:
    order = {
        "op": "new",
        "client_order_id": client_order_id,
        "side": side,
        "type": "limit",
        "price": price,
        "qty": qty,
        "tif": tif,
    }
    return order if stp is None else {**order, "stp": stp}


def market_order(client_order_id: str, side: str, qty: str, stp: str | None = None) -> dict[str, Any]:
    order = {"op": "new", "client_order_id": client_order_id, "side": side, "type": "market", "qty": qty}
    return order if stp is None else {**order, "stp": stp}


def cancel(client_order_id: str | None = None, order_id: int | None = None) -> dict[str, Any]:
    if client_order_id is not None:
        return {"op": "cancel", "client_order_id": client_order_id}
    return {"op": "cancel", "order_id": order_id}


class Ladder:
    """Prices counted in ticks from a base: ``p = Ladder(45000); p(3) == "45001.5"``."""

    def __init__(self, base_usd: int) -> None:
        self.base = base_usd * 10**DEFAULT_INSTRUMENT.price_decimals

    def __call__(self, ticks: int) -> str:
        return DEFAULT_INSTRUMENT.price_text(self.base + ticks * DEFAULT_INSTRUMENT.tick)
