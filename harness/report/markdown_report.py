"""The Markdown report: a CI step summary ($GITHUB_STEP_SUMMARY) or a pull-request comment.

Candidate text never shapes the document: in tables and prose it is escaped by `md_inline` (no links,
images, HTML, emphasis, no ``|`` or newline breaking a row), in blocks it is fenced by `md_block`, and
both go through `visible` first, so no line can carry a CI workflow command (``::error::``, ``##vso[``).
The whole text stays under GitHub's comment limit (65,536 characters): failures are listed until the
budget runs out, then counted.
"""

from __future__ import annotations

from harness.report.extras import LAID_OUT_CRITERION, LAID_OUT_RESULT, extra_fields
from harness.report.model import CriterionResult, GradeResult, ScenarioResult
from harness.report.text import clip, md_block, md_inline

#: Under GitHub's 65,536-character limit for a comment, with room for a caller's own header.
MAX_CHARS = 60_000
MESSAGE_CHARS = 600
EVIDENCE_CHARS = 1_500
UNDECIDED = ("error", "unknown", "pending")

ICON = {
    "passed": "✅",
    "partial": "🟡",
    "failed": "❌",
    "error": "⚠️",
    "unknown": "❔",
    "pending": "⏳",
    "skipped": "⏭️",
}


def _num(value: float) -> str:
    return f"{value:g}"


def _status(status: str) -> str:
    return f"{ICON.get(status, '•')} {status}"


def _points(criterion: CriterionResult) -> str:
    if criterion.status in UNDECIDED:  # undecided: say so, never show it as 0 points
        return f"{criterion.status} (of {_num(criterion.max_points)})"
    return f"{_num(criterion.points)} / {_num(criterion.max_points)}"


def _header(result: GradeResult) -> list[str]:
    title = "self-check (public scenarios)" if result.mode == "check" else "grade"
    lines = [f"## {md_inline(result.exercise)} — {title}: **{_num(result.total)} / 100**", ""]
    if not result.complete:
        lines += [
            "> **Incomplete grade:** a harness or infrastructure error left some criteria undecided. "
            "Rerun it; do not trust this total.",
            "",
        ]
    if result.undecided_points:
        lines += [
            f"{_num(result.undecided_points)} points undecided (error, unknown or pending review): "
            "counted neither way.",
            "",
        ]
    for problem in result.problems:
        lines.append(f"- harness error: {md_inline(clip(problem, MESSAGE_CHARS))}")
    if result.problems:
        lines.append("")
    extras = extra_fields(result, LAID_OUT_RESULT)
    for name, text in extras:
        lines.append(_extra(md_inline(name), text))
    if extras:
        lines.append("")  # a table right after a list would be read as part of its last item
    return lines


def _extra(label: str, text: str) -> str:
    """A field the report does not lay out itself: one line, or a folded block when it has several."""
    if "\n" not in text:
        return f"- **{label}:** {md_inline(clip(text, MESSAGE_CHARS))}"
    # Not a list item: a fence inside one would need indenting, and a block is clearer on its own.
    return f"\n<details><summary>{label}</summary>\n\n{md_block(clip(text, EVIDENCE_CHARS))}\n\n</details>\n"


def _tables(result: GradeResult) -> list[str]:
    lines: list[str] = []
    if result.skills:
        lines += ["| skill | points |", "| --- | ---: |"]
        lines += [
            f"| {md_inline(k.title)} | {_num(k.points)} / {_num(k.max_points)} |" for k in result.skills
        ]
        lines.append("")
    lines += [
        "| status | criterion | skill | visibility | points | scenarios passed |",
        "| --- | --- | --- | --- | ---: | ---: |",
    ]
    for c in result.criteria:
        scenarios = f"{c.passed} / {c.passed + c.failed}" + (f", {c.errors} error" if c.errors else "")
        lines.append(
            f"| {_status(c.status)} | {md_inline(c.title)} | {md_inline(c.skill)} | {c.visibility} "
            f"| {_points(c)} | {scenarios} |"
        )
    lines.append("")
    notes = [(c, extra_fields(c, LAID_OUT_CRITERION)) for c in result.criteria]
    for criterion, extras in notes:
        for name, text in extras:
            lines.append(_extra(f"{md_inline(criterion.title)}, {md_inline(name)}", text))
    if any(extras for _, extras in notes):
        lines.append("")
    return lines


def _failure(criterion: CriterionResult, scenario: ScenarioResult) -> str:
    parts = [
        f"#### {_status(scenario.status)}: {md_inline(scenario.name)} ({md_inline(criterion.title)})",
        "",
        f"**why:** {md_inline(clip(scenario.message or '(no message)', MESSAGE_CHARS))}",
        "",
    ]
    if scenario.reproduce:
        parts += ["**reproduce:**", "", md_block(clip(scenario.reproduce, MESSAGE_CHARS), language="sh"), ""]
    if scenario.evidence:
        # <details> is ours; the blank lines around the fence let GitHub render Markdown inside it.
        parts += [
            "<details><summary>what happened</summary>",
            "",
            md_block(clip(scenario.evidence, EVIDENCE_CHARS)),
            "",
            "</details>",
            "",
        ]
    return "\n".join(parts)


def _footer(result: GradeResult) -> str:
    bits = [f"exercise {md_inline(result.exercise)}", f"seed {result.seed}"]
    bits.append(f"harness {md_inline(result.environment.harness_version)}")
    if result.submission.image_digest:
        bits.append(f"image {md_inline(result.submission.image_digest)}")
    return "<sub>" + " · ".join(bits) + "</sub>\n"


def render_markdown(result: GradeResult, *, max_chars: int = MAX_CHARS) -> str:
    head = "\n".join(_header(result) + _tables(result))
    footer = _footer(result)
    failing = [(c, s) for c in result.criteria for s in c.scenarios if s.status in ("failed", "error")]
    blocks: list[str] = []
    if failing:
        budget = max_chars - len(head) - len(footer) - 200
        blocks.append(f"### {len(failing)} scenario(s) did not pass\n")
        for index, (criterion, scenario) in enumerate(failing):
            block = _failure(criterion, scenario)
            if len(block) > budget:
                left = len(failing) - index
                blocks.append(f"… and {left} more: see the HTML report or results.json.\n")
                break
            blocks.append(block)
            budget -= len(block)
    return "\n".join([head, *blocks, footer])
