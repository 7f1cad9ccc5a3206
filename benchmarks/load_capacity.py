"""Benchmark 1: closed-loop capacity of the generator against redis-benchmark on the same redis-server.

    python3 benchmarks/load_capacity.py [--rounds 3] [--seconds 5]

SET/GET 50/50 over 10,000 keys, 16-byte values, 50 connections, without pipelining and with depth 16,
latency recording on in both. Rounds alternate the two clients; medians are printed as table rows.
"""

from __future__ import annotations

import argparse

from load_redis import (
    CLIENT_CORE,
    KEYSPACE,
    SERVER_CORE,
    VALUE_SIZE,
    median,
    ours,
    redis_benchmark,
    redis_benchmark_command,
    redis_server,
    set_get_rps,
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    print(f"server on core {SERVER_CORE}, both clients on core {CLIENT_CORE}")
    for pipeline, n in ((1, 300_000), (16, 2_000_000)):
        rb_args = ["-c", "50", "-n", str(n), "-t", "set,get", "-r", str(KEYSPACE), "-d", str(VALUE_SIZE)]
        if pipeline > 1:
            rb_args += ["-P", str(pipeline)]
        peer, mine, cpu, p99 = [], [], [], []
        with redis_server() as (port, _):
            for _ in range(args.rounds):
                peer.append(set_get_rps(redis_benchmark(port, *rb_args), n))
                r = ours(port, mode="closed", connections=50, pipeline=pipeline, duration_s=args.seconds)
                mine.append(r.throughput)
                cpu.append(r.processes[0].cpu)
                p99.append(r.latency.p99_us)
                print(
                    f"  P={pipeline}: redis-benchmark {peer[-1]:,.0f}/s, ours {mine[-1]:,.0f}/s "
                    f"(cpu {cpu[-1]:.0%}, p99 {p99[-1]} us, valid {r.valid})",
                    flush=True,
                )
        ratio = median(mine) / median(peer)
        print(
            f"| 50 connections, pipeline {pipeline} | {median(mine):,.0f} req/s | {median(peer):,.0f} req/s "
            f"| {ratio:.2f}x | generator cpu {median(cpu):.0%}, p99 {median(p99):.0f} us |"
        )
        print(f"  peer: {redis_benchmark_command(*rb_args)}")


if __name__ == "__main__":
    main()
