"""Grading end to end: submission → image → service → scenarios → rubric → result.

This module wires the stages together and owns the run's resources: whatever happens (a build failure,
Ctrl-C, a harness bug), every container, network and volume of the run is removed before it returns.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

import docker

from harness import __version__
from harness.calibration import (
    Baseline,
    ProfileFigures,
    cached_baseline,
    calibrate,
    measure_reference_now,
    reference_digest,
)
from harness.errors import BuildFailed, ServiceStartFailed, UsageError
from harness.exercise import MAIN_PORT, Exercise, Visibility
from harness.report.model import (
    BuildInfo,
    EnvironmentInfo,
    GradeResult,
    ScenarioResult,
    SubmissionInfo,
)
from harness.report.quality import QualityReport
from harness.rubric.model import RoleProfile, Rubric, load_rubric, seniority_of
from harness.rubric.scoring import score, thresholds_of, totals
from harness.sandbox import cleanup, labels
from harness.sandbox.archive import retarget
from harness.sandbox.build import BuildJob, BuiltImage, build_cargo, build_dockerfile
from harness.sandbox.docker_client import connect, engine_version
from harness.sandbox.images import HarnessImages, ensure_images
from harness.sandbox.quality import QualityJob, gather_quality
from harness.sandbox.rootfs import SERVICE_UID
from harness.sandbox.service import DockerServiceFactory
from harness.scenario.runner import run_scenarios
from harness.scenario.service import ExternalAddress, ExternalServiceFactory, ServiceFactory, tcp_accepts
from harness.scenario.session import ScenarioSession
from harness.submission import IntakeLimits, Submission, open_submission, pack_context, source_digest

Mode = Literal["grade", "check"]


class Observer(Protocol):
    """What the terminal (or a test) is told while a grade runs."""

    def stage(self, name: str) -> None: ...

    def detail(self, text: str) -> None: ...

    def collected(self, count: int) -> None: ...

    def scenario(self, result: ScenarioResult) -> None: ...


class SilentObserver:
    def stage(self, name: str) -> None: ...

    def detail(self, text: str) -> None: ...

    def collected(self, count: int) -> None: ...

    def scenario(self, result: ScenarioResult) -> None: ...


@dataclass(frozen=True)
class GradeRequest:
    exercise: Exercise
    mode: Mode
    seed: int
    submission: str | None = None
    ref: str | None = None
    image: str | None = None
    address: ExternalAddress | None = None
    """`harness check --address`: a service the candidate runs themselves, instead of a build."""
    keyword: str | None = None
    logs_dir: Path | None = None


def visibilities(mode: Mode) -> tuple[Visibility, ...]:
    return ("public",) if mode == "check" else ("public", "hidden")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _environment(exercise: Exercise, docker_version: str | None) -> EnvironmentInfo:
    spec = exercise.spec
    return EnvironmentInfo(
        harness_version=__version__,
        docker_version=docker_version,
        cpu_count=os.cpu_count() or 0,
        platform=platform.platform(),
        python=platform.python_version(),
        build_limits={
            "cpus": spec.build.cpus,
            "memory_mb": spec.build.memory_mb,
            "timeout_s": spec.build.timeout_s,
        },
        run_limits={
            "cpus": spec.run.cpus,
            "memory_mb": spec.run.memory_mb,
            "pids": spec.run.pids,
            "tmpfs_mb": spec.run.tmpfs_mb,
        },
    )


def _whole_run_failure(
    rubric: Rubric, mode: Mode, failure: BuildFailed | ServiceStartFailed
) -> list[ScenarioResult]:
    """One failed stand-in scenario per automated criterion in scope when nothing could be run at all.
    Manual criteria stay pending: a reviewer can still judge code that does not build."""
    return [
        ScenarioResult(
            nodeid=f"build::{criterion.id}",
            name="submission builds",
            criterion=criterion.id,
            visibility=criterion.visibility,
            status="failed",
            duration_s=0.0,
            message=failure.message,
            evidence=failure.evidence,
        )
        for criterion in rubric.criteria
        if criterion.visibility in visibilities(mode) and criterion.kind == "automated"
    ]


def assemble(
    request: GradeRequest,
    rubric: Rubric,
    role: RoleProfile,
    scenarios: list[ScenarioResult],
    submission: SubmissionInfo,
    docker_version: str | None,
    started_at: str,
    quality: QualityReport | None = None,
    reference_quality: QualityReport | None = None,
) -> GradeResult:
    criteria = score(
        rubric,
        scenarios,
        visibilities=visibilities(request.mode),
        quality=quality,
        reference=reference_quality,
    )
    problems = [f"{c.id}: {c.summary}" for c in criteria if c.status == "error"]
    summary = totals(
        criteria,
        [(s.id, s.title) for s in role.skills],
        thresholds_of(seniority_of(rubric, role)),
        gate_cap=rubric.gate_cap,
        complete=not problems,
    )
    return GradeResult(
        exercise=request.exercise.name,
        mode=request.mode,
        started_at=started_at,
        finished_at=_now(),
        seed=request.seed,
        submission=submission,
        environment=_environment(request.exercise, docker_version),
        criteria=criteria,
        complete=not problems,
        problems=problems,
        gate_cap=rubric.gate_cap,
        quality=quality,
        **summary.fields(),
    )


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="harness-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Grader:
    """Runs one grade; `run` always cleans up the run's Docker resources."""

    def __init__(self, request: GradeRequest, observer: Observer) -> None:
        self.request = request
        self.observer = observer
        self.rubric, self.role = load_rubric(request.exercise.rubric_path)
        self.run_id = labels.new_run_id()
        #: The packed Cargo context of the last build (plain, sandbox-owned, digest), for the quality step.
        self._cargo_context: tuple[bytes, bytes, str] | None = None

    def run(self) -> GradeResult:
        started_at = _now()
        if (address := self.request.address) is not None:
            host = address.host
            for name, port in address.ports.items():
                if not tcp_accepts(host, port, timeout=3.0):
                    # Otherwise every scenario "fails" to connect and a typo in the address reads as a score.
                    which = "" if len(address.ports) == 1 else f" (the {name} port)"
                    raise UsageError(
                        f"nothing accepts connections at {host}:{port}{which}",
                        hint="start your service first, or fix --address / --port",
                    )
            info = SubmissionInfo(source=f"{host}:{address.ports[MAIN_PORT]}", kind="external")
            scenarios = self._scenarios(ExternalServiceFactory.at(address))
            return assemble(self.request, self.rubric, self.role, scenarios, info, None, started_at)
        with _workdir() as workdir:
            self.observer.stage("take in the submission")
            submission = open_submission(
                self.request.submission,
                workdir=workdir,
                ref=self.request.ref,
                image=self.request.image,
                limits=IntakeLimits(),
            )
            self.observer.stage("connect to Docker")
            client = connect()
            cleanup.sweep_stale(client)
            quality = reference_quality = None
            try:
                info, image, failure = self.build(client, submission)
                if failure is not None:
                    scenarios = _whole_run_failure(self.rubric, self.request.mode, failure)
                else:
                    assert image is not None
                    quality, reference_quality = self._quality(client)
                    scenarios = self._run_service(client, image)
            finally:
                cleanup.sweep_run(client, self.run_id)
        return assemble(
            self.request,
            self.rubric,
            self.role,
            scenarios,
            info,
            engine_version(client),
            started_at,
            quality,
            reference_quality,
        )

    def _quality(self, client: docker.DockerClient) -> tuple[QualityReport | None, QualityReport | None]:
        """Code-quality facts of the submission (and of the reference, for ratios), when a criterion in
        scope uses them. Runs before the service so it never competes with performance measurements."""
        scope = visibilities(self.request.mode)
        # `-k` asks for a subset of scenarios: quality facts are no scenario, so they are not gathered.
        if self._cargo_context is None or self.request.keyword or not self.rubric.needs_quality(scope):
            return None, None
        self.observer.stage("gather code-quality evidence")
        images = ensure_images(client)
        plain, owned, digest = self._cargo_context
        quality = gather_quality(self._quality_job(client, images, plain, owned, digest))
        reference = None
        if self.rubric.needs_reference_quality(scope):
            reference = self._reference_quality(client, images)
        return quality, reference

    def _quality_job(
        self, client: docker.DockerClient, images: HarnessImages, plain: bytes, owned: bytes, digest: str
    ) -> QualityJob:
        return QualityJob(
            client=client,
            images=images,
            context_tar=owned,
            plain_tar=plain,
            source_digest=digest,
            limits=self.request.exercise.spec.build,
            run_id=self.run_id,
            progress=self.observer.detail,
            trusted=self._is_reference(digest),
        )

    def _reference_quality(self, client: docker.DockerClient, images: HarnessImages) -> QualityReport | None:
        reference = self.request.exercise.reference_path
        if reference is None:
            return None
        with _workdir() as workdir:
            submission = open_submission(str(reference), workdir=workdir, limits=IntakeLimits())
            assert submission.root is not None
            packed = pack_context(submission.root, limits=IntakeLimits())
            owned = retarget(packed, prefix="src", uid=SERVICE_UID)
            digest = source_digest(submission.root)
            return gather_quality(self._quality_job(client, images, packed.read_bytes(), owned, digest))

    def _run_service(self, client: docker.DockerClient, image: str) -> list[ScenarioResult]:
        primer = ensure_images(client).runtime if self._needs_primer(client, image) else None
        factory = DockerServiceFactory(
            client, image, self.request.exercise, self.run_id, volume_primer=primer
        )
        try:
            return self._scenarios(
                factory,
                functools.cache(lambda: self._baseline(client)),
                functools.cache(lambda profile: self._reference_now(client, profile)),
            )
        finally:
            factory.close()

    def _baseline(self, client: docker.DockerClient) -> Baseline | None:
        """The reference's performance on this machine, measured now if the cache has none (grade only:
        performance criteria are hidden). Called once, by the first scenario that needs it."""
        exercise = self.request.exercise
        if self.request.mode != "grade" or exercise.spec.performance is None:
            return None
        baseline = cached_baseline(exercise)
        if baseline is None:
            self.observer.stage("measure the reference's performance on this machine (once)")
            # A run of its own: the grade's service network is up meanwhile, and names derive from run ids.
            calibration_run = labels.new_run_id()
            try:
                baseline = calibrate(client, exercise, calibration_run)
            finally:
                cleanup.sweep_run(client, calibration_run)
        return baseline

    def _reference_now(self, client: docker.DockerClient, profile: str) -> ProfileFigures | None:
        """One profile of the reference measured now (see PerformanceProbe.baseline), in a run of its own."""
        if self.request.mode != "grade" or self.request.exercise.spec.performance is None:
            return None
        self.observer.detail(f"measuring the reference's {profile} again under the present load")
        run_id = labels.new_run_id()
        try:
            return measure_reference_now(client, self.request.exercise, run_id, profile)
        finally:
            cleanup.sweep_run(client, run_id)

    @staticmethod
    def _needs_primer(client: docker.DockerClient, image: str) -> bool:
        """Images not made on the harness runtime may lack a /data the service user can write."""
        found = client.images.get(image)
        return (found.labels or {}).get(labels.IMAGE) != "submission"

    def _scenarios(
        self,
        factory: ServiceFactory,
        baseline: Callable[[], Baseline | None] = lambda: None,
        reference_now: Callable[[str], ProfileFigures | None] = lambda profile: None,
    ) -> list[ScenarioResult]:
        exercise = self.request.exercise
        files = [f for v in visibilities(self.request.mode) for f in exercise.scenario_files(v)]
        session = ScenarioSession(
            exercise=exercise,
            services=factory,
            seed=self.request.seed,
            # Only criteria scored by scenarios may be named by one: a typo'd or manual id is an error.
            known_criteria=frozenset(c.id for c in self.rubric.criteria if c.scored_by_scenarios),
            on_result=self.observer.scenario,
            on_collected=self.observer.collected,
            baseline=baseline,
            reference_now=reference_now,
        )
        self.observer.stage("run scenarios")
        log_path = self.request.logs_dir / "pytest.log" if self.request.logs_dir else None
        return run_scenarios(files, session, log_path=log_path, keyword=self.request.keyword)

    def build(
        self, client: docker.DockerClient, submission: Submission
    ) -> tuple[SubmissionInfo, str | None, BuildFailed | None]:
        """Build (or reuse, or look up) the submission's image; a build failure is returned, not raised."""
        request = self.request
        if submission.kind == "image":
            return self._prebuilt(client, submission), submission.image, None
        assert submission.root is not None
        digest = source_digest(submission.root)
        self.observer.stage("prepare images")
        images = ensure_images(client, self.observer.detail)
        self.observer.stage("build the submission")
        packed = pack_context(submission.root, limits=IntakeLimits())
        is_cargo = submission.kind == "cargo"
        # Cargo builds copy the code into a volume as the sandbox user; Dockerfiles get their folder.
        owned = retarget(packed, prefix="src", uid=SERVICE_UID) if is_cargo else None
        if owned is not None:
            self._cargo_context = (packed.read_bytes(), owned, digest)
        job = BuildJob(
            client=client,
            images=images,
            context_tar=owned if owned is not None else packed.read_bytes(),
            source_digest=digest,
            limits=request.exercise.spec.build,
            run_id=self.run_id,
            progress=self.observer.detail,
            trusted=is_cargo and self._is_reference(digest),
        )
        try:
            built = build_cargo(job) if is_cargo else build_dockerfile(job)
        except BuildFailed as failure:
            info = _info(
                submission, digest, BuildInfo(status="failed", duration_s=0.0, log_tail=failure.evidence)
            )
            self._save_log("build.log", failure.evidence or "")
            return info, None, failure
        self._save_log("build.log", built.log)
        return _built_info(submission, digest, built), built.ref, None

    def _is_reference(self, digest: str) -> bool:
        """True when this source is the exercise's own reference, the only code trusted to leave compiled
        dependencies for other builds to start from."""
        if self.request.exercise.reference_path is None:
            return False
        return digest == reference_digest(self.request.exercise)

    def _prebuilt(self, client: docker.DockerClient, submission: Submission) -> SubmissionInfo:
        assert submission.image is not None
        try:
            image = client.images.get(submission.image)
        except docker.errors.ImageNotFound:
            raise UsageError(
                f"image '{submission.image}' is not in the local Docker engine",
                hint="build or load it first (docker load / docker build)",
            ) from None
        return SubmissionInfo(
            source=submission.source,
            kind="image",
            image=submission.image,
            image_digest=str(image.id),
            build=BuildInfo(status="prebuilt", duration_s=0.0),
        )

    def _save_log(self, name: str, text: str) -> None:
        if self.request.logs_dir is not None:
            self.request.logs_dir.mkdir(parents=True, exist_ok=True)
            (self.request.logs_dir / name).write_text(text, encoding="utf-8")


def _info(submission: Submission, digest: str, build: BuildInfo) -> SubmissionInfo:
    return SubmissionInfo(
        source=submission.source,
        kind=submission.kind,
        revision=submission.revision,
        source_digest=digest,
        build=build,
    )


def _built_info(submission: Submission, digest: str, built: BuiltImage) -> SubmissionInfo:
    tail = built.log[-4000:] if built.log else None
    build = BuildInfo(status="built", duration_s=built.duration_s, log_tail=tail, binary=built.binary)
    return _info(submission, digest, build).model_copy(
        update={"image": built.ref, "image_digest": built.digest}
    )


def grade(request: GradeRequest, observer: Observer | None = None) -> GradeResult:
    return Grader(request, observer or SilentObserver()).run()
