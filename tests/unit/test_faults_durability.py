"""Durability verdicts from strace output (the real trace is checked in tests/integration)."""

from __future__ import annotations

import pytest

from harness.faults.durability import Acknowledged, check_trace
from harness.faults.strace_text import buffers, unescape

AOF = "7</data/appendonly.aof>"


def trace(*calls: str) -> list[str]:
    return [f"100 10:00:00.{index:06d} {call}" for index, call in enumerate(calls)]


def test_write_sync_ack_passes() -> None:
    verdict = check_trace(
        trace(f'write({AOF}, "SET", 3) = 3', f"fdatasync({AOF}) = 0", 'write(8<TCP:[1]>, "+OK\\r\\n", 5) = 5')
    )
    assert verdict.status == "pass" and (verdict.acks, verdict.file_writes, verdict.syncs) == (1, 1, 1)


def test_ack_before_sync_fails_and_shows_the_ack_and_the_write() -> None:
    verdict = check_trace(
        trace(f'write({AOF}, "SET", 3) = 3', 'write(8<TCP:[1]>, "+OK\\r\\n", 5) = 5', f"fsync({AOF}) = 0")
    )
    assert verdict.status == "fail" and verdict.violation is not None
    assert "+OK" in verdict.violation.ack_line
    assert verdict.violation.unsynced[0].path == "/data/appendonly.aof"
    assert "acknowledgement at 10:00:00.000001" in verdict.render()


def test_a_sync_of_another_file_does_not_count() -> None:
    verdict = check_trace(
        trace(
            f'write({AOF}, "SET", 3) = 3',
            "fsync(9</data/other>) = 0",
            'sendto(8<TCP:[1]>, "+OK\\r\\n", 5, 0x4000, NULL, 0) = 5',
        )
    )
    assert verdict.status == "fail"


def test_a_failed_sync_does_not_count_and_split_calls_are_followed() -> None:
    lines = [
        f'100 10:00:00.000001 write({AOF}, "SET", 3) = 3',
        f"101 10:00:00.000002 fsync({AOF} <unfinished ...>",
        "101 10:00:00.000003 <... fsync resumed>) = -1 EIO (Input/output error)",
        '100 10:00:00.000004 write(8<TCP:[1]>, "+OK\\r\\n", 5) = 5',
    ]
    assert check_trace(lines).status == "fail"
    lines[2] = "101 10:00:00.000003 <... fsync resumed>) = 0"
    assert check_trace(lines).status == "pass"


def test_sync_file_range_needs_wait_after() -> None:
    base = [f'write({AOF}, "SET", 3) = 3', None, 'write(8<TCP:[1]>, "+OK", 3) = 3']
    base[1] = f"sync_file_range({AOF}, 0, 3, 0x2) = 0"
    assert check_trace(trace(*[c for c in base if c])).status == "fail"
    base[1] = f"sync_file_range({AOF}, 0, 3, 0x7) = 0"
    assert check_trace(trace(*[c for c in base if c])).status == "pass"


def test_o_dsync_files_are_durable_on_write() -> None:
    verdict = check_trace(
        trace(
            'openat(-100</data>, "/data/log", 0x101041, 0644) = 7</data/log>',
            'write(7</data/log>, "SET", 3) = 3',
            'write(8<TCP:[1]>, "+OK", 3) = 3',
        )
    )
    assert verdict.status == "pass"


def test_msync_of_a_shared_mapping_counts_for_its_file() -> None:
    verdict = check_trace(
        trace(
            "mmap(NULL, 4096, 0x3, 0x1, 7</data/log>, 0) = 0x7f0000000000",
            'write(7</data/log>, "SET", 3) = 3',
            "msync(0x7f0000000000, 4096, 0x4) = 0",
            'write(8<TCP:[1]>, "+OK", 3) = 3',
        )
    )
    assert verdict.status == "pass"


def test_unknown_without_file_writes_or_with_io_uring() -> None:
    assert check_trace(trace('write(8<TCP:[1]>, "+PONG", 5) = 5')).status == "unknown"
    uring = check_trace(trace("io_uring_setup(8, 0x7ffd) = 5", f'write({AOF}, "x", 1) = 1'))
    assert uring.status == "unknown" and "io_uring" in uring.reason


def test_writes_outside_data_and_to_pipes_are_ignored() -> None:
    verdict = check_trace(
        trace(
            'write(1<pipe:[5]>, "log line", 8) = 8',
            'write(3</tmp/scratch>, "x", 1) = 1',
            f'write({AOF}, "SET", 3) = 3',
            f"fdatasync({AOF}) = 0",
            'write(8<TCP:[1]>, "+OK ) = 5 in data", 17) = 17',
        )
    )
    assert verdict.status == "pass" and verdict.file_writes == 1


# --- content mode: overlapping requests (group commit) -------------------------------------------------

GROUP = Acknowledged([b"v-0", b"v-1", b"v-2", b"v-3"])


