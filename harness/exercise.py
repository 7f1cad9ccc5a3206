"""Exercises: the `exercises/<name>/` folders and their `exercise.yaml`.

An exercise is data plus pytest scenarios; adding one never edits the harness. This module validates
`exercise.yaml` with pydantic so a typo is reported with the file and the field, not as a KeyError later.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.errors import ExerciseError
from harness.yamlfile import load_model

Visibility = Literal["public", "hidden"]

#: The name of `service.port` among a service's ports (`ServiceHandle.port_of(MAIN_PORT)`).
MAIN_PORT: Final = "main"
#: Variables the harness sets itself; an extra port cannot be told to the service through them.
_RESERVED_ENV: Final = frozenset({"PORT", "DATA_DIR"})

#: Where the bundled exercises live: next to the package in a checkout, overridable for installed copies.
DEFAULT_EXERCISES_DIR = Path(__file__).resolve().parent.parent / "exercises"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BuildLimits(_Strict):
    """Limits for compiling a submission (candidate code runs here: build.rs, proc macros)."""

    cpus: float = 2.0
    memory_mb: int = 4096
    timeout_s: int = 600
    log_bytes: int = 2 * 1024 * 1024


class RunLimits(_Strict):
    """Limits for the running service; the brief tells candidates about them."""

    cpus: float = 1.0
    memory_mb: int = 512
    pids: int = 256
    tmpfs_mb: int = 64
    log_bytes: int = 4 * 1024 * 1024


class ExtraPort(_Strict):
    """A port the service listens on besides `port`; its number reaches the service in `env`."""

    port: int = Field(ge=1, le=65535)
    env: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class NamedPort:
    """One port of a service: its name for scenarios, its number, and the variable that tells the service."""

    name: str
    number: int
    env: str


class ServiceSpec(_Strict):
    """How the service is started and when it counts as ready."""

    port: int = Field(ge=1, le=65535)
    protocol: str = "tcp"
    start_timeout_s: float = 20.0
    stop_timeout_s: float = 5.0
    env: dict[str, str] = Field(default_factory=dict)
    extra_ports: dict[str, ExtraPort] = Field(default_factory=dict)
    """More listening ports by name (`market_data: {port: 7401, env: MD_PORT}`). Readiness waits for
    every one; scenarios reach them with `service.port_of(name)`."""

    @field_validator("extra_ports")
    @classmethod
    def _port_names(cls, value: dict[str, ExtraPort]) -> dict[str, ExtraPort]:
        for name in value:
            if name == MAIN_PORT:
                raise ValueError(f"'{MAIN_PORT}' is the name of `port` itself; choose another name")
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"port name '{name}' must be lower_snake_case")
        return value

    @model_validator(mode="after")
    def _ports_distinct(self) -> ServiceSpec:
        numbers = [p.number for p in self.ports()]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"extra_ports: every port needs its own number, got {numbers}")
        variables = [p.env for p in self.ports()]
        clashes = sorted(
            {v for v in variables if variables.count(v) > 1}
            | (set(variables[1:]) & _RESERVED_ENV)
            | (set(variables) & set(self.env))
        )
        if clashes:
            raise ValueError(
                f"extra_ports: {', '.join(clashes)} is set twice (PORT and DATA_DIR are the harness's; "
                "a port's variable is not also listed under env)"
            )
        return self

    def ports(self) -> list[NamedPort]:
        """Every port the service listens on, the main one first."""
        main = NamedPort(MAIN_PORT, self.port, "PORT")
        return [main, *(NamedPort(name, p.port, p.env) for name, p in self.extra_ports.items())]

    def environment(self) -> dict[str, str]:
        """What the service's process is given: its ports, its data folder, the exercise's variables."""
        ports = {p.env: str(p.number) for p in self.ports()}
        return {**ports, "DATA_DIR": "/data", **self.env}


class LoadProfile(_Strict):
    """One load measurement the exercise grades against its reference (see harness/load)."""

    mode: Literal["open", "closed"] = "closed"
    rate: float | None = None
    connections: int = 50
    pipeline: int = 1
    duration_s: float = 5.0
    warmup_s: float = 1.0
    processes: int = 1
    codec: str = "resp-set-get"
    max_dropped_ratio: float = 0.01
    """Sends the generator itself was too late for, above which the run cannot grade (shared CI
    machines stall the generator now and then; 1% keeps such runs usable without hiding a stall)."""


class PerformanceSpec(_Strict):
    """Performance is graded relative to the reference solution measured on the same machine."""

    reference: str = "reference"
    profiles: dict[str, LoadProfile]


class KitSpec(_Strict):
    """What `harness kit` sends a candidate besides the brief, the public scenarios and the starter."""

    include: list[str] = Field(default_factory=list)
    """Folders or files of the exercise that the public scenarios import (a model such as `oracle/`),
    copied to the same place in the kit. Listing one here declares it public."""

    @field_validator("include")
    @classmethod
    def _inside_the_exercise(cls, value: list[str]) -> list[str]:
        for entry in value:
            path = PurePosixPath(entry)
            if path.is_absolute() or ".." in path.parts or not path.parts or "\\" in entry:
                raise ValueError(f"kit.include: '{entry}' must be a relative path inside the exercise folder")
        return value


class ExerciseSpec(_Strict):
    """The validated content of `exercise.yaml`."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: str
    time_box: str
    skills: list[str]
    service: ServiceSpec
    build: BuildLimits = BuildLimits()
    run: RunLimits = RunLimits()
    rubric: str | None = None
    sample: str | None = None
    performance: PerformanceSpec | None = None
    kit: KitSpec = KitSpec()


