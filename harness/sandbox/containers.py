"""Hardened container settings shared by build and run, and bounded log capture.

Every container: no capabilities, no-new-privileges, non-root, a pids limit, memory without swap, a CPU
quota, a capped json-file log (a flood of output must not fill the engine's disk), and the run's labels.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from docker.models.containers import Container

LOG_OPTIONS = {"type": "json-file", "config": {"max-size": "8m", "max-file": "1"}}


def hardened(
    *, memory_mb: int, cpus: float, pids: int, labels: dict[str, str], read_only: bool = True
) -> dict[str, Any]:
    """Keyword arguments for `containers.create` that every harness container gets."""
    return {
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "mem_limit": f"{memory_mb}m",
        "memswap_limit": f"{memory_mb}m",
        "nano_cpus": int(cpus * 1e9),
        "pids_limit": pids,
        "read_only": read_only,
        "labels": labels,
        "log_config": LOG_OPTIONS,
        "init": True,
    }


class BoundedLog:
    """Keeps the head and the tail of a stream of bytes, so gigabytes of output cost a fixed memory."""

    def __init__(self, limit: int) -> None:
        self._head_limit = limit // 4
        self._tail_limit = limit - self._head_limit
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.total = 0
        self._lock = threading.Lock()

    def feed(self, chunk: bytes) -> None:
        with self._lock:
            self.total += len(chunk)
            room = self._head_limit - len(self._head)
            if room > 0:
                self._head += chunk[:room]
                chunk = chunk[room:]
            if not chunk:
                return
            self._tail.append(chunk)
            self._tail_size += len(chunk)
            while self._tail_size - len(self._tail[0]) >= self._tail_limit:
                self._tail_size -= len(self._tail.popleft())

    def text(self) -> str:
        with self._lock:
            tail = b"".join(self._tail)[-self._tail_limit :]
            kept = len(self._head) + len(tail)
            middle = f"\n… ({self.total - kept} bytes elided) …\n" if self.total > kept else ""
            return self._head.decode(errors="replace") + middle + tail.decode(errors="replace")


def follow_logs(container: Container, sink: BoundedLog) -> threading.Thread:
    """Stream a container's output into `sink` on a daemon thread until the container stops."""

    def pump() -> None:
        try:
            for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
                sink.feed(chunk)
        except Exception:
            return

    thread = threading.Thread(target=pump, daemon=True, name=f"logs-{container.short_id}")
    thread.start()
    return thread
