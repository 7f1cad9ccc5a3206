"""The reference model: one key of a Redis-like key-value store.

Checkers look at one key at a time (each operation touches one key, so keys are independent), and the
state of a key is its value as bytes, or None when it is absent. Values are compared as Redis stores
them: ``write k 5`` then ``read k`` is consistent with ``b"5"``, ``"5"`` or ``5``.

Functions (``value`` is what the operation asked, ``result`` what an ``ok`` brought back):

=========  ==============================  =====================================================
read       -                               the value read (None: absent)
write      the value                       ignored
delete     -                               None, or the number of keys removed (0 or 1), as DEL
incr       the delta (None: 1)             None, or the new value, as INCR/INCRBY
cas        (expected, new)                 None/True: swapped; False: the value was not expected
=========  ==============================  =====================================================

An ``info`` operation's outcome is unknown, so any outcome it could have had is consistent: an info cas
swaps if the value matched and otherwise leaves it, an info incr of a non-integer errors and leaves it.
Whether it took effect at all is the checker's business (it may leave the operation unapplied).
"""

from __future__ import annotations

import re
from typing import Final, TypeAlias

from harness.history import Operation, Value

State: TypeAlias = bytes | None

FUNCTIONS: Final = frozenset({"read", "write", "delete", "incr", "cas"})
MUTATING: Final = frozenset({"write", "delete", "incr", "cas"})
_INT64: Final = (-(2**63), 2**63 - 1)
# What Redis accepts as an integer: no spaces, no plus sign, no leading zeros (string2ll).
_INTEGER: Final = re.compile(rb"-?(0|[1-9][0-9]*)")


class ModelError(ValueError):
    """An operation the model cannot interpret (unknown function, malformed cas): a scenario bug."""


def normalise(value: Value) -> State:
    """A value as Redis would store it: bytes, or None for "absent"."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        raise ModelError(f"a boolean is not a stored value: {value!r}")
    if isinstance(value, int | float):
        return str(value).encode()
    if isinstance(value, str):
        return value.encode()
    raise ModelError(f"not a stored value: {value!r}")


def _as_int(state: State) -> int | None:
    """The integer INCR would read, or None when INCR would fail ("not an integer or out of range")."""
    if state is None:
        return 0
    if not _INTEGER.fullmatch(state) or state == b"-0":
        return None
    number = int(state)
    return number if _INT64[0] <= number <= _INT64[1] else None


def check_op(op: Operation) -> None:
    """Reject operations the model cannot interpret before a search starts, with a clear message."""
    if op.f not in FUNCTIONS:
        known = ", ".join(sorted(FUNCTIONS))
        raise ModelError(f"{op.describe()}: unknown function {op.f!r} (known: {known})")
    if op.f == "cas" and not (isinstance(op.value, tuple) and len(op.value) == 2):
        raise ModelError(f"{op.describe()}: cas takes (expected, new)")
    delta_ok = op.value is None or (isinstance(op.value, int) and not isinstance(op.value, bool))
    if op.f == "incr" and not delta_ok:
        raise ModelError(f"{op.describe()}: incr takes an integer delta")


def step(state: State, op: Operation) -> tuple[bool, State]:
    """Apply ``op`` (ok or info) to ``state``: (is the observed outcome possible?, state afterwards)."""
    known = op.status == "ok"
    f = op.f
    if f == "read":
        return (not known or normalise(op.result) == state), state
    if f == "write":
        return True, normalise(op.value)
    if f == "delete":
        if known and isinstance(op.result, int) and not isinstance(op.result, bool):
            return op.result == (0 if state is None else 1), None
        return True, None
    if f == "incr":
        current = _as_int(state)
        delta = 1 if op.value is None else op.value
        assert isinstance(delta, int)
        new = None if current is None else current + delta
        if new is None or not _INT64[0] <= new <= _INT64[1]:
            return not known, state  # INCR errors; an ok incr cannot have happened here
        if known and op.result is not None and normalise(op.result) != str(new).encode():
            return False, state
        return True, str(new).encode()
    if f == "cas":
        assert isinstance(op.value, tuple)
        expected, new_value = normalise(op.value[0]), normalise(op.value[1])
        if known and op.result is False:
            return state != expected, state
        if state == expected:
            return True, new_value
        return not known, state
    raise ModelError(f"unknown function {f!r}")


def relevant(op: Operation) -> bool:
    """Does ``op`` constrain the search? Failed operations never happened; an info read observed nothing."""
    return op.status == "ok" or (op.status == "info" and op.f in MUTATING)
