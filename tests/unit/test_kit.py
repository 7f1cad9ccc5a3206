"""The candidate kit: self-sufficient for `harness check`, and nothing hidden in any file of it."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.errors import UsageError
from harness.exercise import Exercise, load_exercise
from harness.kit import export_kit
from harness.rubric.model import load_rubric
from harness.scenario.runner import run_scenarios
from harness.scenario.service import ExternalServiceFactory
from harness.scenario.session import ScenarioSession


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


# --- support packages the public scenarios import (exercise.yaml `kit: {include: [...]}`) ----------------

SUPPORT_SCENARIO = """
import pytest


@pytest.mark.criterion("basics")
def test_support_package_is_importable():
    import oracle
    assert oracle.MODEL == "public model"
"""

PATH_INSERT = """
import sys
from pathlib import Path

EXERCISE = Path(__file__).resolve().parents[1]
if str(EXERCISE) not in sys.path:
    sys.path.insert(0, str(EXERCISE))
"""


def exercise_with_support(root: Path, include: str = "[oracle]") -> Exercise:
    """kv-store with an `oracle` package its public scenarios import, declared for the kit."""
    source = load_exercise("kv-store")
    folder = root / "exercises" / "kv-store"
    shutil.copytree(source.root, folder, ignore=shutil.ignore_patterns("target", "__pycache__"))
    shutil.copytree(source.rubric_path.parent, root / "rubrics")
    spec = folder / "exercise.yaml"
    spec.write_text(spec.read_text() + f"kit:\n  include: {include}\n")
    conftest = folder / "scenarios" / "conftest.py"
    conftest.write_text(conftest.read_text() + PATH_INSERT)
    (folder / "scenarios" / "public" / "test_support.py").write_text(SUPPORT_SCENARIO)
    (folder / "oracle" / "__pycache__").mkdir(parents=True)
    (folder / "oracle" / "__init__.py").write_text('MODEL = "public model"\n')
    (folder / "oracle" / "__pycache__" / "stale.pyc").write_bytes(b"\0")
    return load_exercise(str(folder))


def test_declared_support_packages_are_in_the_kit_and_importable_there(tmp_path: Path) -> None:
    exercise = exercise_with_support(tmp_path)
    kit = export_kit(exercise, tmp_path / "kit")
    assert (kit / "oracle" / "__init__.py").read_text() == 'MODEL = "public model"\n'
    assert not (kit / "oracle" / "__pycache__").exists()
    assert "| `oracle/` | code the public scenarios import |" in (kit / "KIT.md").read_text()
    # The kit's scenarios find it as the exercise's do: run one against the kit.
    kit_exercise = load_exercise(str(kit))
    session = ScenarioSession(
        exercise=kit_exercise,
        services=ExternalServiceFactory("127.0.0.1", 1),
        seed=1,
        known_criteria=frozenset({"basics"}),
    )
    before = sys.modules.get("oracle")  # other tests may have imported matching-engine's
    (result,) = run_scenarios([kit / "scenarios" / "public" / "test_support.py"], session)
    assert result.status == "passed", result.message
    assert sys.modules.get("oracle") is before, "the kit's support package is forgotten after the run"


@pytest.mark.parametrize(
    ("include", "message"),
    [
        pytest.param("[reference]", "overlaps reference", id="reference"),
        pytest.param("[reference/src]", "overlaps reference", id="inside-reference"),
        pytest.param("[mutants]", "overlaps mutants", id="mutants"),
        pytest.param("[scenarios]", "copies scenarios/public", id="scenarios"),
        pytest.param("[scenarios/hidden]", "copies scenarios/public", id="hidden"),
        pytest.param("[missing]", "does not exist", id="missing"),
        pytest.param("[linked]", "holds a symlink", id="symlink"),
        pytest.param("[escape]", "not inside the exercise folder", id="symlink-out"),
    ],
)
def test_an_include_cannot_reach_hidden_material(tmp_path: Path, include: str, message: str) -> None:
    exercise = exercise_with_support(tmp_path / "ex", include)
    (exercise.root / "linked").mkdir()
    (exercise.root / "linked" / "ref").symlink_to(exercise.root / "reference")
    (exercise.root / "escape").symlink_to(tmp_path)
    with pytest.raises(UsageError, match=message):
        export_kit(exercise, tmp_path / "kit")
    assert not (tmp_path / "kit").exists()
