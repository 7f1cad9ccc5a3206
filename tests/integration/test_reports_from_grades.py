"""Reports of real grades: the kv-store reference and mini-redis graded through the CLI with every report
option; the JUnit file parses, the Gradescope file matches the documented format, and the HTML opens in
headless Chromium with the scorecard and a latency plot whose fault window is shaded (screenshots kept in
test-artifacts/)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml

from tests.unit.test_report_formats import GRADESCOPE_SCHEMA

from .conftest import REPO, SUBMISSIONS
from .test_report_browser import ARTIFACTS, DevTools, browser  # noqa: F401  (the fixture)

#: The basics, the scenarios that draw plots (load through a partition; throughput) and pub/sub, where
#: mini-redis keeps passing; quick enough for the suite, varied enough for every report section.
KV = REPO / "exercises" / "kv-store"
KEYWORD = "basics or linearizable or throughput or pubsub"


@pytest.mark.parametrize("submission", ["reference", "mini-redis"])
def test_a_real_grade_renders_in_every_format(submission: str, tmp_path: Path, browser: DevTools) -> None:  # noqa: F811
    path = KV / "reference" if submission == "reference" else SUBMISSIONS / "mini-redis"
    reports = {
        name: tmp_path / f"report.{ext}"
        for name, ext in (("html", "html"), ("md", "md"), ("junit", "xml"), ("gradescope", "json"))
    }
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "grade",
        str(path),
        "-e",
        "kv-store",
        "-k",
        KEYWORD,
        "--seed",
        "5",
        "--out",
        str(tmp_path / "out"),
        "--summary",
        str(summary),
    ]
    for name, target in reports.items():
        command += [f"--{name}", str(target)]
    graded = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert graded.returncode == 0, graded.stderr
    result = json.loads((tmp_path / "out" / "results.json").read_text())

    # JUnit: parses, one testcase per scenario that ran, failures apart from errors.
    xml = JUnitXml.fromfile(str(reports["junit"]))
    cases = [case for suite in xml for case in suite]
    ran = [s for c in result["criteria"] for s in c["scenarios"]]
    assert len(cases) == len(ran) > 0
    failures = sum(any(isinstance(r, Failure) for r in case.result) for case in cases)
    assert failures == sum(s["status"] == "failed" for s in ran)
    assert not any(isinstance(r, Error) for case in cases for r in case.result)

    # Gradescope: the documented format; one test per decided criterion with its points; the score is
    # the total out of 100 over what was decided (it overrides the tests' sum there).
    gradescope = json.loads(reports["gradescope"].read_text())
    jsonschema.validate(gradescope, GRADESCOPE_SCHEMA)
    decided = [c for c in result["criteria"] if c["status"] in ("passed", "partial", "failed")]
    assert [t["score"] for t in gradescope["tests"]] == pytest.approx(
        [c["points"] for c in decided], abs=0.01
    )
    assert gradescope["score"] == pytest.approx(result["total"], abs=0.01)

    # Markdown appended to the step summary, after what was there.
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "grade: **" in text and "|" in text
    assert reports["md"].read_text().strip() in text

    # HTML: renders with its scorecard and plots, the partition shaded, nothing fetched.
    url = reports["html"].resolve().as_uri()
    browser.open(url, "Network")
    assert browser.evaluate("document.querySelectorAll('#scorecard tr').length") >= 3
    plots = browser.evaluate(
        "[...document.querySelectorAll('#plots figure')].map(f => [f.textContent, "
        "f.querySelector('svg').getBoundingClientRect().height])"
    )
    assert plots and all(height > 100 for _, height in plots), plots
    assert any("shaded: partition" in " ".join(caption.split()) for caption, _ in plots), plots
    assert browser.requested() == [url], browser.requested()
    shot = base64.b64decode(
        browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
    )
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"report-{submission}.png").write_bytes(shot)
