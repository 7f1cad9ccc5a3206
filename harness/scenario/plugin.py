"""The pytest plugin behind every exercise's scenarios.

Follows pytest's own layout: markers registered with help text, per-run state in `config.stash`, per-test
state in `item.stash`, outcome collection in hook wrappers. Scenario authors use the fixtures below and
two markers::

    @pytest.mark.criterion("strings.basic")   # which rubric criterion this scenario is evidence for
    @pytest.mark.timeout(10)                   # optional; pytest-timeout's marker
    def test_set_then_get(service, resp): ...
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar

import pytest

from harness.exercise import MAIN_PORT, Exercise
from harness.report.model import ScenarioResult
from harness.scenario.evidence import EvidenceLog, EvidenceSource
from harness.scenario.outcome import PhaseOutcome, classify
from harness.scenario.service import ExternalService, ServiceHandle
from harness.scenario.session import SESSION_KEY, ScenarioSession

if TYPE_CHECKING:
    from harness.drivers.jsonl import JsonLinesClient

_EVIDENCE = pytest.StashKey[EvidenceLog]()
_PHASES = pytest.StashKey[list[tuple[str, PhaseOutcome]]]()
_STARTED = pytest.StashKey[float]()


def _session(config: pytest.Config) -> ScenarioSession:
    return config.stash[SESSION_KEY]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "criterion(id): the rubric criterion this scenario is evidence for (required)"
    )
    config.addinivalue_line(
        "markers", "visibility(public|hidden): override the visibility implied by the scenario's folder"
    )


def _marker_arg(item: pytest.Item, name: str) -> str | None:
    marker = item.get_closest_marker(name)
    if marker is None or not marker.args:
        return None
    return str(marker.args[0])


def visibility_of(item: pytest.Item) -> Literal["public", "hidden"]:
    explicit = _marker_arg(item, "visibility")
    if explicit in ("public", "hidden"):
        return explicit  # type: ignore[return-value]
    return "public" if "public" in Path(str(item.path)).parts else "hidden"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session = _session(config)
    for item in items:
        criterion = _marker_arg(item, "criterion")
        if criterion is None:
            session.collection_problems.append(f"{item.nodeid}: no @pytest.mark.criterion(...) marker")
        elif criterion not in session.known_criteria:
            session.collection_problems.append(
                f"{item.nodeid}: criterion '{criterion}' is not in the exercise's rubric"
            )
    if session.collection_problems:
        items.clear()  # a malformed exercise must not run half its scenarios; the runner reports it
    if session.on_collected is not None:
        session.on_collected(len(items))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    outcome = classify(call.excinfo, report.longreprtext if report.failed else "")
    if outcome.status == "failed" and outcome.evidence is None:
        log = item.stash.get(_EVIDENCE, None)
        if log is not None:
            outcome = PhaseOutcome(
                outcome.status,
                message=outcome.message,
                evidence=log.render(with_logs=True) or None,
                reproduce=outcome.reproduce or log.reproduce(),
                details=outcome.details,
            )
    item.stash.setdefault(_PHASES, []).append((call.when, outcome))
    return report


def _final_outcome(phases: list[tuple[str, PhaseOutcome]]) -> PhaseOutcome:
    """Setup or call decides; a teardown problem only matters when nothing else went wrong."""
    deciding = [o for when, o in phases if when in ("setup", "call")]
    for outcome in deciding:
        if outcome.status != "passed":
            return outcome
    teardown = [o for when, o in phases if when == "teardown" and o.status != "passed"]
    if teardown and teardown[0].status in ("failed", "error"):
        return teardown[0]
    return deciding[-1] if deciding else PhaseOutcome("error", message="scenario did not run")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    item.stash[_STARTED] = time.monotonic()
    result = yield
    session = _session(item.config)
    outcome = _final_outcome(item.stash.get(_PHASES, []))
    log = item.stash.get(_EVIDENCE, None)
    scenario = ScenarioResult(
        nodeid=item.nodeid,
        name=item.name,
        criterion=_marker_arg(item, "criterion") or "(none)",
        visibility=visibility_of(item),
        status=outcome.status,
        duration_s=round(time.monotonic() - item.stash[_STARTED], 3),
        message=outcome.message,
        evidence=outcome.evidence,
        reproduce=outcome.reproduce,
        details=outcome.details,
        charts=list(log.charts) if log is not None else [],
    )
    session.results.append(scenario)
    if session.on_result is not None:
        session.on_result(scenario)
    return result


# --- fixtures for scenario authors ---------------------------------------------------------------


@pytest.fixture(scope="session")
def exercise(request: pytest.FixtureRequest) -> Exercise:
    """The exercise being graded (its spec: port, limits, ...)."""
    return _session(request.config).exercise


@pytest.fixture(scope="session")
def seed(request: pytest.FixtureRequest) -> int:
    """The run's seed; recorded in every result."""
    return _session(request.config).seed


