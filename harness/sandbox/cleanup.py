"""Removal of harness resources by label: one run's at its end, stale runs' at start-up, all on `gc`."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass

import docker
from docker.errors import APIError, NotFound

from harness.sandbox import hostguard, labels


@dataclass(frozen=True)
class SweepReport:
    containers: int
    networks: int
    volumes: int

    @property
    def total(self) -> int:
        return self.containers + self.networks + self.volumes


def _quietly(action: Callable[[], object]) -> bool:
    try:
        action()
    except NotFound:
        return False
    except APIError:
        return False
    return True


def remove_by_label(client: docker.DockerClient, selector: str) -> SweepReport:
    """Remove containers first (they hold networks and volumes), then networks, then volumes."""
    containers = client.containers.list(all=True, filters={"label": selector})
    removed_containers = sum(_quietly(functools.partial(c.remove, force=True, v=True)) for c in containers)
    networks = client.networks.list(filters={"label": selector})
    removed_networks = sum(_quietly(n.remove) for n in networks)
    volumes = client.volumes.list(filters={"label": selector})
    removed_volumes = sum(_quietly(functools.partial(v.remove, force=True)) for v in volumes)
    return SweepReport(removed_containers, removed_networks, removed_volumes)


def sweep_run(client: docker.DockerClient, run_id: str) -> SweepReport:
    report = remove_by_label(client, f"{labels.RUN}={run_id}")
    hostguard.reopen(run_id)  # the host firewall rule of the run's network (see hostguard)
    return report


def stale_runs(client: docker.DockerClient, *, everything: bool = False) -> set[str]:
    """Run ids whose owner process is gone (or every run id, with everything=True)."""
    runs: set[str] = set()
    selector = {"label": labels.RUN}
    resources: list[object] = [
        *client.containers.list(all=True, filters=selector),
        *client.networks.list(filters=selector),
        *client.volumes.list(filters=selector),
    ]
    for resource in resources:
        attrs = getattr(resource, "attrs", {}) or {}
        found = attrs.get("Labels") or (attrs.get("Config") or {}).get("Labels") or {}
        run_id, owner = found.get(labels.RUN), found.get(labels.OWNER, "")
        if run_id and (everything or labels.owner_is_gone(owner)):
            runs.add(run_id)
    return runs


def sweep_stale(client: docker.DockerClient, *, everything: bool = False) -> SweepReport:
    total = SweepReport(0, 0, 0)
    # A firewall rule whose network is gone belongs to a run that died between removing its network
    # and its rule; it names a missing interface, so it is harmless, but it must not pile up.
    # Rules first, networks second: a live run creates its network before its rule, so a rule seen here
    # has its network in the listing that follows.
    guarded = hostguard.guarded_runs()
    live_networks = {str(n.name) for n in client.networks.list(filters={"label": labels.RUN})}
    for run_id in guarded:
        if f"harness-{run_id}" not in live_networks:
            hostguard.reopen(run_id)
    for run_id in sorted(stale_runs(client, everything=everything)):
        with contextlib.suppress(APIError):
            part = sweep_run(client, run_id)
            total = SweepReport(
                total.containers + part.containers,
                total.networks + part.networks,
                total.volumes + part.volumes,
            )
    return total
