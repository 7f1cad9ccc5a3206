"""Did the service make written data durable before acknowledging it? A verdict from a syscall trace.

kill -9 cannot answer this: data handed to the kernel by write() survives a process crash and only a
power loss (or kernel crash) loses it. So the service's own system calls are read instead (strace output,
see syscall_trace.py): for every acknowledgement (a write to a TCP socket), every earlier write to a file
under the data directory must have been followed by a sync of that file (fsync, fdatasync,
sync_file_range with WAIT_AFTER, msync with MS_SYNC over a mapping of it, sync or syncfs) before the
acknowledgement began. Writes to files opened with O_SYNC or O_DSYNC are durable when write() returns.

Conservative on purpose: a write counts from the moment its call begins, a sync only covers writes that
had completed when the sync began, and only once it has returned successfully.

Two modes. Without expectations every acknowledgement must follow a sync of *every* earlier write: sound
for one client sending one request at a time, but a group-commit service that replies to batch 1 while it
writes batch 2 would be failed for a write the reply does not acknowledge. So workloads that can overlap
(pipelines, several clients) pass `Acknowledged`: a unique marker per request (found in the bytes written
to files) and the reply that acknowledges it (counted in the bytes sent on sockets). Then the k-th reply
needs only the first k markers to be durable when it is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from harness.faults.strace_text import buffers

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
    resumed: bool = False
    """The second half of a call strace split around another thread's ("<... NAME resumed>")."""

    @property
    def fd(self) -> tuple[int, str] | None:
        found = _FD.match(self.args)
        return (int(found["fd"]), found["what"]) if found else None


@dataclass(frozen=True)
class Acknowledged:
    """What one client's workload knows: a marker unique to each request's data, in the order the requests
    were sent on one connection, and the reply that acknowledges one request."""

    markers: Sequence[bytes]
    reply: bytes = b"+OK\r\n"

    def __post_init__(self) -> None:
        for index, marker in enumerate(self.markers):
            if any(marker in other for other in self.markers[index + 1 :]) or any(
                marker in other for other in self.markers[:index]
            ):
                raise ValueError(f"marker {marker!r} is part of another marker; make them distinct")


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
    what: str = "sent while these writes were not synced:"

    def render(self) -> str:
        lines = [f"acknowledgement at {self.ack_time}: {self.ack_line}", self.what]
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
        resumed = _RESUMED.match(rest)
        call = resumed or _CALL.match(rest)
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
        yield Call(int(head["tid"]), head["time"], call["name"], args, ret, after, line, resumed is not None)


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
    durable: bool = False
    dsync: bool = False
    """Written through an O_SYNC/O_DSYNC descriptor: durable as soon as the call returns."""

    def unsynced(self) -> UnsyncedWrite:
        return UnsyncedWrite(self.path, self.call.time, self.call.line)


@dataclass
class _Content:
    """Content mode (see the module docstring): where each marker was written, how many replies went out."""

    expected: Acknowledged
    located: dict[int, _Pending] = field(default_factory=dict)
    file_tails: dict[str, bytes] = field(default_factory=dict)
    socket_tails: dict[str, bytes] = field(default_factory=dict)
    replies: int = 0
    unseen_at_ack: dict[int, tuple[int, Call]] = field(default_factory=dict)
    """Markers acknowledged before any write held them: marker index -> (sequence, the ack)."""
    truncated: bool = False

    def wrote(self, write: _Pending) -> None:
        found = buffers(write.call.args)
        self.truncated |= any(b.truncated for b in found)
        data = self.file_tails.get(write.path, b"") + b"".join(b.data for b in found)
        longest = max((len(m) for m in self.expected.markers), default=1)
        self.file_tails[write.path] = data[-(longest - 1) :] if longest > 1 else b""
        for index, marker in enumerate(self.expected.markers):
            if index not in self.located and marker in data:
                self.located[index] = write

    def unwrote(self, write: _Pending) -> None:
        self.located = {i: w for i, w in self.located.items() if w is not write}

    def sent(self, call: Call, socket: str) -> range:
        """The indexes of the requests this socket write acknowledges."""
        reply = self.expected.reply
        data = self.socket_tails.get(socket, b"") + b"".join(b.data for b in buffers(call.args))
        self.socket_tails[socket] = data[-(len(reply) - 1) :] if len(reply) > 1 else b""
        before = self.replies
        self.replies += data.count(reply)
        return range(before, min(self.replies, len(self.expected.markers)))


