"""The brief's example session (section 7), read from the brief itself so the two cannot drift apart."""

from __future__ import annotations

import json
import re
from typing import Final

_TRANSCRIPT_LINE: Final = re.compile(r"^(\w+)\s+(>>|<<) (.*)$")


def example_requests(brief: str) -> list[tuple[str, str]]:
    """(who, request line) for every `>>` line of the example session, in order."""
    section = brief.split("## 7. Example session", 1)[1].split("\n## ", 1)[0]
    requests = []
    for text in section.splitlines():
        match = _TRANSCRIPT_LINE.match(text)
        if match and match.group(2) == ">>":
            requests.append((match.group(1), match.group(3)))
    return requests


def with_account(line: str, account: str) -> str:
    """A login line with its account replaced; any other line unchanged."""
    try:
        request = json.loads(line)
    except ValueError:
        return line
    if isinstance(request, dict) and request.get("op") == "login":
        return json.dumps({**request, "account": account}, separators=(",", ":"))
    return line
