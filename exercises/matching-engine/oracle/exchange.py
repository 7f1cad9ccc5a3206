"""The exchange as a client sees it: order-entry connections, login, one reply per request line, and
execution reports fanned out to every connection logged in as the owning account.

`handle(conn, line)` gives the `Outcome`: what each connection receives, in order (the reply first,
then the reports in the order they happened), and what the market-data feed publishes. Only accepted
orders and cancels change state, and all of that state is durable: `restart()` ends every session and
keeps the book, the ids and the sequence numbers, which is what a service must recover after kill -9.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from oracle.instrument import DEFAULT_INSTRUMENT, Instrument
from oracle.matching import EngineResult, MatchingEngine, Public
from oracle.messages import LoginAck, OrderEntryMessage, Reject
from oracle.requests import (
    BookCommand,
    CancelCommand,
    LoginCommand,
    NewOrderCommand,
    RequestRejected,
    decode_request,
)


@dataclass
class Outcome:
    deliveries: list[tuple[int, OrderEntryMessage]] = field(default_factory=list)
    """(connection, message), in the order each connection receives them."""
    market_data: list[Public] = field(default_factory=list)
    close: bool = False
    """The exchange closes the requesting connection after its reply (a line over the limit)."""

    def to(self, conn: int) -> list[OrderEntryMessage]:
        return [message for target, message in self.deliveries if target == conn]


class Exchange:
    def __init__(self, instrument: Instrument = DEFAULT_INSTRUMENT) -> None:
        self.instrument = instrument
        self.engine = MatchingEngine(instrument)
        self._sessions: dict[int, str | None] = {}
        self._next_conn = 1

    def connect(self) -> int:
        """A new order-entry connection (ids count up from 1)."""
        conn = self._next_conn
        self._next_conn += 1
        self._sessions[conn] = None
        return conn

    def disconnect(self, conn: int) -> None:
        """The connection is gone; its account's orders stay in the book."""
        self._sessions.pop(conn, None)

    def restart(self) -> None:
        """A crash and recovery: every connection is gone, every acknowledged effect stays."""
        self._sessions.clear()

    def account(self, conn: int) -> str | None:
        return self._sessions[conn]

    def handle(self, conn: int, line: bytes | str) -> Outcome:
        """One request line (without its "\\n") from `conn`."""
        if conn not in self._sessions:
            raise KeyError(f"connection {conn} is not open")
        raw = line.encode("utf-8") if isinstance(line, str) else line
        if b"\n" in raw:
            raise ValueError("a request line cannot contain a newline")
        account = self._sessions[conn]
        try:
            command = decode_request(raw, logged_in=account is not None, instrument=self.instrument)
        except RequestRejected as rejected:
            reply = Reject(reason=rejected.reason, client_order_id=rejected.client_order_id)
            outcome = Outcome([(conn, reply)], close=rejected.reason == "line_too_long")
            if outcome.close:
                self.disconnect(conn)
            return outcome
        if command is None:
            return Outcome()
        if isinstance(command, LoginCommand):
            self._sessions[conn] = command.account
            return Outcome([(conn, LoginAck(account=command.account))])
        if isinstance(command, BookCommand):
            return Outcome([(conn, self.engine.snapshot())])
        assert account is not None  # decode_request refuses new/cancel before login
        if isinstance(command, NewOrderCommand):
            result = self.engine.new_order(account, command)
        else:
            assert isinstance(command, CancelCommand)
            result = self.engine.cancel(account, command)
        return self._deliver(conn, result)

    def _deliver(self, conn: int, result: EngineResult) -> Outcome:
        outcome = Outcome([(conn, result.reply)], list(result.public))
        for account, report in result.reports:
            for target in sorted(self._sessions):
                if self._sessions[target] == account:
                    outcome.deliveries.append((target, report))
        return outcome
