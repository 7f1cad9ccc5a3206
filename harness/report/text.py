"""Candidate-controlled text made safe for each report format.

Everything starts from `harness.terminal.visible` (control characters shown as \\xNN, CI workflow
commands such as ``::error::`` and ``##vso[`` broken), the one rule the terminal already follows; each
format then adds only its own escaping. HTML needs nothing more here: jinja2's autoescape does it.
"""

from __future__ import annotations

import re

from harness.terminal import visible

__all__ = ["clip", "json_for_ci", "md_block", "md_inline", "visible", "xml_text"]

# XML 1.0 forbids these even as character references; visible() already handled C0 controls.
_XML_FORBIDDEN = re.compile("[\ud800-\udfff\ufffe\uffff]")
# CommonMark lets a backslash escape any ASCII punctuation; escaping all of it is simpler and safer than
# tracking which characters start emphasis, links, images, autolinks or tables in which context. `<`, `>`
# and `&` become entities instead, so no raw angle bracket is left for any renderer to read as HTML.
_MD_PUNCTUATION = re.compile(r"([!-%'-/:;=?@\[-`{-~])")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_BACKTICKS = re.compile(r"`+")


def clip(text: str, limit: int) -> str:
    """Keep the head and the tail of long text; the middle is rarely what explains a failure."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… ({len(text) - limit} characters elided) …\n{text[-half:]}"


def xml_text(text: str) -> str:
    """For XML documents (JUnit): visible(), then the few code points XML 1.0 cannot carry at all."""
    return _XML_FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", visible(text))


def md_inline(text: str) -> str:
    """For a Markdown table cell or a line of prose: one line, nothing interpreted.

    Punctuation is backslash-escaped or an entity (no links, images, HTML, emphasis or ``|`` breaking the
    table) and newlines become ``<br>`` (ours, the only HTML in the output), so a cell stays one row.
    """
    escaped = _MD_PUNCTUATION.sub(r"\\\1", visible(text))
    escaped = "".join(_MD_ENTITIES.get(c, c) for c in escaped)  # after: an entity's `;` stays unescaped
    return "<br>".join(line for line in escaped.replace("\r\n", "\n").split("\n"))


def md_block(text: str, *, language: str = "") -> str:
    """A fenced code block showing ``text`` verbatim: the fence is longer than any run of backticks in
    it, so it cannot be closed early (CommonMark's own rule)."""
    shown = visible(text)
    longest = max((len(run) for run in _BACKTICKS.findall(shown)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{shown}\n{fence}"


def json_for_ci(text: str) -> str:
    """JSON text safe to print in a CI log: Azure Pipelines acts on "##vso[" anywhere in a line;
    "\\u005b" is the same JSON and inert there. (JSON strings cannot hold a raw newline, so the
    line-start ``::`` commands of GitHub cannot appear.)"""
    return text.replace("##vso[", "##vso\\u005b")
