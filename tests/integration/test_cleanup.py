"""Nothing is left behind: Ctrl-C during a grade cleans up at once; a SIGKILLed grade is swept later."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import docker

from harness.sandbox import labels

from .conftest import SUBMISSIONS, leftovers


def start_grade(tmp_path: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "grade",
            str(SUBMISSIONS / "never-listens"),
            "-e",
            "kv-store",
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_service_container(client: docker.DockerClient, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    selector = {"label": [labels.RUN, f"{labels.ROLE}=service"], "status": "running"}
    while time.monotonic() < deadline:
        if client.containers.list(filters=selector):
            return
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "grade exited early"
        time.sleep(0.2)
    raise AssertionError("no service container appeared")


def test_interrupt_removes_everything(docker_client: docker.DockerClient, tmp_path: object) -> None:
    proc = start_grade(tmp_path)
    wait_for_service_container(docker_client, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert b"interrupted" in stderr and b"Traceback" not in stderr
    assert leftovers(docker_client) == []


def test_sigterm_behaves_like_interrupt(docker_client: docker.DockerClient, tmp_path: object) -> None:
    proc = start_grade(tmp_path)
    wait_for_service_container(docker_client, proc)
    proc.terminate()
    proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert leftovers(docker_client) == []


def test_sigkilled_grade_is_swept_by_gc(docker_client: docker.DockerClient, tmp_path: object) -> None:
    proc = start_grade(tmp_path)
    wait_for_service_container(docker_client, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert leftovers(docker_client) != [], "a SIGKILLed grade cannot clean up; gc must"
    swept = subprocess.run(
        [sys.executable, "-m", "harness.cli", "gc"], capture_output=True, text=True, timeout=120
    )
    assert swept.returncode == 0, swept.stderr
    assert leftovers(docker_client) == []
