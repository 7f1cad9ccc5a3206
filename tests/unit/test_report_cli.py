"""`harness report`, and the report options of grade and check: files written whole or not at all, the
step summary appended to, bad input one line and exit 2."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from junitparser import JUnitXml

from harness.cli import main
from harness.errors import UsageError
from harness.report.json_report import write_result
from harness.report.outputs import ReportTargets, write_reports

from .test_report_html import charted_result

FORMATS = ("html", "md", "junit", "gradescope")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture
def results(tmp_path: Path) -> Path:
    path = tmp_path / "out" / "results.json"
    write_result(charted_result(), path)
    return path


def test_report_writes_every_format_from_a_results_file(tmp_path: Path, results: Path) -> None:
    targets = {name: tmp_path / "reports" / f"report.{name}" for name in FORMATS}
    args = [arg for name, path in targets.items() for arg in (f"--{name}", str(path))]
    code, output = invoke("report", str(results), *args)
    assert code == 0, output
    assert "<svg" in targets["html"].read_text()
    assert targets["md"].read_text().startswith("## kv\\-store — grade: **50 / 100**")
    assert len(list(JUnitXml.fromfile(str(targets["junit"])))) == 4
    assert json.loads(targets["gradescope"].read_text())["score"] == 50.0
    assert all(f"report: {path}" in output for path in targets.values())


def test_report_accepts_the_out_folder_and_appends_the_summary(tmp_path: Path, results: Path) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    for _ in range(2):
        code, output = invoke("report", str(results.parent), "--summary", str(summary))
        assert code == 0, output
    text = summary.read_text()
    assert text.startswith("earlier step\n")
    assert text.count("## kv\\-store — grade") == 2


@pytest.mark.parametrize(
    ("make_args", "expected"),
    [
        pytest.param(
            lambda t, r: [str(t / "missing.json"), "--md", str(t / "r.md")], "cannot read", id="missing"
        ),
        pytest.param(
            lambda t, r: [str(t), "--md", str(t / "r.md")], "holds no results.json", id="empty-folder"
        ),
        pytest.param(lambda t, r: [str(r)], "no report asked for", id="nothing-asked"),
        pytest.param(lambda t, r: [str(r), "--html", str(t)], "is a folder", id="target-is-folder"),
        pytest.param(
            lambda t, r: [str(r), "--junit", str(r / "j.xml")], "is not a folder", id="parent-is-a-file"
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, results: Path, make_args: object, expected: str
) -> None:
    args = make_args(tmp_path, results)  # type: ignore[operator]
    code, output = invoke("report", *args)
    assert code == 2
    assert expected in output
    assert "Traceback" not in output and "Usage:" not in output
    assert len(output.strip().splitlines()) == 1


def test_something_else_than_results_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "package.json"
    other.write_text('{"name": "x"}')
    code, output = invoke("report", str(other), "--md", str(tmp_path / "r.md"))
    assert code == 2 and "is not a harness results file" in output
    assert not (tmp_path / "r.md").exists()


def test_grade_and_check_refuse_a_bad_report_path_before_grading(tmp_path: Path) -> None:
    for command in ("grade", "check"):
        code, output = invoke(command, str(tmp_path), "-e", "kv-store", "--md", str(tmp_path))
        assert code == 2, output
        assert f"--md {tmp_path} is a folder" in output
        assert len(output.strip().splitlines()) == 1


def test_grade_and_check_offer_every_report_option() -> None:
    for command in ("grade", "check", "report"):
        code, output = invoke(command, "--help")
        assert code == 0
        assert all(f"--{name} FILE" in output for name in (*FORMATS, "summary"))


def test_a_failed_write_keeps_the_previous_report_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    target.write_text("previous report")

    def disk_full(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("harness.report.json_report.os.replace", disk_full)
    with pytest.raises(UsageError, match=r"cannot write --html .*No space left on device"):
        write_reports(charted_result(), ReportTargets(html=target))
    assert target.read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no partial file left behind
