"""Checkers that judge a recorded `harness.history.History` after the run, never touching the service.

Each takes a history and returns a `CheckResult` (pass, fail or unknown); `combine` folds several into
one (fail > unknown > pass). A checker that crashes or runs out of budget says unknown, never pass.
"""

from harness.checks.availability import check_availability
from harness.checks.durability import CRASH_FAULTS, check_durability
from harness.checks.linearizable import check_linearizable
from harness.checks.model import ModelError
from harness.checks.replay import check_model
from harness.checks.result import Budget, CheckResult, CheckStatus, OutOfBudget, combine, guarded

__all__ = [
    "CRASH_FAULTS",
    "Budget",
    "CheckResult",
    "CheckStatus",
    "ModelError",
    "OutOfBudget",
    "check_availability",
    "check_durability",
    "check_linearizable",
    "check_model",
    "combine",
    "guarded",
]
