from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ExerciseError, RubricError
from harness.exercise import load_exercise, load_exercise_file
from harness.rubric.model import load_rubric

REPO = Path(__file__).resolve().parents[2]


def test_bundled_exercise_and_rubric_load() -> None:
    exercise = load_exercise("kv-store")
    rubric, role = load_rubric(exercise.rubric_path)
    assert exercise.spec.service.port == 6379
    assert rubric.exercise == "kv-store"
    assert sum(c.points for c in rubric.criteria) == pytest.approx(100)
    assert {c.skill for c in rubric.criteria} <= {s.id for s in role.skills}


def test_every_criterion_has_scenarios_in_its_own_folder() -> None:
    exercise = load_exercise("kv-store")
    rubric, _ = load_rubric(exercise.rubric_path)
    for criterion in (c for c in rubric.criteria if c.scored_by_scenarios):
        texts = "".join(p.read_text() for p in exercise.scenario_files(criterion.visibility))
        assert f'criterion("{criterion.id}")' in texts, (
            f"{criterion.id} has no {criterion.visibility} scenario"
        )


def test_unknown_exercise_names_the_known_ones() -> None:
    with pytest.raises(ExerciseError) as caught:
        load_exercise("no-such-exercise")
    assert "unknown exercise 'no-such-exercise'" in caught.value.one_line()
    assert "kv-store" in caught.value.one_line()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("name: [unclosed", ":1: not valid YAML", id="bad-yaml"),
        pytest.param("- a list", "expected a mapping", id="not-a-mapping"),
        pytest.param(
            "name: x\ntitle: t\ntime_box: 1h\nskills: []\nservice: {port: 99999}\n",
            "field 'service.port'",
            id="port-out-of-range",
        ),
        pytest.param(
            "name: x\ntitle: t\ntime_box: 1h\nskills: []\nservice: {port: 1}\ncolour: red\n",
            "field 'colour'",
            id="unknown-field",
        ),
    ],
)
def test_malformed_exercise_yaml_names_file_and_field(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "exercise.yaml"
    path.write_text(content)
    with pytest.raises(ExerciseError) as caught:
        load_exercise_file(path)
    message = caught.value.one_line()
    assert str(path) in message and expected in message and "\n" not in message


def test_rubric_with_unknown_skill_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "roles").mkdir()
    (tmp_path / "roles" / "r.yaml").write_text("role: r\ntitle: R\nskills: [{id: rpc, title: RPC}]\n")
    path = tmp_path / "x.yaml"
    path.write_text("exercise: x\nrole: r\ncriteria: [{id: a, title: A, skill: cooking, points: 1}]\n")
    with pytest.raises(RubricError, match="names skill 'cooking'"):
        load_rubric(path)


def test_rubric_with_duplicate_ids_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "roles").mkdir()
    (tmp_path / "roles" / "r.yaml").write_text("role: r\ntitle: R\nskills: [{id: rpc, title: RPC}]\n")
    path = tmp_path / "x.yaml"
    path.write_text(
        "exercise: x\nrole: r\ncriteria:\n"
        "  - {id: a, title: A, skill: rpc, points: 1}\n  - {id: a, title: B, skill: rpc, points: 1}\n"
    )
    with pytest.raises(RubricError, match="appears twice"):
        load_rubric(path)
