"""``run_load``: start the generator processes, start them together, merge what they measured."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import defaultdict
from multiprocessing.connection import Connection
from typing import Any

from harness.load.errors import LoadConnectError, LoadGeneratorError
from harness.load.histogram import LatencyHistogram, merge
from harness.load.model import LoadResult, LoadSpec, ProcessReport, SecondSample
from harness.load.registry import get_codec
from harness.load.worker import WorkerPlan, worker_main

START_DELAY_S = 0.05
SPAWN_SLACK_S = 30.0


def plan_cpus(spec: LoadSpec) -> list[tuple[int, ...] | None]:
    """The core each process is to be pinned to (round-robin over the allowed ones), or ``None``s."""
    if not spec.pin or not hasattr(os, "sched_getaffinity"):
        return [None] * spec.processes
    cores = list(spec.cpus) if spec.cpus else sorted(os.sched_getaffinity(0))
    return [(cores[i % len(cores)],) for i in range(spec.processes)]


def run_load(host: str, port: int, spec: LoadSpec) -> LoadResult:
    """Drive ``host:port`` as ``spec`` says and report what was measured.

    Refused or reset connections and error replies are counted in the result, not raised. Raises
    :class:`LoadConnectError` when not a single connection could be opened, and
    :class:`LoadGeneratorError` when a generator process fails (never the target's fault).
    """
    get_codec(spec.encoder.codec)  # fail here, not in every worker, on an unknown codec
    ctx = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    procs = []
    try:
        for index, cpus in enumerate(plan_cpus(spec)):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=worker_main,
                args=(WorkerPlan(index, host, port, spec, cpus), child),
                name=f"load-{index}",
                daemon=True,
            )
            proc.start()
            child.close()
            pipes.append(parent)
            procs.append(proc)

        ready = [_receive(p, "ready", spec.connect_timeout_s + SPAWN_SLACK_S) for p in pipes]
        if sum(int(r["connected"]) for r in ready) == 0:
            for pipe in pipes:
                pipe.send(None)
            reason = next((r["error"] for r in ready if r["error"]), "no reason given")
            raise LoadConnectError(
                f"could not open any of {spec.connections} connections to {host}:{port}: {reason}",
                hint="is the service listening on that address?",
            )
        start_at = time.perf_counter() + START_DELAY_S
        for pipe in pipes:
            pipe.send(start_at)
        budget = spec.warmup_s + spec.duration_s + spec.drain_timeout_s + SPAWN_SLACK_S
        reports = [_receive(p, "done", budget)["report"] for p in pipes]
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for pipe in pipes:
            pipe.close()
    return merge_reports(host, port, spec, reports)


def _receive(pipe: Connection, kind: str, timeout: float) -> dict[str, Any]:
    try:
        if not pipe.poll(timeout):
            raise LoadGeneratorError(
                f"a load generator process did not report {kind!r} within {timeout:.0f} s"
            )
        message: dict[str, Any] = pipe.recv()
    except (EOFError, OSError) as exc:
        raise LoadGeneratorError(f"a load generator process exited before reporting {kind!r}") from exc
    if message.get("kind") == "fatal":
        raise LoadGeneratorError(f"a load generator process failed: {message.get('error')}")
    if message.get("kind") != kind:
        raise LoadGeneratorError(f"a load generator process sent {message.get('kind')!r}, not {kind!r}")
    return message


def merge_reports(host: str, port: int, spec: LoadSpec, reports: list[dict[str, Any]]) -> LoadResult:
    """One result from the per-process reports (histograms merged, per-second series summed)."""

    def total(key: str) -> int:
        return sum(int(r[key]) for r in reports)

    h_corr = merge([r["histogram"] for r in reports])
    h_unc = merge([r["histogram_uncorrected"] for r in reports])
    h_lag = merge([r["histogram_lag"] for r in reports])

    seconds: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    second_hists: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for r in reports:
        for sec, stats in r["seconds"].items():
            seconds[int(sec)] = [a + b for a, b in zip(seconds[int(sec)], stats, strict=True)]
        for sec, pair in r["second_histograms"].items():
            second_hists[int(sec)].append(pair)
    last = max([*seconds, *second_hists, int(spec.duration_s + 0.999) - 1])
    series = []
    for sec in range(last + 1):
        completed, errors, dropped = seconds.get(sec, [0, 0, 0])
        corr = merge([c for c, _ in second_hists.get(sec, [])])
        unc = merge([u for _, u in second_hists.get(sec, [])])
        series.append(
            SecondSample(
                second=sec,
                completed=completed,
                errors=errors,
                dropped=dropped,
                throughput=float(completed),
                p50_us=corr.percentile(50),
                p99_us=corr.percentile(99),
                p50_uncorrected_us=unc.percentile(50),
                p99_uncorrected_us=unc.percentile(99),
            )
        )

    processes = tuple(
        ProcessReport(
            index=int(r["index"]),
            pid=int(r["pid"]),
            connections=int(r["connections"]),
            connected=int(r["connected"]),
            cpus=tuple(r["cpus"]) if r["cpus"] is not None else None,
            pin_error=r["pin_error"],
            cpu=round(float(r["cpu"]), 3),
        )
        for r in reports
    )
    planned = total("planned")
    dropped = total("dropped")
    reasons = saturation_reasons(spec, processes, planned, dropped)
    return LoadResult(
        host=host,
        port=port,
        spec=spec,
        event_loop=str(reports[0]["event_loop"]) if reports else "",
        planned=planned,
        requests=total("requests"),
        completed=total("completed"),
        error_replies=total("error_replies"),
        connection_errors=total("connection_errors"),
        lost=total("lost"),
        timeouts=total("timeouts"),
        dropped=dropped,
        unsent=total("unsent"),
        throughput=round(total("completed") / spec.duration_s, 1),
        latency=h_corr.summary(),
        latency_uncorrected=h_unc.summary(),
        send_lag=h_lag.summary() if spec.mode == "open" else LatencyHistogram().summary(),
        time_series=tuple(series),
        valid=not reasons,
        invalid_reasons=tuple(reasons),
        processes=processes,
        histogram=h_corr.encode(),
        histogram_uncorrected=h_unc.encode(),
    )


def saturation_reasons(
    spec: LoadSpec, processes: tuple[ProcessReport, ...], planned: int, dropped: int
) -> list[str]:
    """Why the generator, not the target, may have set the pace (empty when it did not)."""
    reasons = []
    for p in processes:
        if p.cpu >= spec.max_cpu:
            reasons.append(
                f"generator process {p.index} used {p.cpu:.0%} of a core (limit {spec.max_cpu:.0%}): "
                "the generator may have been the bottleneck"
            )
    by_core: dict[tuple[int, ...], list[ProcessReport]] = defaultdict(list)
    for p in processes:
        if p.cpus is not None and len(p.cpus) == 1:
            by_core[p.cpus].append(p)
    for core, sharing in sorted(by_core.items()):
        busy = sum(p.cpu for p in sharing)
        if len(sharing) > 1 and busy >= spec.max_cpu:
            reasons.append(
                f"generator processes {', '.join(str(p.index) for p in sharing)} share core {core[0]} "
                f"and together used {busy:.0%} of it"
            )
    if planned and dropped / planned > spec.max_dropped_ratio:
        reasons.append(
            f"the generator was too late for {dropped} of {planned} planned sends "
            f"({dropped / planned:.2%}, limit {spec.max_dropped_ratio:.2%})"
        )
    return reasons
