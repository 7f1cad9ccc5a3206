"""Services with more than one port: the exercise.yaml schema, `port_of` on every handle, readiness that
waits for every port (a fake container in front of real loopback listeners), and `check --address`
with `--port NAME=PORT`."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from harness.cli import main
from harness.errors import ExerciseError, ServiceStartFailed, UsageError
from harness.exercise import MAIN_PORT, Exercise, KitSpec, NamedPort, ServiceSpec, load_exercise
from harness.faults.proxy import proxied
from harness.kit import kit_instructions
from harness.sandbox.service import DockerService
from harness.scenario.service import ExternalAddress, ExternalService, ExternalServiceFactory

REPO = Path(__file__).resolve().parents[2]
TWO_PORTS: dict[str, Any] = {"port": 7400, "extra_ports": {"market_data": {"port": 7401, "env": "MD_PORT"}}}


# --- schema ----------------------------------------------------------------------------------------


def test_ports_are_named_main_first_and_reach_the_service_in_their_variables() -> None:
    spec = ServiceSpec.model_validate({**TWO_PORTS, "env": {"LOG": "info"}})
    assert spec.ports() == [NamedPort("main", 7400, "PORT"), NamedPort("market_data", 7401, "MD_PORT")]
    assert spec.environment() == {"PORT": "7400", "MD_PORT": "7401", "DATA_DIR": "/data", "LOG": "info"}


def test_a_single_port_service_is_what_it_was() -> None:
    spec = ServiceSpec(port=6379)
    assert spec.ports() == [NamedPort(MAIN_PORT, 6379, "PORT")]
    assert spec.environment() == {"PORT": "6379", "DATA_DIR": "/data"}


@pytest.mark.parametrize(
    ("extra", "env", "message"),
    [
        pytest.param({"main": {"port": 1, "env": "A"}}, {}, "is the name of `port`", id="main"),
        pytest.param({"Market": {"port": 1, "env": "A"}}, {}, "lower_snake_case", id="name-case"),
        pytest.param({"md": {"port": 7400, "env": "A"}}, {}, "its own number", id="same-number"),
        pytest.param({"md": {"port": 1, "env": "PORT"}}, {}, "PORT is set twice", id="port-variable"),
        pytest.param({"md": {"port": 1, "env": "DATA_DIR"}}, {}, "DATA_DIR is set twice", id="data-dir"),
        pytest.param({"md": {"port": 1, "env": "MD"}}, {"MD": "2"}, "MD is set twice", id="also-in-env"),
        pytest.param(
            {"a": {"port": 1, "env": "X"}, "b": {"port": 2, "env": "X"}}, {}, "X is set twice", id="shared"
        ),
        pytest.param({"md": {"port": 1, "env": "md_port"}}, {}, "should match pattern", id="env-case"),
        pytest.param({"md": {"port": 70000, "env": "A"}}, {}, "less than or equal", id="range"),
        pytest.param({"md": 7401}, {}, "valid dictionary", id="bare-number"),
    ],
)
def test_bad_extra_ports_are_refused(extra: dict[str, Any], env: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ServiceSpec.model_validate({"port": 7400, "extra_ports": extra, "env": env})


@pytest.mark.parametrize("entry", ["/abs", "../up", "a/../../b", "", ".", "a\\b"])
def test_kit_includes_stay_inside_the_exercise(entry: str) -> None:
    with pytest.raises(ValidationError, match="relative path inside the exercise"):
        KitSpec(include=[entry])


# --- handles ---------------------------------------------------------------------------------------


@pytest.fixture
def listeners() -> Iterator[list[int]]:
    """Two loopback ports that accept connections."""
    sockets = []
    for _ in range(2):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sockets.append(sock)
    yield [s.getsockname()[1] for s in sockets]
    for sock in sockets:
        sock.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again on leaving: nothing listens there


def test_an_external_address_defaults_extra_ports_to_the_spec() -> None:
    spec = ServiceSpec.model_validate(TWO_PORTS)
    assert ExternalAddress.resolve(spec, "h", 9000, {}).ports == {"main": 9000, "market_data": 7401}
    given = ExternalAddress.resolve(spec, "h", 9000, {"market_data": 9001})
    assert given.ports == {"main": 9000, "market_data": 9001}
    factory = ExternalServiceFactory.at(given)
    service, _ = factory.shared()
    assert (service.host, service.port, service.port_of("market_data")) == ("h", 9000, 9001)
    assert service.port_of(MAIN_PORT) == 9000


@pytest.mark.parametrize("name", ["nope", "main"])
def test_an_external_address_refuses_ports_the_exercise_does_not_have(name: str) -> None:
    spec = ServiceSpec.model_validate(TWO_PORTS)
    with pytest.raises(UsageError, match=f"--port {name}=") as caught:
        ExternalAddress.resolve(spec, "h", 1, {name: 2})
    assert "market_data" in caught.value.one_line()


def test_an_undeclared_port_name_is_an_exercise_error() -> None:
    service = ExternalService("h", 1, extra_ports={"market_data": 2})
    with pytest.raises(ExerciseError, match=r"no port named 'feed' \(it has main, market_data\)"):
        service.port_of("feed")


def test_an_external_service_is_alive_only_with_every_port(listeners: list[int]) -> None:
    main_port, md_port = listeners
    assert ExternalService("127.0.0.1", main_port, extra_ports={"market_data": md_port}).is_alive()
    assert not ExternalService("127.0.0.1", main_port, extra_ports={"market_data": closed_port()}).is_alive()


def test_the_fault_proxy_carries_the_main_port_only(listeners: list[int]) -> None:
    service = ExternalService("127.0.0.1", listeners[0], extra_ports={"market_data": listeners[1]})
    with proxied(service) as through:
        assert through.port_of(MAIN_PORT) == through.port != listeners[0]
        with pytest.raises(ExerciseError, match="only the main port goes through the fault proxy"):
            through.port_of("market_data")
        with pytest.raises(ExerciseError, match="no port named 'feed'"):
            through.port_of("feed")


# --- readiness ---------------------------------------------------------------------------------------


class FakeContainer:
    """What DockerService reads of a container: a running state, an address on loopback, a log."""

    def __init__(self, running: bool = True) -> None:
        self.attrs: dict[str, Any] = {
            "State": {"Running": running, "ExitCode": 3, "FinishedAt": "0001-01-01"},
            "NetworkSettings": {"Networks": {"run": {"IPAddress": "127.0.0.1"}}},
        }
        self.killed = False

    def start(self) -> None: ...

    def reload(self) -> None: ...

    def kill(self, signal: str = "SIGKILL") -> None:
        self.killed = True

    def logs(self, **_: object) -> bytes:
        return b"listening on order entry only\n"


def docker_service(container: FakeContainer, ports: list[NamedPort], timeout_s: float = 0.4) -> DockerService:
    return DockerService(None, container, ports, "shared", timeout_s)  # type: ignore[arg-type]


def test_start_returns_once_every_port_accepts(listeners: list[int]) -> None:
    ports = [NamedPort("main", listeners[0], "PORT"), NamedPort("market_data", listeners[1], "MD_PORT")]
    service = docker_service(FakeContainer(), ports)
    service.start()
    assert service.is_alive() and service.port == listeners[0]
    assert service.port_of("market_data") == listeners[1]


def test_start_fails_naming_the_port_that_never_opened(listeners: list[int]) -> None:
    missing = closed_port()
    ports = [NamedPort("main", listeners[0], "PORT"), NamedPort("market_data", missing, "MD_PORT")]
    container = FakeContainer()
    service = docker_service(container, ports)
    with pytest.raises(ServiceStartFailed) as caught:
        service.start()
    failure = caught.value
    assert (
        failure.message
        == f"the service did not accept connections on port {missing} (market_data) within 0.4 s"
    )
    assert failure.evidence is not None
    assert f"it must listen on 0.0.0.0:$MD_PORT (MD_PORT={missing})" in failure.evidence
    assert f"port {listeners[0]} (main) did accept connections" in failure.evidence
    assert "listening on order entry only" in failure.evidence
    assert container.killed, "a service that never got ready is not left running"
    with pytest.raises(ServiceStartFailed, match="market_data"):
        service.start()  # remembered: the next scenario does not wait the deadline out again


def test_a_single_port_failure_reads_as_before() -> None:
    missing = closed_port()
    service = docker_service(FakeContainer(), [NamedPort("main", missing, "PORT")], timeout_s=0.2)
    with pytest.raises(ServiceStartFailed) as caught:
        service.start()
    assert caught.value.message == f"the service did not accept connections on port {missing} within 0.2 s"
    assert f"0.0.0.0:$PORT (PORT={missing})" in (caught.value.evidence or "")


def test_a_service_that_exits_fails_at_once(listeners: list[int]) -> None:
    service = docker_service(FakeContainer(running=False), [NamedPort("main", listeners[0], "PORT")], 30)
    with pytest.raises(ServiceStartFailed, match="exited during start-up with code 3"):
        service.start()


# --- check --address ... --port NAME=PORT ------------------------------------------------------------


def two_port_exercise(root: Path) -> Path:
    """kv-store's rubric with a second port: enough for the CLI and the grader's address check."""
    folder = root / "two-ports"
    folder.mkdir()
    (folder / "exercise.yaml").write_text(
        "name: kv-store\ntitle: Two ports\ntime_box: 1h\nskills: [rpc]\n"
        f"rubric: {REPO / 'rubrics' / 'kv-store.yaml'}\n"
        "service: {port: 7400, extra_ports: {market_data: {port: 7401, env: MD_PORT}}}\n"
    )
    return folder


def check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--port", "market_data=7401"], "--port names a port of a service given by", id="alone"),
        pytest.param(["--address", "h:1", "--port", "md:7401"], "is not NAME=PORT", id="malformed"),
        pytest.param(["--address", "h:1", "--port", "feed=2"], "no extra port of that name", id="unknown"),
    ],
)
def test_bad_port_options_are_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    code, output = check("-e", str(two_port_exercise(tmp_path)), "--out", str(tmp_path / "o"), *args)
    assert code == 2 and expected in output and "Traceback" not in output


def test_check_names_the_extra_port_where_nothing_listens(tmp_path: Path, listeners: list[int]) -> None:
    missing = closed_port()
    code, output = check(
        "-e",
        str(two_port_exercise(tmp_path)),
        "--out",
        str(tmp_path / "o"),
        "--address",
        f"127.0.0.1:{listeners[0]}",
        "--port",
        f"market_data={missing}",
    )
    assert code == 2
    assert f"nothing accepts connections at 127.0.0.1:{missing} (the market_data port)" in output


def test_the_kit_tells_candidates_where_the_other_ports_are_expected() -> None:
    exercise = load_exercise("kv-store")
    spec = exercise.spec.model_copy(update={"service": ServiceSpec.model_validate(TWO_PORTS)})
    text = kit_instructions(Exercise(spec, exercise.root), {"criteria": []}, has_starter=False)
    assert "--address 127.0.0.1:7400" in text
    assert "expected at their defaults (`market_data` at 7401)" in text and "--port NAME=PORT" in text
    assert "--port" not in kit_instructions(exercise, {"criteria": []}, has_starter=True)
