"""What the matching-engine scenarios use to judge a service: the oracle run in lockstep with it
(`Market`), and a market-data client that rebuilds the book from the feed alone (`FeedBook`).

Import it with the exercise folder on sys.path, as the oracle (see NOTES.md); `scenarios/conftest.py`
does that. Nothing here knows about Docker or pytest fixtures: a `Market` is given a way to open
JSON-lines connections and a place to write notes, so it can be tested with an in-process fake.
"""

from conformance.feed import FeedBook, FeedProblem
from conformance.market import (
    Connect,
    Feed,
    Market,
    Mismatch,
    Notes,
    Session,
    describe_difference,
    shift_order_ids,
)

__all__ = [
    "Connect",
    "Feed",
    "FeedBook",
    "FeedProblem",
    "Market",
    "Mismatch",
    "Notes",
    "Session",
    "describe_difference",
    "shift_order_ids",
]
