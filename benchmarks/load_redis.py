"""Shared by the load benchmarks: a redis-server on a loopback port, redis-benchmark, our generator.

Every server is started on 127.0.0.1 on a free port with persistence off, and stopped by its PID.
On a machine with two or more cores the server is pinned to core 0 and both load generators (ours and
redis-benchmark) to core 1, so that client and server do not take turns on one core.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.load import LoadResult, LoadSpec, WorkloadSpec, run_load

CORES = sorted(os.sched_getaffinity(0))
SERVER_CORE = CORES[0]
CLIENT_CORE = CORES[1] if len(CORES) > 1 else CORES[0]
KEYSPACE = 10_000
VALUE_SIZE = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[tuple[int, int]]:
    """A fresh redis-server pinned to the server core: ``(port, pid)``."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (bash scripts/install --test)")
    port = free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        ["taskset", "-c", str(SERVER_CORE), *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def redis_benchmark(port: int, *args: str) -> list[dict[str, float | str]]:
    """Run redis-benchmark on the client core; its CSV rows."""
    cmd = ["taskset", "-c", str(CLIENT_CORE), "redis-benchmark", "-p", str(port), "--csv", "--precision", "3"]
    out = subprocess.run([*cmd, *args], capture_output=True, text=True, check=True, timeout=300).stdout
    rows = []
    for row in csv.DictReader(io.StringIO(out)):
        rows.append({k: (v if k == "test" else float(v)) for k, v in row.items()})
    return rows


def redis_benchmark_command(*args: str) -> str:
    return " ".join(["taskset -c", str(CLIENT_CORE), "redis-benchmark -p PORT --csv --precision 3", *args])


def set_get_rps(rows: list[dict[str, float | str]], n: int) -> float:
    """redis-benchmark runs SET then GET: both together, as requests over the total time."""
    return 2 * n / sum(n / float(r["rps"]) for r in rows)


def ours(port: int, **kw: object) -> LoadResult:
    spec = LoadSpec(
        cpus=(CLIENT_CORE,),
        encoder=WorkloadSpec(keyspace=KEYSPACE, value_size=VALUE_SIZE, read_ratio=0.5),
        **kw,  # type: ignore[arg-type]
    )
    return run_load("127.0.0.1", port, spec)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
