"""Take a submission in from git: clone, check out a commit, check sizes, drop the history.

git runs with hooks off, no submodules, no prompts and only the usual transports allowed, because the
repository is the candidate's and may be hostile. Sizes are checked from ``git ls-tree`` *before* the
checkout, so an oversized commit never reaches the disk as a work tree.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness.errors import InfrastructureError, SubmissionError
from harness.submission.budget import Budget
from harness.submission.display import shown
from harness.submission.model import IntakeLimits
from harness.submission.tree import verify_tree

GIT_TIMEOUT_S = 120.0

_URL_SCHEMES = ("https://", "http://", "git://", "ssh://", "file://")
_SCP_LIKE = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)\S+")
_ANY_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*(?:://|::)")
_SAFE_CONFIG = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "protocol.allow=never",
    "-c", "protocol.https.allow=always",
    "-c", "protocol.http.allow=always",
    "-c", "protocol.git.allow=always",
    "-c", "protocol.ssh.allow=always",
    "-c", "protocol.file.allow=always",
)  # fmt: skip
# Variables that would point git at another repository than the one it is asked about.
_REPO_LOCATION_VARS = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT", "GIT_GRAFT_FILE", "GIT_SHALLOW_FILE", "GIT_PREFIX",
)  # fmt: skip
_TREE_MODE = "040000"
_SUBMODULE_MODE = "160000"


def is_git_url(spec: str) -> bool:
    return spec.startswith(_URL_SCHEMES) or _SCP_LIKE.fullmatch(spec) is not None


def has_unsupported_scheme(spec: str) -> bool:
    """``ftp://…`` or ``ext::…``: refused by name rather than looked for on disk."""
    return _ANY_SCHEME.match(spec) is not None and not is_git_url(spec)


def is_work_tree(path: Path) -> bool:
    # Looked at on disk rather than asked of git: running git inside the candidate's folder would read
    # the candidate's .git/config.
    return os.path.lexists(path / ".git")


def is_bare_repo(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


@dataclass(frozen=True)
class _Result:
    code: int
    out: bytes
    err: str


def clone(
    source: str,
    dest: Path,
    *,
    ref: str | None,
    limits: IntakeLimits,
    label: str,
    timeout: float = GIT_TIMEOUT_S,
) -> str:
    """Clone ``source`` into ``dest`` at ``ref`` (default: its HEAD) and return the commit sha."""
    if ref is not None and (not ref or ref.startswith("-") or not ref.isprintable() or " " in ref):
        raise SubmissionError(f"{shown(ref)} is not a valid git ref", hint="give a branch, tag or commit sha")
    cloned = _git(
        ["clone", "--quiet", "--no-checkout", "--no-recurse-submodules", "--", source, str(dest)],
        timeout=timeout,
        label=label,
    )
    if cloned.code != 0:
        raise SubmissionError(
            f"could not clone {label}: {_last_line(cloned.err)}",
            hint="check that the URL or path is a git repository you can read",
        )
    commit = _resolve(dest, ref, timeout=timeout, label=label)
    _check_sizes(dest, commit, limits=limits, label=label, timeout=timeout)
    checkout = _git(
        ["-C", str(dest), "checkout", "--quiet", "--detach", commit], timeout=timeout, label=label
    )
    if checkout.code != 0:
        raise SubmissionError(
            f"could not check out {commit} of {label}: {_last_line(checkout.err)}",
            hint="the repository may be damaged; check that `git clone` of it works",
        )
    head = _git(["-C", str(dest), "rev-parse", "HEAD"], timeout=timeout, label=label)
    revision = head.out.decode("ascii", "replace").strip()
    # History is not graded, can be large, and must not end up in the build context.
    shutil.rmtree(dest / ".git")
    verify_tree(dest, limits=limits, label=label)
    return revision


def _resolve(repo: Path, ref: str | None, *, timeout: float, label: str) -> str:
    """The commit sha ``ref`` names; a branch that exists only on the remote is found too."""
    candidates = ["HEAD"] if ref is None else [ref, f"origin/{ref}"]
    for name in candidates:
        found = _git(
            ["-C", str(repo), "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"],
            timeout=timeout,
            label=label,
        )
        if found.code == 0:
            return found.out.decode("ascii", "replace").strip()
    if ref is None:
        raise SubmissionError(
            f"{label} has no commits", hint="commit the code first, or give the folder instead"
        )
    raise SubmissionError(
        f"{shown(ref)} is not a commit in {label}", hint="give a branch, tag or commit sha that exists there"
    )


def _check_sizes(repo: Path, commit: str, *, limits: IntakeLimits, label: str, timeout: float) -> None:
    listing = _git(
        ["-C", str(repo), "ls-tree", "-r", "-t", "-l", "-z", "--full-tree", commit],
        timeout=timeout,
        label=label,
    )
    if listing.code != 0:
        raise SubmissionError(
            f"could not list {commit} of {label}: {_last_line(listing.err)}",
            hint="the repository may be damaged; check that `git clone` of it works",
        )
    budget = Budget(limits, label)
    for record in listing.out.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, _kind, _sha, size = meta.decode("ascii", "replace").split()
        rel = PurePosixPath(raw_path.decode("utf-8", "surrogateescape"))
        budget.entry(rel)
        if mode not in (_TREE_MODE, _SUBMODULE_MODE):
            budget.take(rel, 0, int(size))


def _git(args: list[str], *, timeout: float, label: str) -> _Result:
    env = {k: v for k, v in os.environ.items() if k not in _REPO_LOCATION_VARS}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="/bin/true", SSH_ASKPASS="/bin/true", LC_ALL="C")
    argv = ["git", *_SAFE_CONFIG, *args]
    try:
        code, out, err = run_bounded(argv, env=env, timeout=timeout)
    except FileNotFoundError as exc:
        raise InfrastructureError(
            "git is not installed", hint="install git to grade submissions from git"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise SubmissionError(
            f"git took longer than {timeout:.0f} s on {label}",
            hint="check the URL and your network, or give a folder",
        ) from exc
    return _Result(code, out, err.decode("utf-8", "replace"))


def run_bounded(argv: list[str], *, env: dict[str, str], timeout: float) -> tuple[int, bytes, bytes]:
    """Run ``argv`` with no terminal and no stdin; on timeout kill its whole process group.

    A new session means ssh cannot open /dev/tty to ask for a password, and killing the group also
    ends git's helpers (git-remote-https, ssh), which would otherwise keep the pipes open.
    """
    with subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            # Also on Ctrl-C: in its own session, git never saw the interrupt and would run on.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        return proc.returncode, out, err


def _last_line(stderr: str) -> str:
    """The line of git's complaint worth showing: the last fatal/error line, else the last line.

    Advice ("To add an exception…") often follows the actual error, so the last line alone misleads.
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("fatal:", "error:"))]
    line = (errors or lines or ["git failed without a message"])[-1]
    return shown(line.removeprefix("fatal: ").removeprefix("error: "))
