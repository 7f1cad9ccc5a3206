"""`harness ci github|gitlab`: the files parse as YAML, do what the README says CI runs, and quote what
they are given."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from harness.ci_templates import CiSettings, Provider, render
from harness.cli import main
from harness.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
SETTINGS = CiSettings(exercise="kv-store", harness_repo="https://git.example/harness.git")


def _readme_ci_commands() -> list[str]:
    """The commands of the README's "For CI" code block (what the generated files must run)."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## For CI", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [line.strip() for line in block.splitlines() if line.strip()]


def _scripts(provider: Provider, document: dict[str, Any]) -> list[str]:
    if provider == "github":
        return [step["run"] for step in document["jobs"]["grade"]["steps"] if "run" in step]
    return list(document["harness"]["script"])


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_config_parses_and_runs_the_readme_commands(provider: Provider) -> None:
    document = yaml.safe_load(render(provider, SETTINGS))
    scripts = "\n".join(_scripts(provider, document))
    install, grade = _readme_ci_commands()
    assert install == "bash scripts/install"
    assert install in scripts
    # GitHub runs the README's grade line as it is; GitLab has no step summary and writes Markdown.
    expected = grade if provider == "github" else grade.split(" --summary")[0]
    assert expected.split(" --summary")[0] in scripts
    assert "--fail-under 70" in scripts and "--junit harness-junit.xml" in scripts
    if provider == "github":
        assert '--summary "$GITHUB_STEP_SUMMARY"' in scripts
        assert document["jobs"]["grade"]["env"]["HARNESS_REPO"] == SETTINGS.harness_repo
    else:
        assert document["harness"]["artifacts"]["reports"]["junit"] == "harness-junit.xml"
        assert document["harness"]["variables"]["HARNESS_REPO"] == SETTINGS.harness_repo


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_odd_values_are_quoted_not_injected(provider: Provider) -> None:
    settings = CiSettings(
        exercise="kv-store",
        harness_repo='https://git.example/h.git#"\n  evil: 1',
        submission="sub dir; rm -rf ~",
    )
    with pytest.raises(UsageError, match="not a git URL"):
        render(provider, settings)
    odd_repo = "https://git.example/h.git#x'y\"z:{w}"
    settings = CiSettings(exercise="kv-store", harness_repo=odd_repo, submission="a b;c")
    document = yaml.safe_load(render(provider, settings))
    variables = document["jobs"]["grade"]["env"] if provider == "github" else document["harness"]["variables"]
    assert variables["HARNESS_REPO"] == odd_repo
    lines = [line for script in _scripts(provider, document) for line in script.splitlines()]
    words = shlex.split(next(line for line in lines if "harness grade" in line))
    assert words[words.index("grade") + 1] == "a b;c"


def test_command_writes_the_default_path_and_refuses_to_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path):
        args = ["ci", "github", "-e", "kv-store", "--harness-repo", "https://git.example/harness.git"]
        first = runner.invoke(main, [*args, "--fail-under", "55"])
        assert first.exit_code == 0, first.output
        written = Path(".github/workflows/harness.yml").read_text()
        assert "--fail-under 55" in written
        again = runner.invoke(main, args)
        assert again.exit_code == 2 and "already exists" in again.output
        gitlab = runner.invoke(
            main, ["ci", "gitlab", "-e", "kv-store", "--harness-repo", "https://g/h.git", "-o", "ci.yml"]
        )
        assert gitlab.exit_code == 0 and yaml.safe_load(Path("ci.yml").read_text())["harness"]


def test_command_rejects_an_unknown_exercise_and_a_bad_threshold(tmp_path: Path) -> None:
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path):
        repo = ["--harness-repo", "https://g/h.git"]
        unknown = runner.invoke(main, ["ci", "github", "-e", "nope", *repo])
        assert unknown.exit_code == 2 and "unknown exercise 'nope'" in unknown.output
        bad = runner.invoke(main, ["ci", "github", "-e", "kv-store", "--fail-under", "120", *repo])
        assert bad.exit_code == 2 and "between 0 and 100" in bad.output
        assert not Path(".github").exists()
