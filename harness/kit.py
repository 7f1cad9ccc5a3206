"""`harness kit EXERCISE -o DIR`: what a candidate is sent, and all `harness check` needs from it.

The kit is itself an exercise folder, cut down to its public part::

    DIR/KIT.md                 how to start, check and submit
    DIR/README.md              the brief, as in the exercise
    DIR/exercise.yaml          the service contract and limits (no performance profiles, no sample)
    DIR/rubric.yaml, roles/    the public criteria, and one stand-in for the hidden ones (see below)
    DIR/scenarios/conftest.py  the helpers the scenarios use
    DIR/scenarios/public/      the public scenarios
    DIR/<kit.include>          support code the public scenarios import, at the same place as in the
                               exercise (exercise.yaml `kit: {include: [oracle]}`)
    DIR/starter/               a Cargo project to start from

so `harness check DIR/starter -e DIR` works from it alone. Nothing hidden is copied: no hidden scenario,
no reference solution, no mutant, and no hidden criterion's id or title (their points become one stand-in
criterion, because a rubric's points must add up to 100; `check` never shows hidden criteria).
The kit is written to a staging folder and moved into place, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from harness.errors import UsageError
from harness.exercise import MAIN_PORT, Exercise, load_exercise
from harness.rubric.model import TOTAL_POINTS, load_rubric

#: exercise.yaml keys a candidate's check needs; `performance` and `sample` name the reference solution.
EXERCISE_KEYS = ("name", "title", "time_box", "skills", "service", "build", "run")
HIDDEN_STAND_IN = "hidden-part"
STARTER = "starter"
#: Never copied: build output, caches, version control.
_JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "target", ".git")


def export_kit(exercise: Exercise, out: Path) -> Path:
    """Write the candidate kit of `exercise` to `out` (which must not exist or be empty)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} already exists and is not an empty folder", hint="choose a new -o folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _write(exercise, staging)
        # Proof the kit is self-sufficient: it loads as an exercise with its rubric, as `check` will.
        load_rubric(load_exercise(str(staging)).rubric_path)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _write(exercise: Exercise, kit: Path) -> None:
    shutil.copyfile(exercise.brief, kit / "README.md")
    spec = {k: v for k, v in _yaml(exercise.root / "exercise.yaml").items() if k in EXERCISE_KEYS}
    spec["rubric"] = "rubric.yaml"
    _dump(kit / "exercise.yaml", spec, "The public part of the exercise, for `harness check`.")
    rubric = _public_rubric(exercise.rubric_path)
    _dump(kit / "rubric.yaml", rubric, "The public criteria; hidden ones are graded by `harness grade` only.")
    role = exercise.rubric_path.parent / "roles" / f"{rubric['role']}.yaml"
    (kit / "roles").mkdir()
    shutil.copyfile(role, kit / "roles" / role.name)
    scenarios = kit / "scenarios"
    public = exercise.scenario_dir("public")
    if not public.is_dir():
        raise UsageError(f"exercise '{exercise.name}' has no public scenarios", hint=f"expected {public}")
    shutil.copytree(public, scenarios / "public", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shared = exercise.root / "scenarios" / "conftest.py"
    if shared.is_file():
        shutil.copyfile(shared, scenarios / "conftest.py")
    included = _copy_includes(exercise, kit)
    starter = exercise.root / STARTER
    if starter.is_dir():
        shutil.copytree(starter, kit / STARTER, ignore=shutil.ignore_patterns("target", ".git"))
    instructions = kit_instructions(exercise, rubric, has_starter=starter.is_dir(), included=included)
    (kit / "KIT.md").write_text(instructions, "utf-8")


def _secret_paths(exercise: Exercise) -> list[Path]:
    """What a kit must never hold: hidden scenarios, mutants, reference and sample solutions."""
    paths = [exercise.scenario_dir("hidden"), exercise.root / "mutants", exercise.root / "reference"]
    paths += [p for p in (exercise.reference_path, exercise.sample_path) if p is not None]
    return [p.resolve() for p in paths]


def _copy_includes(exercise: Exercise, kit: Path) -> list[str]:
    """Copy exercise.yaml's `kit.include` entries to the same places in the kit; their relative paths.

    Listing a folder declares it public, but a listing cannot reach what is hidden: an entry that is,
    holds or lies inside hidden material, or holds a symlink (which could point at it), is refused.
    """
    root = exercise.root.resolve()
    copied = []
    for entry in exercise.spec.kit.include:
        source = (root / entry).resolve()
        where = f"exercise.yaml kit.include '{entry}'"
        if not source.is_relative_to(root) or source == root:
            raise UsageError(f"{where} is not inside the exercise folder")
        if not source.exists():
            raise UsageError(f"{where} does not exist", hint=f"expected {source}")
        if source.is_relative_to(root / "scenarios"):
            raise UsageError(f"{where}: the kit copies scenarios/public and scenarios/conftest.py itself")
        for secret in _secret_paths(exercise):
            if source.is_relative_to(secret) or secret.is_relative_to(source):
                raise UsageError(
                    f"{where} overlaps {os.path.relpath(secret, root)}, which the kit must not hold",
                    hint="include only the support code the public scenarios import",
                )
        if source.is_dir() and (link := next((p for p in source.rglob("*") if p.is_symlink()), None)):
            raise UsageError(f"{where} holds a symlink ({link.relative_to(root)}); copy the file instead")
        target = kit / PurePosixPath(entry)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=_JUNK)
        else:
            shutil.copyfile(source, target)
        copied.append(str(PurePosixPath(entry)) + ("/" if source.is_dir() else ""))
    return copied


