"""Benchmark 2: latency honesty. A 10 s constant-rate run during which the server is frozen for 1 s.

    python3 benchmarks/load_honesty.py [--rate 5000]

The script sends SIGSTOP to the redis-server it started, 3 s into the measured window, and SIGCONT 1 s
later. Requests planned during the freeze could not be sent (every connection was waiting): timed from
their planned send time, about 1% of the run waited 0.9 s or more, so the corrected p99 must be at
least 0.9 s; timed from when they were actually sent (the uncorrected figure) most of that disappears.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

from load_redis import CLIENT_CORE, SERVER_CORE, ours, redis_server

WARMUP_S = 1.0
STOP_AT_S = 3.0
STOP_FOR_S = 1.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=5000)
    ap.add_argument("--connections", type=int, default=20)
    args = ap.parse_args()
    print(f"server on core {SERVER_CORE}, generator on core {CLIENT_CORE}")
    with redis_server() as (port, pid):

        def freeze() -> None:
            os.kill(pid, signal.SIGSTOP)
            threading.Timer(STOP_FOR_S, os.kill, (pid, signal.SIGCONT)).start()

        # ~0.4 s for the generator process to start and connect, then the warm-up
        timer = threading.Timer(0.4 + WARMUP_S + STOP_AT_S, freeze)
        timer.start()
        try:
            r = ours(
                port,
                mode="open",
                rate=args.rate,
                connections=args.connections,
                duration_s=10.0,
                warmup_s=WARMUP_S,
            )
        finally:
            timer.cancel()
            os.kill(pid, signal.SIGCONT)
    c, u = r.latency, r.latency_uncorrected
    print(
        f"planned {r.planned}, sent {r.requests}, completed {r.completed}, dropped {r.dropped}, "
        f"unsent {r.unsent}, errors {r.errors}, valid {r.valid} {list(r.invalid_reasons)}"
    )
    print(
        "per second (completed/p99/dropped): "
        + ", ".join(f"{s.second}:{s.completed}/{s.p99_us / 1000:.0f}ms/{s.dropped}d" for s in r.time_series)
    )
    print(
        f"| corrected (from planned send) | {c.p50_us / 1000:.2f} ms | {c.p90_us / 1000:.2f} ms "
        f"| {c.p99_us / 1000:.0f} ms | {c.p999_us / 1000:.0f} ms | {c.max_us / 1000:.0f} ms |"
    )
    print(
        f"| uncorrected (from actual send) | {u.p50_us / 1000:.2f} ms | {u.p90_us / 1000:.2f} ms "
        f"| {u.p99_us / 1000:.0f} ms | {u.p999_us / 1000:.0f} ms | {u.max_us / 1000:.0f} ms |"
    )


if __name__ == "__main__":
    main()
