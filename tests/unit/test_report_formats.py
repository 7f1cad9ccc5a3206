"""Markdown, JUnit XML and Gradescope reports: hostile candidate text stays inert, outcomes keep their
meaning (a harness error is never a candidate failure, undecided is never zero), formats validate."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped
from pydantic import BaseModel

from harness.report.extras import extra_fields
from harness.report.gradescope_report import gradescope_results, render_gradescope
from harness.report.html_report import render_html
from harness.report.junit_report import render_junit
from harness.report.markdown_report import render_markdown
from harness.report.model import CriterionResult
from harness.report.text import md_block, md_inline

from .test_report_html import HOSTILE, charted_result

# GitHub acts on `::cmd` at a line's start (after whitespace) and `##[cmd]`; Azure on `##vso[` anywhere.
WORKFLOW_COMMAND = re.compile(r"^\s*::|^\s*##\[|##vso\[", re.MULTILINE | re.IGNORECASE)


# --- Markdown ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "forbidden"),
    [
        pytest.param("a | b", "a | b", id="pipe"),
        pytest.param("`code`", "`code`", id="backticks"),
        pytest.param("<img src=x onerror=alert(1)>", "<img", id="html"),
        pytest.param("[click](https://evil.example)", "](", id="link"),
        pytest.param("![x](https://evil.example/pixel.png)", "![", id="image"),
        pytest.param("**bold** _em_", "**bold**", id="emphasis"),
        pytest.param("\x1b[31mred", "\x1b", id="ansi"),
    ],
)
def test_md_inline_leaves_nothing_to_interpret(raw: str, forbidden: str) -> None:
    assert forbidden not in md_inline(raw)


def test_md_inline_keeps_a_table_cell_on_one_line() -> None:
    cell = md_inline("line one\nline two\r\n::error::three")
    assert "\n" not in cell and "\r" not in cell
    assert cell.count("<br>") == 2


def test_md_block_cannot_be_closed_early() -> None:
    block = md_block("before\n````\nafter ``` still inside")
    fence = block.splitlines()[0]
    assert fence == "`````" and block.endswith("\n`````")
    assert block.count(fence) == 2


def test_markdown_report_is_well_formed_and_inert() -> None:
    text = render_markdown(charted_result())
    assert not WORKFLOW_COMMAND.search(text), WORKFLOW_COMMAND.search(text)
    assert "\x1b" not in text
    # Outside fenced code blocks (whose content is shown verbatim), no candidate HTML at all.
    prose = re.sub(r"^(`{3,})[^\n]*\n.*?^\1$", "", text, flags=re.MULTILINE | re.DOTALL)
    assert "```" not in prose, "a fence was left open or closed early"
    assert "<script" not in prose and "<img" not in prose and "&lt;script&gt;" in prose
    tables = [line for line in text.splitlines() if line.startswith("|")]
    assert tables and all(line.endswith("|") for line in tables)
    # Every row of the criterion table has as many cells as its header: no pipe leaked from a cell.
    criterion_rows = [line for line in tables if "hidden" in line or "public" in line]
    assert len(criterion_rows) == 4
    assert {len(re.split(r"(?<!\\)\|", row)) for row in criterion_rows} == {8}


def test_markdown_shows_undecided_criteria_as_such() -> None:
    text = render_markdown(charted_result())
    assert "| unknown (of 15) |" in text and "| error (of 25) |" in text
    assert "0 / 15" not in text and "0 / 25" not in text
    assert "**Incomplete grade:**" in text and "40 points undecided" in text


def test_markdown_stays_under_a_comment_limit() -> None:
    result = charted_result(hostile="x" * 5_000)
    many = result.criteria[1].model_copy(update={"scenarios": result.criteria[1].scenarios * 200})
    big = result.model_copy(update={"criteria": [*result.criteria, many]})
    text = render_markdown(big, max_chars=20_000)
    assert len(text) <= 20_000
    assert "more: see the HTML report" in text


# --- JUnit XML -----------------------------------------------------------------------------------------


def test_junit_keeps_failure_error_and_skipped_apart() -> None:
    xml = JUnitXml.fromstring(render_junit(charted_result()))
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == {
        "basics: Basics",
        "linearizability: Linearizable under faults",
        "performance: Performance",
        "durability: Durability",
    }
    outcome = {case.name: [type(r) for r in case.result] for suite in xml for case in suite}
    assert outcome == {
        "test_get_after_set": [Failure],
        "test_registers_are_linearizable": [Failure],
        "test_throughput": [Skipped],
        "test_fsync": [Error],
    }
    durability = suites["durability: Durability"]
    assert (durability.errors, durability.failures) == (1, 0)
    assert xml.failures == 2 and xml.errors == 1 and xml.skipped == 1


def test_junit_properties_say_how_to_replay() -> None:
    xml = JUnitXml.fromstring(render_junit(charted_result()))
    for suite in xml:
        properties = {p.name: p.value for p in suite.properties()}
        assert properties["seed"] == "42" and properties["exercise"] == "kv-store"
        assert properties["image_digest"] == "sha256:" + "ab" * 32 and properties["harness_version"] == "0"
    performance = next(s for s in xml if s.name.startswith("performance"))
    assert {p.name: p.value for p in performance.properties()}["points"] == "undecided/15"


def test_junit_carries_hostile_text_as_valid_inert_xml() -> None:
    text = render_junit(charted_result(hostile=HOSTILE + "\x00\x07\ud800\ufffe"))
    xml = JUnitXml.fromstring(text)  # parses: no character XML forbids
    case = next(c for s in xml for c in s if c.name == "test_registers_are_linearizable")
    failure = case.result[0]
    assert "<script>" in failure.message  # the text, escaped by the XML writer, read back as text
    assert "\x1b" not in text and not WORKFLOW_COMMAND.search(text)
    assert "printf" not in (failure.text or "") or "reproduce:" in (failure.text or "")


# --- Gradescope ----------------------------------------------------------------------------------------

VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
#: Gradescope's autograder results format, as its documentation ("Autograder Specifications") lays it out.
GRADESCOPE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"},
        "max_score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "output_format": FORMAT,
        "test_output_format": FORMAT,
        "test_name_format": FORMAT,
        "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "score": {"type": "number"},
                    "max_score": {"type": "number"},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string"},
                    "name_format": FORMAT,
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "output_format": FORMAT,
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": VISIBILITY,
                    "extra_data": {"type": "object"},
                },
            },
        },
        "leaderboard": {"type": "array"},
    },
    # A score at the top, or on every test.
    "anyOf": [
        {"required": ["score"]},
        {"required": ["tests"], "properties": {"tests": {"items": {"required": ["score"]}}}},
    ],
}


def test_gradescope_results_match_the_documented_format() -> None:
    document = json.loads(render_gradescope(charted_result()))
    jsonschema.validate(document, GRADESCOPE_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail: a wrong status is refused
        broken = {**document, "tests": [{**document["tests"][0], "status": "error"}]}
        jsonschema.validate(broken, GRADESCOPE_SCHEMA)


def test_gradescope_hides_hidden_criteria_until_published_and_scores_only_decided_ones() -> None:
    document = gradescope_results(charted_result())
    tests = {t["name"]: t for t in document["tests"]}
    assert set(tests) == {"Basics (basics)", "Linearizable under faults (linearizability)"}
    assert tests["Basics (basics)"]["visibility"] == "visible"
    assert tests["Linearizable under faults (linearizability)"]["visibility"] == "after_published"
    assert tests["Basics (basics)"] | {"output": ""} == tests["Basics (basics)"] | {
        "score": 5.0,
        "max_score": 10.0,
        "status": "failed",
        "output": "",
    }
    assert document["score"] == 50.0 and document["max_score"] == 100
    assert "2 hidden criteria undecided" in document["output"]  # named by count, not by title
    assert "Performance" not in document["output"] and "Durability" not in document["output"]
    assert document["stdout_visibility"] == "hidden"


def test_gradescope_text_is_inert() -> None:
    text = render_gradescope(charted_result())
    assert not WORKFLOW_COMMAND.search(text) and "\x1b" not in json.loads(text)["tests"][0]["output"]


# --- fields added to the model after these renderers ---------------------------------------------------


def test_fields_a_renderer_does_not_know_are_listed_generically() -> None:
    class Later(BaseModel):
        id: str
        level: str | None = None
        notes: list[str] = []

    assert extra_fields(Later(id="a"), frozenset({"id"})) == []  # defaults say nothing
    assert extra_fields(Later(id="a", level="senior", notes=["x"]), frozenset({"id"})) == [
        ("level", "senior"),
        ("notes", '[\n  "x"\n]'),
    ]


@pytest.mark.skipif("level" not in CriterionResult.model_fields, reason="the model has no criterion level")
def test_a_criterion_level_reaches_every_human_report_escaped() -> None:
    result = charted_result()
    first = result.criteria[0].model_copy(update={"level": "<b>senior</b> ::error::x"})
    result = result.model_copy(update={"criteria": [first, *result.criteria[1:]]})
    html, markdown = render_html(result), render_markdown(result)
    assert "&lt;b&gt;senior&lt;/b&gt; \\x3a:error::x" in html
    assert "**Basics, level:** &lt;b&gt;senior&lt;\\/b&gt;" in markdown
    assert not WORKFLOW_COMMAND.search(markdown)
