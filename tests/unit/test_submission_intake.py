"""open_submission on folders, images and bad input: kinds, copying rules, hostile trees, caps."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.errors import SubmissionError
from harness.submission import IntakeLimits, Kind, Submission, open_submission
from harness.submission.display import redact_url, shown


def write(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def crate(root: Path) -> Path:
    write(root / "Cargo.toml", '[package]\nname = "svc"\n')
    write(root / "src" / "main.rs", "fn main() {}\n")
    return root


def assert_refused(err: SubmissionError, *names: str) -> None:
    """Every refusal is one line and names what it refuses."""
    assert "\n" not in err.one_line()
    assert err.hint
    for name in names:
        assert name in err.message, (name, err.message)


def files_under(root: Path) -> set[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            found.add(Path(dirpath, name).relative_to(root).as_posix())
    return found


# --- kinds -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "kind"),
    [
        pytest.param(["Cargo.toml"], "cargo", id="cargo"),
        pytest.param(["Dockerfile"], "dockerfile", id="dockerfile"),
        pytest.param(["Cargo.toml", "Dockerfile"], "dockerfile", id="dockerfile-wins-over-cargo"),
    ],
)
def test_folder_kind_is_detected_from_the_top_level(tmp_path: Path, files: list[str], kind: Kind) -> None:
    project = tmp_path / "project"
    for name in files:
        write(project / name)
    sub = open_submission(str(project), workdir=tmp_path / "work")
    expected = Submission(
        kind=kind, source=str(project), root=tmp_path / "work" / "src", image=None, revision=None
    )
    assert sub == expected


def test_folder_is_copied_and_the_original_is_left_alone(tmp_path: Path) -> None:
    project = crate(tmp_path / "project")
    sub = open_submission(str(project), workdir=tmp_path / "work")
    assert sub.root is not None and sub.root != project
    assert (sub.root / "src" / "main.rs").read_text() == "fn main() {}\n"
    (sub.root / "src" / "main.rs").write_text("changed")
    assert (project / "src" / "main.rs").read_text() == "fn main() {}\n"


def test_executable_bit_survives_the_copy(tmp_path: Path) -> None:
    project = crate(tmp_path / "project")
    script = write(project / "run.sh", "#!/bin/sh\n")
    script.chmod(0o755)
    root = open_submission(str(project), workdir=tmp_path / "work").root
    assert root is not None
    assert os.stat(root / "run.sh").st_mode & 0o777 == 0o755
    assert os.stat(root / "Cargo.toml").st_mode & 0o777 == 0o644


def test_copy_skips_top_level_git_and_target_next_to_cargo_toml_only(tmp_path: Path) -> None:
    project = crate(tmp_path / "project")
    write(project / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(project / "target" / "debug" / "svc", "binary")
    crate(project / "crates" / "lib")
    write(project / "crates" / "lib" / "target" / "x", "binary")
    write(project / "docs" / "target" / "keep.md")  # no Cargo.toml next to it: kept
    write(project / "vendor" / ".git" / "keep")  # not top-level: kept
    root = open_submission(str(project), workdir=tmp_path / "work").root
    assert root is not None
    found = files_under(root)
    assert not {".git", "target", "crates/lib/target"} & found
    assert {"docs/target/keep.md", "vendor/.git/keep", "crates/lib/Cargo.toml"} <= found


def test_symlinked_target_next_to_cargo_toml_is_skipped_not_refused(tmp_path: Path) -> None:
    project = crate(tmp_path / "project")
    (tmp_path / "cache").mkdir()
    os.symlink(tmp_path / "cache", project / "target")
    root = open_submission(str(project), workdir=tmp_path / "work").root
    assert root is not None and not os.path.lexists(root / "target")


def test_symlinks_inside_are_kept_as_relative_links(tmp_path: Path) -> None:
    project = crate(tmp_path / "project")
    (project / "bin").mkdir()
    os.symlink("../src/main.rs", project / "bin" / "main.rs")
    os.symlink("src", project / "source")
    os.symlink("not-yet-there", project / "dangling-inside")
    root = open_submission(str(project), workdir=tmp_path / "work").root
    assert root is not None
    assert os.readlink(root / "bin" / "main.rs") == "../src/main.rs"
    assert os.readlink(root / "source") == "src"
    assert os.readlink(root / "dangling-inside") == "not-yet-there"
    assert (root / "source" / "main.rs").read_text() == "fn main() {}\n"


def test_workdir_inside_the_submission_is_not_copied_into_itself(tmp_path: Path) -> None:
    project = crate(tmp_path / "project")
    root = open_submission(str(project), workdir=project / ".harness" / "run1").root
    assert root is not None
    assert ".harness" in files_under(root)  # the folder itself exists in the copy...
    assert not (root / ".harness" / "run1").exists()  # ...but not the copy inside it


# --- hostile folders -----------------------------------------------------------------------------------


def _link_out(project: Path) -> str:
    write(project.parent / "secret.txt", "secret")
    os.symlink("../secret.txt", project / "leak")
    return "leak"


def _absolute_link_inside(project: Path) -> str:
    os.symlink(project / "src" / "main.rs", project / "abs")
    return "abs"


def _absolute_link_out(project: Path) -> str:
    os.symlink("/etc/passwd", project / "passwd")
    return "passwd"


def _dangling_out(project: Path) -> str:
    os.symlink("../../nowhere/at/all", project / "src" / "gone")
    return "src/gone"


def _chain_out(project: Path) -> str:
    (project / "deep" / "er").mkdir(parents=True)
    os.symlink("../..", project / "deep" / "er" / "up")  # lands on the root: fine on its own
    os.symlink("deep/er/up/..", project / "zz-escape")  # by name inside, resolved outside
    return "zz-escape"


def _fifo(project: Path) -> str:
    os.mkfifo(project / "pipe")
    return "pipe"


@pytest.mark.parametrize(
    "plant",
    [
        pytest.param(_link_out, id="symlink-out"),
        pytest.param(_absolute_link_inside, id="absolute-symlink-inside"),
        pytest.param(_absolute_link_out, id="absolute-symlink-out"),
        pytest.param(_dangling_out, id="dangling-symlink-out"),
        pytest.param(_chain_out, id="symlink-chain-out"),
        pytest.param(_fifo, id="fifo"),
    ],
)
def test_hostile_folder_is_refused_and_nothing_is_left(tmp_path: Path, plant: Callable[[Path], str]) -> None:
    project = crate(tmp_path / "project")
    offender = plant(project)
    workdir = tmp_path / "work"
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(project), workdir=workdir)
    assert_refused(caught.value, offender)
    assert not (workdir / "src").exists()


@pytest.mark.parametrize(
    ("limits", "words"),
    [
        pytest.param(IntakeLimits(max_files=5), ["more than 5 files"], id="too-many-files"),
        pytest.param(IntakeLimits(max_file_bytes=1000), ["big.bin", "larger than"], id="file-too-big"),
        pytest.param(IntakeLimits(max_bytes=3000), ["in total"], id="total-too-big"),
    ],
)
def test_folder_caps_are_enforced_while_copying(
    tmp_path: Path, limits: IntakeLimits, words: list[str]
) -> None:
    project = crate(tmp_path / "project")
    for i in range(6):
        write(project / "data" / f"f{i}.txt", "y" * 800)
    write(project / "big.bin", "z" * 1500)
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(project), workdir=tmp_path / "work", limits=limits)
    assert_refused(caught.value, *words)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    project = crate(tmp_path / "project")
    (project / "src" / "main.rs").chmod(0)
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(project), workdir=tmp_path / "work")
    assert_refused(caught.value, "src/main.rs")


# --- bad input -----------------------------------------------------------------------------------------


def test_folder_without_build_file_lists_what_it_found(tmp_path: Path) -> None:
    project = tmp_path / "project"
    crate(project / "inner")
    write(project / "README.md")
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(project), workdir=tmp_path / "work")
    assert_refused(caught.value, str(project), "neither a Dockerfile nor a Cargo.toml")
    assert caught.value.hint is not None
    assert "inner/" in caught.value.hint and "README.md" in caught.value.hint
    assert not (tmp_path / "work" / "src").exists()


@pytest.mark.parametrize(
    ("make", "kwargs", "words"),
    [
        pytest.param(lambda p: str(p / "missing"), {}, ["missing", "does not exist"], id="missing-path"),
        pytest.param(lambda p: str(write(p / "notes.txt")), {}, ["notes.txt", "neither"], id="plain-file"),
        pytest.param(lambda p: str(write(p / "code.rar")), {}, ["code.rar", ".rar"], id="rar-archive"),
        pytest.param(
            lambda p: str(write(p / "code.tar.xz")), {}, ["code.tar.xz", ".tar.xz"], id="xz-archive"
        ),
        pytest.param(
            lambda p: "ftp://example.invalid/x.git", {}, ["ftp://example.invalid/x.git"], id="ftp-url"
        ),
        pytest.param(lambda p: "ext::sh -c touch% /tmp/pwned", {}, ["ext::sh"], id="ext-transport"),
        pytest.param(
            lambda p: str(crate(p / "plain")), {"ref": "main"}, ["main", "plain"], id="ref-with-folder"
        ),
        pytest.param(
            lambda p: str(write(p / "a.zip")), {"ref": "v1"}, ["v1", "a.zip"], id="ref-with-archive"
        ),
        pytest.param(lambda p: str(p), {"image": "nginx:1"}, ["nginx:1"], id="folder-and-image"),
        pytest.param(lambda p: None, {"image": "nginx", "ref": "main"}, ["main"], id="ref-with-image"),
        pytest.param(lambda p: None, {}, ["no submission"], id="nothing-given"),
        pytest.param(lambda p: "  ", {}, ["no submission"], id="blank-spec"),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path, make: Callable[[Path], str | None], kwargs: dict[str, str], words: list[str]
) -> None:
    spec = make(tmp_path)
    with pytest.raises(SubmissionError) as caught:
        open_submission(spec, workdir=tmp_path / "work", ref=kwargs.get("ref"), image=kwargs.get("image"))
    assert_refused(caught.value, *words)


def test_fifo_as_spec_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(tmp_path / "pipe"), workdir=tmp_path / "work")
    assert_refused(caught.value, "pipe", "neither a file nor a folder")


def test_existing_src_in_workdir_is_a_programming_error(tmp_path: Path) -> None:
    project = crate(tmp_path / "project")
    (tmp_path / "work" / "src").mkdir(parents=True)
    with pytest.raises(FileExistsError):
        open_submission(str(project), workdir=tmp_path / "work")


def test_control_characters_in_names_stay_on_one_line() -> None:
    assert shown("a\nb\tc") == "a\\nb\\tc"
    assert len(shown("x" * 5000)) < 200


def test_url_credentials_are_not_shown() -> None:
    assert redact_url("https://me:s3cret@git.example/x.git") == "https://me:***@git.example/x.git"
    assert redact_url("https://git.example/x.git") == "https://git.example/x.git"


# --- images --------------------------------------------------------------------------------------------

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("nginx", id="bare-name"),
        pytest.param("nginx:1.25-alpine", id="name-tag"),
        pytest.param("library/nginx", id="namespaced"),
        pytest.param("ghcr.io/acme/svc:v1.0", id="registry"),
        pytest.param("localhost:5000/svc", id="registry-port"),
        pytest.param(f"ghcr.io/acme/svc@{DIGEST}", id="digest"),
        pytest.param(f"svc:latest@{DIGEST}", id="tag-and-digest"),
        pytest.param("my_org/my-svc__x", id="separators"),
    ],
)
def test_image_reference_gives_image_kind(tmp_path: Path, ref: str) -> None:
    sub = open_submission(None, workdir=tmp_path, image=ref)
    assert sub == Submission(kind="image", source=ref, root=None, image=ref, revision=None)
    assert list(tmp_path.iterdir()) == []  # no Docker, no files


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("", id="empty"),
        pytest.param("Nginx", id="uppercase-name"),
        pytest.param("ngi nx", id="space"),
        pytest.param("-rm", id="leading-dash"),
        pytest.param("nginx:", id="empty-tag"),
        pytest.param("nginx:a:b", id="two-tags"),
        pytest.param("nginx@sha256:abc", id="short-digest"),
        pytest.param("a//b", id="empty-component"),
        pytest.param("svc\n--privileged", id="newline"),
    ],
)
def test_malformed_image_reference_is_refused(tmp_path: Path, ref: str) -> None:
    with pytest.raises(SubmissionError) as caught:
        open_submission(None, workdir=tmp_path, image=ref)
    assert_refused(caught.value, shown(ref) or "empty", "not a valid image reference")
