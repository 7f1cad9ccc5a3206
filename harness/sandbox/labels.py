"""Labels are the cleanup contract: everything a run creates carries its run id and owner, and a sweep
removes what belongs to runs whose process is gone (a SIGKILLed harness leaves nothing for long).
"""

from __future__ import annotations

import os
import secrets
import socket

PREFIX = "io.harness"
RUN = f"{PREFIX}.run"
OWNER = f"{PREFIX}.owner"
ROLE = f"{PREFIX}.role"
CACHE = f"{PREFIX}.cache"
IMAGE = f"{PREFIX}.image"
INPUTS = f"{PREFIX}.inputs"


def new_run_id() -> str:
    return secrets.token_hex(4)


def owner_tag(pid: int | None = None) -> str:
    """host:pid of the harness process that owns a resource."""
    return f"{socket.gethostname()}:{pid if pid is not None else os.getpid()}"


def run_labels(run_id: str, role: str) -> dict[str, str]:
    return {RUN: run_id, OWNER: owner_tag(), ROLE: role}


def owner_is_gone(owner: str) -> bool:
    """True when the owning process is certainly dead (same host, pid not running)."""
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
