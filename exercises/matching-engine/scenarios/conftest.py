"""Helpers shared by the matching-engine scenarios (public and hidden).

The scenarios compare the service with the oracle (`oracle/`, the brief as a Python model) through
`conformance/` (the lockstep `Market`, the `FeedBook` a subscriber rebuilds). Neither is an installed
package: the runner does not put the exercise folder on sys.path, so this conftest does (see NOTES.md),
and the harness forgets both packages after the run.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

EXERCISE = Path(__file__).resolve().parents[1]
if str(EXERCISE) not in sys.path:
    sys.path.insert(0, str(EXERCISE))

from conformance import Market  # noqa: E402 - needs the exercise folder on sys.path
from conformance.orders import Ladder  # noqa: E402

#: Differs between runs, so scenarios run again against the same long-lived service never meet the
#: accounts (and client order ids) an earlier run left behind. Everything that shapes behaviour (sides,
#: prices, sizes, the order of requests) comes from `rng`.
_RUN_NONCE = os.urandom(2).hex()


@pytest.fixture
def tag(rng: random.Random) -> str:
    """Eight hex digits unique to this scenario and run, for account names ("alice-1a2b3c4d")."""
    return f"{rng.getrandbits(16):04x}{_RUN_NONCE}"


@pytest.fixture
def p(rng: random.Random) -> Ladder:
    """Prices on the tick around a random mid: ``p(10)`` is ten ticks above it."""
    return Ladder(rng.randrange(20_000, 60_000))


@pytest.fixture
def market(jsonl, evidence, tag: str) -> Callable[..., Market]:
    """Factory of the service and the oracle in lockstep: ``m = market(service)``.

    By default the book is emptied and the oracle aligned with the service's ids (`Market.align`): a
    shared service has given out ids before the scenario. ``align=False`` for a fresh service (ids from
    1, seq from 0); ``trade=False`` aligns without a trade (for scenarios that expect none)."""

    def make(service, *, align: bool = True, trade: bool = True, timeout: float = 5.0) -> Market:
        lockstep = Market(lambda port: jsonl(service, port=port, timeout=timeout), evidence, tag=tag)
        if align:
            before = len(evidence.sources)
            lockstep.align(trade=trade)
            # The alignment went as it should: its connections' transcripts would only crowd the evidence.
            del evidence.sources[before:]
        return lockstep

    return make
