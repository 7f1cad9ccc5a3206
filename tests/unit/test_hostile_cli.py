"""Bad input to the harness itself and hostile submissions refused at intake, through the real CLI in a
subprocess: one clear line on stderr, exit 2, no traceback. DOCKER_HOST points nowhere, which proves
each refusal happens before the harness touches an engine (and makes the missing-engine case itself)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NO_ENGINE = "unix:///nonexistent.sock"
CARGO = b'[package]\nname = "x"\nversion = "0.1.0"\nedition = "2021"\n'


def harness(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": NO_ENGINE, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def assert_one_line(done: subprocess.CompletedProcess[str], *words: str) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def crate(folder: Path) -> Path:
    (folder / "src").mkdir(parents=True)
    (folder / "Cargo.toml").write_bytes(CARGO)
    (folder / "src" / "main.rs").write_text("fn main() {}\n")
    return folder


# --- bad input to the harness ---------------------------------------------------------------------------


def test_unknown_exercise(tmp_path: Path) -> None:
    assert_one_line(
        harness("grade", str(crate(tmp_path / "c")), "-e", "no-such-exercise"), "unknown exercise"
    )


def test_malformed_exercise_yaml(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "exercise.yaml").write_text(
        "name: broken\ntitle: x\ntime_box: 1h\nskills: []\nservice: {port: 99999}\n"
    )
    line = assert_one_line(harness("grade", str(crate(tmp_path / "c")), "-e", str(broken)), "service.port")
    assert str(broken / "exercise.yaml") in line


def test_malformed_rubric(tmp_path: Path) -> None:
    exercise = tmp_path / "ex"
    exercise.mkdir()
    (exercise / "rubric.yaml").write_text("role: [unclosed\n")
    (exercise / "exercise.yaml").write_text(
        "name: ex\ntitle: x\ntime_box: 1h\nskills: []\nservice: {port: 6379}\nrubric: rubric.yaml\n"
    )
    assert_one_line(harness("grade", str(crate(tmp_path / "c")), "-e", str(exercise)), "rubric.yaml")


@pytest.mark.parametrize("command", [["grade", "CRATE", "-e", "kv-store"], ["gc"], ["prepare"]])
def test_missing_docker_engine(tmp_path: Path, command: list[str]) -> None:
    args = [str(crate(tmp_path / "c")) if part == "CRATE" else part for part in command]
    assert_one_line(harness(*args), "cannot reach the Docker engine")


def test_unreadable_path(tmp_path: Path) -> None:
    submission = crate(tmp_path / "c")
    archive = tmp_path / "code.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(submission, arcname=".")
    archive.chmod(0o000)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        # root reads everything: without the capabilities that bypass file permissions it cannot.
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv is missing: no path is unreadable")
        prefix = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search")
    done = harness("grade", str(archive), "-e", "kv-store", "--out", str(tmp_path / "o"), prefix=prefix)
    assert_one_line(done, "cannot read", "permission denied")


def test_check_address_where_nothing_listens(tmp_path: Path) -> None:
    """This tool binds no port of its own (services sit on an internal network, nothing is published), so
    the "port" problem a user can hit is `check --address` naming a port where nothing listens."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: a port where certainly nothing listens
    done = harness("check", "-e", "kv-store", "--address", f"127.0.0.1:{port}", "--out", str(tmp_path))
    assert_one_line(done, f"nothing accepts connections at 127.0.0.1:{port}")


# --- hostile submissions refused at intake --------------------------------------------------------------


@pytest.mark.parametrize("target", ["/etc/passwd", "../../outside-secret.txt"], ids=["absolute", "climbing"])
def test_symlink_out_of_the_submission_is_refused(tmp_path: Path, target: str) -> None:
    (tmp_path / "outside-secret.txt").write_text("secret")
    submission = crate(tmp_path / "sub" / "c")
    (submission / "src" / "leak.txt").symlink_to(target)
    line = assert_one_line(harness("grade", str(submission), "-e", "kv-store", "--out", str(tmp_path / "o")))
    assert "leak.txt" in line and "symlink" in line


def test_archive_with_path_traversal_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "code.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in (
            ("Cargo.toml", CARGO),
            ("src/main.rs", b"fn main() {}\n"),
            ("../../escaped.txt", b"x"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "o"
    line = assert_one_line(harness("grade", str(archive), "-e", "kv-store", "--out", str(out)))
    assert "escaped.txt" in line
    assert not any(p.name == "escaped.txt" for p in Path("/tmp").iterdir())
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_zip_bomb_is_stopped_at_the_intake_cap(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("Cargo.toml", CARGO)
        zf.writestr("src/main.rs", "fn main() {}\n")
        for i in range(5):  # 5 x 60 MiB of zeros: 300 MiB unpacked, a few hundred KB packed
            with zf.open(f"assets/zeros{i}.bin", "w", force_zip64=True) as member:
                chunk = bytes(1 << 20)
                for _ in range(60):
                    member.write(chunk)
    assert bomb.stat().st_size < 2 << 20
    before = set(Path("/tmp").glob("harness-*"))
    line = assert_one_line(harness("grade", str(bomb), "-e", "kv-store", "--out", str(tmp_path / "o")))
    assert "256 MiB in total" in line
    assert set(Path("/tmp").glob("harness-*")) <= before, "the partial unpack was not removed"


def test_huge_build_context_is_refused_before_any_build(tmp_path: Path) -> None:
    submission = crate(tmp_path / "c")
    for i in range(5):  # sparse: 300 MiB that cost no disk here
        with open(submission / f"blob{i}.bin", "wb") as blob:
            blob.truncate(60 << 20)
    line = assert_one_line(harness("grade", str(submission), "-e", "kv-store", "--out", str(tmp_path / "o")))
    assert "256 MiB in total" in line
