"""Pure pieces of the sandbox: bounded logs, binary choice, tar helpers, stale-owner detection."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from harness.errors import BuildFailed, CandidateFailure
from harness.sandbox import archive, labels
from harness.sandbox.build import choose_binary
from harness.sandbox.containers import BoundedLog, hardened


def test_bounded_log_keeps_head_and_tail_of_a_flood() -> None:
    log = BoundedLog(1000)
    log.feed(b"HEAD" + b"x" * 10_000)
    for _ in range(1000):
        log.feed(b"y" * 1000)
    log.feed(b"TAIL")
    text = log.text()
    assert text.startswith("HEAD") and text.endswith("TAIL")
    assert "bytes elided" in text
    assert len(text) < 1200
    assert log.total == 4 + 10_000 + 1_000_000 + 4


def test_bounded_log_short_output_is_kept_whole() -> None:
    log = BoundedLog(1000)
    log.feed(b"Compiling x\n")
    log.feed(b"Finished\n")
    assert log.text() == "Compiling x\nFinished\n"


def metadata(*bins: str, wanted: str | None = None) -> dict[str, object]:
    package: dict[str, object] = {
        "targets": [{"name": b, "kind": ["bin"]} for b in bins] + [{"name": "lib", "kind": ["lib"]}]
    }
    if wanted:
        package["metadata"] = {"harness": {"bin": wanted}}
    return {"packages": [package], "target_directory": "/work/src/target"}


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        pytest.param(metadata("server"), "server", id="single-bin"),
        pytest.param(metadata("server", "bench", wanted="server"), "server", id="named-in-metadata"),
    ],
)
def test_choose_binary(meta: dict[str, object], expected: str) -> None:
    assert choose_binary(meta) == (expected, "/work/src/target")


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        pytest.param(metadata(), "no binary target", id="no-bin"),
        pytest.param(metadata("a", "b"), "several binaries (a, b)", id="ambiguous"),
        pytest.param(metadata("a", wanted="zz"), "names no binary target", id="wrong-name"),
    ],
)
def test_choose_binary_failures_are_the_candidates(meta: dict[str, object], message: str) -> None:
    with pytest.raises(BuildFailed, match=message.replace("(", r"\(").replace(")", r"\)")):
        choose_binary(meta)


def test_hardened_options_drop_everything() -> None:
    options = hardened(memory_mb=256, cpus=0.5, pids=64, labels={"a": "b"})
    assert options["cap_drop"] == ["ALL"]
    assert options["security_opt"] == ["no-new-privileges"]
    assert options["mem_limit"] == options["memswap_limit"] == "256m"
    assert options["nano_cpus"] == 500_000_000
    assert options["read_only"] is True


def test_retarget_moves_under_prefix_and_owner(tmp_path: Path) -> None:
    source = tmp_path / "ctx.tar"
    with tarfile.open(source, "w") as tar:
        data = b"fn main() {}"
        info = tarfile.TarInfo("src/main.rs")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    moved = archive.retarget(source, prefix="src", uid=10001)
    with tarfile.open(fileobj=io.BytesIO(moved)) as tar:
        members = {m.name: m for m in tar}
    assert set(members) == {"src", "src/src/main.rs"}
    assert {m.uid for m in members.values()} == {10001}


def test_read_single_file_refuses_oversized_output() -> None:
    blob = archive.single_file(b"x" * 200_000, "big")
    with pytest.raises(CandidateFailure, match="larger than"):
        archive.read_single_file([blob], limit=100_000, what="binary")
    assert archive.read_single_file([blob], limit=1_000_000, what="binary") == b"x" * 200_000


def test_owner_is_gone_only_for_dead_local_processes() -> None:
    assert not labels.owner_is_gone(labels.owner_tag())
    assert not labels.owner_is_gone("some-other-host:1")
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    assert labels.owner_is_gone(labels.owner_tag(dead))
