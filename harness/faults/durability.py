"""Did the service make written data durable before acknowledging it? A verdict from a syscall trace.

kill -9 cannot answer this: data handed to the kernel by write() survives a process crash and only a
power loss (or kernel crash) loses it. So the service's own system calls are read instead (strace output,
see syscall_trace.py): for every acknowledgement (a write to a TCP socket), every earlier write to a file
under the data directory must have been followed by a sync of that file (fsync, fdatasync,
sync_file_range with WAIT_AFTER, msync with MS_SYNC over a mapping of it, sync or syncfs) before the
acknowledgement began. Writes to files opened with O_SYNC or O_DSYNC are durable when write() returns.

Conservative on purpose: a write counts from the moment its call begins, a sync only covers writes that
had completed when the sync began, and only once it has returned successfully.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

O_DSYNC = 0o10000  # O_SYNC is __O_SYNC | O_DSYNC, so this bit is set by both
SYNC_FILE_RANGE_WAIT_AFTER = 4
MS_SYNC = 4
PROT_WRITE = 2
MAP_SHARED = 1

FILE_WRITES = frozenset({"write", "writev", "pwrite64", "pwritev", "pwritev2"})
SOCKET_WRITES = frozenset({"write", "writev", "sendto", "sendmsg", "sendmmsg", "sendfile"})
WHOLE_FILE_SYNCS = frozenset({"fsync", "fdatasync"})

# "1234 09:56:07.478771 write(7</data/x>, ...) = 50" and its split forms under -f:
# "... write(7</data/x>, ... <unfinished ...>" then "... <... write resumed>) = 50"
_LINE = re.compile(r"^(?P<tid>\d+) +(?P<time>\d\d:\d\d:\d\d\.\d+) +(?P<rest>.*)$")
_CALL = re.compile(r"^(?P<name>\w+)\((?P<args>.*)$")
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>(?P<args>.*)$")
# Greedy: the result is the last ") = " on the line (written data may contain the same characters).
_RESULT = re.compile(r"^(?P<args>.*)\) += (?P<ret>0x[0-9a-f]+|-?\d+|\?)(?P<after>.*)$")
_FD = re.compile(r"^(?P<fd>-?\d+)<(?P<what>[^>]*)>")
_RET_FD = re.compile(r"^(?P<fd>\d+)<(?P<what>[^>]*)>")

Status = Literal["pass", "fail", "unknown"]


@dataclass(frozen=True)
class Call:
    tid: int
    time: str
    name: str
    args: str
    """The text inside the parentheses (for a resumed call: the part after the resume marker)."""
    ret: str | None
    """None while unfinished."""
    after: str
    line: str

    @property
    def fd(self) -> tuple[int, str] | None:
        found = _FD.match(self.args)
        return (int(found["fd"]), found["what"]) if found else None


@dataclass(frozen=True)
class UnsyncedWrite:
    path: str
    time: str
    line: str


@dataclass(frozen=True)
class Violation:
    """The first acknowledgement sent while written data was not yet synced."""

    ack_time: str
    ack_line: str
    unsynced: tuple[UnsyncedWrite, ...]

    def render(self) -> str:
        lines = [
            f"acknowledgement at {self.ack_time}: {self.ack_line}",
            "sent while these writes were not synced:",
        ]
        lines += [f"  {write.time} {write.path}: {write.line}" for write in self.unsynced[:5]]
        if len(self.unsynced) > 5:
            lines.append(f"  … and {len(self.unsynced) - 5} more")
        return "\n".join(lines)


@dataclass(frozen=True)
class DurabilityVerdict:
    status: Status
    reason: str
    acks: int = 0
    file_writes: int = 0
    syncs: int = 0
    violation: Violation | None = None

    def render(self) -> str:
        counts = f"{self.acks} acks, {self.file_writes} file writes, {self.syncs} syncs"
        head = f"{self.status}: {self.reason} ({counts})"
        return head + ("\n" + self.violation.render() if self.violation else "")


def parse(lines: Iterable[str]) -> Iterable[Call]:
    """strace -f -tt -yy -X raw lines as calls; a split call yields its start and its resumption."""
    for raw in lines:
        line = raw.rstrip("\n")
        head = _LINE.match(line)
        if head is None:
            continue
        rest = head["rest"]
        call = _CALL.match(rest) or _RESUMED.match(rest)
        if call is None:
            continue  # signals, exits, "+++" and "---" lines
        args = call["args"]
        result = _RESULT.match(args)
        ret = None
        after = ""
        if result is not None and not args.endswith("<unfinished ...>"):
            ret, after, args = result["ret"], result["after"], result["args"]
        elif args.endswith("<unfinished ...>"):
            args = args[: -len("<unfinished ...>")].rstrip()
        yield Call(int(head["tid"]), head["time"], call["name"], args, ret, after, line)


def _int(text: str) -> int:
    try:
        return int(text.strip(), 0)
    except ValueError:
        return 0


def _split_args(args: str) -> list[str]:
    """Top-level comma-separated arguments (strings and brackets kept whole)."""
    parts, depth, quoted, current = [], 0, False, []
    escape = False
    for char in args:
        if quoted:
            current.append(char)
            if escape:
                escape = False
            elif char == "\\":
                escape = True
            elif char == '"':
                quoted = False
            continue
        if char == '"':
            quoted = True
        elif char in "[{(<":
            depth += 1
        elif char in "]})>":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if current:
        parts.append("".join(current).strip())
    return parts


@dataclass
class _Pending:
    path: str
    started: int
    """Sequence number of the call's start."""
    completed: int | None
    call: Call