def group_commit(*, second_batch_synced_before_first_reply: bool = False) -> list[str]:
    """A group-commit service: batch 1 written and synced, batch 2 being written while batch 1's replies
    go out, then batch 2 synced and answered."""
    first_reply = 'write(8<TCP:[1]>, "+OK\\r\\n+OK\\r\\n", 10) = 10'
    calls = [
        f'write({AOF}, "SET a v-0\\nSET b v-1\\n", 20) = 20',
        f"fdatasync({AOF}) = 0",
        f'write({AOF}, "SET c v-2\\nSET d v-3\\n", 20) = 20',
        first_reply,
        f"fdatasync({AOF}) = 0",
        'write(8<TCP:[1]>, "+OK\\r\\n+OK\\r\\n", 10) = 10',
    ]
    if second_batch_synced_before_first_reply:
        calls[3], calls[4] = calls[4], calls[3]
    return trace(*calls)


def test_a_reply_for_synced_data_passes_while_the_next_batch_is_written() -> None:
    assert check_trace(group_commit()).status == "fail"  # without markers: conservative
    verdict = check_trace(group_commit(), expected=GROUP)
    assert verdict.status == "pass", verdict.render()
    assert "4 acknowledged requests" in verdict.reason


def test_a_reply_that_covers_an_unsynced_marker_fails() -> None:
    calls = [
        f'write({AOF}, "SET a v-0\\nSET b v-1\\n", 20) = 20',
        f"fdatasync({AOF}) = 0",
        f'write({AOF}, "SET c v-2\\n", 10) = 10',
        'write(8<TCP:[1]>, "+OK\\r\\n+OK\\r\\n+OK\\r\\n", 15) = 15',
        f"fdatasync({AOF}) = 0",
    ]
    verdict = check_trace(trace(*calls), expected=GROUP)
    assert verdict.status == "fail" and verdict.violation is not None
    assert "request 3" in verdict.render() and "v-2" in verdict.render()


def test_a_reply_counted_across_split_socket_writes_and_markers_across_file_writes() -> None:
    calls = [
        f'write({AOF}, "SET a v-", 8) = 8',
        f'write({AOF}, "0\\n", 2) = 2',
        'sendto(8<TCP:[1]>, "+O", 2, 0x4000, NULL, 0) = 2',  # not yet a whole reply: acknowledges nothing
        f"fsync({AOF}) = 0",
        'sendto(8<TCP:[1]>, "K\\r\\n", 3, 0x4000, NULL, 0) = 3',
    ]
    verdict = check_trace(trace(*calls), expected=GROUP)
    assert verdict.status == "pass", verdict.render()


def test_acknowledged_before_written_fails_and_never_written_is_unknown() -> None:
    late = [
        'write(8<TCP:[1]>, "+OK\\r\\n", 5) = 5',
        f'write({AOF}, "SET a v-0\\n", 10) = 10',
        f"fsync({AOF}) = 0",
    ]
    verdict = check_trace(trace(*late), expected=GROUP)
    assert verdict.status == "fail" and "before it was even written" in verdict.render()
    elsewhere = [f'write({AOF}, "\\1\\2compressed", 12) = 12', f"fsync({AOF}) = 0", late[0]]
    unknown = check_trace(trace(*elsewhere), expected=GROUP)
    assert unknown.status == "unknown" and "never appeared" in unknown.reason


def test_writev_buffers_and_octal_escapes_are_decoded() -> None:
    calls = [
        f'writev({AOF}, [{{iov_base="*3\\r\\n$3\\r\\nSET\\r\\n", iov_len=13}}, '
        f'{{iov_base="v-0\\0", iov_len=4}}], 2) = 17',
        f"fdatasync({AOF}) = 0",
        'writev(8<TCP:[1]>, [{iov_base="+OK\\r\\n", iov_len=5}], 1) = 5',
    ]
    assert check_trace(trace(*calls), expected=GROUP).status == "pass"


def test_markers_that_contain_each_other_are_refused() -> None:
    with pytest.raises(ValueError, match="part of another marker"):
        Acknowledged([b"v-1", b"v-10"])


def test_strace_literals_decode_to_bytes() -> None:
    assert unescape(r"a\r\n\0\177\x1b\"\\") == b'a\r\n\x00\x7f\x1b"\\'
    assert [b.truncated for b in buffers('3, "abc"..., 64')] == [True]


def test_a_split_sync_is_followed_whatever_the_padding_of_thread_ids() -> None:
    # strace pads thread ids to a common width once one has more digits: "709   12:54:02 <... resumed>".
    lines = [
        f'709   10:00:00.000001 write({AOF}, "SET a v-0\\n", 10) = 10',
        f"709   10:00:00.000002 fdatasync({AOF} <unfinished ...>",
        '10710 10:00:00.000003 write(5<anon_inode:[eventfd]>, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8',
        "709   10:00:00.000004 <... fdatasync resumed>) = 0",
        '10710 10:00:00.000005 sendto(11<TCP:[1]>, "+OK\\r\\n", 5, 0x4000, NULL, 0) = 5',
    ]
    assert check_trace(lines).status == "pass"
    assert check_trace(lines, expected=Acknowledged([b"v-0"])).status == "pass"
    lines[3], lines[4] = lines[4], lines[3]  # the reply while the sync is still running
    assert check_trace(lines).status == "fail"
    assert check_trace(lines, expected=Acknowledged([b"v-0"])).status == "fail"
