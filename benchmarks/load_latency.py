"""Benchmark 3: p50 at a moderate fixed rate with no faults, against redis-benchmark on the same server.

    python3 benchmarks/load_latency.py [--rate 5000] [--rounds 3]

redis-benchmark 7.0 has no rate option (no --rps), so it cannot be run at a fixed rate. Its closest
unloaded figure is one connection without pipelining (-c 1): each request is sent when the previous
reply arrives, so nothing queues and its p50 is the per-request round trip at whatever rate that gives
(printed). Against it: our open loop at a moderate fixed rate (corrected and uncorrected p50), and our
closed loop with one connection (the same shape as the peer's).
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
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=5000)
    ap.add_argument("--connections", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"server on core {SERVER_CORE}, both clients on core {CLIENT_CORE}")
    rb_args = ["-c", "1", "-n", "30000", "-t", "set,get", "-r", str(KEYSPACE), "-d", str(VALUE_SIZE)]
    peer, peer_rps, corr, unc, lag, closed, closed_rps = [], [], [], [], [], [], []
    with redis_server() as (port, _):
        for _ in range(args.rounds):
            rows = redis_benchmark(port, *rb_args)
            peer.append(median([float(r["p50_latency_ms"]) * 1000 for r in rows]))
            peer_rps.append(median([float(r["rps"]) for r in rows]))
            r = ours(port, mode="open", rate=args.rate, connections=args.connections, duration_s=5.0)
            corr.append(r.latency.p50_us)
            unc.append(r.latency_uncorrected.p50_us)
            lag.append(r.send_lag.p50_us)
            c = ours(port, mode="closed", connections=1, duration_s=3.0)
            closed.append(c.latency.p50_us)
            closed_rps.append(c.throughput)
            print(
                f"  redis-benchmark -c 1: p50 {peer[-1]:.0f} us at {peer_rps[-1]:,.0f}/s; ours open "
                f"{args.rate:,.0f}/s: p50 {corr[-1]} us corrected, {unc[-1]} us uncorrected, send lag "
                f"p50 {lag[-1]} us (valid {r.valid}); ours closed -c 1: p50 {closed[-1]} us at "
                f"{closed_rps[-1]:,.0f}/s",
                flush=True,
            )
    base = median(peer)
    print(f"| redis-benchmark -c 1 (closed, {median(peer_rps):,.0f}/s) | {base:.0f} us | 1.00x |")
    print(
        f"| ours, open loop {args.rate:,.0f}/s over {args.connections} connections, corrected "
        f"| {median(corr):.0f} us | {median(corr) / base:.2f}x |"
    )
    print(f"| ours, same run, uncorrected | {median(unc):.0f} us | {median(unc) / base:.2f}x |")
    print(f"| ours, same run, send lag against plan | {median(lag):.0f} us | |")
    print(
        f"| ours, closed loop -c 1 ({median(closed_rps):,.0f}/s) | {median(closed):.0f} us "
        f"| {median(closed) / base:.2f}x |"
    )
    print(f"  peer: {redis_benchmark_command(*rb_args)}")


if __name__ == "__main__":
    main()