@pytest.fixture
def rng(request: pytest.FixtureRequest, seed: int) -> random.Random:
    """A random generator seeded from the run's seed and the scenario's id: same seed, same inputs."""
    return random.Random(f"{seed}:{request.node.nodeid}")


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> EvidenceLog:
    """Where clients and the scenario itself record what happened, shown when the scenario fails, and
    the charts the reports draw (``evidence.chart(line_chart(...))``), kept whatever the outcome."""
    log = EvidenceLog()
    request.node.stash[_EVIDENCE] = log
    return log


@pytest.fixture
def service(request: pytest.FixtureRequest, evidence: EvidenceLog) -> ServiceHandle:
    """The shared, already started service. Restarted (keeping /data) if an earlier scenario left it dead."""
    handle, note = _session(request.config).services.shared()
    if note:
        evidence.note(note)
    evidence.watch(handle)
    return handle


@pytest.fixture
def fresh_service(request: pytest.FixtureRequest, evidence: EvidenceLog) -> Iterator[ServiceHandle]:
    """A service of this scenario's own, with an empty /data; for scenarios that kill or restart it."""
    with _session(request.config).services.fresh(request.node.name) as handle:
        evidence.watch(handle)
        yield handle


class _Closable(EvidenceSource, Protocol):
    def close(self) -> None: ...


_Client = TypeVar("_Client", bound=_Closable)


class _OpenedClients(Generic[_Client]):
    """The clients a factory fixture opened: their transcripts go to the evidence, and they are closed
    at teardown."""

    def __init__(self, evidence: EvidenceLog) -> None:
        self.evidence = evidence
        self.opened: list[_Client] = []

    @property
    def next_number(self) -> int:
        return len(self.opened) + 1

    def keep(self, client: _Client) -> _Client:
        self.evidence.attach(client)
        self.opened.append(client)
        return client

    def close_all(self) -> None:
        for client in self.opened:
            client.close()


@pytest.fixture
def resp(
    request: pytest.FixtureRequest, evidence: EvidenceLog, exercise: Exercise
) -> Iterator[Callable[..., object]]:
    """Factory of RESP clients recording a transcript: ``client = resp(service)``."""
    from harness.drivers.resp import RespClient

    clients: _OpenedClients[RespClient] = _OpenedClients(evidence)

    def connect(target: ServiceHandle, *, timeout: float = 5.0) -> RespClient:
        return clients.keep(
            RespClient(
                target.host,
                target.port,
                timeout=timeout,
                label=f"client {clients.next_number}",
                repro_address=repro_address(exercise, target, MAIN_PORT),
            )
        )

    yield connect
    clients.close_all()


class JsonLinesConnect(Protocol):
    """What the `jsonl` fixture gives: ``jsonl(service)``, ``jsonl(service, port="market_data")``."""

    def __call__(
        self,
        target: ServiceHandle,
        *,
        port: str = MAIN_PORT,
        timeout: float = 5.0,
        max_line_bytes: int | None = None,
    ) -> JsonLinesClient: ...


@pytest.fixture
def jsonl(
    request: pytest.FixtureRequest, evidence: EvidenceLog, exercise: Exercise
) -> Iterator[JsonLinesConnect]:
    """Factory of newline-delimited JSON clients recording a transcript: ``client = jsonl(service)``, or
    ``feed = jsonl(service, port="market_data")`` for one of exercise.yaml's `service.extra_ports`."""
    from harness.drivers.jsonl import MAX_LINE_BYTES, JsonLinesClient

    clients: _OpenedClients[JsonLinesClient] = _OpenedClients(evidence)

    def connect(
        target: ServiceHandle,
        *,
        port: str = MAIN_PORT,
        timeout: float = 5.0,
        max_line_bytes: int | None = None,
    ) -> JsonLinesClient:
        number = clients.next_number
        return clients.keep(
            JsonLinesClient(
                target.host,
                target.port_of(port),
                timeout=timeout,
                label=f"client {number}" if port == MAIN_PORT else f"{port} client {number}",
                repro_address=repro_address(exercise, target, port),
                max_line_bytes=MAX_LINE_BYTES if max_line_bytes is None else max_line_bytes,
            )
        )

    yield connect
    clients.close_all()


def repro_address(exercise: Exercise, target: ServiceHandle, port: str) -> tuple[str, int]:
    """Where a reproduce command sends its bytes: the candidate's own server. That is the address given
    to `harness check --address`, or else their server started with the brief's defaults on this
    machine (the sandbox's container address means nothing to them)."""
    if isinstance(target, ExternalService):
        return target.host, target.port_of(port)
    return "127.0.0.1", next(p.number for p in exercise.spec.service.ports() if p.name == port)


@pytest.fixture
def performance(
    request: pytest.FixtureRequest, exercise: Exercise, seed: int, evidence: EvidenceLog
) -> object:
    """Measure a service with one of the exercise's load profiles and read the reference's figures:
    ``result = performance.measure(service, "throughput"); ref = performance.baseline("throughput")``."""
    from harness.scenario.performance import PerformanceProbe

    session = _session(request.config)
    return PerformanceProbe(exercise, session.baseline, seed, evidence, reference_now=session.reference_now)
