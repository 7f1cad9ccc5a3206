from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Everything under tests/integration needs a real Docker engine.
    for item in items:
        if "integration" in Path(str(item.path)).parts:
            item.add_marker(pytest.mark.docker)
