"""`harness ci github|gitlab`: write a CI configuration that installs the harness and grades on push.

The files are jinja2 templates shipped with the package (harness/templates/ci/). Every value put into
them passes a filter that quotes it for where it lands: `yaml` for YAML scalars, `shell` for a word of a
shell command, so an exercise or URL with odd characters cannot break the file or inject a step.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import jinja2

from harness.errors import UsageError
from harness.exercise import DEFAULT_EXERCISES_DIR
from harness.report.json_report import write_atomically
from harness.submission.git import is_git_url

Provider = Literal["github", "gitlab"]
DEFAULT_PATHS: dict[Provider, Path] = {
    "github": Path(".github/workflows/harness.yml"),
    "gitlab": Path(".gitlab-ci.yml"),
}
#: The commands the README gives; the tests hold the two to each other.
INSTALL_COMMAND = "bash scripts/install"


@dataclass(frozen=True)
class CiSettings:
    exercise: str
    harness_repo: str
    harness_ref: str = "main"
    submission: str = "."
    fail_under: float = 70.0
    junit: str = "harness-junit.xml"
    timeout_minutes: int = 60
    runner_tag: str = "harness"

    def grade_command(self) -> str:
        return f"harness grade {shlex.quote(self.submission)} -e {shlex.quote(self.exercise)}"


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("harness", "templates/ci"),
        autoescape=False,  # YAML, not HTML: values are quoted by the filters below instead
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["yaml"] = json.dumps  # a JSON string is a valid double-quoted YAML scalar
    environment.filters["shell"] = shlex.quote
    environment.filters["number"] = lambda value: f"{value:g}"
    return environment


def render(provider: Provider, settings: CiSettings) -> str:
    _validate(settings)
    template = _environment().get_template(f"{provider}.yml.j2")
    return template.render(
        **asdict(settings), install_command=INSTALL_COMMAND, grade_command=settings.grade_command()
    )


def _validate(settings: CiSettings) -> None:
    if not 0 <= settings.fail_under <= 100:
        raise UsageError(f"--fail-under {settings.fail_under:g} is not between 0 and 100")
    if not is_git_url(settings.harness_repo) or not _one_word(settings.harness_repo):
        raise UsageError(
            f"--harness-repo {settings.harness_repo!r} is not a git URL",
            hint="where CI can clone the harness from, e.g. https://git.example/harness.git",
        )
    for name in ("junit", "harness_ref", "runner_tag"):
        value = getattr(settings, name)
        if not _one_word(value):
            raise UsageError(f"--{name.replace('_', '-')} {value!r} must be one word")


def _one_word(value: str) -> bool:
    return bool(value) and not any(c.isspace() or not c.isprintable() for c in value)


def default_harness_repo() -> str | None:
    """Where this harness was cloned from (its git remote), the natural place for CI to clone it from."""
    root = DEFAULT_EXERCISES_DIR.parent
    try:
        found = subprocess.run(
            ["git", "-C", str(root), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    url = found.stdout.strip()
    return url if found.returncode == 0 and url else None


def write_config(provider: Provider, settings: CiSettings, path: Path | None, *, force: bool) -> Path:
    target = path or DEFAULT_PATHS[provider]
    text = render(provider, settings)
    if target.exists() and not force:
        raise UsageError(f"{target} already exists", hint="pass --force to replace it, or -o another path")
    write_atomically(target, text)
    return target
