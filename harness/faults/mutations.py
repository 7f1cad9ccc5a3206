"""Grammar-aware mutation of valid RESP command frames, for the fuzzer. Pure and seeded.

A command frame is parsed into tokens (array header, bulk headers, bulk bodies) so mutations can aim at
what parsers get wrong: lengths (off by a few, negative, huge, not a number), type bytes, line endings,
truncation, nesting depth, and frames split at arbitrary points across writes.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass

SEED_COMMANDS: tuple[tuple[bytes, ...], ...] = (
    (b"PING",),
    (b"ECHO", b"hello"),
    (b"SET", b"fuzz:key", b"value"),
    (b"GET", b"fuzz:key"),
    (b"DEL", b"fuzz:key"),
    (b"INCR", b"fuzz:counter"),
    (b"EXISTS", b"fuzz:key"),
    (b"SET", b"fuzz:big", b"x" * 300),
)

HUGE_LENGTHS = (2**31 - 1, 2**31, 2**32 + 1, 2**63 - 1, 10**20)
OTHER_TYPE_BYTES = b"+-:_,#!=(%~>|@X\x00 "
MAX_NESTING = 20_000


@dataclass(frozen=True)
class Token:
    kind: str
    """`array` or `bulk` (a header line whose number is a length) or `body` (bulk data + CRLF)."""
    data: bytes


@dataclass(frozen=True)
class FuzzCase:
    index: int
    mutation: str
    data: bytes
    splits: tuple[int, ...] = ()
    """Offsets at which `data` is cut into separate writes."""

    def pieces(self) -> list[bytes]:
        bounds = [0, *self.splits, len(self.data)]
        return [self.data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def tokens(args: tuple[bytes, ...]) -> list[Token]:
    found = [Token("array", b"*%d\r\n" % len(args))]
    for arg in args:
        found += [Token("bulk", b"$%d\r\n" % len(arg)), Token("body", arg + b"\r\n")]
    return found


def join(found: list[Token]) -> bytes:
    return b"".join(token.data for token in found)


def _length_tokens(found: list[Token]) -> list[int]:
    return [i for i, token in enumerate(found) if token.kind in ("array", "bulk")]


def flip_length(found: list[Token], rng: random.Random) -> bytes:
    index = rng.choice(_length_tokens(found))
    number = int(found[index].data[1:-2])
    return _with_length_at(found, index, b"%d" % (number + rng.choice((-3, -2, -1, 1, 2, 3))))


def _with_length(found: list[Token], rng: random.Random, value: bytes) -> bytes:
    return _with_length_at(found, rng.choice(_length_tokens(found)), value)


def _with_length_at(found: list[Token], index: int, value: bytes) -> bytes:
    changed = Token(found[index].kind, found[index].data[:1] + value + b"\r\n")
    return join([*found[:index], changed, *found[index + 1 :]])


def negative_length(found: list[Token], rng: random.Random) -> bytes:
    return _with_length(found, rng, b"%d" % rng.choice((-1, -2, -100, -(2**31))))


def huge_length(found: list[Token], rng: random.Random) -> bytes:
    return _with_length(found, rng, b"%d" % rng.choice(HUGE_LENGTHS))


def non_numeric_length(found: list[Token], rng: random.Random) -> bytes:
    return _with_length(found, rng, rng.choice((b"", b"abc", b"1x", b" 3", b"+3", b"0x10", b"3.0")))


def wrong_type(found: list[Token], rng: random.Random) -> bytes:
    index = rng.choice(_length_tokens(found))
    header = found[index].data
    changed = Token(found[index].kind, bytes([rng.choice(OTHER_TYPE_BYTES)]) + header[1:])
    return join([*found[:index], changed, *found[index + 1 :]])


def truncate(found: list[Token], rng: random.Random) -> bytes:
    data = join(found)
    return data[: rng.randrange(1, len(data))]


def bad_line_ending(found: list[Token], rng: random.Random) -> bytes:
    data = join(found)
    ends = [i for i in range(len(data) - 1) if data[i : i + 2] == b"\r\n"]
    at = rng.choice(ends)
    return data[:at] + rng.choice((b"\n", b"\r", b"", b"\n\r", b"\r\r\n")) + data[at + 2 :]


def random_bytes(found: list[Token], rng: random.Random) -> bytes:
    data = bytearray(join(found))
    for _ in range(rng.randint(1, 4)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def deep_nesting(found: list[Token], rng: random.Random) -> bytes:
    depth = rng.choice((100, 1000, MAX_NESTING))
    return b"*1\r\n" * depth + join(found)


def garbage_after(found: list[Token], rng: random.Random) -> bytes:
    return join(found) + bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))


def split_valid(found: list[Token], rng: random.Random) -> bytes:
    return join(found)  # the cut points are drawn by `generate_cases`


MUTATIONS: dict[str, Callable[[list[Token], random.Random], bytes]] = {
    "flip_length": flip_length,
    "negative_length": negative_length,
    "huge_length": huge_length,
    "non_numeric_length": non_numeric_length,
    "wrong_type": wrong_type,
    "truncate": truncate,
    "bad_line_ending": bad_line_ending,
    "random_bytes": random_bytes,
    "deep_nesting": deep_nesting,
    "garbage_after": garbage_after,
    "split": split_valid,
}


def generate_cases(seed: int, count: int) -> list[FuzzCase]:
    """`count` cases, the same for the same seed. Every case also gets a few random cut points, so each
    mutation meets the service's parser across partial reads too ("split" keeps the frame valid)."""
    rng = random.Random(seed)
    names = sorted(MUTATIONS)
    cases = []
    for index in range(count):
        args = rng.choice(SEED_COMMANDS)
        mutation = names[index % len(names)] if index < len(names) else rng.choice(names)
        data = MUTATIONS[mutation](tokens(args), rng)
        cuts = rng.randint(3, 8) if mutation == "split" else rng.choice((0, 0, 1, 2))
        splits = tuple(sorted(rng.sample(range(1, len(data)), min(cuts, len(data) - 1)))) if data else ()
        cases.append(FuzzCase(index, mutation, data, splits))
    return cases
