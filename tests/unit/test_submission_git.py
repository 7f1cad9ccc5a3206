"""open_submission from git: URLs, bare repos, work trees with and without a ref, hostile repos.

Every repository is made in tmp_path; no test reaches any other machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import SubmissionError
from harness.submission import IntakeLimits, open_submission
from harness.submission import git as git_module

IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *IDENTITY, "-C", str(repo), *args], check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def assert_refused(err: SubmissionError, *names: str) -> None:
    assert "\n" not in err.one_line()
    assert err.hint
    for name in names:
        assert name in err.message, (name, err.message)


class Repo:
    """A work tree with two commits: v1 (tagged, also on branch ``old``) and v2 (main's HEAD)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        git(path, "init", "-q", "-b", "main")
        (path / "Cargo.toml").write_text('[package]\nname = "svc"\n')
        (path / "src").mkdir()
        (path / "src" / "main.rs").write_text("// v1\n")
        self.v1 = commit_all(path, "v1")
        git(path, "tag", "v1")
        git(path, "branch", "old")
        (path / "src" / "main.rs").write_text("// v2\n")
        self.v2 = commit_all(path, "v2")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


def main_rs(root: Path | None) -> str:
    assert root is not None
    return (root / "src" / "main.rs").read_text()


def test_file_url_is_cloned_at_head_without_history(tmp_path: Path, repo: Repo) -> None:
    url = repo.path.as_uri()
    sub = open_submission(url, workdir=tmp_path / "work")
    assert (sub.kind, sub.source, sub.revision) == ("cargo", url, repo.v2)
    assert main_rs(sub.root) == "// v2\n"
    assert sub.root is not None and not (sub.root / ".git").exists()


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        pytest.param("v1", "v1", id="tag"),
        pytest.param("old", "v1", id="remote-branch"),
        pytest.param("main", "v2", id="default-branch"),
        pytest.param("FULL_SHA", "v1", id="full-sha"),
        pytest.param("SHORT_SHA", "v1", id="short-sha"),
    ],
)
def test_ref_is_checked_out(tmp_path: Path, repo: Repo, ref: str, expected: str) -> None:
    ref = ref.replace("FULL_SHA", repo.v1).replace("SHORT_SHA", repo.v1[:10])
    sub = open_submission(repo.path.as_uri(), workdir=tmp_path / "work", ref=ref)
    assert main_rs(sub.root) == f"// {expected}\n"
    assert sub.revision == getattr(repo, expected)


def test_work_tree_without_ref_is_graded_as_a_folder(tmp_path: Path, repo: Repo) -> None:
    (repo.path / "src" / "main.rs").write_text("// uncommitted\n")
    sub = open_submission(str(repo.path), workdir=tmp_path / "work")
    assert main_rs(sub.root) == "// uncommitted\n"
    assert sub.revision is None
    assert sub.root is not None and not (sub.root / ".git").exists()


def test_work_tree_with_ref_grades_the_commit_not_the_working_files(tmp_path: Path, repo: Repo) -> None:
    (repo.path / "src" / "main.rs").write_text("// uncommitted\n")
    (repo.path / "untracked.txt").write_text("not committed")
    sub = open_submission(str(repo.path), workdir=tmp_path / "work", ref="main")
    assert main_rs(sub.root) == "// v2\n"
    assert sub.revision == repo.v2
    assert sub.root is not None and not (sub.root / "untracked.txt").exists()


def test_bare_repository_is_cloned(tmp_path: Path, repo: Repo) -> None:
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(bare)], check=True, timeout=60)
    sub = open_submission(str(bare), workdir=tmp_path / "work")
    assert (sub.kind, sub.revision) == ("cargo", repo.v2)
    assert main_rs(sub.root) == "// v2\n"


def test_dockerfile_repo(tmp_path: Path, repo: Repo) -> None:
    (repo.path / "Dockerfile").write_text("FROM scratch\n")
    commit_all(repo.path, "docker")
    assert open_submission(repo.path.as_uri(), workdir=tmp_path / "work").kind == "dockerfile"


# --- failures ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("file:///nonexistent/repo.git", id="missing-file-url"),
        pytest.param("file:///etc", id="not-a-repo"),
    ],
)
def test_unreachable_url_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(SubmissionError) as caught:
        open_submission(url, workdir=tmp_path / "work")
    assert_refused(caught.value, url, "could not clone")
    assert os.listdir(tmp_path / "work") == []


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("no-such-branch", id="missing-branch"),
        pytest.param("0123456789abcdef0123456789abcdef01234567", id="missing-commit"),
        pytest.param("v1..main", id="range"),
    ],
)
def test_missing_ref_is_refused(tmp_path: Path, repo: Repo, ref: str) -> None:
    with pytest.raises(SubmissionError) as caught:
        open_submission(repo.path.as_uri(), workdir=tmp_path / "work", ref=ref)
    assert_refused(caught.value, ref, "is not a commit")
    assert os.listdir(tmp_path / "work") == []


