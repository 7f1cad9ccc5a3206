"""The plugin end to end, without Docker: scenarios run against a tiny TCP server on loopback."""

from __future__ import annotations

import socket
import sys
import textwrap
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from harness.errors import ExerciseError
from harness.exercise import MAIN_PORT, load_exercise
from harness.scenario.plugin import repro_address
from harness.scenario.runner import run_scenarios
from harness.scenario.service import ExternalService, ExternalServiceFactory, ServiceHandle
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


# --- the jsonl fixture, on a service with two ports ------------------------------------------------------

JSONL_SCENARIOS = """
import pytest


@pytest.mark.criterion("echo")
def test_both_ports(service, jsonl):
    orders = jsonl(service)
    feed = jsonl(service, port="market_data")
    assert feed.read_json() == {"type": "snapshot", "seq": 0}
    assert orders.request({"op": "login", "account": "a"}) == {"type": "ack", "n": 1}
    assert False, "show the evidence"


@pytest.mark.criterion("echo")
def test_feed_reproduces_on_its_own_port(service, jsonl):
    jsonl(service).send_line("first")
    feed = jsonl(service, port="market_data", timeout=1.0)
    feed.send_line("ignored")
    assert False, "show the evidence"


@pytest.mark.criterion("echo")
def test_undeclared_port(service, jsonl):
    jsonl(service, port="nope")
"""


class _LinesServer:
    """A loopback JSON-lines server: greets each connection with `greeting` (if any) and answers every
    line with an ack; counts the connections still open."""

    def __init__(self, greeting: bytes = b"") -> None:
        self.greeting = greeting
        self.open = 0
        self._lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            with self._lock:
                self.open += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn, conn.makefile("rb") as lines:
                conn.sendall(self.greeting)
                for count, _ in enumerate(iter(lines.readline, b""), start=1):
                    if not self.greeting:
                        conn.sendall(b'{"type":"ack","n":%d}\n' % count)
        except OSError:
            pass  # a client closing with replies unread resets the connection: closed all the same
        finally:
            with self._lock:
                self.open -= 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.listener.close()


def make_two_port_exercise(root: Path, scenarios: str) -> Path:
    exercise = make_exercise(root, scenarios)
    (exercise / "exercise.yaml").write_text(
        "name: echo\ntitle: Echo\ntime_box: 1h\nskills: [rpc]\n"
        "service: {port: 7400, extra_ports: {market_data: {port: 7401, env: MD_PORT}}}\n"
    )
    return exercise


def test_jsonl_clients_record_evidence_per_port_and_close_at_teardown(tmp_path: Path) -> None:
    orders, feed = _LinesServer(), _LinesServer(greeting=b'{"type":"snapshot","seq":0}\n')
    try:
        exercise = load_exercise(str(make_two_port_exercise(tmp_path, JSONL_SCENARIOS)))
        services = ExternalServiceFactory("127.0.0.1", orders.port, {"market_data": feed.port})
        session = ScenarioSession(
            exercise=exercise, services=services, seed=7, known_criteria=frozenset({"echo"})
        )
        results = {r.name: r for r in run_scenarios(exercise.scenario_files("public"), session)}
        deadline = time.monotonic() + 5
        while (orders.open or feed.open) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (orders.open, feed.open) == (0, 0), "every client is closed when its scenario ends"
    finally:
        orders.close()
        feed.close()
    both = results["test_both_ports"]
    assert both.status == "failed" and both.evidence is not None
    assert f"client 1 (127.0.0.1:{orders.port}):" in both.evidence
    assert f"market_data client 2 (127.0.0.1:{feed.port}):" in both.evidence
    assert '<< "{\\"type\\":\\"snapshot\\",\\"seq\\":0}"' in both.evidence
    assert both.reproduce is not None and both.reproduce.endswith(f"| nc -q1 127.0.0.1 {orders.port}")
    own = results["test_feed_reproduces_on_its_own_port"]
    assert own.reproduce is not None and own.reproduce.endswith(f"| nc -q1 127.0.0.1 {feed.port}")
    undeclared = results["test_undeclared_port"]
    assert undeclared.status == "error" and "no port named 'nope'" in undeclared.message


def test_reproduce_commands_aim_at_the_candidates_own_server(tmp_path: Path) -> None:
    exercise = load_exercise(str(make_two_port_exercise(tmp_path, JSONL_SCENARIOS)))
    external = ExternalService("10.0.0.9", 9000, extra_ports={"market_data": 9001})
    assert repro_address(exercise, external, "market_data") == ("10.0.0.9", 9001)
    # A sandboxed service's address means nothing to the candidate: the brief's defaults on their machine.
    sandboxed = cast(ServiceHandle, object())
    assert repro_address(exercise, sandboxed, "market_data") == ("127.0.0.1", 7401)
    assert repro_address(exercise, sandboxed, MAIN_PORT) == ("127.0.0.1", 7400)


# --- support packages imported from the exercise folder ------------------------------------------------

CONFTEST = """
import sys
from pathlib import Path

EXERCISE = Path(__file__).resolve().parents[1]
if str(EXERCISE) not in sys.path:
    sys.path.insert(0, str(EXERCISE))
"""

ORACLE_SCENARIO = """
import pytest


@pytest.mark.criterion("echo")
def test_own_oracle():
    import oracle
    assert oracle.NAME == "{name}", f"got the oracle of {{oracle.NAME}}"
"""


def exercise_with_oracle(root: Path, name: str) -> Path:
    exercise = make_exercise(root / name, ORACLE_SCENARIO.format(name=name))
    (exercise / "scenarios" / "conftest.py").write_text(CONFTEST)
    (exercise / "oracle").mkdir()
    (exercise / "oracle" / "__init__.py").write_text(f'NAME = "{name}"\n')
    return exercise


def test_each_exercise_imports_its_own_support_package(tmp_path: Path, echo_server: int) -> None:
    first, second = exercise_with_oracle(tmp_path, "first"), exercise_with_oracle(tmp_path, "second")
    path_before = list(sys.path)
    elsewhere = types.ModuleType("oracle")  # imported before the runs, from outside both exercises
    saved = sys.modules.get("oracle")
    sys.modules["oracle"] = elsewhere
    try:
        for folder in (first, second, first):
            result = run(folder, echo_server)["test_own_oracle"]
            assert result.status == "passed", result.message  # type: ignore[attr-defined]
        assert sys.modules["oracle"] is elsewhere, "what was imported before is back"
    finally:
        if saved is None:
            del sys.modules["oracle"]
        else:
            sys.modules["oracle"] = saved
    assert sys.path == path_before
