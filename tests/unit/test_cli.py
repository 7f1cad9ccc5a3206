"""CLI behaviour that needs no Docker: bad input gives one line and exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["grade", ".", "-e", "nope"], "unknown exercise 'nope'", id="unknown-exercise"),
        pytest.param(["grade", "-e", "kv-store"], "nothing to grade", id="nothing-to-grade"),
        pytest.param(
            ["check", "-e", "kv-store", "--address", "localhost"], "is not HOST:PORT", id="bad-address"
        ),
        pytest.param(["grade", "/no/such/path", "-e", "kv-store"], "/no/such/path", id="missing-path"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], expected: str) -> None:
    code, output = invoke(*args)
    assert code == 2
    assert expected in output
    assert "Traceback" not in output
    assert len([line for line in output.splitlines() if line.startswith("error:")]) == 1


def test_malformed_exercise_yaml_is_one_line(tmp_path: Path) -> None:
    exercise = tmp_path / "broken"
    exercise.mkdir()
    (exercise / "exercise.yaml").write_text("name: broken\ntitle: [\n")
    code, output = invoke("grade", ".", "-e", str(exercise))
    assert code == 2 and "not valid YAML" in output and "Traceback" not in output


def test_exercises_lists_kv_store() -> None:
    code, output = invoke("exercises")
    assert code == 0 and "kv-store" in output


def test_help_teaches_the_main_commands() -> None:
    code, output = invoke("--help")
    assert code == 0
    for command in ("grade", "check", "doctor", "exercises", "gc"):
        assert command in output
