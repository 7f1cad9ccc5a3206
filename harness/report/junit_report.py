"""JUnit XML for CI test views (GitHub, GitLab, Jenkins): one testsuite per criterion, one testcase per
scenario, built with junitparser.

Outcomes map one to one: failed → <failure> (the candidate's doing), error → <error> (the harness's fault,
never to be read as the candidate's), skipped → <skipped>; a criterion that no scenario decided is
"unknown" and its scenarios are all skipped. The seed, image digest, harness version and exercise are
<properties> of every suite, so a CI view of any suite says how to replay it.
"""

from __future__ import annotations

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from harness.report.model import CriterionResult, GradeResult, ScenarioResult
from harness.report.text import clip, xml_text

#: Evidence kept in one testcase: CI views show it inline, and 100 scenarios must stay a small file.
EVIDENCE_CHARS = 4_000
UNDECIDED = ("error", "unknown", "pending")


def _properties(result: GradeResult) -> dict[str, str]:
    properties = {
        "exercise": result.exercise,
        "mode": result.mode,
        "seed": str(result.seed),
        "harness_version": result.environment.harness_version,
        "submission": result.submission.source,
    }
    if result.submission.image_digest:
        properties["image_digest"] = result.submission.image_digest
    return properties


def _story(scenario: ScenarioResult) -> str:
    parts = []
    if scenario.reproduce:
        parts.append(f"reproduce: {scenario.reproduce}")
    if scenario.evidence:
        parts.append(clip(scenario.evidence, EVIDENCE_CHARS))
    if scenario.details:
        parts.append(clip(scenario.details, EVIDENCE_CHARS))
    return xml_text("\n\n".join(parts))


def _case(criterion: CriterionResult, scenario: ScenarioResult) -> TestCase:
    case = TestCase(
        name=xml_text(scenario.name),
        classname=xml_text(f"{criterion.id}"),
        time=scenario.duration_s,
    )
    message = xml_text(scenario.message or scenario.status)
    if scenario.status == "failed":
        outcome: Failure | Error | Skipped = Failure(message, "CandidateFailure")
    elif scenario.status == "error":
        outcome = Error(message, "HarnessError")
    elif scenario.status == "skipped":
        outcome = Skipped(message)
    else:
        return case
    story = _story(scenario)
    if story:
        outcome.text = story
    case.result = [outcome]
    return case


def render_junit(result: GradeResult) -> str:
    xml = JUnitXml(name=xml_text(f"harness {result.exercise} {result.mode}"))
    for criterion in result.criteria:
        suite = TestSuite(xml_text(f"{criterion.id}: {criterion.title}"))
        for name, value in _properties(result).items():
            suite.add_property(name, xml_text(value))
        suite.add_property("criterion_status", criterion.status)
        # An undecided criterion has no points, not zero points.
        points = "undecided" if criterion.status in UNDECIDED else f"{criterion.points:g}"
        suite.add_property("points", f"{points}/{criterion.max_points:g}")
        for scenario in criterion.scenarios:
            suite.add_testcase(_case(criterion, scenario))
        suite.update_statistics()  # type: ignore[no-untyped-call]  # junitparser leaves a few untyped
        xml.add_testsuite(suite)
    xml.update_statistics()  # type: ignore[no-untyped-call]
    body: bytes = xml.tostring()  # type: ignore[no-untyped-call]
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body.decode("utf-8") + "\n"
