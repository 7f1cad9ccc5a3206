"""Helpers shared by the kv-store scenarios (public and hidden)."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable

import pytest

#: Differs between runs, so scenarios re-run against the same long-lived service never meet the keys
#: an earlier run left behind. Everything that shapes behaviour (values, sizes, orders) comes from `rng`.
_RUN_NONCE = os.urandom(3).hex()


@pytest.fixture
def key(request: pytest.FixtureRequest, rng: random.Random) -> Callable[[str], str]:
    """Key names unique to this scenario: ``key("a")`` -> ``"get_returns_the_value_se:1a2b3c4d5e6f7a:a"``.

    The name is readable (the scenario's, shortened); uniqueness comes from the random part.
    """
    name = re.sub(r"[^A-Za-z0-9_\-]", "_", request.node.name.removeprefix("test_"))[:24]
    prefix = f"{name}:{rng.getrandbits(32):08x}{_RUN_NONCE}"
    return lambda suffix="k": f"{prefix}:{suffix}"
