"""A syscall trace of a containerised service, taken from the host with strace, for durability verdicts.

The harness runs as root on the engine's host, so it can ptrace the container's processes by their host
PIDs; the container itself gets no capability. The service runs under an init (`init: true`), and
`strace -f -p INIT` only follows children forked *after* attaching, so every existing process of the
container is named with its own `-p` (`-f` then covers all their threads and later forks).

    with SyscallTrace.of(service) as trace:
        workload()                       # writes that the service acknowledges
    trace.verdict().status               # "pass" | "fail" | "unknown"

Workloads whose requests overlap (pipelines, several clients) trace with `capture_bytes` large enough for
whole buffers and pass `Acknowledged` markers to `verdict` (see durability.py for why).
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from harness.faults.durability import Acknowledged, DurabilityVerdict, check_trace

TRACED = [
    "openat",
    "write",
    "writev",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "msync",
    "mmap",
    "sync",
    "syncfs",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "sendfile",
    "io_uring_setup",
]
LEGACY_X86 = ["open", "creat"]  # absent on arm64, where strace would reject their names
ATTACH_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
WATCH_INTERVAL_S = 0.5


class TracedService(Protocol):
    def host_pids(self) -> list[int]: ...


def strace_command(strace: str, pids: Sequence[int], output: Path, capture_bytes: int = 64) -> list[str]:
    calls = TRACED + (LEGACY_X86 if platform.machine() in ("x86_64", "AMD64") else [])
    command = [strace, "-f", "-tt", "-yy", "-qq", "-X", "raw", "-s", str(capture_bytes), "-e", "signal=none"]
    command += ["-e", "trace=" + ",".join(calls), "-o", str(output)]
    for pid in pids:
        command += ["-p", str(pid)]
    return command


def _tracer(pid: int, task: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/task/{task}/status").read_text().splitlines():
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _all_attached(pids: Sequence[int], tracer: int) -> bool:
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # exited meanwhile
        if any(_tracer(pid, task) not in (tracer, None) for task in tasks):
            return False
    return True


class SyscallTrace:
    def __init__(
        self,
        pids: Sequence[int],
        *,
        data_dir: str = "/data",
        strace: str = "strace",
        capture_bytes: int = 64,
    ) -> None:
        self.pids = list(pids)
        self.data_dir = data_dir
        self.strace = strace
        self.capture_bytes = capture_bytes
        """How much of each buffer strace shows (`-s`); content checks need whole buffers."""
        self.unavailable: str | None = None
        """Why no trace could be taken (the verdict is then `unknown`)."""
        self.truncated = False
        self._dir = tempfile.TemporaryDirectory(prefix="harness-strace-")
        self.output = Path(self._dir.name) / "trace.txt"
        self._errors = Path(self._dir.name) / "strace.err"
        self._process: subprocess.Popen[bytes] | None = None
        self._stop_watch = threading.Event()

    @classmethod
    def of(cls, service: TracedService, *, data_dir: str = "/data", capture_bytes: int = 64) -> SyscallTrace:
        return cls(service.host_pids(), data_dir=data_dir, capture_bytes=capture_bytes)

    def __enter__(self) -> SyscallTrace:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        found = shutil.which(self.strace)
        if found is None:
            self.unavailable = f"{self.strace} is not installed (apt-get install strace)"
            return
        missing = [pid for pid in self.pids if not os.path.exists(f"/proc/{pid}")]
        if not self.pids or missing:
            self.unavailable = (
                f"the service's processes {missing or self.pids} are not visible here: the harness must run "
                "on the Docker engine's host, in its PID namespace"
            )
            return
        with self._errors.open("wb") as errors:
            command = strace_command(found, self.pids, self.output, self.capture_bytes)
            self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        deadline = time.monotonic() + ATTACH_TIMEOUT_S
        while not _all_attached(self.pids, self._process.pid):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._give_up()
                return
            time.sleep(0.02)
        threading.Thread(target=self._watch, name="strace-watch", daemon=True).start()

    def _give_up(self) -> None:
        self._halt()
        error = self._errors.read_text(errors="replace").strip()
        self.unavailable = f"strace could not attach: {error or 'timed out'}"
        if "Operation not permitted" in error:
            self.unavailable += (
                " (ptrace needs root with CAP_SYS_PTRACE outside the container, and a host that allows it: "
                "kernel.yama.ptrace_scope <= 2, no seccomp or LSM policy denying ptrace to the harness)"
            )

    def _watch(self) -> None:
        """Stop tracing if the output outgrows its bound (a busy service writes a lot of syscalls)."""
        while not self._stop_watch.wait(WATCH_INTERVAL_S):
            with contextlib.suppress(OSError):
                if self.output.stat().st_size > MAX_OUTPUT_BYTES:
                    self.truncated = True
                    self._halt()
                    return

    def _halt(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # strace detaches cleanly on SIGINT, the service runs on
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        self._stop_watch.set()
        self._halt()

    def lines(self) -> list[str]:
        if not self.output.exists():
            return []
        with self.output.open("rb") as trace:
            data = trace.read(MAX_OUTPUT_BYTES)
        return data.decode(errors="replace").splitlines()

    def verdict(self, expected: Acknowledged | None = None) -> DurabilityVerdict:
        if self.unavailable is not None:
            return DurabilityVerdict("unknown", self.unavailable)
        self.keep()
        verdict = check_trace(self.lines(), self.data_dir, expected)
        if self.truncated and verdict.status == "pass":
            return DurabilityVerdict(
                "unknown",
                f"the trace outgrew {MAX_OUTPUT_BYTES} bytes and was cut short",
                verdict.acks,
                verdict.file_writes,
                verdict.syncs,
            )
        return verdict

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def keep(self) -> None:
        """Copy the raw trace to $HARNESS_KEEP_TRACES (if set), to study a verdict after the run."""
        folder = os.environ.get("HARNESS_KEEP_TRACES")
        if folder and self.output.exists():
            Path(folder).mkdir(parents=True, exist_ok=True)
            shutil.copy(self.output, Path(folder) / f"trace-{os.getpid()}-{time.monotonic_ns()}.txt")
