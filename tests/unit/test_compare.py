"""`harness compare`: ranking, metrics from performance evidence, CSV and Markdown, the command."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner

from harness.cli import main
from harness.compare import metrics_of, rank, to_csv, to_markdown
from harness.report.json_report import write_result
from harness.report.model import GradeResult, ScenarioResult, SkillResult

from .results_factory import sample_result

PERFORMANCE_EVIDENCE = (
    "throughput: 21,000 req/s over 5 s, p50 900 µs, p99 4200 µs (uncorrected p99 4000 µs), errors 0, "
    "dropped 0\n"
    "reference on this machine: 42,000 req/s, p50 450 µs, p99 2100 µs"
)


def _result(total: float, *, complete: bool = True, evidence: str | None = None) -> GradeResult:
    base = sample_result(problems=() if complete else ("performance: harness error",))
    criteria = base.criteria
    if evidence is not None:
        slow = ScenarioResult(
            nodeid="p",
            name="test_throughput",
            criterion="performance",
            visibility="hidden",
            status="failed",
            duration_s=6.0,
            message="21,000 requests/s is 50% of the reference's 42,000 on this machine",
            evidence=evidence,
        )
        criteria = [base.criteria[0].model_copy(update={"scenarios": [slow]})]
    skills = [
        SkillResult(id="rpc", title="RPC protocols", points=total / 10, max_points=10),
        SkillResult(id="async", title="Async network services", points=0, max_points=0),
    ]
    return base.model_copy(update={"mode": "grade", "total": total, "criteria": criteria, "skills": skills})


def test_complete_results_rank_by_total_with_shared_ranks_and_incomplete_last() -> None:
    ranking = rank(
        [
            ("low", _result(40)),
            ("broken", _result(99, complete=False)),
            ("top", _result(90)),
            ("tie-b", _result(70)),
            ("tie-a", _result(70)),
        ]
    )
    assert [(r.rank, r.name) for r in ranking.rows] == [
        (1, "top"),
        (2, "tie-a"),
        (2, "tie-b"),
        (4, "low"),
        (None, "broken"),
    ]
    # A skill no result decided (0/0 everywhere) is not a column.
    assert ranking.skills == [("rpc", "RPC protocols")]


def test_performance_ratios_come_from_the_evidence() -> None:
    metrics = metrics_of(_result(50, evidence=PERFORMANCE_EVIDENCE))
    assert metrics == {"throughput req/s vs ref": 0.5, "throughput p99 vs ref": 2.0}
    # Without the figures, the share in the failure message is the fallback.
    assert metrics_of(_result(50, evidence="no figures here")) == {"req/s vs ref": 0.5}
    assert metrics_of(_result(50)) == {}


def test_csv_and_markdown_hold_every_row_and_column() -> None:
    ranking = rank([("top", _result(90, evidence=PERFORMANCE_EVIDENCE)), ("low|pipe", _result(40))])
    rows = list(csv.DictReader(io.StringIO(to_csv(ranking))))
    assert [r["name"] for r in rows] == ["top", "low|pipe"]
    assert rows[0]["rank"] == "1" and rows[0]["total"] == "90" and rows[0]["rpc"] == "9"
    assert rows[0]["rpc max"] == "10" and rows[0]["throughput req/s vs ref"] == "0.5"
    assert rows[1]["throughput req/s vs ref"] == "" and rows[1]["complete"] == "yes"
    markdown = to_markdown(ranking).splitlines()
    header_cells = markdown[0].count(" | ") + 1
    assert all(line.count(" | ") + 1 == header_cells for line in markdown[1:4])
    assert "low\\|pipe" in markdown[3], "a | in a cell is escaped, not a column break"


def test_compare_command_writes_csv_and_markdown(tmp_path: Path) -> None:
    write_result(_result(90), tmp_path / "batch" / "alice" / "results.json")
    write_result(_result(60), tmp_path / "batch" / "bob" / "results.json")
    result = CliRunner().invoke(
        main,
        [
            "compare",
            str(tmp_path / "batch"),
            "--csv",
            str(tmp_path / "r.csv"),
            "--md",
            str(tmp_path / "r.md"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "alice" in result.output and "RP = RPC protocols" in result.output
    assert (tmp_path / "r.csv").read_text().splitlines()[1].startswith("1,alice,90,")
    assert "| 2 | bob | 60 |" in (tmp_path / "r.md").read_text()


def test_compare_of_a_folder_without_results_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["compare", str(tmp_path)])
    assert result.exit_code == 2 and "no results in" in result.output
