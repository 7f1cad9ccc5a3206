"""Code-quality evidence: reading what clippy, cargo test and rustfmt printed, and the static counts.

The outputs are shaped like the real tools' (cargo 1.95); the sandboxed run itself is covered by
tests/integration/test_quality.py.
"""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from harness.sandbox.quality import parse_clippy, parse_fmt, parse_tests, static_facts


def diagnostic(lint: str | None, line: int, level: str = "warning", spans: bool = True) -> str:
    message = {
        "level": level,
        "message": f"{lint} here",
        "code": {"code": lint} if lint else None,
        "spans": [{"file_name": "src/main.rs", "line_start": line, "is_primary": True}] if spans else [],
    }
    return json.dumps({"reason": "compiler-message", "package_id": "x", "message": message})


def test_clippy_counts_distinct_warnings_with_a_span() -> None:
    output = "\n".join(
        [
            "    Checking sample v0.1.0",
            diagnostic("clippy::needless_return", 2),
            diagnostic("clippy::needless_return", 2),  # the same warning for the bin and the test target
            diagnostic("unused_variables", 7),
            diagnostic(None, 0, spans=False),  # "2 warnings emitted"
            '{"reason":"build-finished","success":true}',
            "{not json",
        ]
    )
    count, top, why = parse_clippy(output, 0, 100)
    assert (count, why) == (2, None)
    assert [(w.lint, w.location) for w in top] == [
        ("clippy::needless_return", "src/main.rs:2"),
        ("unused_variables", "src/main.rs:7"),
    ]


@pytest.mark.parametrize(
    ("output", "code", "reason"),
    [
        pytest.param("", 124, "did not finish within 100 s", id="timeout"),
        pytest.param("", 137, "did not finish within 100 s", id="killed-after-timeout"),
        pytest.param("error: no such command: `clippy`", 101, "no clippy", id="no-clippy"),
        pytest.param(diagnostic(None, 3, level="error"), 101, "could not compile", id="compile-error"),
        pytest.param("error: failed to run rustc", 101, "exit 101", id="other-failure"),
    ],
)
def test_clippy_that_did_not_finish_is_unknown_not_zero(output: str, code: int, reason: str) -> None:
    count, _, why = parse_clippy(output, code, 100)
    assert count is None and why is not None and reason in why


def test_denied_lints_still_count_as_warnings() -> None:
    count, _, why = parse_clippy(diagnostic("clippy::unwrap_used", 4, level="error"), 101, 100)
    assert (count, why) == (1, None)


LIB_RESULT = "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"
BIN_RESULT = (
    "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.1s"
)


@pytest.mark.parametrize(
    ("output", "code", "counts", "reason"),
    [
        pytest.param(f"{LIB_RESULT}\n{BIN_RESULT}", 101, (5, 1, 1), None, id="summed-over-binaries"),
        pytest.param("running 0 tests\n", 0, (0, 0, 0), None, id="no-tests"),
        pytest.param(
            'error: could not compile `x` (bin "x" test)', 101, (0, 0, 0), "did not compile", id="no-build"
        ),
        pytest.param(
            f"{LIB_RESULT}\nerror: test failed, signal: 9", 101, (3, 1, 1), "crash", id="crashed-binary"
        ),
        pytest.param(LIB_RESULT, 124, None, "did not finish within 50 s", id="timeout"),
    ],
)
def test_test_results(
    output: str, code: int, counts: tuple[int, int, int] | None, reason: str | None
) -> None:
    found, why = parse_tests(output, code, 50)
    assert found == counts
    assert (why is None) if reason is None else (why is not None and reason in why)


def test_fmt_check() -> None:
    diff = "Diff in /work/src/src/main.rs:1:\nDiff in /work/src/src/db.rs at line 4:\n"
    assert parse_fmt(diff, 1, 10) == (False, ["src/db.rs", "src/main.rs"], None)
    assert parse_fmt("", 0, 10) == (True, [], None)
    assert parse_fmt("error: no such command: `fmt`", 101, 10)[0] is None
    assert parse_fmt("", 124, 10)[2] == "cargo fmt --check did not finish within 10 s"


def tar_of(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_static_facts_count_code_not_comments_strings_or_vendored_crates() -> None:
    source = (
        "//! crate docs\n"
        "/// a doc comment mentioning unsafe { }\n"
        "#[derive(Debug)]\n"
        "fn main() {\n"
        '    let s = "unsafe { not code }"; // unsafe {\n'
        "    let v = unsafe { read() };\n"
        "\n"
        "}\n"
        "unsafe fn read() -> u8 { 0 }\n"
        "unsafe impl Send for X {}\n"
    )
    facts = static_facts(
        tar_of(
            {
                "./src/main.rs": source,
                "./vendor/tokio/src/lib.rs": "unsafe { }\n" * 50,
                "./target/debug/build.rs": "fn x() {}\n",
                "./README.md": "# run me\n",
                "./docs/durability.md": "fsync\n",
                "./src/notes.md": "not a top-level note\n",
            }
        )
    )
    assert (facts.lines_of_code, facts.comment_lines, facts.rust_files) == (7, 2, 1)
    assert (facts.unsafe_blocks, facts.unsafe_items) == (1, 2)
    assert (facts.readme, facts.design_notes) == ("README.md", ("docs/durability.md",))
