from __future__ import annotations

import io
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.report.json_report import read_result, write_result
from harness.terminal import Terminal, visible

from .results_factory import sample_result


def test_visible_shows_control_characters() -> None:
    assert visible("ok\x1b[2Jdone\x07") == "ok\\x1b[2Jdone\\x07"
    assert visible("line\nnext\ttab") == "line\nnext\ttab"


def test_candidate_scorecard_shows_failure_story_without_raw_escapes() -> None:
    buffer = io.StringIO()
    Terminal(buffer, width=100).scorecard(sample_result(), for_candidate=True)
    text = buffer.getvalue()
    assert "test_get_after_set" in text
    assert "redis-cli -h 127.0.0.1 -p 6379 GET k" in text
    assert "received: $-1" in text
    assert "\x1b" not in text and "\\x1b[31m" in text
    assert "total: 50/100" in text


def test_results_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.json"
    write_result(sample_result(), path)
    assert read_result(path) == sample_result()
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


def test_reading_something_else_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(UsageError, match="not a harness results file"):
        read_result(path)
