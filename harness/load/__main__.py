"""``python -m harness.load --port 6379 --mode open --rate 20000``: one run, its result as JSON."""

from __future__ import annotations

import argparse
import sys

from harness.errors import HarnessError
from harness.load.model import LoadSpec, WorkloadSpec
from harness.load.registry import codec_names
from harness.load.runner import run_load


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.load", description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", choices=["open", "closed"], default="closed")
    ap.add_argument("--rate", type=float, help="open loop: total requests per second")
    ap.add_argument("--connections", "-c", type=int, default=50)
    ap.add_argument("--pipeline", "-P", type=int, default=1)
    ap.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds excluded before the measured ones")
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cpus", help="comma-separated cores to pin the generator processes to")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--codec", default="resp-set-get", choices=codec_names())
    ap.add_argument("--keyspace", type=int, default=10_000)
    ap.add_argument("--value-size", type=int, default=16)
    ap.add_argument("--read-ratio", type=float, default=0.5)
    ap.add_argument("--drain-timeout", type=float, default=2.0)
    ap.add_argument("--compact", action="store_true", help="leave out histograms and the time series")
    args = ap.parse_args(argv)
    try:
        spec = LoadSpec(
            mode=args.mode,
            rate=args.rate,
            connections=args.connections,
            pipeline=args.pipeline,
            duration_s=args.duration,
            warmup_s=args.warmup,
            processes=args.processes,
            seed=args.seed,
            encoder=WorkloadSpec(
                codec=args.codec,
                keyspace=args.keyspace,
                value_size=args.value_size,
                read_ratio=args.read_ratio,
            ),
            cpus=tuple(int(c) for c in args.cpus.split(",")) if args.cpus else None,
            pin=not args.no_pin,
            drain_timeout_s=args.drain_timeout,
        )
    except ValueError as exc:
        ap.error(str(exc))
    try:
        result = run_load(args.host, args.port, spec)
    except HarnessError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 2
    if args.compact:
        import json

        data = result.to_dict()
        for key in ("histogram", "histogram_uncorrected", "time_series"):
            data.pop(key)
        print(json.dumps(data, indent=2))
    else:
        print(result.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
