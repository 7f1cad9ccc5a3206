"""Shell pieces of the reproduce commands the drivers give: bytes as `printf`, long runs of one byte
from `head -c N /dev/zero | tr`, pauses as `sleep`, the whole piped into `nc`.

Which sends to replay, and in which form (redis-cli lines, one printf per line), is each driver's own.
"""

from __future__ import annotations

import shlex
from typing import Final

#: Longest reproduce command a driver gives; a longer one is shortened, or not given.
MAX_REPRO_CHARS: Final = 1800
#: A run of one byte at least this long is generated rather than spelled out.
_RUN: Final = 128
#: A pause shorter than this between two sends is not worth a `sleep`.
_MIN_PAUSE: Final = 0.05


def printf(data: bytes) -> str:
    """A `printf` producing exactly `data` (octal escapes: POSIX printf has no \\x)."""
    out = []
    for index, byte in enumerate(data):
        if byte == 0x0D:
            out.append("\\r")
        elif byte == 0x0A:
            out.append("\\n")
        elif byte == 0x5C:
            out.append("\\\\")
        elif byte == 0x25:
            out.append("%%")
        elif byte == 0x27 or (byte == 0x2D and index == 0) or not 0x20 <= byte < 0x7F:
            out.append(f"\\{byte:03o}")
        else:
            out.append(chr(byte))
    return "printf '" + "".join(out) + "'"


def shell_pieces(data: bytes) -> list[bytes | str]:
    """`data` as literal byte strings (for `printf`) and generators of long runs of one byte (shell)."""
    parts: list[bytes | str] = []
    literal_start = 0
    index = 0
    while index < len(data):
        run_end = index
        while run_end < len(data) and data[run_end] == data[index]:
            run_end += 1
        if run_end - index >= _RUN:
            if literal_start < index:
                parts.append(data[literal_start:index])
            byte = data[index]
            generator = f"head -c {run_end - index} /dev/zero"
            parts.append(generator if byte == 0 else f"{generator} | tr '\\000' '\\{byte:03o}'")
            literal_start = run_end
        index = run_end
    if literal_start < len(data):
        parts.append(data[literal_start:])
    return parts


def pause(previous_end: float | None, at: float) -> list[str]:
    """A `sleep` for the time between the end of the previous send and one made `at`, if it matters."""
    if previous_end is not None and at - previous_end >= _MIN_PAUSE:
        return [f"sleep {at - previous_end:.2f}"]
    return []


def netcat(shell: list[str], address: tuple[str, int]) -> str:
    """Shell commands writing the bytes, piped into `nc` to `address`."""
    host, port = address
    body = shell[0] if len(shell) == 1 else "{ " + "; ".join(shell) + "; }"
    return f"{body} | nc -q1 {shlex.quote(host)} {port}"
