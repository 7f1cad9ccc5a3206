"""The grader catches realistic mistakes, each for the right reason: every mutant of the kv-store
reference fails the criteria it must, and nothing outside what its mistake explains."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.exercise import Exercise

from .conftest import REPO, grade_kv

MUTANTS = REPO / "exercises" / "kv-store" / "mutants"
MANIFEST = yaml.safe_load((MUTANTS / "mutants.yaml").read_text())["mutants"]
#: The scenarios that decide each mutant's must_fail criteria (keeps the suite fast).
KEYWORDS = {
    "ack-before-write": "acknowledged_writes_survive_kill_9",
    "no-fsync": "power_loss or fsynced",
    "serial-connections": "slowloris or test_150_clients",
    "stale-reads": "linearizable",
    "binary-unsafe-values": "values_and_keys_are_binary_safe",
    "decr-increments": "decr_and_incrby_update_the_value",
    "mget-missing-as-empty": "mget_returns_null_for_missing_keys",
    "expiry-never-enforced": "key_set_with_px_expires or px_deadline_is_kept_to_the_millisecond",
    "reads-answered-before-writes": "pipelined_commands_are_answered_in_order",
    "protocol-error-left-open": "missing_bulk_header or replies_before_a_protocol_error",
    "set-nx-ignored": "set_nx_only_writes_a_missing_key",
    "incr-overflow-wraps": "overflow_is_an_error",
    "no-inline-commands": "test_inline_commands",
    "no-bulk-length-cap": "bulk_length_over_the_cap",
    "subscribed-mode-not-enforced": "subscribed_connection_only_runs",
    "global-lock-across-await": "throughput_is_at_least_half",
    "sigterm-not-handled": "sigterm_exits_with_status_0",
    "crash-on-malformed-frame": "malformed_input_never_kills",
    # Code-quality facts are only gathered by a full grade (any -k skips them): this one is slow.
    "clippy-warnings": None,
}


def mutated_reference(name: str, workdir: Path) -> Path:
    copy = workdir / name
    shutil.copytree(
        REPO / "exercises" / "kv-store" / "reference", copy, ignore=shutil.ignore_patterns("target")
    )
    subprocess.run(["git", "apply", str(MUTANTS / f"{name}.patch")], cwd=copy, check=True)
    return copy


@pytest.mark.parametrize("mutant", MANIFEST, ids=[m["name"] for m in MANIFEST])
def test_mutant_fails_what_it_should(mutant: dict[str, object], kv_store: Exercise, tmp_path: Path) -> None:
    name = str(mutant["name"])
    result = grade_kv(kv_store, submission=mutated_reference(name, tmp_path), keyword=KEYWORDS[name])
    failed = {c.id for c in result.criteria if c.status in ("failed", "partial")}
    must = set(mutant["must_fail"])  # type: ignore[call-overload]
    allowed = must | set(mutant.get("may_fail", []))  # type: ignore[attr-defined]
    assert must <= failed, f"{name} should fail {sorted(must - failed)}; results: {failed or 'none failed'}"
    assert failed <= allowed, (
        f"{name} also failed {sorted(failed - allowed)}, which its mistake does not explain"
    )


def test_every_mutant_patch_is_listed() -> None:
    listed = {str(m["patch"]) for m in MANIFEST}
    assert listed == {p.name for p in MUTANTS.glob("*.patch")}
