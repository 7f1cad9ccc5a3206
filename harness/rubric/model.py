"""Rubric files: a role profile (the skills of a role) and per-exercise criteria.

Kept deliberately small and swappable: scoring only needs `criteria` (id, skill, points, visibility)
and the role's skill titles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.errors import RubricError
from harness.yamlfile import load_model


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


def load_rubric(path: Path) -> tuple[Rubric, RoleProfile]:
    """Load an exercise rubric and the role profile it names (`<rubrics>/roles/<role>.yaml`)."""
    if not path.is_file():
        raise RubricError(f"rubric {path} does not exist", hint="add it or set 'rubric:' in exercise.yaml")
    rubric = load_model(path, Rubric, RubricError, "rubric")
    role_path = path.parent / "roles" / f"{rubric.role}.yaml"
    if not role_path.is_file():
        raise RubricError(f"{path}: role profile '{rubric.role}' not found at {role_path}")
    role = load_model(role_path, RoleProfile, RubricError, "role profile")
    for criterion in rubric.criteria:
        if role.skill(criterion.skill) is None:
            raise RubricError(
                f"{path}: criterion '{criterion.id}' names skill '{criterion.skill}', "
                f"which role '{role.role}' does not list"
            )
    return rubric, role