@dataclass(frozen=True)
class Exercise:
    """An exercise folder together with its validated spec."""

    spec: ExerciseSpec
    root: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def brief(self) -> Path:
        return self.root / "README.md"

    def scenario_dir(self, visibility: Visibility) -> Path:
        return self.root / "scenarios" / visibility

    def scenario_files(self, visibility: Visibility) -> list[Path]:
        folder = self.scenario_dir(visibility)
        return sorted(folder.glob("test_*.py")) if folder.is_dir() else []

    @property
    def rubric_path(self) -> Path:
        if self.spec.rubric:
            return (self.root / self.spec.rubric).resolve()
        return self.root.parent.parent / "rubrics" / f"{self.name}.yaml"

    @property
    def reference_path(self) -> Path | None:
        performance = self.spec.performance
        return (self.root / performance.reference).resolve() if performance else None

    @property
    def sample_path(self) -> Path | None:
        return (self.root / self.spec.sample).resolve() if self.spec.sample else None


def exercises_dir() -> Path:
    """The folder holding exercises: $HARNESS_EXERCISES or the bundled one."""
    return Path(os.environ.get("HARNESS_EXERCISES", DEFAULT_EXERCISES_DIR))


def load_exercise_file(path: Path) -> ExerciseSpec:
    """Parse and validate one exercise.yaml, naming the file and field on any error."""
    return load_model(path, ExerciseSpec, ExerciseError, "exercise")


def load_exercise(name_or_path: str) -> Exercise:
    """Find an exercise by name (in the exercises folder) or by the path of its folder."""
    candidate = Path(name_or_path)
    root = candidate if (candidate / "exercise.yaml").is_file() else exercises_dir() / name_or_path
    spec_file = root / "exercise.yaml"
    if not spec_file.is_file():
        known = ", ".join(list_exercise_names()) or "none"
        raise ExerciseError(f"unknown exercise '{name_or_path}'", hint=f"known exercises: {known}")
    spec = load_exercise_file(spec_file)
    return Exercise(spec=spec, root=root.resolve())


def list_exercise_names() -> list[str]:
    folder = exercises_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "exercise.yaml").is_file())


def list_exercises() -> list[Exercise]:
    return [load_exercise(name) for name in list_exercise_names()]
