"""`harness kit EXERCISE -o DIR`: what a candidate is sent, and all `harness check` needs from it.

The kit is itself an exercise folder, cut down to its public part::

    DIR/KIT.md                 how to start, check and submit
    DIR/README.md              the brief, as in the exercise
    DIR/exercise.yaml          the service contract and limits (no performance profiles, no sample)
    DIR/rubric.yaml, roles/    the public criteria, and one stand-in for the hidden ones (see below)
    DIR/scenarios/conftest.py  the helpers the scenarios use
    DIR/scenarios/public/      the public scenarios
    DIR/starter/               a Cargo project to start from

so `harness check DIR/starter -e DIR` works from it alone. Nothing hidden is copied: no hidden scenario,
no reference solution, no mutant, and no hidden criterion's id or title (their points become one stand-in
criterion, because a rubric's points must add up to 100; `check` never shows hidden criteria).
The kit is written to a staging folder and moved into place, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from harness.errors import UsageError
from harness.exercise import Exercise, load_exercise
from harness.rubric.model import TOTAL_POINTS, load_rubric

#: exercise.yaml keys a candidate's check needs; `performance` and `sample` name the reference solution.
EXERCISE_KEYS = ("name", "title", "time_box", "skills", "service", "build", "run")
HIDDEN_STAND_IN = "hidden-part"
STARTER = "starter"


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
    starter = exercise.root / STARTER
    if starter.is_dir():
        shutil.copytree(starter, kit / STARTER, ignore=shutil.ignore_patterns("target", ".git"))
    (kit / "KIT.md").write_text(kit_instructions(exercise, rubric, has_starter=starter.is_dir()), "utf-8")


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


def kit_instructions(exercise: Exercise, rubric: dict[str, Any], *, has_starter: bool) -> str:
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
    return f"""# {spec.title} — candidate kit

Time box: {spec.time_box}. Read `README.md` first: it is the brief, with the service contract and how
you are graded.

## What is here

| path | what it is |
| --- | --- |
| `README.md` | the brief |
| `{STARTER}/` | a starting point (see below) |
| `scenarios/public/` | the public scenarios: plain pytest files, read them to see exactly what is checked |
| `exercise.yaml`, `rubric.yaml`, `roles/` | what `harness check` needs to run them |

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
