"""Rubric files: the schema's rules, each reported with the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import RubricError
from harness.exercise import load_exercise
from harness.rubric.model import MetricEvidence, ScenarioEvidence, load_rubric, seniority_of

ROLE = "role: r\ntitle: R\nskills: [{id: rpc, title: RPC}, {id: code, title: Code}]\n"
LEVELS = (
    "    levels:\n"
    "      - {id: good, fraction: 1, description: clear}\n"
    "      - {id: poor, fraction: 0, description: muddled}\n"
)


def write(tmp_path: Path, body: str, role: str = ROLE) -> Path:
    (tmp_path / "roles").mkdir(exist_ok=True)
    (tmp_path / "roles" / "r.yaml").write_text(role)
    path = tmp_path / "x.yaml"
    path.write_text("exercise: x\nrole: r\n" + body)
    return path


def rejected(path: Path) -> str:
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    message = caught.value.one_line()
    assert "\n" not in message and str(path) in message
    return message


def test_bundled_rubric_has_manual_gate_and_quality_criteria() -> None:
    rubric, role = load_rubric(load_exercise("kv-store").rubric_path)
    manual = [c for c in rubric.criteria if c.kind == "manual"]
    assert {c.id for c in manual} == {"design-readability", "written-notes"}
    assert all(len(c.levels) >= 2 for c in manual)
    quality = rubric.criterion("code-quality")
    assert quality is not None and not quality.scored_by_scenarios
    assert {e.name for e in quality.thresholds()} >= {"clippy_warnings", "tests_passed", "fmt_clean"}
    assert [c.id for c in rubric.criteria if c.gate] == ["basics"]
    assert [(s.level, s.at_least) for s in seniority_of(rubric, role)] == [("senior", 80), ("mid", 60)]


def test_criteria_without_evidence_are_scored_by_their_scenarios(tmp_path: Path) -> None:
    rubric, _ = load_rubric(write(tmp_path, "criteria: [{id: a, title: A, skill: rpc, points: 100}]\n"))
    assert rubric.criteria[0].evidence == [ScenarioEvidence(kind="scenarios")]


def test_weights_must_add_up_to_100_and_the_line_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "criteria:\n"
        "  - {id: a, title: A, skill: rpc, points: 60}\n"
        "  - {id: b, title: B, skill: rpc, points: 30}\n",
    )
    message = rejected(path)
    assert f"{path}:3: field 'criteria'" in message and "add up to 90" in message


@pytest.mark.parametrize(
    ("criteria", "line", "field", "words"),
    [
        pytest.param(
            "  - {id: a, title: A, skill: rpc, points: 100, colour: red}\n",
            4,
            "criteria.0.colour",
            "Extra inputs",
            id="unknown-field",
        ),
        pytest.param(
            "  - id: a\n    title: A\n    skill: rpc\n    points: -1\n",
            7,
            "criteria.0.points",
            "greater than 0",
            id="negative-points",
        ),
        pytest.param(
            "  - id: a\n    title: A\n    skill: rpc\n    points: 100\n    evidence:\n"
            "      - {kind: metric, name: clippy_warnings}\n",
            9,
            "criteria.0.evidence.0",
            "at_most, at_least or both",
            id="metric-without-threshold",
        ),
        pytest.param(
            "  - id: a\n    title: A\n    skill: rpc\n    points: 100\n    evidence:\n"
            "      - {kind: metric, name: happiness, at_least: 1}\n",
            9,
            "name",
            "clippy_warnings",
            id="unknown-metric",
        ),
        pytest.param(
            "  - {id: a, title: A, skill: rpc, points: 100, kind: manual}\n",
            4,
            "criteria.0",
            "at least two levels",
            id="manual-without-levels",
        ),
        pytest.param(
            "  - id: a\n    title: A\n    skill: rpc\n    points: 100\n    kind: manual\n"
            "    levels:\n      - {id: ok, fraction: 0.5, description: fine}\n"
            "      - {id: bad, fraction: 0, description: not}\n",
            4,
            "criteria.0",
            "full points",
            id="manual-full-points-unreachable",
        ),
        pytest.param(
            "  - id: a\n    title: A\n    skill: rpc\n    points: 100\n    kind: manual\n"
            "    evidence: [{kind: scenarios}]\n" + LEVELS,
            4,
            "criteria.0",
            "scored by a reviewer",
            id="manual-scored-by-scenarios",
        ),
    ],
)
def test_schema_errors_name_file_line_and_field(
    tmp_path: Path, criteria: str, line: int, field: str, words: str
) -> None:
    message = rejected(write(tmp_path, "criteria:\n" + criteria))
    assert f"x.yaml:{line}: field '" in message
    assert field in message and words in message


def test_unknown_skill_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "criteria:\n  - id: a\n    title: A\n    skill: cooking\n    points: 100\n")
    message = rejected(path)
    assert f"{path}:6: field 'criteria.0.skill'" in message and "names skill 'cooking'" in message


@pytest.mark.parametrize(
    ("seniority", "words"),
    [
        pytest.param(
            "[{level: senior, at_least: 80}, {level: mid, at_least: 80}]", "distinct", id="same-bar"
        ),
        pytest.param("[{level: undetermined, at_least: 10}]", "reserved", id="reserved-word"),
        pytest.param("[{level: senior, at_least: 180}]", "less than or equal to 100", id="above-100"),
    ],
)
def test_seniority_thresholds_are_checked(tmp_path: Path, seniority: str, words: str) -> None:
    path = write(
        tmp_path, f"seniority: {seniority}\ncriteria: [{{id: a, title: A, skill: rpc, points: 100}}]\n"
    )
    message = rejected(path)
    assert f"{path}:3: field 'seniority" in message and words in message


def test_rubric_seniority_replaces_the_roles(tmp_path: Path) -> None:
    role = ROLE + "seniority: [{level: senior, at_least: 80}, {level: mid, at_least: 60}]\n"
    path = write(
        tmp_path,
        "seniority: [{level: lead, at_least: 90}]\ncriteria: [{id: a, title: A, skill: rpc, points: 100}]\n",
        role,
    )
    rubric, profile = load_rubric(path)
    assert [s.level for s in seniority_of(rubric, profile)] == ["lead"]
    assert [s.level for s in profile.seniority] == ["senior", "mid"]


def test_threshold_bounds() -> None:
    both = MetricEvidence(kind="metric", name="clippy_warnings", at_least=1, at_most=3)
    assert [both.holds(v) for v in (0, 1, 3, 4)] == [False, True, True, False]
    assert both.describe() == "≥ 1 and ≤ 3"
    with pytest.raises(ValueError, match="nothing could meet it"):
        MetricEvidence(kind="metric", name="clippy_warnings", at_least=3, at_most=1)
