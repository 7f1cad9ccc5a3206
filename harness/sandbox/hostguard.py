"""Closes the one door an `internal` Docker network leaves open: the host itself.

An internal bridge network has no route to the outside world, but the host owns the bridge's gateway
address, and the container's packets to *any* address of the host (the gateway, the host's LAN address,
other bridges' gateways) arrive on the bridge interface and are delivered locally. Any host service
listening on 0.0.0.0 (an SSH daemon, a database, a metadata proxy, the harness's own test canaries) is
reachable from candidate code. Measured on Docker 20.10: a container on an internal network connects to
a listener bound to its gateway address.

When the harness runs as root and `iptables` is installed, every service network gets one INPUT rule
that drops *new* connections arriving on its bridge interface; replies to connections the host opened
(the harness driving the service) are established, so they still pass. The rule carries a comment
naming the run and goes away with the network, or with the next sweep after a SIGKILL. Without iptables
or root the gap stays open: `harness doctor` says so and SECURITY.md documents it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

COMMENT_PREFIX = "harness-run:"
_COMMENTED = re.compile(r'--comment "?' + re.escape(COMMENT_PREFIX) + r'([0-9a-zA-Z_-]+)"?')
#: Bridge interfaces are named by the harness (`com.docker.network.bridge.name`) so the rule can name
#: them before any container exists; Linux allows at most 15 characters.
BRIDGE_PREFIX = "hb-"


def bridge_name(run_id: str) -> str:
    return f"{BRIDGE_PREFIX}{run_id}"[:15]


@dataclass(frozen=True)
class GuardStatus:
    available: bool
    detail: str


def _binaries() -> list[str]:
    return [name for name in ("iptables", "ip6tables") if shutil.which(name)]


def status() -> GuardStatus:
    if os.geteuid() != 0:
        return GuardStatus(False, "not root: service containers can reach services listening on the host")
    if "iptables" not in _binaries():
        return GuardStatus(False, "iptables missing: service containers can reach services on the host")
    probe = subprocess.run(["iptables", "-w", "-S", "INPUT"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["unknown error"])[-1]
        return GuardStatus(False, f"iptables unusable ({reason}): services can reach the host")
    return GuardStatus(True, "new connections from service networks to the host are dropped (iptables)")


def _rule(run_id: str) -> list[str]:
    return [
        "-i",
        bridge_name(run_id),
        "-m",
        "conntrack",
        "--ctstate",
        "NEW",
        "-m",
        "comment",
        "--comment",
        f"{COMMENT_PREFIX}{run_id}",
        "-j",
        "DROP",
    ]


def _run(binary: str, *args: str) -> bool:
    done = subprocess.run([binary, "-w", *args], capture_output=True, text=True, check=False)
    return done.returncode == 0


def close_host(run_id: str) -> bool:
    """Drop new connections from the run's bridge to the host (IPv4 and IPv6). True when in place."""
    if not status().available:
        return False
    placed = False
    for binary in _binaries():
        # -C first: a retried start must not stack duplicates.
        if _run(binary, "-C", "INPUT", *_rule(run_id)) or _run(binary, "-I", "INPUT", "1", *_rule(run_id)):
            placed = placed or binary == "iptables"
    return placed


def reopen(run_id: str) -> None:
    """Remove the run's rules (every copy); quiet when there are none or iptables is unusable."""
    if os.geteuid() != 0:
        return
    for binary in _binaries():
        for _ in range(8):
            if not _run(binary, "-D", "INPUT", *_rule(run_id)):
                break


def guarded_runs() -> set[str]:
    """Run ids that still have a rule, for the sweep of dead runs."""
    if os.geteuid() != 0:
        return set()
    found: set[str] = set()
    for binary in _binaries():
        listing = subprocess.run([binary, "-w", "-S", "INPUT"], capture_output=True, text=True, check=False)
        found.update(_COMMENTED.findall(listing.stdout))
    return found
