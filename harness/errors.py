"""The harness's error hierarchy.

Three kinds of trouble are kept apart everywhere, because they are scored differently:

* ``UsageError``: the person running the harness gave bad input (unknown exercise, unreadable path,
  malformed archive). One line, exit code 2, never a traceback.
* ``InfrastructureError``: the harness or the machine failed (Docker engine unreachable, image bootstrap
  failed). Never scored against the candidate; exit code 2.
* ``CandidateFailure``: the submission misbehaved (did not build, crashed, answered wrongly). Scored.

Every error carries a one-line ``message`` and an optional ``hint`` saying how to fix it; ``details``
holds longer diagnostics (a log tail) that reports may show but the one-line summary never includes.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def one_line(self) -> str:
        """The message and the hint on one line, as the CLI prints it."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(HarnessError):
    """Bad input from whoever runs the harness: exit 2 with one clear line."""


class SubmissionError(UsageError):
    """The submission cannot be taken in (missing, unsafe archive, unknown layout)."""


class ExerciseError(UsageError):
    """An exercise folder or its exercise.yaml is missing or malformed."""


class RubricError(UsageError):
    """A rubric file is missing, malformed, or inconsistent with its exercise."""


class InfrastructureError(HarnessError):
    """The harness or the machine failed; never the candidate's fault."""


class DockerUnavailable(InfrastructureError):
    """The Docker engine cannot be reached."""


class ImageBootstrapError(InfrastructureError):
    """A harness image (builder, runtime) could not be created."""


class CandidateFailure(Exception):
    """Something the submission did wrong, observed by the harness. Scored as a failure.

    ``evidence`` is the human-readable story (what was sent, what came back); ``reproduce`` is a shell
    command that shows the same behaviour against a running service.
    """

    def __init__(self, message: str, *, evidence: str | None = None, reproduce: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.evidence = evidence
        self.reproduce = reproduce


class BuildFailed(CandidateFailure):
    """The submission did not build (compile error, build timeout, build out of memory)."""


class ServiceStartFailed(CandidateFailure):
    """The service exited during start-up or never accepted connections before its deadline."""