@dataclass
class Checker:
    data_dir: str = "/data"
    seq: int = 0
    pending: list[_Pending] = field(default_factory=list)
    open_writes: dict[int, _Pending] = field(default_factory=dict)
    """Unfinished file writes by thread id."""
    open_syncs: dict[int, tuple[Call, int]] = field(default_factory=dict)
    sync_fds: set[tuple[int, str]] = field(default_factory=set)
    mappings: list[tuple[int, int, str]] = field(default_factory=list)
    acks: int = 0
    file_writes: int = 0
    syncs: int = 0
    io_uring: bool = False
    violation: Violation | None = None

    def _in_data(self, path: str) -> bool:
        return path == self.data_dir or path.startswith(self.data_dir.rstrip("/") + "/")

    def feed(self, call: Call) -> None:
        self.seq += 1
        resumed = call.line.split(" ", 2)[2].startswith("<...")
        if call.name == "io_uring_setup":
            self.io_uring = True
        elif resumed:
            self._finish(call)
        else:
            self._begin(call)
            if call.ret is not None:
                self._finish(call)

    def _begin(self, call: Call) -> None:
        fd = call.fd
        if call.name in FILE_WRITES and fd and self._in_data(fd[1]):
            self.file_writes += 1
            if fd in self.sync_fds:
                return  # O_SYNC / O_DSYNC: durable when the call returns
            write = _Pending(fd[1], self.seq, None, call)
            self.pending.append(write)
            self.open_writes[call.tid] = write
        elif call.name in SOCKET_WRITES and fd and (fd[1].startswith(("TCP", "socket:"))):
            self._ack(call)
        elif call.name in WHOLE_FILE_SYNCS | {"sync", "syncfs", "sync_file_range", "msync"}:
            self.open_syncs[call.tid] = (call, self.seq)

    def _ack(self, call: Call) -> None:
        self.acks += 1
        if self.violation is None and self.pending:
            unsynced = tuple(UnsyncedWrite(w.path, w.call.time, w.call.line) for w in self.pending)
            self.violation = Violation(call.time, call.line, unsynced)

    def _finish(self, call: Call) -> None:
        ret = call.ret or ""
        if call.name in FILE_WRITES and call.tid in self.open_writes:
            write = self.open_writes.pop(call.tid)
            if _int(ret) <= 0:
                self.pending.remove(write)  # nothing was written
            else:
                write.completed = self.seq
        elif call.tid in self.open_syncs and call.name == self.open_syncs[call.tid][0].name:
            begun, began_at = self.open_syncs.pop(call.tid)
            if ret == "0":
                self._synced(begun, began_at)
        elif call.name in ("openat", "open", "creat"):
            self._opened(call)
        elif call.name == "mmap":
            self._mapped(call)

    def _synced(self, call: Call, began_at: int) -> None:
        args = _split_args(call.args)
        paths: set[str] | None = None  # None: every file
        if call.name in WHOLE_FILE_SYNCS:
            paths = {call.fd[1]} if call.fd else set()
        elif call.name == "sync_file_range":
            if len(args) < 4 or not _int(args[3]) & SYNC_FILE_RANGE_WAIT_AFTER or not call.fd:
                return
            paths = {call.fd[1]}  # taken as covering the file: the range is not checked against writes
        elif call.name == "msync":
            if len(args) < 3 or not _int(args[2]) & MS_SYNC:
                return
            start, length = _int(args[0]), _int(args[1])
            paths = {p for (s, n, p) in self.mappings if s < start + length and start < s + n}
        self.syncs += 1
        self.pending = [
            w
            for w in self.pending
            if not (w.completed is not None and w.completed < began_at and (paths is None or w.path in paths))
        ]

    def _opened(self, call: Call) -> None:
        opened = _RET_FD.match(f"{call.ret}{call.after}")
        if opened is None:
            return
        fd, path = int(opened["fd"]), opened["what"]
        args = _split_args(call.args)
        flags = (
            _int(args[2])
            if call.name == "openat" and len(args) > 2
            else _int(args[1])
            if len(args) > 1
            else 0
        )
        self.sync_fds = {(f, p) for (f, p) in self.sync_fds if f != fd}
        if flags & O_DSYNC and self._in_data(path):
            self.sync_fds.add((fd, path))

    def _mapped(self, call: Call) -> None:
        args = _split_args(call.args)
        fd = _FD.match(args[4]) if len(args) > 4 else None
        if fd is None or not self._in_data(fd["what"]):
            return
        if _int(args[2]) & PROT_WRITE and _int(args[3]) & MAP_SHARED:
            self.mappings.append((_int(call.ret or "0"), _int(args[1]), fd["what"]))

    def verdict(self) -> DurabilityVerdict:
        def made(status: Status, reason: str) -> DurabilityVerdict:
            return DurabilityVerdict(
                status,
                reason,
                self.acks,
                self.file_writes,
                self.syncs,
                self.violation if status == "fail" else None,
            )

        if self.io_uring:
            return made("unknown", "the service uses io_uring, whose I/O a syscall trace cannot see")
        if self.violation is not None:
            return made("fail", "an acknowledgement was sent before the data written for it was synced")
        if self.file_writes == 0:
            reason = f"no writes to files under {self.data_dir} were seen"
            if self.mappings:
                reason += " (it writes through shared memory mappings, which a syscall trace cannot see)"
            return made("unknown", reason)
        if self.acks == 0:
            return made("unknown", "no acknowledgement was sent to a client")
        return made("pass", "every acknowledgement followed a sync of the data written before it")


def check_trace(lines: Iterable[str], data_dir: str = "/data") -> DurabilityVerdict:
    checker = Checker(data_dir)
    for call in parse(lines):
        checker.feed(call)
    return checker.verdict()
