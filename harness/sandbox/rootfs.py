"""Root filesystems made from what the machine has, for engines that cannot pull.

* The builder's root is a minimal Debian made by `debootstrap` from the Debian mirror, with a C compiler
  for crates that build C, plus the host's own Rust toolchain under /opt/rust (no other toolchain can be
  fetched here).
* The runtime's root is "distroless": the dynamic loader, glibc and libgcc_s taken from that same Debian
  root (so binaries built in the builder always find the libraries they were linked against), CA
  certificates, and empty /tmp, /data and /app. No shell, no package manager: little to abuse.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

from harness.errors import ImageBootstrapError

SUITE = "bookworm"
BUILDER_PACKAGES = ("gcc", "libc6-dev", "pkg-config", "ca-certificates")
SERVICE_UID = 10001
#: Toolchain folders a build needs; share/ (1 GB of HTML docs) is left out. bin/ brings cargo-clippy,
#: clippy-driver, rustfmt and cargo-fmt along when the host toolchain has them (rustup's default
#: profile does): the code-quality step (harness/sandbox/quality.py) runs them, and reports its facts
#: as unknown, naming the missing component, when they are absent.
TOOLCHAIN_PARTS = ("bin", "lib", "libexec", "etc")
RUNTIME_LIBS = (
    "ld-linux-x86-64.so.2",
    "libc.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
)
LIB_DIR = "usr/lib/x86_64-linux-gnu"


def debian_mirror() -> str:
    """$HARNESS_DEBIAN_MIRROR, else the first Debian URI apt is configured with, else Debian's own."""
    configured = os.environ.get("HARNESS_DEBIAN_MIRROR")
    if configured:
        return configured
    for source in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            text = source.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for match in re.finditer(r"(?:^URIs:\s*|^deb\s+(?:\[[^]]*\]\s+)?)(\S+/debian)/?\s*$", text, re.M):
            return match.group(1)
    return "http://deb.debian.org/debian"


def rust_sysroot() -> tuple[Path, str]:
    """The host's Rust toolchain folder and its `rustc -V` line."""
    explicit = os.environ.get("HARNESS_RUST_SYSROOT")
    try:
        if explicit:
            sysroot = Path(explicit)
        else:
            out = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True, check=True)
            sysroot = Path(out.stdout.strip())
        version = subprocess.run(
            [str(sysroot / "bin" / "rustc"), "-V"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ImageBootstrapError(
            f"no usable Rust toolchain on this machine ({exc})",
            hint="install one with rustup, or let the harness pull images (HARNESS_IMAGE_SOURCE=pull)",
        ) from None
    return sysroot, version


def can_debootstrap() -> bool:
    return shutil.which("debootstrap") is not None and os.geteuid() == 0


def debootstrap(target: Path, on_line: Callable[[str], None]) -> None:
    """Create a minimal Debian root in `target` (resumable: a finished root is marked and reused)."""
    marker = target / ".harness-complete"
    if marker.exists():
        return
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(BUILDER_PACKAGES)}",
        SUITE,
        str(target),
        debian_mirror(),
    ]
    tail: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = [*tail[-20:], line.rstrip()]
            on_line(line.strip())
    if proc.returncode != 0:
        raise ImageBootstrapError(
            f"debootstrap of Debian {SUITE} failed (exit {proc.returncode})",
            hint="check that the Debian mirror is reachable, or set HARNESS_DEBIAN_MIRROR",
            details="\n".join(tail),
        )
    marker.touch()


def _dir(name: str, *, uid: int = 0, mode: int = 0o755) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.uid = info.gid = uid
    return info


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


def _file(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    return info, io.BytesIO(data)


PASSWD = f"root:x:0:0:root:/root:/sbin/nologin\nservice:x:{SERVICE_UID}:{SERVICE_UID}::/data:/sbin/nologin\n"
GROUP = f"root:x:0:\nservice:x:{SERVICE_UID}:\n"


def write_runtime_tar(debian_root: Path, out: Path) -> None:
    """The distroless runtime root as a tar (a few MB), from the libraries of `debian_root`."""
    with tarfile.open(out, "w") as tar:
        for name in ("usr", "usr/lib", LIB_DIR, "etc", "etc/ssl", "etc/ssl/certs", "lib64"):
            tar.addfile(_dir(name))
        tar.addfile(_symlink("lib", "usr/lib"))
        for name, uid, mode in (("tmp", 0, 0o1777), ("data", SERVICE_UID, 0o700), ("app", 0, 0o755)):
            tar.addfile(_dir(name, uid=uid, mode=mode))
        for lib in RUNTIME_LIBS:
            source = debian_root / LIB_DIR / lib
            if not source.exists():
                raise ImageBootstrapError(f"{source} is missing from the Debian root")
            tar.add(source.resolve(), arcname=f"{LIB_DIR}/{lib}", recursive=False)
        tar.addfile(_symlink("lib64/ld-linux-x86-64.so.2", f"/{LIB_DIR}/ld-linux-x86-64.so.2"))
        certs = debian_root / "etc/ssl/certs/ca-certificates.crt"
        if certs.exists():
            tar.add(certs.resolve(), arcname="etc/ssl/certs/ca-certificates.crt", recursive=False)
        for name, text in (
            ("etc/passwd", PASSWD),
            ("etc/group", GROUP),
            ("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n"),
        ):
            tar.addfile(*_file(name, text.encode()))


def prepare_builder_root(debian_root: Path, sysroot: Path) -> None:
    """Put the toolchain into /opt/rust and make the sandbox's working folders (idempotent)."""
    rust = debian_root / "opt" / "rust"
    if rust.exists():
        shutil.rmtree(rust)
    rust.mkdir(parents=True)
    for part in TOOLCHAIN_PARTS:
        if (sysroot / part).exists():
            # Hard links when the cache shares a filesystem with the toolchain: no 600 MB copy.
            try:
                shutil.copytree(sysroot / part, rust / part, symlinks=True, copy_function=os.link)
            except OSError:
                shutil.rmtree(rust / part, ignore_errors=True)
                shutil.copytree(sysroot / part, rust / part, symlinks=True)
    for name in ("work", "cargo-home"):
        folder = debian_root / name
        folder.mkdir(exist_ok=True)
        os.chown(folder, SERVICE_UID, SERVICE_UID)
    passwd = debian_root / "etc" / "passwd"
    if f":{SERVICE_UID}:" not in passwd.read_text():
        passwd.write_text(passwd.read_text() + f"builder:x:{SERVICE_UID}:{SERVICE_UID}::/work:/bin/sh\n")
    for leftover in ("usr/share/doc", "usr/share/man", "usr/share/locale", "var/cache/apt/archives"):
        shutil.rmtree(debian_root / leftover, ignore_errors=True)


def stream_tar_of(folder: Path, chunk: int = 1 << 20) -> Iterator[bytes]:
    """GNU tar of a whole root (fast, keeps owners and special files), streamed in chunks."""
    with subprocess.Popen(
        ["tar", "-C", str(folder), "--numeric-owner", "--exclude=./.harness-complete", "-c", "."],
        stdout=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None
        while data := proc.stdout.read(chunk):
            yield data
    if proc.returncode != 0:
        raise ImageBootstrapError(f"tar of {folder} failed (exit {proc.returncode})")
