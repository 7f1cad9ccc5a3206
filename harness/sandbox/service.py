"""The service under test, in a hardened container on an internal network (see docs/sandbox.md).

The host reaches containers on an `internal` bridge network by their IP, so no port is published on the
host and the service has no route out. Each service keeps its `/data` in a volume of its own, which
survives kill and restart (durability scenarios) and is removed with the run.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import docker
from docker.errors import APIError, NotFound
from docker.models.containers import Container
from docker.models.networks import Network

from harness.errors import InfrastructureError, ServiceStartFailed
from harness.exercise import Exercise
from harness.sandbox import labels
from harness.sandbox.containers import hardened
from harness.sandbox.rootfs import SERVICE_UID
from harness.scenario.service import ServiceHandle, StopOutcome, tcp_accepts

POLL_INTERVAL_S = 0.05


def _log_tail(container: Container, tail_bytes: int) -> str:
    try:
        raw = container.logs(stdout=True, stderr=True, tail=200)
    except APIError:
        return "(log unavailable)"
    return bytes(raw[-tail_bytes:]).decode(errors="replace")


@dataclass
class StartMemo:
    """The services of one image fail to start the same way every time: the first failure is kept and
    repeated at once, so fifty scenarios do not each wait out the readiness deadline."""

    failure: ServiceStartFailed | None = None


@dataclass
class DockerService:
    """One service container; `start` waits until it accepts TCP connections or fails with its log."""

    client: docker.DockerClient
    container: Container
    port: int
    name: str
    start_timeout_s: float
    memo: StartMemo = field(default_factory=StartMemo)
    managed: bool = True
    _ip: str | None = field(default=None, init=False)

    @property
    def host(self) -> str:
        if self._ip is None:
            raise InfrastructureError(f"service {self.name} has no address (not started)")
        return self._ip

    def _state(self) -> dict[str, object]:
        self.container.reload()
        state = self.container.attrs.get("State", {})
        return state if isinstance(state, dict) else {}

    def _address(self) -> str | None:
        self.container.reload()
        networks = self.container.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
        for settings in networks.values():
            if settings.get("IPAddress"):
                return str(settings["IPAddress"])
        return None

    def is_alive(self) -> bool:
        try:
            return (
                bool(self._state().get("Running"))
                and self._ip is not None
                and tcp_accepts(self.host, self.port)
            )
        except NotFound:
            return False

    def start(self) -> None:
        """Start and wait until the port accepts connections; fail fast if the process exits."""
        if self.memo.failure is not None:
            raise ServiceStartFailed(self.memo.failure.message, evidence=self.memo.failure.evidence)
        try:
            self._start_and_wait()
        except ServiceStartFailed as failure:
            self.memo.failure = failure
            with contextlib.suppress(APIError):
                self.container.kill()  # a service that never listened would otherwise keep running
            raise

    def _start_and_wait(self) -> None:
        try:
            self.container.start()
        except APIError as exc:
            raise InfrastructureError(
                f"could not start container for {self.name}: {exc.explanation}"
            ) from None
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            state = self._state()
            if not state.get("Running"):
                code = state.get("ExitCode")
                oom = " (out of memory)" if state.get("OOMKilled") else ""
                raise ServiceStartFailed(
                    f"the service exited during start-up with code {code}{oom}",
                    evidence=f"service log (tail):\n{self.logs()}",
                )
            self._ip = self._address()
            if self._ip is not None and tcp_accepts(self._ip, self.port, timeout=0.5):
                return
            if time.monotonic() > deadline:
                raise ServiceStartFailed(
                    f"the service did not accept connections on port {self.port} "
                    f"within {self.start_timeout_s:g} s",
                    evidence=f"it must listen on 0.0.0.0:$PORT (PORT={self.port}).\n"
                    f"service log (tail):\n{self.logs()}",
                )
            time.sleep(POLL_INTERVAL_S)

    def stop(self, timeout: float) -> StopOutcome:
        started = time.monotonic()
        with contextlib.suppress(APIError):
            self.container.kill(signal="SIGTERM")
        try:
            result = self.container.wait(timeout=timeout)
            return StopOutcome(int(result.get("StatusCode", -1)), time.monotonic() - started, forced=False)
        except Exception:
            with contextlib.suppress(APIError):
                self.container.kill()
            self.container.wait(timeout=30)
            return StopOutcome(None, time.monotonic() - started, forced=True)

    def kill(self, signal: str = "SIGKILL") -> None:
        with contextlib.suppress(APIError):
            self.container.kill(signal=signal)
        if signal in ("SIGKILL", "KILL", "9"):
            self.container.wait(timeout=30)

    def restart(self) -> None:
        if self._state().get("Running"):
            self.kill()
        self._ip = None
        self.start()

    def logs(self, tail_bytes: int = 4000) -> str:
        return _log_tail(self.container, tail_bytes)

    def remove(self) -> None:
        with contextlib.suppress(APIError):
            self.container.remove(force=True, v=True)


class DockerServiceFactory:
    """Makes service containers of one image for one run, on the run's own internal network."""

    def __init__(
        self,
        client: docker.DockerClient,
        image: str,
        exercise: Exercise,
        run_id: str,
        *,
        volume_primer: str | None = None,
    ) -> None:
        self.client = client
        self.volume_primer = volume_primer
        self.image = image
        self.exercise = exercise
        self.run_id = run_id
        self.labels = labels.run_labels(run_id, "service")
        self._counter = itertools.count(1)
        self._network: Network | None = None
        self._shared: DockerService | None = None
        self._memo = StartMemo()
        self._volumes: list[str] = []

    def network(self) -> Network:
        if self._network is None:
            self._network = self.client.networks.create(
                f"harness-{self.run_id}", driver="bridge", internal=True, labels=self.labels
            )
        return self._network

    def _create(self, name: str) -> DockerService:
        spec = self.exercise.spec
        serial = next(self._counter)
        volume = self.client.volumes.create(f"harness-{self.run_id}-data-{serial}", labels=self.labels)
        self._volumes.append(str(volume.name))
        if self.volume_primer is not None:
            self._prime(str(volume.name))
        options = hardened(
            memory_mb=spec.run.memory_mb, cpus=spec.run.cpus, pids=spec.run.pids, labels=self.labels
        )
        container = self.client.containers.create(
            self.image,
            name=f"harness-{self.run_id}-{serial}",
            user=f"{SERVICE_UID}:{SERVICE_UID}",
            environment={"PORT": str(spec.service.port), "DATA_DIR": "/data", **spec.service.env},
            volumes={str(volume.name): {"bind": "/data", "mode": "rw"}},
            tmpfs={"/tmp": f"rw,size={spec.run.tmpfs_mb}m,mode=1777"},
            network=self.network().name,
            **options,
        )
        return DockerService(
            self.client, container, spec.service.port, name, spec.service.start_timeout_s, self._memo
        )

    def _prime(self, volume: str) -> None:
        """Docker copies an image's folder (with its owner) into an empty volume when a container is
        created: creating one from the runtime image gives /data to the service user. Nothing runs."""
        holder = self.client.containers.create(
            self.volume_primer,
            command=["/app/service"],
            volumes={volume: {"bind": "/data", "mode": "rw"}},
            labels=self.labels,
        )
        holder.remove(force=True)

    def shared(self) -> tuple[ServiceHandle, str | None]:
        if self._shared is None:
            self._shared = self._create("shared")
            self._shared.start()
            return self._shared, None
        if self._shared.is_alive():
            return self._shared, None
        self._shared.restart()
        return self._shared, "the shared service was not running when this scenario began; it was restarted"

    @contextlib.contextmanager
    def _fresh(self, name: str) -> Iterator[ServiceHandle]:
        service = self._create(name)
        try:
            service.start()
            yield service
        finally:
            service.remove()

    def fresh(self, name: str) -> contextlib.AbstractContextManager[ServiceHandle]:
        return self._fresh(name)

    def close(self) -> None:
        if self._shared is not None:
            self._shared.remove()
        for volume in self._volumes:
            with contextlib.suppress(APIError):
                self.client.volumes.get(volume).remove(force=True)
        if self._network is not None:
            with contextlib.suppress(APIError):
                self._network.remove()
