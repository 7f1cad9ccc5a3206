"""The service under test, in a hardened container on an internal network (see docs/sandbox.md).

The host reaches containers on an `internal` bridge network by their IP, so no port is published on the
host and the service has no route out. Each service keeps its `/data` in a volume of its own, which
survives kill and restart (durability scenarios) and is removed with the run.

Two holes Docker leaves are closed here: the host side of the internal bridge (see `hostguard`), and
the size of `/data` (Docker's local volumes have no size limit, and fuse-overlayfs offers no quota): a
watchdog measures each service's volume on the host and kills a service that grows it past the quota.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import docker
from docker.errors import APIError, NotFound
from docker.models.containers import Container
from docker.models.networks import Network

from harness.errors import InfrastructureError, ServiceStartFailed
from harness.exercise import Exercise, NamedPort
from harness.sandbox import hostguard, labels
from harness.sandbox.containers import hardened
from harness.sandbox.rootfs import SERVICE_UID
from harness.scenario.service import ServiceHandle, StopOutcome, port_named, tcp_accepts

POLL_INTERVAL_S = 0.05
#: /data may hold at most this much (and DATA_QUOTA_FILES entries). Docker volumes have no size option
#: on this storage, so without the watchdog a service could fill the host's disk through /data.
#: HARNESS_DATA_QUOTA_MB overrides it (tests use a small cap).
DEFAULT_DATA_QUOTA_MB = 512
DATA_QUOTA_FILES = 100_000
WATCH_INTERVAL_S = 0.1


def data_quota_mb() -> int:
    configured = os.environ.get("HARNESS_DATA_QUOTA_MB", "")
    return int(configured) if configured.isdigit() and int(configured) > 0 else DEFAULT_DATA_QUOTA_MB


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
    """One service container; `start` waits until every port accepts TCP connections or fails with its
    log."""

    client: docker.DockerClient
    container: Container
    ports: list[NamedPort]
    """Every port the service listens on, the main one first (`ServiceSpec.ports()`)."""
    name: str
    start_timeout_s: float
    memo: StartMemo = field(default_factory=StartMemo)
    managed: bool = True
    _ip: str | None = field(default=None, init=False)
    #: Why the harness stopped this service (e.g. the /data quota); reported instead of a bare exit code.
    violation: str | None = field(default=None, init=False)
    #: Set once `violation` holds its final text (the watchdog measures what got through after the kill).
    violation_settled: threading.Event = field(default_factory=threading.Event, init=False)

    def _violation(self) -> str | None:
        if self.violation is not None:
            self.violation_settled.wait(timeout=5)
        return self.violation

    @property
    def host(self) -> str:
        if self._ip is None:
            raise InfrastructureError(f"service {self.name} has no address (not started)")
        return self._ip

    @property
    def port(self) -> int:
        return self.ports[0].number

    def port_of(self, name: str) -> int:
        return port_named({p.name: p.number for p in self.ports}, name)

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
                and all(tcp_accepts(self.host, p.number) for p in self.ports)
            )
        except NotFound:
            return False

    def start(self) -> None:
        """Start and wait until every port accepts connections; fail fast if the process exits."""
        if self.memo.failure is not None:
            raise ServiceStartFailed(self.memo.failure.message, evidence=self.memo.failure.evidence)
        if (violation := self._violation()) is not None:
            # Its /data is still over the quota: starting it again would only be killed again.
            raise ServiceStartFailed(f"the service {violation}", evidence=self.logs())
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
        # A port that accepted once is not probed again: services open their ports one after another,
        # and a probe costs each port an accepted-then-dropped connection.
        waiting = list(self.ports)
        while True:
            state = self._state()
            if not state.get("Running"):
                code = state.get("ExitCode")
                oom = " (out of memory)" if state.get("OOMKilled") else ""
                violation = self._violation()
                why = f"the service {violation}" if violation else None
                raise ServiceStartFailed(
                    why or f"the service exited during start-up with code {code}{oom}",
                    evidence=f"service log (tail):\n{self.logs()}",
                )
            self._ip = self._address()
            if self._ip is not None:
                ip = self._ip
                waiting = [p for p in waiting if not tcp_accepts(ip, p.number, timeout=0.5)]
                if not waiting:
                    return
            if time.monotonic() > deadline:
                raise self._never_opened(waiting[0], [p for p in self.ports if p not in waiting])
            time.sleep(POLL_INTERVAL_S)

    def _never_opened(self, port: NamedPort, opened: list[NamedPort]) -> ServiceStartFailed:
        """The start-up failure naming the first port that never accepted a connection."""
        which = f"port {port.number}" if len(self.ports) == 1 else f"port {port.number} ({port.name})"
        did = "".join(f"port {p.number} ({p.name}) did accept connections.\n" for p in opened)
        return ServiceStartFailed(
            f"the service did not accept connections on {which} within {self.start_timeout_s:g} s",
            evidence=f"it must listen on 0.0.0.0:${port.env} ({port.env}={port.number}).\n"
            f"{did}service log (tail):\n{self.logs()}",
        )

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
        return _log_tail(self.container, tail_bytes) + self._death_note()

    def _death_note(self) -> str:
        """Why a service that died mid-scenario is gone (quota, out of memory, exit code): without it the
        evidence shows only a reset connection."""
        if (violation := self._violation()) is not None:
            return f"\n(the harness stopped the service: it {violation})"
        try:
            state = self._state()
        except (APIError, NotFound):
            return ""
        never_ran = str(state.get("FinishedAt", "")).startswith("0001")
        if state.get("Running") or never_ran:
            return ""
        oom = ", out of memory" if state.get("OOMKilled") else ""
        return f"\n(the service is not running: exit code {state.get('ExitCode')}{oom})"

    def remove(self) -> None:
        with contextlib.suppress(APIError):
            self.container.remove(force=True, v=True)

    # --- fault injection (harness/faults): applied from the host through the Docker API, so the service
    # itself never needs a capability. None of these change what the methods above do.

    def pause(self) -> None:
        """Freeze every process of the container (cgroup freezer)."""
        self.container.pause()

    def unpause(self) -> None:
        self.container.unpause()

    def network_names(self) -> list[str]:
        self.container.reload()
        networks = self.container.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
        return sorted(str(name) for name in networks)

    def disconnect(self, network: str | None = None) -> str:
        """Take the container off `network` (default: its only network); returns the network's name."""
        name = network or self.network_names()[0]
        self.client.networks.get(name).disconnect(self.container, force=True)
        return name

    def reconnect(self, network: str) -> None:
        """Put the container back on `network`. Docker may hand out a different IP, so `host` follows."""
        self.client.networks.get(network).connect(self.container)
        self._ip = self._address()

    def host_pids(self) -> list[int]:
        """Host PIDs of the container's processes, the init process first (`docker top` reports them in
        the engine's PID namespace, which is the harness's when both run on the same host)."""
        top = self.container.top(ps_args="-eo pid")
        titles = [str(title).upper() for title in top.get("Titles", [])]
        column = titles.index("PID")
        pids = [int(row[column]) for row in top.get("Processes") or []]
        init = self.host_pid()
        return [init, *sorted(pid for pid in pids if pid != init)]

    def host_pid(self) -> int:
        """The host PID of the container's first process (`docker inspect` State.Pid); 0 if stopped."""
        pid = self._state().get("Pid", 0)
        return int(pid) if isinstance(pid, int) else 0

    def cpu_limit(self) -> int:
        """The CPU limit in nano-CPUs as created (hardened containers set NanoCpus, not quota/period)."""
        self.container.reload()
        return int(self.container.attrs.get("HostConfig", {}).get("NanoCpus") or 0)

    def set_cpu_limit(self, nano_cpus: int) -> None:
        """Change the CPU limit of the running container. The engine refuses `update(cpu_quota=...)` on a
        container created with NanoCpus, and docker-py's `update` has no nano_cpus argument: post it."""
        api = self.client.api
        response = api._post_json(
            api._url("/containers/{0}/update", self.container.id), {"NanoCpus": nano_cpus}
        )
        api._raise_for_status(response)


