"""The plugin end to end, without Docker: scenarios run against a tiny TCP server on loopback."""

from __future__ import annotations

import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import ExerciseError
from harness.exercise import load_exercise
from harness.scenario.runner import run_scenarios
from harness.scenario.service import ExternalServiceFactory
from harness.scenario.session import ScenarioSession

SCENARIOS = """
import socket
import pytest
from harness.errors import CandidateFailure


def ask(service, data):
    with socket.create_connection((service.host, service.port), timeout=2) as conn:
        conn.sendall(data)
        return conn.recv(100)


@pytest.mark.criterion("echo")
def test_echo_answers(service):
    assert ask(service, b"hi") == b"hi"


@pytest.mark.criterion("echo")
def test_wrong_expectation(service, evidence):
    evidence.note("sent: hello")
    assert ask(service, b"hello") == b"HELLO", "expected the upper-cased greeting"


@pytest.mark.criterion("echo")
def test_candidate_failure(service):
    raise CandidateFailure("service closed early", evidence="sent x", reproduce="nc 127.0.0.1 1")


@pytest.mark.criterion("echo")
def test_scenario_bug(service):
    {}["missing"]


@pytest.mark.criterion("restart")
def test_needs_a_managed_service(service):
    service.kill()


@pytest.mark.criterion("restart")
def test_needs_a_fresh_service(fresh_service):
    pass


@pytest.mark.criterion("echo")
@pytest.mark.timeout(1)
def test_hangs(service):
    import time
    time.sleep(5)
"""


@pytest.fixture
def echo_server() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                data = conn.recv(100)
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


def make_exercise(root: Path, scenarios: str) -> Path:
    exercise = root / "exercises" / "echo"
    (exercise / "scenarios" / "public").mkdir(parents=True)
    (exercise / "exercise.yaml").write_text(
        "name: echo\ntitle: Echo\ntime_box: 1h\nskills: [rpc]\nservice: {port: 7}\n"
    )
    (exercise / "scenarios" / "public" / "test_echo.py").write_text(textwrap.dedent(scenarios))
    return exercise


def run(
    exercise_dir: Path, port: int, criteria: frozenset[str] = frozenset({"echo", "restart"})
) -> dict[str, object]:
    exercise = load_exercise(str(exercise_dir))
    session = ScenarioSession(
        exercise=exercise, services=ExternalServiceFactory("127.0.0.1", port), seed=7, known_criteria=criteria
    )
    results = run_scenarios(exercise.scenario_files("public"), session)
    return {r.name: r for r in results}


def test_outcomes_are_classified(tmp_path: Path, echo_server: int) -> None:
    results = run(make_exercise(tmp_path, SCENARIOS), echo_server)
    statuses = {name: r.status for name, r in results.items()}  # type: ignore[attr-defined]
    assert statuses == {
        "test_echo_answers": "passed",
        "test_wrong_expectation": "failed",
        "test_candidate_failure": "failed",
        "test_scenario_bug": "error",
        "test_needs_a_managed_service": "skipped",
        "test_needs_a_fresh_service": "skipped",
        "test_hangs": "failed",
    }


def test_failure_evidence_and_reproduce_are_kept(tmp_path: Path, echo_server: int) -> None:
    results = run(make_exercise(tmp_path, SCENARIOS), echo_server)
    wrong = results["test_wrong_expectation"]
    assert "expected the upper-cased greeting" in wrong.message  # type: ignore[attr-defined]
    assert "sent: hello" in wrong.evidence  # type: ignore[attr-defined]
    candidate = results["test_candidate_failure"]
    assert candidate.reproduce == "nc 127.0.0.1 1"  # type: ignore[attr-defined]
    assert "1 s budget" in results["test_hangs"].message  # type: ignore[attr-defined]
    assert results["test_scenario_bug"].message.startswith("harness error: KeyError")  # type: ignore[attr-defined]


def test_unknown_criterion_is_an_exercise_error(tmp_path: Path, echo_server: int) -> None:
    exercise = make_exercise(tmp_path, SCENARIOS)
    with pytest.raises(ExerciseError, match="criterion 'restart' is not in the exercise's rubric"):
        run(exercise, echo_server, criteria=frozenset({"echo"}))


def test_same_seed_gives_same_rng(tmp_path: Path, echo_server: int) -> None:
    scenarios = """
    import pytest
    @pytest.mark.criterion("echo")
    def test_draw(rng, evidence):
        assert False, str(rng.random())
    """
    exercise = make_exercise(tmp_path, scenarios)
    first = run(exercise, echo_server)["test_draw"].message  # type: ignore[attr-defined]
    second = run(exercise, echo_server)["test_draw"].message  # type: ignore[attr-defined]
    assert first == second
