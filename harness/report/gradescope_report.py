"""Gradescope's autograder ``results.json``: one test per decided criterion, in Gradescope's format.

Gradescope has only passed and failed, and infers "passed" for a test whose score equals its maximum
(0/0 included), so an undecided criterion (error, unknown, pending review) cannot be a test without
being shown as something it is not. It is left out of ``tests`` and named in the top-level ``output``
instead (hidden ones only counted, so the output reveals nothing hidden before publication).

Hidden criteria are ``after_published``: a candidate sees them once the instructor publishes grades.
Every text is ``text`` format (never html or markdown) and goes through `visible`.
"""

from __future__ import annotations

import json
from typing import Any

from harness.report.model import CriterionResult, GradeResult
from harness.report.text import clip, json_for_ci, visible

UNDECIDED = ("error", "unknown", "pending")
OUTPUT_CHARS = 8_000
MESSAGE_CHARS = 1_000


def _output(criterion: CriterionResult) -> str:
    lines = [criterion.summary]
    for scenario in criterion.scenarios:
        lines.append(f"[{scenario.status}] {scenario.name}")
        if scenario.status in ("failed", "error"):
            if scenario.message:
                lines.append(f"  why: {clip(scenario.message, MESSAGE_CHARS)}")
            if scenario.reproduce:
                lines.append(f"  reproduce: {clip(scenario.reproduce, MESSAGE_CHARS)}")
    return visible(clip("\n".join(lines), OUTPUT_CHARS))


def _test(criterion: CriterionResult) -> dict[str, Any]:
    return {
        "name": visible(f"{criterion.title} ({criterion.id})"),
        "score": round(criterion.points, 2),
        "max_score": round(criterion.max_points, 2),
        "status": "passed" if criterion.status == "passed" else "failed",
        "visibility": "after_published" if criterion.visibility == "hidden" else "visible",
        "output": _output(criterion),
        "output_format": "text",
        "tags": [visible(criterion.skill)],
    }


def _summary(result: GradeResult) -> str:
    lines = [f"{result.exercise}: {result.total:g} / 100 over the criteria that were decided."]
    if not result.complete:
        lines.append("Incomplete: a harness error left some criteria undecided; this grade will be rerun.")
    undecided = [c for c in result.criteria if c.status in UNDECIDED]
    public = [c for c in undecided if c.visibility == "public"]
    for criterion in public:
        lines.append(
            f"Not scored ({criterion.status}): {criterion.title}, {criterion.max_points:g} points "
            "counted neither way."
        )
    hidden = len(undecided) - len(public)
    if hidden:
        lines.append(f"Not scored: {hidden} hidden criteria undecided, counted neither way.")
    return visible("\n".join(lines))


def gradescope_results(result: GradeResult) -> dict[str, Any]:
    return {
        "score": round(result.total, 2),
        "max_score": 100,
        "output": _summary(result),
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [_test(c) for c in result.criteria if c.status not in UNDECIDED],
        "extra_data": {
            "seed": result.seed,
            "harness_version": result.environment.harness_version,
            "image_digest": result.submission.image_digest,
            "complete": result.complete,
            "undecided_points": result.undecided_points,
        },
    }


def render_gradescope(result: GradeResult) -> str:
    return json_for_ci(json.dumps(gradescope_results(result), indent=2, ensure_ascii=False)) + "\n"
