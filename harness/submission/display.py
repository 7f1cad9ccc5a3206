"""Render candidate-controlled text so that error messages stay on one readable line."""

from __future__ import annotations

import re
from os import PathLike

_MAX_SHOWN = 160


def shown(text: str | PathLike[str]) -> str:
    """``text`` with control characters escaped and its middle cut when it is very long.

    Names come from archives and repositories the candidate made: a member called ``"a\\nb"`` must not
    split the one-line message the CLI prints, and a 4 KiB name must not drown it.
    """
    raw = str(text)
    safe = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in raw)
    if len(safe) > _MAX_SHOWN:
        half = _MAX_SHOWN // 2
        safe = f"{safe[:half]}…{safe[-half:]}"
    return safe


def size_text(n: int) -> str:
    """A byte count the way people say it: ``64 MiB``, ``1.5 KiB``, ``12 bytes``."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor:
            value = n / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


_URL_CREDENTIALS = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:]*):[^/@]*@")


def redact_url(spec: str) -> str:
    """``spec`` with any password or token in a URL's user part replaced, since it is shown in results."""
    return _URL_CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", spec)
