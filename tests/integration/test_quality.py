"""Code-quality evidence gathered in the real build sandbox: clippy, the candidate's tests, rustfmt.

The sample submission is hostile in small ways: one of its tests passes only if it has no network, one
fails, one hangs; its code is unformatted, has a clippy warning and an unsafe block.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from harness.exercise import BuildLimits
from harness.report.quality import QualityReport
from harness.sandbox import labels
from harness.sandbox.archive import retarget
from harness.sandbox.cleanup import sweep_run
from harness.sandbox.images import ensure_images
from harness.sandbox.quality import QualityJob, gather_quality
from harness.sandbox.rootfs import SERVICE_UID
from harness.submission import IntakeLimits, open_submission, pack_context, source_digest

from .conftest import REPO

CARGO_TOML = '[package]\nname = "sample"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n'
MAIN_RS = """fn answer() -> u32 {
    return 42;
}

fn main() {
    let value = answer();
    let pointer = &value as *const u32;
    // unsafe { in a comment } is not counted
    let copy = unsafe { *pointer };
    println!("{}", copy);
}

#[cfg(test)]
mod tests {
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    #[test]
    fn answers() { assert_eq!(super::answer(), 42); }

    #[test]
    fn has_no_network() {
        let address: SocketAddr = "1.1.1.1:53".parse().unwrap();
        assert!(TcpStream::connect_timeout(&address, Duration::from_secs(3)).is_err());
    }

    #[test]
    fn fails() { assert_eq!(super::answer(), 41); }
}
"""
HANGING_TEST = """
#[test]
fn hangs() { loop { std::thread::sleep(std::time::Duration::from_secs(1)); } }
"""


def measure(client: docker.DockerClient, root: Path, limits: BuildLimits) -> QualityReport:
    run_id = labels.new_run_id()
    with tempfile.TemporaryDirectory() as workdir:
        submission = open_submission(str(root), workdir=Path(workdir))
        assert submission.root is not None
        packed = pack_context(submission.root, limits=IntakeLimits())
        job = QualityJob(
            client=client,
            images=ensure_images(client),
            context_tar=retarget(packed, prefix="src", uid=SERVICE_UID),
            plain_tar=packed.read_bytes(),
            source_digest=source_digest(submission.root),
            limits=limits,
            run_id=run_id,
            progress=lambda _: None,
        )
        try:
            return gather_quality(job)
        finally:
            sweep_run(client, run_id)


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache of its own, so a result cached by an earlier run cannot stand in for a measurement. The
    image lock and images themselves are shared: the harness finds them by tag, not in the cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("HARNESS_CACHE", str(cache))
    yield cache


def sample(tmp_path: Path, *, hanging: bool = False) -> Path:
    root = tmp_path / "sample"
    (root / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text(CARGO_TOML)
    (root / "src" / "main.rs").write_text(MAIN_RS + (HANGING_TEST if hanging else ""))
    (root / "DESIGN.md").write_text("# design\n")
    return root


def test_facts_of_a_sample_measured_in_the_sandbox_then_cached(
    docker_client: docker.DockerClient, tmp_path: Path, private_cache: Path
) -> None:
    root = sample(tmp_path)
    report = measure(docker_client, root, BuildLimits(timeout_s=300))
    assert report.unknown == [], report.unknown
    assert report.clippy_warnings == 1 and report.clippy_top[0].lint == "clippy::needless_return"
    assert report.clippy_top[0].location == "src/main.rs:2"
    # `has_no_network` passes only because the tests ran with no network.
    assert (report.tests_passed, report.tests_failed) == (2, 1)
    assert report.fmt_clean is False and report.fmt_files == ["src/main.rs"]
    assert (report.unsafe_blocks, report.readme, report.design_notes) == (1, None, ["DESIGN.md"])
    assert (report.lines_of_code, report.comment_lines) == (23, 1)
    assert report.toolchain and report.toolchain.startswith("rustc ")
    again = measure(docker_client, root, BuildLimits(timeout_s=300))
    assert again.cached and again.model_copy(update={"cached": False}) == report


def test_a_hanging_test_leaves_test_facts_unknown_not_failed(
    docker_client: docker.DockerClient, tmp_path: Path, private_cache: Path
) -> None:
    report = measure(docker_client, sample(tmp_path, hanging=True), BuildLimits(timeout_s=60))
    assert report.tests_passed is None and report.tests_failed is None
    assert any("cargo test did not finish within 30 s" in reason for reason in report.unknown), report.unknown
    # The other steps kept their own budgets and still decided.
    assert report.clippy_warnings == 1 and report.fmt_clean is False


def test_reference_meets_its_own_quality_bar(docker_client: docker.DockerClient) -> None:
    report = measure(docker_client, REPO / "exercises" / "kv-store" / "reference", BuildLimits())
    assert (report.clippy_warnings, report.tests_failed, report.fmt_clean, report.unsafe_blocks) == (
        0,
        0,
        True,
        0,
    )
    assert report.tests_passed and report.tests_passed > 0
