"""A market-data client that rebuilds the book from the feed alone, the way a subscriber would.

It reads the first line as a snapshot, then applies every `book` message to its own copy and checks what
the brief (section 5) promises a subscriber: `seq` without gaps or repeats, levels in order, a `"0.00000000"`
only for a level it has, at least one level per `book` message, and a `checksum` equal to the CRC32 it
computes itself from the rebuilt top of the book with the oracle's checksum code. It never compares
with the oracle's matching, so a feed is judged on its own consistency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from oracle import (
    DEFAULT_INSTRUMENT,
    BookUpdate,
    Instrument,
    Snapshot,
    Trade,
    book_checksum,
    parse_market_data,
)
from oracle.messages import Level, MarketDataMessage
from pydantic import ValidationError

from harness.errors import CandidateFailure

_SHOWN = 160


class FeedProblem(CandidateFailure):
    """The feed broke one of its promises (a gap, a wrong checksum, a level it never had)."""


def _shown(line: str) -> str:
    return line if len(line) <= _SHOWN else line[: _SHOWN - 1] + "…"


def _units(text: str) -> int:
    """Units of a price or quantity already validated as canonical wire text ("45285.5" -> 452855).
    Not the instrument's order checks: a level's total may exceed the largest single order."""
    return int(text.replace(".", ""))


def parse_problem(error: ValidationError) -> str:
    """The first thing pydantic found wrong, in a few words."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"] if not isinstance(part, int) or part) or "line"
    return f"{where}: {first['msg']}"


@dataclass
class FeedBook:
    """The book as one subscriber rebuilds it from one market-data connection."""

    instrument: Instrument = DEFAULT_INSTRUMENT
    seq: int | None = None
    """The seq of the last message applied; None until the snapshot has been read."""
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    trades: int = 0
    updates: int = 0

    # -- reading the feed

    def apply(self, line: str) -> MarketDataMessage:
        """Apply one line of the feed; `FeedProblem` if it breaks a promise of the brief."""
        try:
            message = parse_market_data(line)
        except ValidationError as error:
            raise FeedProblem(f"not a market-data message ({parse_problem(error)}): {_shown(line)}") from None
        if self.seq is None:
            if not isinstance(message, Snapshot):
                raise FeedProblem(
                    f"the first line on a market-data connection is not a snapshot: {_shown(line)}"
                )
            self._load(message, line)
        elif isinstance(message, Snapshot):
            raise FeedProblem(
                f"a second snapshot on the same connection (after seq {self.seq}): {_shown(line)}"
            )
        else:
            if message.seq != self.seq + 1:
                what = "a gap" if message.seq > self.seq + 1 else "a repeat or step back"
                raise FeedProblem(
                    f"{what} in seq: {message.seq} follows {self.seq} (seq counts every trade and book "
                    f"message, one by one): {_shown(line)}"
                )
            self.seq = message.seq
            if isinstance(message, Trade):
                self.trades += 1
            else:
                assert isinstance(message, BookUpdate)
                self._update(message, line)
        return message

    def _load(self, snapshot: Snapshot, line: str) -> None:
        for levels, side, name in ((snapshot.bids, "buy", "bids"), (snapshot.asks, "sell", "asks")):
            prices = [_units(p) for p, _ in levels]
            best_first = sorted(set(prices), reverse=side == "buy")
            if prices != best_first:
                order = "highest" if side == "buy" else "lowest"
                raise FeedProblem(
                    f"snapshot {name} are not in order ({order} price first, each price once): {_shown(line)}"
                )
            for price, qty in levels:
                units = self._qty(qty)
                if units == 0:
                    raise FeedProblem(f"snapshot lists an empty level {price}: {_shown(line)}")
                self._side(side)[_units(price)] = units
        self.seq = snapshot.seq
        self._check_checksum(snapshot.checksum, "snapshot", line)

    def _update(self, update: BookUpdate, line: str) -> None:
        if not update.bids and not update.asks:
            raise FeedProblem(
                f"a book message listing no level at seq {update.seq} (a command that changes no level "
                f"publishes no book message): {_shown(line)}"
            )
        for levels, side, name in ((update.bids, "buy", "bids"), (update.asks, "sell", "asks")):
            prices = [_units(p) for p, _ in levels]
            if len(set(prices)) != len(prices):
                raise FeedProblem(
                    f"book message at seq {update.seq} lists a {name} price twice: {_shown(line)}"
                )
            if prices != sorted(prices, reverse=side == "buy"):
                order = "highest" if side == "buy" else "lowest"
                raise FeedProblem(
                    f"book message at seq {update.seq}: {name} are not {order} price first: {_shown(line)}"
                )
            book = self._side(side)
            for price_text, qty_text in levels:
                price, qty = _units(price_text), self._qty(qty_text)
                if qty:
                    book[price] = qty
                elif price in book:
                    del book[price]
                else:
                    raise FeedProblem(
                        f"book message at seq {update.seq} deletes the {name} level {price_text}, which the "
                        f"book rebuilt from this feed does not have: {_shown(line)}"
                    )
        self.updates += 1
        self._check_checksum(update.checksum, f"book message at seq {update.seq}", line)

    def _check_checksum(self, checksum: int, what: str, line: str) -> None:
        expected = self.checksum()
        if checksum != expected:
            raise FeedProblem(
                f"{what} carries checksum {checksum}, but the book rebuilt from the feed has {expected} "
                f"(CRC32 of the top 10 asks then bids, brief section 5.2): {_shown(line)}"
            )

    def _qty(self, text: str) -> int:
        return _units(text)

    def _side(self, side: str) -> dict[int, int]:
        return self.bids if side == "buy" else self.asks

    # -- the rebuilt book

    def levels(self, side: str) -> list[Level]:
        """(price, qty) as the wire writes them, best first."""
        book = self._side(side)
        text = self.instrument
        return [(text.price_text(p), text.qty_text(book[p])) for p in sorted(book, reverse=side == "buy")]

    def checksum(self) -> int:
        return book_checksum(self.levels("sell"), self.levels("buy"))

    def snapshot(self) -> Snapshot:
        """The rebuilt book as the snapshot a service should answer at the same seq."""
        if self.seq is None:
            raise ValueError("no snapshot has been read yet")
        return Snapshot(
            seq=self.seq, bids=self.levels("buy"), asks=self.levels("sell"), checksum=self.checksum()
        )
