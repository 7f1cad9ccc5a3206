"""The brief and the oracle agree: every example exchange in exercises/matching-engine/README.md is
replayed through the oracle and must come out exactly as printed."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

EXERCISE = Path(__file__).resolve().parents[2] / "exercises" / "matching-engine"
if str(EXERCISE) not in sys.path:
    sys.path.insert(0, str(EXERCISE))

from oracle import (  # noqa: E402 - the oracle lives in the exercise folder, not in an installed package
    DEFAULT_INSTRUMENT,
    MAX_LINE_BYTES,
    Exchange,
    Reason,
    checksum_field,
)

BRIEF = (EXERCISE / "README.md").read_text(encoding="utf-8")
_TRANSCRIPT_LINE = re.compile(r"^(\w+)\s+(>>|<<) (.*)$")


def _example_session() -> list[tuple[str, str, str]]:
    """(who, direction, line) of every transcript line in the brief's example session (section 7)."""
    section = BRIEF.split("## 7. Example session", 1)[1].split("\n## ", 1)[0]
    lines = []
    for text in section.splitlines():
        match = _TRANSCRIPT_LINE.match(text)
        if match:
            lines.append((match.group(1), match.group(2), match.group(3)))
    return lines


def test_the_example_session_is_what_the_oracle_does() -> None:
    session = _example_session()
    assert len(session) > 40, "the example session was not found in the brief"
    exchange = Exchange()
    conns: dict[str, int] = {}
    expected: dict[str, list[object]] = {}
    actual: dict[str, list[object]] = {}

    def settle() -> None:
        for who in set(expected) | set(actual):
            assert actual.get(who, []) == expected.get(who, []), f"{who} after the last request"
        expected.clear()
        actual.clear()

    for who, direction, line in session:
        if direction == ">>":
            settle()
            if who not in conns:
                conns[who] = exchange.connect()
            outcome = exchange.handle(conns[who], line)
            names = {conn: name for name, conn in conns.items()}
            for conn, message in outcome.deliveries:
                actual.setdefault(names[conn], []).append(json.loads(message.to_json_line()))
            for message in outcome.market_data:
                actual.setdefault("md", []).append(json.loads(message.to_json_line()))
        else:
            expected.setdefault(who, []).append(json.loads(line))
    settle()


def test_the_market_data_example_continues_the_session() -> None:
    exchange = Exchange()
    conns: dict[str, int] = {}
    for who, direction, line in _example_session():
        if direction == ">>" and line.startswith('{"op":"new"') and '"b-3"' in line:
            break  # the market-data example follows the book query, before bob's market buy
        if direction == ">>":
            if who not in conns:
                conns[who] = exchange.connect()
            exchange.handle(conns[who], line)
    block = BRIEF.split("### 5.1 Messages", 1)[1].split("```", 2)[1].strip().splitlines()
    assert json.loads(block[0]) == json.loads(exchange.engine.snapshot().to_json_line())
    carol = exchange.connect()
    exchange.handle(carol, '{"op":"login","account":"carol"}')
    outcome = exchange.handle(
        carol, '{"op":"new","client_order_id":"c-1","side":"buy","type":"market","qty":"0.1"}'
    )
    assert [json.loads(m.to_json_line()) for m in outcome.market_data] == [json.loads(x) for x in block[1:]]


def test_the_briefs_numbers_are_the_oracles() -> None:
    instrument = DEFAULT_INSTRUMENT
    assert f"at most **{MAX_LINE_BYTES} bytes**" in BRIEF
    assert instrument.price_text(instrument.tick) == "0.5" and "tick **0.5**" in BRIEF
    assert instrument.qty_text(instrument.lot) == "0.00010000" and "lot **0.0001**" in BRIEF
    assert instrument.price_text(instrument.max_price) == "1000000.0" and "1,000,000.0" in BRIEF
    assert instrument.qty_text(instrument.max_qty) == "10000.00000000" and "10,000.00000000" in BRIEF
    assert checksum_field("45285.5") + checksum_field("0.00100000") == "452855100000"
    assert "contributes `452855100000`" in BRIEF
    listed = set(re.findall(r"`([a-z_]+)`", BRIEF.split("### 4.2 Rejections", 1)[1].split("### 4.3", 1)[0]))
    assert {reason.value for reason in Reason} <= listed
    assert f"These {len(Reason)} reason strings" in BRIEF
