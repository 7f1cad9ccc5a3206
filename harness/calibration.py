"""Per-machine performance baselines: the exercise's reference solution measured here.

Performance is graded as a ratio against the reference measured on the same machine, never against
absolute numbers (machines differ; ratios travel). A baseline is cached per exercise under the harness
cache and re-measured when it is missing, older than `MAX_AGE_S`, measured on a different machine
(fingerprint), or measured from a different reference source.
"""

from __future__ import annotations

import hashlib
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import docker
from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import InfrastructureError
from harness.exercise import Exercise, LoadProfile
from harness.load import LoadResult, LoadSpec, WorkloadSpec, run_load
from harness.report.json_report import write_atomically
from harness.sandbox.images import cache_dir
from harness.sandbox.service import DockerServiceFactory
from harness.scenario.service import ServiceHandle
from harness.submission import open_submission, source_digest

MAX_AGE_S = 7 * 24 * 3600


class ProfileFigures(BaseModel):
    """The figures of one load profile that performance criteria compare."""

    model_config = ConfigDict(frozen=True)

    throughput: float
    p50_us: int
    p99_us: int
    errors: int
    valid: bool
    invalid_reasons: list[str]

    @classmethod
    def of(cls, result: LoadResult) -> ProfileFigures:
        return cls(
            throughput=round(result.throughput, 1),
            p50_us=result.latency.p50_us,
            p99_us=result.latency.p99_us,
            errors=result.errors,
            valid=result.valid,
            invalid_reasons=list(result.invalid_reasons),
        )


class Baseline(BaseModel):
    model_config = ConfigDict(frozen=True)

    exercise: str
    fingerprint: dict[str, str]
    reference_digest: str
    profiles_digest: str = ""
    """Hash of the exercise's load profiles: a changed profile must be measured again."""
    measured_at: float
    profiles: dict[str, ProfileFigures]


def fingerprint() -> dict[str, str]:
    """What makes performance comparable: the CPU, how many, and the kernel."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cpus": str(os.cpu_count()), "kernel": platform.release()}


def load_spec(profile: LoadProfile, seed: int) -> LoadSpec:
    return LoadSpec(
        mode=profile.mode,
        rate=profile.rate,
        connections=profile.connections,
        pipeline=profile.pipeline,
        duration_s=profile.duration_s,
        warmup_s=profile.warmup_s,
        processes=profile.processes,
        seed=seed,
        encoder=WorkloadSpec(codec=profile.codec),
        max_dropped_ratio=profile.max_dropped_ratio,
    )


def measure(service: ServiceHandle, profile: LoadProfile, seed: int = 0) -> LoadResult:
    return run_load(service.host, service.port, load_spec(profile, seed))


def profiles_digest(exercise: Exercise) -> str:
    performance = exercise.spec.performance
    text = performance.model_dump_json() if performance else ""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def baseline_path(exercise: Exercise) -> Path:
    return cache_dir() / "baselines" / f"{exercise.name}.json"


def reference_digest(exercise: Exercise) -> str:
    reference = exercise.reference_path
    if reference is None:
        raise InfrastructureError(f"exercise '{exercise.name}' has no performance reference")
    with tempfile.TemporaryDirectory(prefix="harness-ref-") as workdir:
        submission = open_submission(str(reference), workdir=Path(workdir))
        assert submission.root is not None
        return source_digest(submission.root)


def cached_baseline(exercise: Exercise) -> Baseline | None:
    """The cached baseline if it is still good for this machine and this reference, else None."""
    path = baseline_path(exercise)
    try:
        baseline = Baseline.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None
    fresh = time.time() - baseline.measured_at < MAX_AGE_S
    if not fresh or baseline.fingerprint != fingerprint():
        return None
    if baseline.profiles_digest != profiles_digest(exercise):
        return None
    if baseline.reference_digest != reference_digest(exercise):
        return None
    return baseline


def _reference_image(client: docker.DockerClient, exercise: Exercise, run_id: str) -> tuple[str, str]:
    """The reference's image (built, or reused when its source is unchanged) and its source digest."""
    from harness.grading import Grader, GradeRequest, SilentObserver

    reference = exercise.reference_path
    if exercise.spec.performance is None or reference is None:
        raise InfrastructureError(f"exercise '{exercise.name}' declares no performance profiles")
    with tempfile.TemporaryDirectory(prefix="harness-ref-") as workdir:
        submission = open_submission(str(reference), workdir=Path(workdir))
        assert submission.root is not None
        digest = source_digest(submission.root)
        grader = Grader(GradeRequest(exercise=exercise, mode="grade", seed=0), SilentObserver())
        grader.run_id = run_id
        _, image, failure = grader.build(client, submission)
    if failure is not None or image is None:
        raise InfrastructureError(
            f"the reference of '{exercise.name}' did not build: {failure.message if failure else 'no image'}"
        )
    return image, digest


def _measure_reference(
    client: docker.DockerClient, exercise: Exercise, run_id: str, names: list[str]
) -> tuple[dict[str, ProfileFigures], str]:
    performance = exercise.spec.performance
    assert performance is not None
    image, digest = _reference_image(client, exercise, run_id)
    factory = DockerServiceFactory(client, image, exercise, run_id)
    try:
        figures: dict[str, ProfileFigures] = {}
        for name in names:
            with factory.fresh(f"calibrate-{name}") as service:
                figures[name] = ProfileFigures.of(measure(service, performance.profiles[name]))
    finally:
        factory.close()
    return figures, digest


def calibrate(client: docker.DockerClient, exercise: Exercise, run_id: str) -> Baseline:
    """Build the reference, measure every profile against it, and cache the result."""
    names = list(exercise.spec.performance.profiles) if exercise.spec.performance else []
    figures, digest = _measure_reference(client, exercise, run_id, names)
    baseline = Baseline(
        exercise=exercise.name,
        fingerprint=fingerprint(),
        reference_digest=digest,
        profiles_digest=profiles_digest(exercise),
        measured_at=time.time(),
        profiles=figures,
    )
    write_atomically(baseline_path(exercise), baseline.model_dump_json(indent=2) + "\n")
    return baseline


def measure_reference_now(
    client: docker.DockerClient, exercise: Exercise, run_id: str, profile: str
) -> ProfileFigures:
    """One profile of the reference, measured now and not cached: the peer a shortfall is confirmed
    against, when the cached baseline may come from a quieter moment of a shared machine."""
    figures, _ = _measure_reference(client, exercise, run_id, [profile])
    return figures[profile]


def describe(baseline: Baseline) -> str:
    when = datetime.fromtimestamp(baseline.measured_at, UTC).isoformat(timespec="seconds")
    parts = [
        f"{name}: {p.throughput:,.0f} req/s, p50 {p.p50_us} µs, p99 {p.p99_us} µs"
        + ("" if p.valid else f" (INVALID: {'; '.join(p.invalid_reasons)})")
        for name, p in baseline.profiles.items()
    ]
    return f"reference of {baseline.exercise} measured {when}: " + " | ".join(parts)
