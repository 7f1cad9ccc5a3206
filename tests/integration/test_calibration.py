"""The grader proves itself: `harness calibrate kv-store` grades the reference five times and every mutant
once, exactly as candidates are graded, and passes only when each automated criterion is failed by some
mutant, every mutant fails what it must and nothing its mistake does not explain, and the reference's
criteria never flip (its total moving at most 2 points). The whole matrix is printed when it fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPEATS = 5


@pytest.mark.timeout(75 * 60)
def test_calibrate_proves_the_kv_store_grader(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "harness.cli", "calibrate", "kv-store", "--repeat", str(REPEATS),
         "--seed", "11", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=74 * 60,
        env={**os.environ, "COLUMNS": "160"},
    )  # fmt: skip
    assert (tmp_path / "calibration.json").is_file(), run.stderr[-4000:]
    matrix = json.loads((tmp_path / "calibration.json").read_text())
    assert run.returncode == 0 and matrix["passed"], "\n".join(matrix["problems"]) + "\n" + run.stdout[-8000:]
    reference = matrix["reference"]
    assert reference["runs"] == REPEATS and reference["flaky_criteria"] == []
    assert reference["total_spread"] <= 2
    assert all(matrix["killed_by"][criterion] for criterion in matrix["automated"])
    assert len(matrix["automated"]) >= 20 and len(matrix["mutants"]) >= 19
    # Every grade behind the matrix is kept for whoever needs to see why a cell is what it is.
    assert len(list(tmp_path.glob("reference/run-*/results.json"))) == REPEATS
    assert len(list(tmp_path.glob("mutants/*/results.json"))) == len(matrix["mutants"])
