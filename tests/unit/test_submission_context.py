"""pack_context and source_digest: a deterministic, sanitised tar of a submission root."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.errors import SubmissionError
from harness.submission import IntakeLimits, pack_context, source_digest

LIMITS = IntakeLimits()


def tree(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[package]\nname = "svc"\n')
    (root / "src" / "main.rs").write_text("fn main() {}\n")
    (root / "src" / "b.rs").write_text("// b\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o4755)
    os.symlink("src/main.rs", root / "main.rs")
    (root / "target" / "debug").mkdir(parents=True)
    (root / "target" / "debug" / "svc").write_bytes(b"\x7fELF")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "docs" / "target").mkdir(parents=True)
    (root / "docs" / "target" / "keep.md").write_text("kept: no Cargo.toml next to it\n")
    return root


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_context_is_written_next_to_the_root(tmp_path: Path) -> None:
    root = tree(tmp_path / "work" / "src")
    assert pack_context(root, limits=LIMITS) == tmp_path / "work" / "context.tar"
    assert not (tmp_path / "work" / ".context.tar.partial").exists()


def test_same_tree_gives_the_same_bytes(tmp_path: Path) -> None:
    root = tree(tmp_path / "a" / "src")
    first = sha256(pack_context(root, limits=LIMITS))
    os.utime(root / "src" / "main.rs", (1, 1))  # times must not matter
    second = sha256(pack_context(root, limits=LIMITS))
    other = tree(tmp_path / "b" / "src")  # nor where, or when, the tree was made
    assert first == second == sha256(pack_context(other, limits=LIMITS))


def test_source_digest_is_the_sha256_of_the_context(tmp_path: Path) -> None:
    root = tree(tmp_path / "work" / "src")
    assert source_digest(root) == sha256(pack_context(root, limits=LIMITS))


def test_different_content_gives_a_different_digest(tmp_path: Path) -> None:
    root = tree(tmp_path / "work" / "src")
    before = source_digest(root)
    (root / "src" / "b.rs").write_text("// changed\n")
    assert source_digest(root) != before


def test_build_output_changes_do_not_change_the_digest(tmp_path: Path) -> None:
    root = tree(tmp_path / "work" / "src")
    before = source_digest(root)
    (root / "target" / "debug" / "svc").write_bytes(b"rebuilt")
    (root / ".git" / "HEAD").write_text("detached\n")
    assert source_digest(root) == before


def test_context_content_and_metadata(tmp_path: Path) -> None:
    root = tree(tmp_path / "work" / "src")
    with tarfile.open(pack_context(root, limits=LIMITS)) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == [
        "Cargo.toml",
        "docs",
        "docs/target",
        "docs/target/keep.md",
        "main.rs",
        "run.sh",
        "src",
        "src/b.rs",
        "src/main.rs",
    ]
    assert all((m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "") for m in members)
    by_name = {m.name: m for m in members}
    assert by_name["run.sh"].mode == 0o755  # setuid dropped, executable kept
    assert by_name["main.rs"].issym() and by_name["main.rs"].linkname == "src/main.rs"
    assert by_name["src"].isdir()


@pytest.mark.parametrize(
    ("limits", "words"),
    [
        pytest.param(IntakeLimits(max_files=3), ["more than 3 files"], id="too-many-files"),
        pytest.param(IntakeLimits(max_file_bytes=10), ["one file"], id="file-too-big"),
        pytest.param(IntakeLimits(max_bytes=40), ["in total"], id="total-too-big"),
    ],
)
def test_caps_apply_to_packing(tmp_path: Path, limits: IntakeLimits, words: list[str]) -> None:
    root = tree(tmp_path / "work" / "src")
    with pytest.raises(SubmissionError) as caught:
        pack_context(root, limits=limits)
    assert "\n" not in caught.value.one_line()
    assert all(word in caught.value.message for word in words)
    assert sorted(os.listdir(tmp_path / "work")) == ["src"]


@pytest.mark.parametrize(
    ("make", "offender"),
    [
        pytest.param(lambda root: os.symlink("../../outside", root / "leak"), "leak", id="symlink-out"),
        pytest.param(lambda root: os.mkfifo(root / "pipe"), "pipe", id="fifo"),
    ],
)
def test_unsafe_entries_are_not_packed(tmp_path: Path, make: Callable[[Path], None], offender: str) -> None:
    root = tree(tmp_path / "work" / "src")
    make(root)
    with pytest.raises(SubmissionError) as caught:
        source_digest(root)
    assert "\n" not in caught.value.one_line()
    assert offender in caught.value.message


def test_copied_tree_keeps_its_digest(tmp_path: Path) -> None:
    root = tree(tmp_path / "a" / "src")
    copy = tmp_path / "b" / "src"
    shutil.copytree(root, copy, symlinks=True)
    assert source_digest(root) == source_digest(copy)