def _usage(folder: str, byte_cap: int, file_cap: int) -> tuple[int, int]:
    """(bytes allocated, entries) under `folder`, stopping early once past either cap."""
    used, entries = 0, 0
    stack = [folder]
    while stack and used <= byte_cap and entries <= file_cap:
        try:
            with os.scandir(stack.pop()) as listing:
                for entry in listing:
                    entries += 1
                    info = entry.stat(follow_symlinks=False)
                    used += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue  # removed while we looked
    return used, entries


class DataWatchdog:
    """Polls the host folder of each service's /data volume and kills a service past the quota.

    Works where the engine is local and the harness may read its volume folders (root, as grading
    normally runs); elsewhere it is inactive and `harness doctor` says so. The overshoot is bounded by
    what a service can write in one interval (WATCH_INTERVAL_S).
    """

    def __init__(self, quota_mb: int) -> None:
        self.quota_mb = quota_mb
        self._watched: list[tuple[DockerService, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, service: DockerService, mountpoint: str) -> bool:
        if not mountpoint or not os.access(mountpoint, os.R_OK | os.X_OK):
            return False
        with self._lock:
            self._watched.append((service, mountpoint))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True, name="data-watchdog")
                self._thread.start()
        return True

    def check(self, service: DockerService, mountpoint: str) -> bool:
        """True (and the service killed) when its /data is over the quota."""
        byte_cap = self.quota_mb * 1024 * 1024
        used, entries = _usage(mountpoint, byte_cap, DATA_QUOTA_FILES)
        if used <= byte_cap and entries <= DATA_QUOTA_FILES:
            return False
        if entries > DATA_QUOTA_FILES:
            quota = f"exceeded the /data quota of {DATA_QUOTA_FILES} files"
        else:
            quota = f"exceeded the /data quota of {self.quota_mb} MiB"
        service.violation = quota  # before the kill: whoever sees the service die must see why
        with contextlib.suppress(APIError):
            service.container.kill()
        held, files = _usage(mountpoint, 1 << 62, 1 << 62)  # what got through before the kill
        service.violation = f"{quota} ({held // (1024 * 1024)} MiB in {files} files when stopped)"
        service.violation_settled.set()
        return True

    def _loop(self) -> None:
        while not self._stop.wait(WATCH_INTERVAL_S):
            with self._lock:
                watched = [(s, m) for s, m in self._watched if s.violation is None]
            for service, mountpoint in watched:
                with contextlib.suppress(Exception):  # a watchdog must never take the grade down
                    self.check(service, mountpoint)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


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
        self.watchdog = DataWatchdog(data_quota_mb())
        self.host_closed = False

    def network(self) -> Network:
        if self._network is None:
            self._network = self.client.networks.create(
                f"harness-{self.run_id}",
                driver="bridge",
                internal=True,
                labels=self.labels,
                # A known interface name lets the host guard name the bridge in its firewall rule.
                options={"com.docker.network.bridge.name": hostguard.bridge_name(self.run_id)},
            )
            self.host_closed = hostguard.close_host(self.run_id)
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
            environment=spec.service.environment(),
            volumes={str(volume.name): {"bind": "/data", "mode": "rw"}},
            tmpfs={"/tmp": f"rw,size={spec.run.tmpfs_mb}m,mode=1777"},
            network=self.network().name,
            **options,
        )
        service = DockerService(
            self.client, container, spec.service.ports(), name, spec.service.start_timeout_s, self._memo
        )
        self.watchdog.watch(service, str(volume.attrs.get("Mountpoint") or ""))
        return service

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
        self.watchdog.close()
        if self._shared is not None:
            self._shared.remove()
        for volume in self._volumes:
            with contextlib.suppress(APIError):
                self.client.volumes.get(volume).remove(force=True)
        if self._network is not None:
            with contextlib.suppress(APIError):
                self._network.remove()
            hostguard.reopen(self.run_id)
