"""The candidate kit: self-sufficient for `harness check`, and nothing hidden in any file of it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.exercise import Exercise, load_exercise
from harness.kit import export_kit
from harness.rubric.model import load_rubric


@pytest.fixture(scope="module")
def exercise() -> Exercise:
    return load_exercise("kv-store")


@pytest.fixture(scope="module")
def kit(exercise: Exercise, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_kit(exercise, tmp_path_factory.mktemp("kits") / "kv-store-kit")


def _kit_files(kit: Path) -> dict[Path, bytes]:
    return {p.relative_to(kit): p.read_bytes() for p in sorted(kit.rglob("*")) if p.is_file()}


def _test_names(files: list[Path]) -> set[str]:
    return {m for f in files for m in re.findall(r"^def (test_\w+)", f.read_text(), re.M)}


def test_kit_holds_the_brief_public_scenarios_starter_and_instructions(kit: Path, exercise: Exercise) -> None:
    files = set(_kit_files(kit))
    assert (kit / "README.md").read_bytes() == exercise.brief.read_bytes()
    public = {Path("scenarios/public") / f.name for f in exercise.scenario_files("public")}
    assert public <= files
    assert {Path("scenarios/conftest.py"), Path("KIT.md"), Path("starter/Cargo.toml")} <= files
    assert Path("starter/Cargo.lock") in files, "the grader builds with --locked"
    assert "harness check starter -e ." in (kit / "KIT.md").read_text()


def test_kit_loads_as_an_exercise_with_only_the_public_criteria(kit: Path, exercise: Exercise) -> None:
    loaded = load_exercise(str(kit))
    assert loaded.name == exercise.name and loaded.spec.service == exercise.spec.service
    assert loaded.spec.performance is None and loaded.spec.sample is None
    assert [f.name for f in loaded.scenario_files("public")] == [
        f.name for f in exercise.scenario_files("public")
    ]
    assert loaded.scenario_files("hidden") == []
    kit_rubric, _ = load_rubric(loaded.rubric_path)
    full_rubric, _ = load_rubric(exercise.rubric_path)
    public = [c for c in full_rubric.criteria if c.visibility == "public"]
    assert [c for c in kit_rubric.criteria if c.visibility == "public"] == public
    (stand_in,) = [c for c in kit_rubric.criteria if c.visibility == "hidden"]
    assert stand_in.points == pytest.approx(100 - sum(c.points for c in public))


def test_no_file_of_the_kit_reveals_anything_hidden(kit: Path, exercise: Exercise) -> None:
    rubric = yaml.safe_load(exercise.rubric_path.read_text())
    hidden = [c for c in rubric["criteria"] if c.get("visibility", "hidden") == "hidden"]
    assert hidden, "the exercise has hidden criteria to keep out"
    hidden_scenarios = exercise.scenario_files("hidden")
    secret_files = [
        *hidden_scenarios,
        *(p for p in (exercise.root / "reference").rglob("*") if p.is_file() and "target" not in p.parts),
        *(p for p in (exercise.root / "mutants").rglob("*") if p.is_file()),
    ]
    secret_contents = {p.read_bytes() for p in secret_files}
    public_names = _test_names(exercise.scenario_files("public"))
    needles = {
        # Hidden criteria: titles anywhere; ids where a rubric or a scenario would name them (single
        # words such as "durability" are also ordinary words of the brief).
        *(c["title"] for c in hidden),
        *(f'"{c["id"]}"' for c in hidden),
        *(f"'{c['id']}'" for c in hidden),
        *(f"id: {c['id']}\n" for c in hidden),
        # Hidden scenarios by file and by test name, the reference solution, the mutants.
        *(p.name for p in hidden_scenarios),
        *(_test_names(hidden_scenarios) - public_names),
        "kv-store-reference",
        *(p.name for p in (exercise.root / "mutants").glob("*.patch")),
        "mutants.yaml",
    }
    # main.rs is every Rust program's name: the starter's has its own content (checked above).
    secret_names = {p.name for p in secret_files if p.suffix in (".py", ".patch", ".rs")} - {"main.rs"}
    found = []
    for relative, content in _kit_files(kit).items():
        assert content not in secret_contents, f"{relative} is a copy of a hidden file"
        assert relative.name not in secret_names, f"{relative} has the name of a hidden file"
        text = content.decode("utf-8", errors="replace")
        found += [f"{relative}: {needle!r}" for needle in needles if needle in text]
    assert found == []


def test_kit_command_refuses_a_folder_with_content(tmp_path: Path) -> None:
    (tmp_path / "kit").mkdir()
    (tmp_path / "kit" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(main, ["kit", "kv-store", "-o", str(tmp_path / "kit")])
    assert result.exit_code == 2 and "already exists" in result.output
    assert (tmp_path / "kit" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kit"], "no staging folder left behind"
