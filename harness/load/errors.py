"""Errors a load run raises. Everything else (refused or reset connections, error replies) is counted."""

from __future__ import annotations

from harness.errors import HarnessError, InfrastructureError


class LoadConnectError(HarnessError):
    """Not a single connection to the target could be opened."""


class LoadGeneratorError(InfrastructureError):
    """A generator process failed or did not report in time: the harness's fault, never the target's."""
