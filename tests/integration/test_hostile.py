"""Hostile submissions, graded by the real harness against (a copy of) kv-store.

Each case ends as a scored candidate failure or a clear build failure, leaves nothing of its run behind,
and leaves the host as it was: disk growth within the caps, no firewall rule left, the harness process
responsive throughout. The runtime attacks share one std-only fixture (`tests/fixtures/hostile/runtime`,
built once, then reused by source digest); `HOSTILE_MODE` in the exercise copy's `service.env` picks the
attack. Network probes aim only at canaries this test runs on addresses this test (or the run it
watches) created.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from harness.exercise import Exercise, load_exercise
from harness.grading import GradeRequest, SilentObserver, grade
from harness.report.json_report import read_result
from harness.report.model import GradeResult, ScenarioResult
from harness.sandbox import cleanup, hostguard, labels

from .conftest import REPO

HOSTILE = REPO / "tests" / "fixtures" / "hostile"
RUNTIME = HOSTILE / "runtime"
KV = REPO / "exercises" / "kv-store"
PING_AND_GET = "test_ping_replies_pong or test_get_returns_the_value_set"
#: The fixture answers `PING hello` with PONG: the one scored failure of a service that survived.
PING_FAILS = "got PONG"
DOCKER_ROOT = "/var/lib/docker"
MIB = 1024 * 1024

#: Owners (host:pid) of the harness runs this module started: its own process and its CLI children.
#: Leftover checks look only at these, so other harness runs on a shared engine do not count.
OWNERS: set[str] = {labels.owner_tag()}


# --- what belongs to us, and the host's state ---------------------------------------------------------


def _labels_of(resource: Any) -> dict[str, str]:
    attrs = resource.attrs or {}
    found = attrs.get("Labels") or (attrs.get("Config") or {}).get("Labels") or {}
    return dict(found)


def ours(client: docker.DockerClient, owners: set[str] | None = None) -> list[str]:
    owners = OWNERS if owners is None else owners
    selector = {"label": labels.RUN}
    found: list[str] = []
    for kind, listing in (
        ("container", client.containers.list(all=True, filters=selector)),
        ("network", client.networks.list(filters=selector)),
        ("volume", client.volumes.list(filters=selector)),
    ):
        found += [f"{kind} {r.name}" for r in listing if _labels_of(r).get(labels.OWNER) in owners]
    return found


def orphan_rules(client: docker.DockerClient) -> set[str]:
    """Firewall rules whose run has no network any more."""
    rules = hostguard.guarded_runs()
    networks = {str(n.name) for n in client.networks.list(filters={"label": labels.RUN})}
    return {run for run in rules if f"harness-{run}" not in networks}


@pytest.fixture(autouse=True)
def nothing_left_behind(docker_client: docker.DockerClient) -> Iterator[None]:
    """Overrides the tier's global check with one scoped to this module's runs (the engine is shared)."""
    yield
    assert ours(docker_client) == [], "a hostile grade left resources behind"
    assert orphan_rules(docker_client) == set(), "a host firewall rule outlived its run"


@dataclass
class HostWatch:
    """Samples the host while a grade runs: disk growth under Docker's root, the largest container log
    file of our runs, and the longest stall of a heartbeat thread in the harness process."""

    client: docker.DockerClient
    disk_growth: int = 0
    largest_log: int = 0
    longest_stall: float = 0.0
    seconds: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _disk_and_heartbeat(self) -> None:
        base = shutil.disk_usage(DOCKER_ROOT).used
        last = time.monotonic()
        while not self._stop.wait(0.1):
            now = time.monotonic()
            self.longest_stall = max(self.longest_stall, now - last - 0.1)
            last = now
            self.disk_growth = max(self.disk_growth, shutil.disk_usage(DOCKER_ROOT).used - base)

    def _logs(self) -> None:
        while not self._stop.wait(0.5):
            try:
                containers = self.client.containers.list(filters={"label": labels.RUN})
            except docker.errors.APIError:
                continue
            for container in containers:
                path = (container.attrs or {}).get("LogPath") or ""
                if _labels_of(container).get(labels.OWNER) in OWNERS and os.path.isfile(path):
                    self.largest_log = max(self.largest_log, os.path.getsize(path))

    def __enter__(self) -> HostWatch:
        self._started = time.monotonic()
        self._threads = [
            threading.Thread(target=t, daemon=True) for t in (self._disk_and_heartbeat, self._logs)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.seconds = time.monotonic() - self._started


def exercise_copy(
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    build: dict[str, Any] | None = None,
    start_timeout_s: float = 5.0,
) -> Exercise:
    """kv-store with small limits: same scenarios and rubric, service env and timeouts of our choosing."""
    root = tmp_path / "exercise"
    shutil.copytree(KV / "scenarios", root / "scenarios", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(KV / "README.md", root / "README.md")
    spec = yaml.safe_load((KV / "exercise.yaml").read_text())
    spec["rubric"] = str(REPO / "rubrics" / "kv-store.yaml")
    # Paths relative to the exercise folder would not resolve in the copy, and the cases here never need
    # the sample or a performance baseline of the reference.
    spec.pop("sample", None)
    spec.pop("performance", None)
    spec["service"]["start_timeout_s"] = start_timeout_s
    spec["service"]["env"] = env or {}
    spec["build"] = {**spec["build"], "timeout_s": 180, **(build or {})}
    (root / "exercise.yaml").write_text(yaml.safe_dump(spec))
    return load_exercise(str(root))


def grade_watched(
    client: docker.DockerClient, exercise: Exercise, submission: Path, keyword: str | None
) -> tuple[GradeResult, HostWatch]:
    with HostWatch(client) as watch:
        result = grade(
            GradeRequest(
                exercise=exercise, mode="grade", seed=99, submission=str(submission), keyword=keyword
            )
        )
    # The harness stayed responsive: its own threads kept running while the submission misbehaved.
    assert watch.longest_stall < 2.0, f"the harness stalled for {watch.longest_stall:.1f} s"
    return result, watch


def by_name(result: GradeResult) -> dict[str, ScenarioResult]:
    return {s.name: s for c in result.criteria for s in c.scenarios}


def service_log(result: GradeResult) -> str:
    """The service log tail the evidence of the failed PING scenario carries."""
    evidence = by_name(result)["test_ping_replies_pong"].evidence or ""
    return evidence


def assert_scored_survivor(result: GradeResult) -> None:
    """The service came up despite its attack: PING fails as designed (scored), GET passes."""
    scenarios = by_name(result)
    assert result.complete, result.problems
    assert scenarios["test_ping_replies_pong"].status == "failed"
    assert PING_FAILS in (scenarios["test_ping_replies_pong"].message or ""), scenarios
    assert scenarios["test_get_returns_the_value_set"].status == "passed", scenarios
    assert result.total == 50


def assert_all_failed_with(result: GradeResult, text: str) -> None:
    assert result.complete, result.problems
    scenarios = list(by_name(result).values())
    assert scenarios and all(s.status == "failed" for s in scenarios), [(s.name, s.status) for s in scenarios]
    assert all(text in (s.message or "") for s in scenarios), [s.message for s in scenarios]
    assert result.total == 0


# --- run time -------------------------------------------------------------------------------------------


def test_fork_bomb_is_stopped_by_the_pids_limit(docker_client: docker.DockerClient, tmp_path: Path) -> None:
    exercise = exercise_copy(tmp_path, env={"HOSTILE_MODE": "fork-bomb"})
    result, _ = grade_watched(docker_client, exercise, RUNTIME, PING_AND_GET)
    assert_scored_survivor(result)
    found = re.search(r"FORK-BOMB stopped after (\d+) processes and (\d+) threads", service_log(result))
    assert found, service_log(result)
    assert int(found.group(1)) + int(found.group(2)) < exercise.spec.run.pids
    assert "Resource temporarily unavailable" in service_log(result)  # stopped by the limit, not by time
    # The host can still make processes.
    assert subprocess.run(["true"], check=False).returncode == 0


def test_memory_hog_is_killed_and_scored_out_of_memory(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    exercise = exercise_copy(tmp_path, env={"HOSTILE_MODE": "memory"})
    result, watch = grade_watched(docker_client, exercise, RUNTIME, PING_AND_GET)
    assert_all_failed_with(result, "exited during start-up with code 137 (out of memory)")
    assert watch.seconds < 60


def test_filling_data_hits_the_quota(
    docker_client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Docker volumes have no size limit here: the harness's watchdog is the containment.
    monkeypatch.setenv("HARNESS_DATA_QUOTA_MB", "64")
    exercise = exercise_copy(tmp_path, env={"HOSTILE_MODE": "fill-data"}, start_timeout_s=20)
    result, watch = grade_watched(docker_client, exercise, RUNTIME, PING_AND_GET)
    assert_all_failed_with(result, "exceeded the /data quota of 64 MiB")
    # The fixture would write 1 GiB. The cap is soft: what gets through is the quota plus what the
    # service writes in one poll interval (0.1 s), measured on the volume right after the kill.
    held = re.search(
        r"\((\d+) MiB in \d+ files when stopped\)", by_name(result)["test_ping_replies_pong"].message or ""
    )
    assert held and int(held.group(1)) < 64 + 256, held
    assert watch.disk_growth < 400 * MIB, f"disk grew by {watch.disk_growth // MIB} MiB"


def test_filling_tmp_stops_at_the_tmpfs_size(docker_client: docker.DockerClient, tmp_path: Path) -> None:
    exercise = exercise_copy(tmp_path, env={"HOSTILE_MODE": "fill-tmp"})
    result, watch = grade_watched(docker_client, exercise, RUNTIME, PING_AND_GET)
    assert_scored_survivor(result)
    log = service_log(result)
    assert "No space left on device" in log, log
    found = re.search(r"FILL /tmp stopped after (\d+) MiB", log)
    assert found and int(found.group(1)) <= exercise.spec.run.tmpfs_mb, log
    assert watch.disk_growth < 200 * MIB


def test_output_flood_is_capped_and_does_not_slow_the_grade(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    # The fixture writes 1 GiB before it listens (about 7 s here: the engine's log intake is the limit),
    # then keeps writing from two threads for as long as it runs.
    exercise = exercise_copy(tmp_path, env={"HOSTILE_MODE": "flood"}, start_timeout_s=60)
    result, watch = grade_watched(docker_client, exercise, RUNTIME, PING_AND_GET)
    assert_scored_survivor(result)
    # json-file keeps at most one 8 MB file; the flood never stopped while the grade ran.
    assert 0 < watch.largest_log <= 9 * MIB, watch.largest_log
    assert watch.disk_growth < 200 * MIB
    assert watch.seconds < 60
    evidence = service_log(result)
    flooded = [int(n) for n in re.findall(r"FLOODED (\d+) MiB", evidence)]
    assert flooded and max(flooded) >= 1024, evidence[-300:]
    assert len(evidence) < 10_000
    # Once it listened, the flood did not slow the scenarios down (the first one includes the start).
    assert by_name(result)["test_get_returns_the_value_set"].duration_s < 3


def test_cpu_spin_is_held_to_its_quota(docker_client: docker.DockerClient, tmp_path: Path) -> None:
    exercise = exercise_copy(tmp_path, env={"HOSTILE_MODE": "spin"})
    result, watch = grade_watched(docker_client, exercise, RUNTIME, PING_AND_GET)
    assert_scored_survivor(result)
    assert "spinning on 16 threads" in service_log(result)
    assert watch.seconds < 60


class Canary:
    """A TCP and UDP listener this test runs on the host side of the grade's own network.

    The harness creates that network during the grade; a thread waits for it (owned by this process),
    then binds both sockets to its gateway address and records every peer."""

    def __init__(self, client: docker.DockerClient, port: int) -> None:
        self.client = client
        self.port = port
        self.hits: list[str] = []
        self.bound: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _gateway(self) -> str | None:
        for network in self.client.networks.list(filters={"label": labels.RUN}):
            if _labels_of(network).get(labels.OWNER) == labels.owner_tag():
                network.reload()
                for config in network.attrs.get("IPAM", {}).get("Config") or []:
                    if config.get("Gateway"):
                        return str(config["Gateway"])
        return None

    def _run(self) -> None:
        gateway = None
        while gateway is None and not self._stop.wait(0.05):
            gateway = self._gateway()
        if gateway is None:
            return
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            for sock in (tcp, udp):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((gateway, self.port))
                sock.settimeout(0.1)
            tcp.listen()
            self.bound = gateway
            while not self._stop.is_set():
                for sock in (tcp, udp):
                    try:
                        if sock is tcp:
                            conn, peer = tcp.accept()
                            conn.close()
                            self.hits.append(f"tcp {peer}")
                        else:
                            _, peer = udp.recvfrom(100)
                            self.hits.append(f"udp {peer}")
                    except OSError:
                        continue

    def __enter__(self) -> Canary:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("guarded", [True, False], ids=["guarded", "control-without-guard"])
def test_service_cannot_reach_the_host_side_of_its_network(
    docker_client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, guarded: bool
) -> None:
    if guarded and not hostguard.status().available:
        pytest.skip(f"no host firewall here: {hostguard.status().detail} (see SECURITY.md)")
    if not guarded:
        # The control: without the guard the same probe reaches the canary, so the canary can see it.
        monkeypatch.setattr(hostguard, "close_host", lambda run_id: False)
    port = free_port()
    exercise = exercise_copy(tmp_path, env={"HOSTILE_MODE": "egress", "CANARY_PORT": str(port)})
    with Canary(docker_client, port) as canary:
        result, _ = grade_watched(docker_client, exercise, RUNTIME, PING_AND_GET)
    assert canary.bound is not None, "the canary never found the grade's network"
    log = service_log(result)
    assert f"EGRESS tcp {canary.bound}:{port}" in log, log
    if guarded:
        assert canary.hits == [], canary.hits
        assert "CONNECTED" not in log
        assert_scored_survivor(result)
    else:
        assert any(hit.startswith("tcp") for hit in canary.hits) and "CONNECTED" in log


def test_service_finds_no_docker_socket_host_files_or_secrets(
    docker_client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = secrets.token_hex(16)
    monkeypatch.setenv("HARNESS_TEST_SECRET", secret)
    exercise = exercise_copy(tmp_path, env={"HOSTILE_MODE": "snoop"})
    result, _ = grade_watched(docker_client, exercise, RUNTIME, PING_AND_GET)
    assert_scored_survivor(result)
    log = service_log(result)
    assert "SNOOP done" in log, log
    for path in (
        "/var/run/docker.sock",
        "/run/docker.sock",
        "/run/containerd/containerd.sock",
        "/etc/shadow",
    ):
        assert f"SNOOP {path}: absent" in log, log
    assert "SNOOP docker.sock mounted: false" in log
    assert "SNOOP root filesystem writable: false" in log
    assert secret not in result.model_dump_json() and "HARNESS_TEST_SECRET" not in log


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("wrong-port", "did not accept connections on port 6379 within 5 s"),
        ("never-listen", "did not accept connections on port 6379 within 5 s"),
    ],
)
def test_service_that_does_not_listen_on_its_port_fails_once_at_the_deadline(
    docker_client: docker.DockerClient, tmp_path: Path, mode: str, message: str
) -> None:
    exercise = exercise_copy(tmp_path, env={"HOSTILE_MODE": mode})
    result, watch = grade_watched(docker_client, exercise, RUNTIME, PING_AND_GET)
    assert_all_failed_with(result, message)
    assert watch.seconds < 30, "the readiness deadline must be waited out once, not per scenario"


def test_crash_loop_is_restarted_once_per_scenario_and_scored(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    exercise = exercise_copy(tmp_path, env={"HOSTILE_MODE": "crash-loop"})
    result, watch = grade_watched(docker_client, exercise, RUNTIME, "test_basics")
    scenarios = list(by_name(result).values())
    assert result.complete and result.total == 0
    assert len(scenarios) == 7 and all(s.status == "failed" for s in scenarios)
    assert all("closed by the service" in (s.message or "") for s in scenarios), [
        s.message for s in scenarios
    ]
    evidence = service_log(result)
    assert "crashing on the first request" in evidence and "exit code 3" in evidence, evidence
    assert watch.seconds < 60


def test_service_ignoring_sigterm_is_killed_after_the_stop_timeout(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    exercise = exercise_copy(tmp_path, env={"HOSTILE_MODE": "ignore-sigterm"})
    result, watch = grade_watched(
        docker_client, exercise, RUNTIME, "test_sigterm_exits_with_status_0_within_5_seconds"
    )
    (scenario,) = by_name(result).values()
    assert scenario.status == "failed" and result.complete
    assert "it had to be killed after 5" in (scenario.message or ""), scenario.message
    assert watch.seconds < 60


@pytest.mark.parametrize(
    ("mode", "keyword", "message"),
    [
        ("gigabyte", PING_AND_GET, "MiB"),
        ("never-close", "test_ping_replies_pong", "no reply within 5 s"),
    ],
)
def test_huge_or_endless_replies_end_as_scored_failures(
    docker_client: docker.DockerClient, tmp_path: Path, mode: str, keyword: str, message: str
) -> None:
    exercise = exercise_copy(tmp_path, env={"HOSTILE_MODE": mode})
    result, watch = grade_watched(docker_client, exercise, RUNTIME, keyword)
    assert_all_failed_with(result, message)
    assert watch.seconds < 30
    assert watch.disk_growth < 200 * MIB


INJECTED = ("::error", "::set-output", "::add-mask", "::warning", "##vso[", "##[error]")


def test_log_injection_is_printed_escaped(tmp_path: Path) -> None:
    """ANSI escapes, HTML, fake PASSED lines and CI workflow commands in the service's log and replies,
    shown through the real CLI (check mode prints the evidence)."""
    exercise = exercise_copy(tmp_path, env={"HOSTILE_MODE": "inject"})
    out = tmp_path / "out"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "harness.cli", "check", str(RUNTIME), "-e", str(exercise.root)),
            *("-k", "test_ping_replies_pong", "--out", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed
    assert "\x1b" not in printed and "\x07" not in printed
    assert "\\x1b[2J" in printed, printed  # shown, escaped
    assert "<script>" in printed  # a terminal does not run HTML; shown as text
    for line in printed.splitlines():
        assert not line.lstrip().startswith(("::", "##[")), line
        assert "##vso[" not in line.lower(), line
    assert "\\x3a:error" in printed and "\\x23#vso[" in printed
    # results.json keeps the raw text, JSON-escaped: control characters never appear as raw bytes.
    raw = (out / "results.json").read_text()
    assert "\x1b" not in raw and "\\u001b" in raw
    evidence = json.loads(raw)["criteria"][0]["scenarios"][0]["evidence"]
    assert "::error file=src/main.rs" in evidence and "PASSED" in evidence


# --- build time -----------------------------------------------------------------------------------------


def test_build_script_that_sleeps_forever_hits_the_build_timeout(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    exercise = exercise_copy(tmp_path, build={"timeout_s": 15})
    result, watch = grade_watched(docker_client, exercise, HOSTILE / "build-sleeps", PING_AND_GET)
    assert result.submission.build is not None and result.submission.build.status == "failed"
    assert_all_failed_with(result, "cargo build --release did not finish within 15 s")
    assert watch.seconds < 90


def test_build_script_sees_no_secret_no_network_and_no_host_files(
    docker_client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = secrets.token_hex(16)
    monkeypatch.setenv("HARNESS_TEST_SECRET", secret)
    host_file = tmp_path / "host-secret.txt"
    host_file.write_text(secret)
    submission = tmp_path / "submission"
    shutil.copytree(HOSTILE / "build-snoops", submission)
    # A network of the test's own: the build script aims at a canary on its host-side gateway.
    network = docker_client.networks.create(f"hostile-canary-{secrets.token_hex(3)}", driver="bridge")
    try:
        network.reload()
        gateway = network.attrs["IPAM"]["Config"][0]["Gateway"]
        with socket.socket() as canary:
            canary.bind((gateway, 0))
            canary.listen()
            canary.settimeout(0.1)
            port = canary.getsockname()[1]
            (submission / "probe.txt").write_text(f"{gateway}:{port}\n{host_file}\n")
            result, _ = grade_watched(
                docker_client, exercise_copy(tmp_path), submission, "test_ping_replies_pong"
            )
            with pytest.raises(TimeoutError):
                canary.accept()
    finally:
        network.remove()
    assert_all_failed_with(result, "cargo build failed (exit 101)")
    log = by_name(result)["submission builds"].evidence or ""
    assert "SNOOP-DONE" in log, log[-3000:]
    assert secret not in result.model_dump_json()
    assert "HARNESS_TEST_SECRET" not in log
    assert f"SNOOP connect {gateway}:{port}: failed" in log
    assert re.search(rf"SNOOP read {re.escape(str(host_file))}: Err", log)
    assert re.search(r"SNOOP read /var/run/docker.sock: Err", log)
    assert "SNOOP toolchain writable: false" in log
    # The build script did list its environment, and none of this process's variables is in it.
    assert "SNOOP env CARGO_PKG_NAME=build-snoops" in log
    leaked = [
        name for name, value in os.environ.items() if len(value) >= 8 and f"SNOOP env {name}={value}\n" in log
    ]
    assert leaked == [], leaked


# --- neighbours, SIGKILL, results -----------------------------------------------------------------------


NEIGHBOUR_KEYWORD = "concurrency or expiry or pipelin"


def _not_passed(result: dict[str, Any]) -> str:
    """What kept a grade from full marks, so a failure here can be diagnosed from the CI log alone."""
    return "; ".join(
        f"{scenario['nodeid']}: {scenario['status']}: {scenario.get('message')} {scenario.get('evidence')}"
        for criterion in result["criteria"]
        for scenario in criterion["scenarios"]
        if scenario["status"] in ("failed", "error")
    )


def _cli_grade(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", "grade", *extra, "--out", str(out)]


def _decided(result: dict[str, Any]) -> dict[str, tuple[str, int, int]]:
    return {c["id"]: (c["status"], c["passed"], c["failed"]) for c in result["criteria"]}


def test_a_neighbour_scores_the_same_while_a_hostile_grade_runs(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    plain = exercise_copy(tmp_path / "plain")
    reference = [
        str(KV / "reference"),
        "-e",
        str(plain.root),
        "--json",
        "--seed",
        "7",
        "-k",
        NEIGHBOUR_KEYWORD,
    ]
    alone = subprocess.run(
        _cli_grade(tmp_path / "alone", *reference), capture_output=True, text=True, timeout=600
    )
    assert alone.returncode == 0, alone.stderr
    baseline = json.loads(alone.stdout)
    together = subprocess.Popen(
        _cli_grade(tmp_path / "together", *reference),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    OWNERS.add(labels.owner_tag(together.pid))
    hostile_grades: list[float] = []
    modes = ["spin", "memory"]
    while together.poll() is None:
        mode = modes[len(hostile_grades) % 2]
        exercise = exercise_copy(tmp_path / f"hostile-{len(hostile_grades)}", env={"HOSTILE_MODE": mode})
        result, watch = grade_watched(docker_client, exercise, RUNTIME, PING_AND_GET)
        assert result.complete and result.total in (0, 50)
        hostile_grades.append(watch.seconds)
    stdout, stderr = together.communicate(timeout=60)
    assert together.returncode == 0, stderr
    beside = json.loads(stdout)
    assert len(hostile_grades) >= 2, "the hostile grades did not overlap the neighbour's"
    assert baseline["total"] == 100, _not_passed(baseline)
    assert beside["total"] == baseline["total"], _not_passed(beside)
    assert _decided(beside) == _decided(baseline)


def _wait_for_service(
    client: docker.DockerClient, proc: subprocess.Popen[bytes]
) -> docker.models.containers.Container:
    deadline = time.monotonic() + 180
    owner = labels.owner_tag(proc.pid)
    while time.monotonic() < deadline:
        for container in client.containers.list(
            filters={"label": [f"{labels.OWNER}={owner}"], "status": "running"}
        ):
            if _labels_of(container).get(labels.ROLE) == "service":
                return container
        assert proc.poll() is None, "the grade ended before its service started"
        time.sleep(0.2)
    raise AssertionError("no service container appeared")


def test_after_a_sigkill_the_next_start_sweeps_and_results_stay_valid(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    quick = exercise_copy(tmp_path / "quick", env={"HOSTILE_MODE": "memory"})
    first = subprocess.run(
        _cli_grade(out, str(RUNTIME), "-e", str(quick.root), "-k", PING_AND_GET),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr
    written = read_result(out / "results.json")
    assert written.complete
    # Grades that wait at the readiness deadline, each SIGKILLed while its service runs: the first into
    # the folder that holds a finished result, the second into a new folder.
    waiting = exercise_copy(tmp_path / "waiting", env={"HOSTILE_MODE": "never-listen"}, start_timeout_s=120)
    dead_runs: list[str] = []
    try:
        for killed_out in (out, tmp_path / "fresh-out"):
            proc = subprocess.Popen(
                _cli_grade(killed_out, str(RUNTIME), "-e", str(waiting.root), "-k", "test_ping_replies_pong"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            OWNERS.add(labels.owner_tag(proc.pid))
            container = _wait_for_service(docker_client, proc)
            dead_runs.append(_labels_of(container)[labels.RUN])
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            left = _dead_leftovers(docker_client, {dead_runs[-1]})
            assert {item.split()[0] for item in left} >= {"container", "network", "volume"}, left
            if hostguard.status().available:
                assert any(item.startswith("firewall") for item in left), left
        # The second grade's start swept what the first killed grade left.
        assert _dead_leftovers(docker_client, {dead_runs[0]}) == []
        # Results already written stay valid; a killed grade never leaves a results file of its own.
        assert read_result(out / "results.json") == written
        assert not (tmp_path / "fresh-out" / "results.json").exists()
        assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []

        seen_at_build: list[str] = []

        class Probe(SilentObserver):
            def stage(self, name: str) -> None:
                if name == "prepare images":  # after the start-up sweep, before this grade makes anything
                    seen_at_build.extend(_dead_leftovers(docker_client, {dead_runs[1]}))

        second = grade(
            GradeRequest(exercise=quick, mode="grade", seed=1, submission=str(RUNTIME), keyword=PING_AND_GET),
            Probe(),
        )
        assert second.complete
        assert seen_at_build == [], f"the next start did not sweep: {seen_at_build}"
    finally:
        for run in dead_runs:  # whatever happened above, leave nothing for the next test
            cleanup.sweep_run(docker_client, run)


def _dead_leftovers(client: docker.DockerClient, runs: set[str]) -> list[str]:
    found: list[str] = []
    for run in runs:
        selector = {"label": f"{labels.RUN}={run}"}
        found += [f"container {c.name}" for c in client.containers.list(all=True, filters=selector)]
        found += [f"network {n.name}" for n in client.networks.list(filters=selector)]
        found += [f"volume {v.name}" for v in client.volumes.list(filters=selector)]
    found += [f"firewall rule of {run}" for run in runs & hostguard.guarded_runs()]
    return found
