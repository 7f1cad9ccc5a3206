"""The bytes inside strace's quoted string arguments.

strace prints buffers as C string literals: printable ASCII as is, `\\n \\t \\r \\v \\f \\" \\\\`
escaped, other bytes in octal (`\\0`, `\\377`) or, with `-x`/`-xx`, in hex (`\\x1b`); a buffer longer
than `-s` ends in `"...`. No library parses strace output, so this small decoder is written here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"(\.\.\.)?')
_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)", re.DOTALL)
_NAMED = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"v": b"\v", b"f": b"\f", b"a": b"\a", b"b": b"\b"}


@dataclass(frozen=True)
class Buffer:
    data: bytes
    truncated: bool
    """strace showed only the first `-s` bytes."""


def _unescape_one(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code.startswith(b"x") and len(code) == 3:
        return bytes([int(code[1:], 16)])
    if code[:1].isdigit() and code[:1] < b"8":
        return bytes([int(code, 8) & 0xFF])
    return _NAMED.get(code, code)


def unescape(literal: str) -> bytes:
    """The bytes a C string literal's body (without its quotes) stands for."""
    return _ESCAPE.sub(_unescape_one, literal.encode("latin-1", errors="replace"))


def buffers(args: str) -> list[Buffer]:
    """Every quoted buffer in a call's argument text, in order (one for write, one per iovec for writev)."""
    return [Buffer(unescape(m.group(1)), bool(m.group(2))) for m in _QUOTED.finditer(args)]
