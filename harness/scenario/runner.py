"""Runs an exercise's scenarios in-process with pytest and the harness plugin."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from harness.errors import ExerciseError, InfrastructureError
from harness.report.model import ScenarioResult
from harness.scenario import plugin
from harness.scenario.session import SESSION_KEY, ScenarioSession

DEFAULT_SCENARIO_TIMEOUT_S = 60


class _SessionInjector:
    """Puts the run's state into `config.stash` before anything else reads it."""

    def __init__(self, session: ScenarioSession) -> None:
        self._session = session

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[SESSION_KEY] = self._session


def pytest_args(files: Iterable[Path], rootdir: Path, extra: Iterable[str] = ()) -> list[str]:
    return [
        *(str(f) for f in files),
        "--rootdir",
        str(rootdir),
        # Fresh imports on every run (batch grading runs pytest many times in one process).
        "--import-mode=importlib",
        "-p",
        "no:cacheprovider",
        # Only sys-level capture: the harness's live progress keeps writing to the real terminal.
        "--capture=sys",
        "-o",
        f"timeout={DEFAULT_SCENARIO_TIMEOUT_S}",
        "-o",
        "timeout_method=signal",
        "-c",
        "/dev/null",
        *extra,
    ]


def _forget_modules_under(root: Path) -> None:
    """Drop the scenario modules this run imported. Their names come from paths relative to the exercise
    (`scenarios.public.test_x`), which other exercises may share; a cached module would shadow theirs.
    The same goes for support packages a conftest imports from the exercise folder (`oracle`)."""
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if filename and Path(filename).resolve().is_relative_to(root):
            del sys.modules[name]


#: Never set aside for a run: the run itself needs them (a support package named so could not be
#: imported from the exercise folder anyway, as they are imported long before).
_RUNNER_MODULES = frozenset({"harness", "pytest", "_pytest", "pluggy"}) | sys.stdlib_module_names


def _top_level_names(root: Path) -> set[str]:
    """Modules and packages at the top of the exercise folder (`oracle/`): what its conftest may import."""
    packages = {p.name for p in root.iterdir() if (p / "__init__.py").is_file()}
    return (packages | {p.stem for p in root.glob("*.py")}) - _RUNNER_MODULES


@contextlib.contextmanager
def _isolated_imports(root: Path) -> Iterator[None]:
    """Support packages a scenario conftest imports from its exercise folder, kept to that run.

    The conftest puts the folder on sys.path (only when it is not there already) and imports, say,
    `oracle`. Before the run, a module of that name imported from elsewhere (another exercise's, a kit's)
    is set aside, or the import would find it in sys.modules; after it, sys.path, the run's own modules
    and whatever was set aside are put back as they were."""
    saved_path = list(sys.path)
    names = _top_level_names(root)
    set_aside = {n: m for n, m in sys.modules.items() if n.partition(".")[0] in names}
    for name in set_aside:
        del sys.modules[name]
    try:
        yield
    finally:
        sys.path[:] = saved_path
        _forget_modules_under(root)
        sys.modules.update(set_aside)


def run_scenarios(
    files: list[Path], session: ScenarioSession, *, log_path: Path | None = None, keyword: str | None = None
) -> list[ScenarioResult]:
    """Run the given scenario files; return one result per scenario in run order."""
    if not files:
        return []
    extra = ["-k", keyword] if keyword else []
    args = pytest_args(files, session.exercise.root, extra)
    output = io.StringIO()
    with _isolated_imports(session.exercise.root), contextlib.redirect_stdout(output):
        code = pytest.main(args, plugins=[_SessionInjector(session), plugin])
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(output.getvalue(), encoding="utf-8")
    if session.collection_problems:
        raise ExerciseError(
            f"scenarios of '{session.exercise.name}' are malformed: {session.collection_problems[0]}",
            hint=f"{len(session.collection_problems)} problem(s) in all",
        )
    if code == pytest.ExitCode.INTERRUPTED:
        raise KeyboardInterrupt
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        tail = output.getvalue()[-2000:]
        raise InfrastructureError(f"pytest could not run the scenarios (exit {int(code)})", details=tail)
    return list(session.results)
