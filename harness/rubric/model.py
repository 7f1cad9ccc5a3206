"""Rubric files: a role profile (the skills of a role) and per-exercise criteria.

Kept deliberately small and swappable: scoring only needs `criteria` (id, skill, points, visibility)
and the role's skill titles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.errors import RubricError

_M = TypeVar("_M", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Skill(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: str
    description: str = ""


class RoleProfile(_Strict):
    role: str
    title: str
    skills: list[Skill]

    def skill(self, skill_id: str) -> Skill | None:
        return next((s for s in self.skills if s.id == skill_id), None)


class Criterion(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_.-]*$")
    title: str
    skill: str
    points: float = Field(gt=0)
    visibility: Literal["public", "hidden"] = "hidden"
    description: str = ""


class Rubric(_Strict):
    exercise: str
    role: str
    criteria: list[Criterion]

    @model_validator(mode="after")
    def _unique_ids(self) -> Rubric:
        seen: set[str] = set()
        for criterion in self.criteria:
            if criterion.id in seen:
                raise ValueError(f"criterion id '{criterion.id}' appears twice")
            seen.add(criterion.id)
        return self

    def criterion(self, criterion_id: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)


def _load_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RubricError(f"cannot read rubric {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise RubricError(f"{path}{where}: not valid YAML") from None


def _validate(model: type[_M], path: Path) -> _M:
    raw = _load_yaml(path)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise RubricError(f"{path}: field '{field}': {first['msg']}") from None


def load_rubric(path: Path) -> tuple[Rubric, RoleProfile]:
    """Load an exercise rubric and the role profile it names (`<rubrics>/roles/<role>.yaml`)."""
    if not path.is_file():
        raise RubricError(f"rubric {path} does not exist", hint="add it or set 'rubric:' in exercise.yaml")
    rubric = _validate(Rubric, path)
    role_path = path.parent / "roles" / f"{rubric.role}.yaml"
    if not role_path.is_file():
        raise RubricError(f"{path}: role profile '{rubric.role}' not found at {role_path}")
    role = _validate(RoleProfile, role_path)
    for criterion in rubric.criteria:
        if role.skill(criterion.skill) is None:
            raise RubricError(
                f"{path}: criterion '{criterion.id}' names skill '{criterion.skill}', "
                f"which role '{role.role}' does not list"
            )
    return rubric, role