@dataclass
class Checker:
    data_dir: str = "/data"
    expected: Acknowledged | None = None
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
    _violation_seq: int = 0
    content: _Content | None = None

    def __post_init__(self) -> None:
        if self.expected is not None:
            self.content = _Content(self.expected)

    def _in_data(self, path: str) -> bool:
        return path == self.data_dir or path.startswith(self.data_dir.rstrip("/") + "/")

    def feed(self, call: Call) -> None:
        self.seq += 1
        if call.name == "io_uring_setup":
            self.io_uring = True
        elif call.resumed:
            # Told by the parser, not by the line's spacing: strace pads thread ids to a common width.
            self._finish(call)
        else:
            self._begin(call)
            if call.ret is not None:
                self._finish(call)

    def _begin(self, call: Call) -> None:
        fd = call.fd
        if call.name in FILE_WRITES and fd and self._in_data(fd[1]):
            self.file_writes += 1
            write = _Pending(fd[1], self.seq, None, call, dsync=fd in self.sync_fds)
            if not write.dsync:
                self.pending.append(write)
            self.open_writes[call.tid] = write
            if self.content is not None:
                self.content.wrote(write)
        elif call.name in SOCKET_WRITES and fd and (fd[1].startswith(("TCP", "socket:"))):
            self._ack(call, f"{fd[0]}<{fd[1]}>")
        elif call.name in WHOLE_FILE_SYNCS | {"sync", "syncfs", "sync_file_range", "msync"}:
            self.open_syncs[call.tid] = (call, self.seq)

    def _ack(self, call: Call, socket: str) -> None:
        self.acks += 1
        if self.content is not None:
            self._ack_content(call, socket)
        elif self.violation is None and self.pending:
            self.violation = Violation(call.time, call.line, tuple(w.unsynced() for w in self.pending))

    def _ack_content(self, call: Call, socket: str) -> None:
        assert self.content is not None
        for index in self.content.sent(call, socket):
            write = self.content.located.get(index)
            if write is None:
                self.content.unseen_at_ack.setdefault(index, (self.seq, call))
            elif not write.durable and self.violation is None:
                marker = self.content.expected.markers[index]
                self.violation = Violation(
                    call.time,
                    call.line,
                    (write.unsynced(),),
                    f"acknowledged request {index + 1} (data {marker!r}) before this write was synced:",
                )
                self._violation_seq = self.seq

    def _finish(self, call: Call) -> None:
        ret = call.ret or ""
        if call.name in FILE_WRITES and call.tid in self.open_writes:
            write = self.open_writes.pop(call.tid)
            if _int(ret) <= 0:
                if write in self.pending:
                    self.pending.remove(write)  # nothing was written
                if self.content is not None:
                    self.content.unwrote(write)
            else:
                write.completed = self.seq
                write.durable = write.dsync
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
        still = []
        for write in self.pending:
            covered = paths is None or write.path in paths
            if write.completed is not None and write.completed < began_at and covered:
                write.durable = True
            else:
                still.append(write)
        self.pending = still

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
        unseen = self._written_after_ack()
        if self.violation is not None:
            return made("fail", "an acknowledgement was sent before the data written for it was synced")
        if self.file_writes == 0:
            reason = f"no writes to files under {self.data_dir} were seen"
            if self.mappings:
                reason += " (it writes through shared memory mappings, which a syscall trace cannot see)"
            return made("unknown", reason)
        if self.acks == 0:
            return made("unknown", "no acknowledgement was sent to a client")
        if self.content is None:
            return made("pass", "every acknowledgement followed a sync of the data written before it")
        if self.content.replies == 0:
            return made("unknown", f"no reply {self.content.expected.reply!r} was sent to a client")
        if unseen:
            why = "strace cut long buffers short" if self.content.truncated else "stored in another form?"
            return made(
                "unknown",
                f"the data of {unseen} acknowledged request(s) never appeared in writes under "
                f"{self.data_dir} ({why})",
            )
        acked = min(self.content.replies, len(self.content.expected.markers))
        return made("pass", f"each of {acked} acknowledged requests was synced before its reply was sent")

    def _written_after_ack(self) -> int:
        """Content mode, at the end: an acknowledged marker written only later is a violation (the earliest
        one wins); returns how many acknowledged markers were never seen written at all."""
        if self.content is None:
            return 0
        never = 0
        for index, (seq, ack) in sorted(self.content.unseen_at_ack.items(), key=lambda item: item[1][0]):
            write = self.content.located.get(index)
            if write is None:
                never += 1
            elif self.violation is None or seq < self._violation_seq:
                marker = self.content.expected.markers[index]
                self.violation = Violation(
                    ack.time,
                    ack.line,
                    (write.unsynced(),),
                    f"acknowledged request {index + 1} (data {marker!r}) before it was even written:",
                )
                self._violation_seq = seq
        return never


def check_trace(
    lines: Iterable[str], data_dir: str = "/data", expected: Acknowledged | None = None
) -> DurabilityVerdict:
    """The verdict on a trace; pass `expected` when requests may overlap (see the module docstring)."""
    checker = Checker(data_dir, expected)
    for call in parse(lines):
        checker.feed(call)
    return checker.verdict()