def _yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise UsageError(f"{path} is not a YAML mapping")
    return loaded


def _dump(path: Path, data: dict[str, Any], comment: str) -> None:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    path.write_text(f"# {comment}\n{text}", encoding="utf-8")


def _public_rubric(path: Path) -> dict[str, Any]:
    """The rubric with its public criteria as they are and the hidden ones folded into one stand-in.

    Only `exercise`, `role` and `criteria` are kept: other rubric settings (seniority thresholds, gate
    caps) are about the whole grade, not about what a candidate can check.
    """
    load_rubric(path)  # the source must be valid before a slice of it is
    rubric = _yaml(path)
    criteria = [c for c in rubric["criteria"] if c.get("visibility", "hidden") == "public"]
    if not criteria:
        raise UsageError(f"{path} has no public criteria: a candidate kit would check nothing")
    hidden_points = TOTAL_POINTS - sum(float(c["points"]) for c in criteria)
    if hidden_points > 0:
        criteria.append(
            {
                "id": HIDDEN_STAND_IN,
                "title": "Hidden scenarios (graded by `harness grade` only; not in this kit)",
                "skill": criteria[0]["skill"],
                "points": round(hidden_points, 6),
                "visibility": "hidden",
            }
        )
    return {"exercise": rubric["exercise"], "role": rubric["role"], "criteria": criteria}


def kit_instructions(
    exercise: Exercise, rubric: dict[str, Any], *, has_starter: bool, included: list[str] | None = None
) -> str:
    spec = exercise.spec
    public = [c for c in rubric["criteria"] if c["visibility"] == "public"]
    rows = "\n".join(f"| `{c['id']}` | {c['title']} | {c['points']:g} |" for c in public)
    start = (
        f"`{STARTER}/` is a small Cargo project that builds and answers `PING`, and little else. Start from "
        "it or from scratch; either way keep one binary target and commit `Cargo.lock`."
        if has_starter
        else "Create a Cargo project with one binary target and commit `Cargo.lock`."
    )
    project = STARTER if has_starter else "path/to/your/project"
    extra = [p for p in spec.service.ports() if p.name != MAIN_PORT]
    other_ports = (
        "\nWith `--address`, the server's other ports are expected at their defaults ("
        + ", ".join(f"`{p.name}` at {p.number}" for p in extra)
        + ");\nsay `--port NAME=PORT` for one that listens elsewhere.\n"
        if extra
        else ""
    )
    support = "".join(f"| `{path}` | code the public scenarios import |\n" for path in included or [])
    return f"""# {spec.title} — candidate kit

Time box: {spec.time_box}. Read `README.md` first: it is the brief, with the service contract and how
you are graded.

## What is here

| path | what it is |
| --- | --- |
| `README.md` | the brief |
| `{STARTER}/` | a starting point (see below) |
| `scenarios/public/` | the public scenarios: plain pytest files, read them to see exactly what is checked |
{support}| `exercise.yaml`, `rubric.yaml`, `roles/` | what `harness check` needs to run them |

{start}

## Check your work

You need Linux with Docker, Python 3.11+ and a Rust toolchain (rustup). Install the harness from the
copy or link you were given (`bash scripts/install` in its folder), then `harness doctor` says whether
this machine is ready. From this folder:

```sh
harness check {project} -e .            # build it as the grader does, run the public scenarios
harness check {project} -e . -k ping    # only the scenarios whose name matches
harness check -e . --address 127.0.0.1:{spec.service.port}   # a server you started yourself (cargo run)
```
{other_ports}
The first build creates the harness's images (a few minutes, once). `check` prints a scorecard of the
public criteria and, for every scenario that did not pass, what was sent, what came back, and a command
that reproduces it against your own server. Each run also writes `harness-results/results.json`.

## What the public scenarios check

| criterion | what | points |
| --- | --- | ---: |
{rows}

The graded run adds hidden scenarios of the same kind that cover the edges listed in the brief
(section "How you are graded"). Passing every public scenario is a start, not the whole grade.

## Submitting

Send the project folder (or a git repository, or a `.tar.gz`/`.zip` of it) without `target/`.
"""
