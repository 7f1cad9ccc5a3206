"""``open_submission``: turn whatever the user pointed at into a folder the harness owns."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from harness.errors import SubmissionError
from harness.submission.archive import SUPPORTED_TEXT, unpack
from harness.submission.detect import detect_kind
from harness.submission.display import redact_url, shown
from harness.submission.git import clone, has_unsupported_scheme, is_bare_repo, is_git_url, is_work_tree
from harness.submission.image import check_image_reference
from harness.submission.model import IntakeLimits, Submission
from harness.submission.tree import copy_tree

_WHAT_TO_GIVE = f"give the project folder, a {SUPPORTED_TEXT} archive, a git URL, or an image"


def open_submission(
    spec: str | None,
    *,
    workdir: Path,
    ref: str | None = None,
    image: str | None = None,
    limits: IntakeLimits = IntakeLimits(),  # noqa: B008 - frozen, so one shared default is safe
) -> Submission:
    """Take in the submission ``spec`` (or the prebuilt ``image``) under ``workdir``.

    The code lands in ``workdir / "src"``, which must not exist yet. On any failure nothing is left
    behind in ``workdir``, so a refused zip bomb does not keep its partial output on disk.
    """
    if image is not None:
        return _from_image(spec, ref, image)
    if spec is None or not spec.strip():
        raise SubmissionError("no submission was given", hint=_WHAT_TO_GIVE)
    source = redact_url(spec)
    label = shown(source)
    workdir.mkdir(parents=True, exist_ok=True)
    dest = workdir / "src"
    staging = workdir / ".unpack"
    for path in (dest, staging):
        if os.path.lexists(path):
            raise FileExistsError(f"{path} already exists; open_submission needs a fresh workdir")
    try:
        revision = _take_in(
            spec, ref, workdir=workdir, dest=dest, staging=staging, limits=limits, label=label
        )
        kind = detect_kind(dest, label)
    except BaseException:
        discard(staging)
        discard(dest)
        raise
    return Submission(kind=kind, source=source, root=dest, image=None, revision=revision)


def _from_image(spec: str | None, ref: str | None, image: str) -> Submission:
    if spec is not None:
        raise SubmissionError(
            f"both a submission ({shown(spec)}) and an image ({shown(image)}) were given",
            hint="give one of them",
        )
    if ref is not None:
        raise SubmissionError(
            f"a git ref ({shown(ref)}) was given with an image", hint="a ref applies only to git"
        )
    return Submission(
        kind="image", source=image, root=None, image=check_image_reference(image), revision=None
    )


def _take_in(
    spec: str, ref: str | None, *, workdir: Path, dest: Path, staging: Path, limits: IntakeLimits, label: str
) -> str | None:
    """Put the code under ``dest``; return the git revision when it came from git."""
    if is_git_url(spec):
        return clone(spec, dest, ref=ref, limits=limits, label=label)
    if has_unsupported_scheme(spec):
        raise SubmissionError(
            f"{label} uses an unsupported URL scheme",
            hint="git URLs may use https://, http://, git://, ssh://, file:// or user@host:path",
        )
    path = Path(spec).expanduser()
    mode = _mode(path, label)
    if stat.S_ISDIR(mode):
        # A work tree is graded as it is on disk (uncommitted changes included), which is what someone
        # pointing at a folder expects; git is used only when a ref asks for a particular commit.
        if is_bare_repo(path) or (ref is not None and is_work_tree(path)):
            return clone(str(path.resolve()), dest, ref=ref, limits=limits, label=label)
        _refuse_ref(ref, label, "is a folder, not the top of a git repository")
        # If the workdir lies inside the submission (``harness grade .``), do not copy it into itself.
        copy_tree(path, dest, limits=limits, label=label, exclude=Path(os.path.realpath(workdir)))
        return None
    if stat.S_ISREG(mode):
        _refuse_ref(ref, label, "is an archive, not a git repository")
        unpack(path, staging=staging, dest=dest, limits=limits, label=label)
        return None
    raise SubmissionError(f"{label} is neither a file nor a folder", hint=_WHAT_TO_GIVE)


def _mode(path: Path, label: str) -> int:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise SubmissionError(f"{label} does not exist", hint=f"check the path; {_WHAT_TO_GIVE}") from None
    except OSError as exc:
        raise SubmissionError(
            f"cannot read {label}: {exc.strerror or exc}", hint="check the path and its permissions"
        ) from None
    if not os.access(path, os.R_OK):
        raise SubmissionError(f"cannot read {label}: permission denied", hint="check its permissions")
    return mode


def _refuse_ref(ref: str | None, label: str, why: str) -> None:
    if ref is not None:
        raise SubmissionError(
            f"a git ref ({shown(ref)}) was given, but {label} {why}",
            hint="drop the ref, or give a git repository or URL",
        )


def discard(path: Path) -> None:
    """Remove what a failed intake left at ``path``."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
