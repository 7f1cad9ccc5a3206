"""Seeded random order streams and their replay through the oracle.

`random_stream(seed)` gives request lines from several logged-in connections: limit orders around a
mid price (so they cross often), IOC, post-only and market orders, every STP mode, cancels of open
and closed orders and of other accounts' orders, retries and conflicting duplicates, book queries
and malformed requests. `replay(steps)` runs them through an `Exchange` and keeps, per step, the
outcome and the book after it, so a scenario can compare a service with the oracle line by line.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from oracle.exchange import Exchange, Outcome
from oracle.instrument import DEFAULT_INSTRUMENT, Instrument
from oracle.messages import (
    ORDER_TYPES,
    SIDES,
    STP_MODES,
    TIMES_IN_FORCE,
    BookQuery,
    Cancel,
    Login,
    NewOrder,
    Snapshot,
)

MID_PRICE: Final = 450_000
"""45000.0 in price units."""

#: Requests every exchange must refuse, with the reason it must give.
BAD_LINES: Final[Sequence[str]] = (
    "{not json",
    "[1,2,3]",
    '{"op":"fly"}',
    '{"op":"book","depth":5}',
    '{"op":"new","client_order_id":"x1","side":"buy","type":"limit","price":"45000.0","tif":"gtc"}',
    '{"op":"new","client_order_id":"x2","side":"up","type":"limit","price":"45000.0","qty":"0.0001","tif":"gtc"}',
    '{"op":"new","client_order_id":"x3","side":"buy","type":"limit","price":"45000.3","qty":"0.0001","tif":"gtc"}',
    '{"op":"new","client_order_id":"x4","side":"buy","type":"limit","price":"45000.05","qty":"0.0001","tif":"gtc"}',
    '{"op":"new","client_order_id":"x5","side":"buy","type":"limit","price":"45000.0","qty":"0","tif":"gtc"}',
    '{"op":"new","client_order_id":"x6","side":"buy","type":"limit","price":"45000.0","qty":"-1","tif":"gtc"}',
    '{"op":"new","client_order_id":"x7","side":"buy","type":"limit","price":"45000.0","qty":"0.000000001","tif":"gtc"}',
    '{"op":"new","client_order_id":"x8","side":"sell","type":"market","qty":"0.00015"}',
    '{"op":"cancel"}',
    '{"op":"cancel","order_id":0}',
)


@dataclass(frozen=True)
class Step:
    conn: int
    """Connection number, from 1; the stream logs connection n in as account f"acct{n}" first."""
    line: str


@dataclass(frozen=True)
class StepRecord:
    step: Step
    outcome: Outcome
    book: Snapshot
    """The book after the step (its seq is the last market-data seq so far)."""


@dataclass(frozen=True)
class Replay:
    records: list[StepRecord]

    def lines_for(self, conn: int) -> list[str]:
        """Every line connection `conn` receives, in order."""
        return [m.to_json_line() for r in self.records for c, m in r.outcome.deliveries if c == conn]

    def market_data_lines(self) -> list[str]:
        return [m.to_json_line() for r in self.records for m in r.outcome.market_data]


def random_stream(
    seed: int, *, commands: int = 1000, accounts: int = 3, instrument: Instrument = DEFAULT_INSTRUMENT
) -> list[Step]:
    """`accounts` logins, then `commands` random requests. Same seed, same lines."""
    rng = random.Random(seed)
    steps = [Step(n, Login(account=f"acct{n}").to_json_line()) for n in range(1, accounts + 1)]
    sent: list[tuple[int, NewOrder]] = []
    serial = 0
    for _ in range(commands):
        conn = rng.randint(1, accounts)
        roll = rng.random()
        if roll < 0.62 or not sent:
            serial += 1
            order = _random_order(rng, f"c{conn}-{serial}", instrument)
            sent.append((conn, order))
            steps.append(Step(conn, order.to_json_line()))
        elif roll < 0.77:
            owner, order = rng.choice(sent)
            steps.append(Step(owner, Cancel(client_order_id=order.client_order_id).to_json_line()))
        elif roll < 0.81:
            steps.append(Step(conn, Cancel(order_id=rng.randint(1, len(sent) + 2)).to_json_line()))
        elif roll < 0.86:
            owner, order = rng.choice(sent)
            steps.append(Step(owner, order.to_json_line()))  # a retry: same id, same content
        elif roll < 0.88:
            owner, order = rng.choice(sent)
            changed = order.model_copy(update={"qty": instrument.qty_text(instrument.lot * 777)})
            steps.append(Step(owner, changed.to_json_line()))  # same id, different content
        elif roll < 0.91:
            steps.append(Step(conn, BookQuery().to_json_line()))
        else:
            steps.append(Step(conn, rng.choice(BAD_LINES)))
    return steps


def _random_order(rng: random.Random, client_order_id: str, instrument: Instrument) -> NewOrder:
    side = rng.choice(SIDES)
    order_type = rng.choices(ORDER_TYPES, weights=(92, 8))[0]
    lots = rng.choice((1, 1, 2, 3, 5, 8, 13, 20, 40))
    qty = instrument.qty_text(lots * instrument.lot)
    stp = rng.choice((None, *STP_MODES))
    if order_type == "market":
        return NewOrder(client_order_id=client_order_id, side=side, type="market", qty=qty, stp=stp)
    # Buys lean low and sells lean high, so the book stays two-sided and still crosses often.
    lean = -2 if side == "buy" else 2
    price = MID_PRICE + instrument.tick * (rng.randint(-8, 8) + lean)
    tif = rng.choices(TIMES_IN_FORCE, weights=(75, 13, 12))[0]
    return NewOrder(
        client_order_id=client_order_id,
        side=side,
        type="limit",
        price=instrument.price_text(price),
        qty=qty,
        tif=tif,
        stp=stp,
    )


def replay(steps: Iterable[Step], *, instrument: Instrument = DEFAULT_INSTRUMENT) -> Replay:
    """Run `steps` through a fresh exchange; connections are opened on first use, in step order."""
    exchange = Exchange(instrument)
    connections: dict[int, int] = {}
    records = []
    for step in steps:
        if step.conn not in connections:
            connections[step.conn] = exchange.connect()
        outcome = exchange.handle(connections[step.conn], step.line)
        if outcome.close:
            del connections[step.conn]
        outcome = Outcome(
            [(_stream_conn(connections, c, step.conn), m) for c, m in outcome.deliveries],
            outcome.market_data,
            outcome.close,
        )
        records.append(StepRecord(step, outcome, exchange.engine.snapshot()))
    return Replay(records)


def _stream_conn(connections: dict[int, int], exchange_conn: int, requester: int) -> int:
    """The stream's number for an exchange connection (the requester's, if it was just closed)."""
    for stream_conn, conn in connections.items():
        if conn == exchange_conn:
            return stream_conn
    return requester