@pytest.mark.parametrize(
    "ref",
    [pytest.param("--upload-pack=touch /tmp/x", id="option-injection"), pytest.param("", id="empty")],
)
def test_malformed_ref_is_refused(tmp_path: Path, repo: Repo, ref: str) -> None:
    with pytest.raises(SubmissionError) as caught:
        open_submission(repo.path.as_uri(), workdir=tmp_path / "work", ref=ref)
    assert_refused(caught.value, ref, "not a valid git ref")


def test_repository_without_commits_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "main")
    with pytest.raises(SubmissionError) as caught:
        open_submission(empty.as_uri(), workdir=tmp_path / "work")
    assert_refused(caught.value, "has no commits")


def test_committed_symlink_out_is_refused(tmp_path: Path, repo: Repo) -> None:
    os.symlink("../../../etc/passwd", repo.path / "evil")
    commit_all(repo.path, "evil")
    with pytest.raises(SubmissionError) as caught:
        open_submission(repo.path.as_uri(), workdir=tmp_path / "work")
    assert_refused(caught.value, "evil", "outside")
    assert os.listdir(tmp_path / "work") == []


@pytest.mark.parametrize(
    ("limits", "words"),
    [
        pytest.param(IntakeLimits(max_file_bytes=1000), ["big.bin", "one file"], id="file-too-big"),
        pytest.param(IntakeLimits(max_bytes=1500), ["in total"], id="total-too-big"),
        pytest.param(IntakeLimits(max_files=3), ["more than 3 files"], id="too-many-files"),
    ],
)
def test_caps_are_checked_before_checkout(
    tmp_path: Path, repo: Repo, monkeypatch: pytest.MonkeyPatch, limits: IntakeLimits, words: list[str]
) -> None:
    (repo.path / "big.bin").write_bytes(b"b" * 2000)
    commit_all(repo.path, "big")
    checked_out: list[list[str]] = []
    real_git = git_module._git

    def spying(args: list[str], **kwargs: object) -> object:
        if "checkout" in args:
            checked_out.append(args)
        return real_git(args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(git_module, "_git", spying)
    with pytest.raises(SubmissionError) as caught:
        open_submission(repo.path.as_uri(), workdir=tmp_path / "work", limits=limits)
    assert_refused(caught.value, *words)
    assert checked_out == []
    assert os.listdir(tmp_path / "work") == []


def test_timeout_is_one_line(tmp_path: Path, repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    def too_slow(argv: list[str], *, env: dict[str, str], timeout: float) -> tuple[int, bytes, bytes]:
        raise subprocess.TimeoutExpired(argv, timeout)

    monkeypatch.setattr(git_module, "run_bounded", too_slow)
    url = repo.path.as_uri()
    with pytest.raises(SubmissionError) as caught:
        open_submission(url, workdir=tmp_path / "work")
    assert_refused(caught.value, url, "longer than")


def test_run_bounded_kills_the_whole_process_group() -> None:
    # The child starts a grandchild that holds the pipes open; both must go when the time is up.
    script = (
        "import subprocess, sys, time;"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "time.sleep(60)"
    )
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        git_module.run_bounded([sys.executable, "-c", script], env=dict(os.environ), timeout=0.5)
    assert time.monotonic() - started < 10


# --- recognising git specs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "is_url"),
    [
        pytest.param("https://example.invalid/a/b.git", True, id="https"),
        pytest.param("http://example.invalid/a/b.git", True, id="http"),
        pytest.param("git://example.invalid/a/b.git", True, id="git"),
        pytest.param("ssh://git@example.invalid/a/b.git", True, id="ssh"),
        pytest.param("file:///srv/repo.git", True, id="file"),
        pytest.param("git@example.invalid:a/b.git", True, id="scp-like"),
        pytest.param("./submissions/alice", False, id="relative-path"),
        pytest.param("/srv/alice.tar.gz", False, id="absolute-path"),
        pytest.param("ext::sh -c id", False, id="ext-transport"),
    ],
)
def test_git_url_recognition(spec: str, is_url: bool) -> None:
    assert git_module.is_git_url(spec) is is_url
