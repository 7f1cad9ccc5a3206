"""open_submission on .tar, .tar.gz, .tgz and .zip: layouts, links, hostile members and bombs."""

from __future__ import annotations

import io
import os
import stat
import struct
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.errors import SubmissionError
from harness.submission import IntakeLimits, open_submission
from harness.submission import intake as intake_module

CARGO = b'[package]\nname = "svc"\n'
MAIN = b"fn main() {}\n"
MiB = 1 << 20


# --- building archives ---------------------------------------------------------------------------------

Member = tuple[tarfile.TarInfo, bytes | None]


def reg(name: str, data: bytes = b"x", mode: int = 0o644) -> Member:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def folder(name: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info, None


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def special(name: str, kind: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = kind, 1, 3
    return info, None


def make_tar(path: Path, members: list[Member]) -> Path:
    mode = "w:gz" if path.name.endswith(("gz", ".tgz")) else "w"
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def make_zip(path: Path, files: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def crate_members(prefix: str = "") -> list[Member]:
    return [reg(f"{prefix}Cargo.toml", CARGO), reg(f"{prefix}src/main.rs", MAIN)]


def make_archive(path: Path, files: dict[str, bytes]) -> Path:
    if path.suffix == ".zip":
        return make_zip(path, files)
    return make_tar(path, [reg(name, data) for name, data in files.items()])


def assert_refused(err: SubmissionError, *names: str) -> None:
    assert "\n" not in err.one_line()
    assert err.hint
    for name in names:
        assert name in err.message, (name, err.message)


def disk_bytes(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        total += sum(os.lstat(os.path.join(dirpath, f)).st_size for f in files)
    return total


@pytest.fixture
def peak(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Bytes on disk under each folder a failed intake removes, measured just before removal."""
    seen: list[int] = []
    original = intake_module.discard

    def measuring(path: Path) -> None:
        seen.append(disk_bytes(path) if path.exists() else 0)
        original(path)

    monkeypatch.setattr(intake_module, "discard", measuring)
    yield seen


# --- layouts -------------------------------------------------------------------------------------------

FORMATS = [pytest.param(name, id=name) for name in ("code.tar", "code.tar.gz", "code.tgz", "code.zip")]


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("prefix", [pytest.param("", id="flat"), pytest.param("svc/", id="one-top-folder")])
def test_archive_is_extracted_and_its_root_found(tmp_path: Path, name: str, prefix: str) -> None:
    files = {f"{prefix}Cargo.toml": CARGO, f"{prefix}src/main.rs": MAIN}
    archive = make_archive(tmp_path / name, files)
    sub = open_submission(str(archive), workdir=tmp_path / "work")
    assert (sub.kind, sub.source, sub.revision) == ("cargo", str(archive), None)
    assert sub.root == tmp_path / "work" / "src"
    assert (sub.root / "src" / "main.rs").read_bytes() == MAIN
    assert not (tmp_path / "work" / ".unpack").exists()


@pytest.mark.parametrize("name", FORMATS)
def test_dockerfile_archive(tmp_path: Path, name: str) -> None:
    archive = make_archive(tmp_path / name, {"app/Dockerfile": b"FROM scratch\n", "app/Cargo.toml": CARGO})
    assert open_submission(str(archive), workdir=tmp_path / "work").kind == "dockerfile"


def test_top_folder_next_to_a_file_is_not_the_root(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "code.tgz", {"svc/Cargo.toml": CARGO, "README.md": b"hi"})
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(archive), workdir=tmp_path / "work")
    assert_refused(caught.value, "code.tgz", "neither a Dockerfile nor a Cargo.toml")
    assert caught.value.hint is not None and "svc/" in caught.value.hint and "README.md" in caught.value.hint


def test_macos_metadata_folder_does_not_hide_the_single_top_folder(tmp_path: Path) -> None:
    files = {"svc/Cargo.toml": CARGO, "__MACOSX/svc/._Cargo.toml": b"\0\5\26\7"}
    sub = open_submission(str(make_zip(tmp_path / "code.zip", files)), workdir=tmp_path / "work")
    assert sub.kind == "cargo"


def test_gzipped_tar_named_tar_still_opens(tmp_path: Path) -> None:
    real = make_tar(tmp_path / "real.tar.gz", crate_members())
    mislabeled = tmp_path / "code.tar"
    real.rename(mislabeled)
    assert open_submission(str(mislabeled), workdir=tmp_path / "work").kind == "cargo"


def test_links_inside_an_archive_are_kept(tmp_path: Path) -> None:
    members = [
        *crate_members("svc/"),
        link("svc/bin/main.rs", "../src/main.rs"),
        link("svc/src/copy.rs", "svc/src/main.rs", tarfile.LNKTYPE),
        reg("svc/run.sh", b"#!/bin/sh\n", mode=0o4755),
    ]
    root = open_submission(str(make_tar(tmp_path / "code.tgz", members)), workdir=tmp_path / "work").root
    assert root is not None
    assert os.readlink(root / "bin" / "main.rs") == "../src/main.rs"
    assert (root / "src" / "copy.rs").read_bytes() == MAIN  # a hard link becomes a plain copy
    assert not (root / "src" / "copy.rs").is_symlink()
    assert os.stat(root / "run.sh").st_mode & 0o7777 == 0o755  # setuid dropped, executable kept


def test_zip_symlink_inside_is_kept(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "code.zip", {"Cargo.toml": CARGO, "src/main.rs": MAIN}, {"m.rs": "src/main.rs"}
    )
    root = open_submission(str(archive), workdir=tmp_path / "work").root
    assert root is not None and os.readlink(root / "m.rs") == "src/main.rs"


def test_link_to_the_archive_top_is_refused_once_the_top_folder_becomes_the_root(tmp_path: Path) -> None:
    members = [*crate_members("svc/"), link("svc/up", "..")]
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(make_tar(tmp_path / "code.tar", members)), workdir=tmp_path / "work")
    assert_refused(caught.value, "up", "outside")


# --- hostile tar members -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "offender"),
    [
        pytest.param([reg("../../x")], "../../x", id="path-traversal"),
        pytest.param([reg("src/../../x")], "src/../../x", id="traversal-mid-path"),
        pytest.param([reg("/etc/cron.d/x")], "/etc/cron.d/x", id="absolute-path"),
        pytest.param([link("evil", "../../etc")], "evil", id="symlink-out"),
        pytest.param([link("evil", "/etc/passwd")], "evil", id="absolute-symlink"),
        pytest.param([link("evil", "../outside", tarfile.LNKTYPE)], "evil", id="hardlink-out"),
        pytest.param([link("evil", "/etc/shadow", tarfile.LNKTYPE)], "evil", id="absolute-hardlink"),
        pytest.param([link("evil", "later.txt", tarfile.LNKTYPE)], "evil", id="hardlink-to-nothing-yet"),
        pytest.param([special("null", tarfile.CHRTYPE)], "null", id="character-device"),
        pytest.param([special("disk", tarfile.BLKTYPE)], "disk", id="block-device"),
        pytest.param([special("pipe", tarfile.FIFOTYPE)], "pipe", id="fifo"),
        pytest.param([link("lnk", "src"), reg("lnk/x.rs")], "lnk", id="write-through-symlink"),
        pytest.param([reg("Cargo.toml", b"again")], "Cargo.toml", id="duplicate-member"),
        pytest.param([reg("src/main.rs/x")], "src/main.rs", id="file-used-as-folder"),
        pytest.param([reg("../bad\nname")], "../bad\\nname", id="newline-in-hostile-name"),
    ],
)
def test_hostile_tar_member_is_refused(tmp_path: Path, extra: list[Member], offender: str) -> None:
    archive = make_tar(tmp_path / "code.tar", [*crate_members(), *extra])
    workdir = tmp_path / "work"
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(archive), workdir=workdir)
    assert_refused(caught.value, offender)
    assert sorted(os.listdir(workdir)) == []
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("files", "links", "offender"),
    [
        pytest.param({"../../x": b"x"}, {}, "../../x", id="path-traversal"),
        pytest.param({"/tmp/x": b"x"}, {}, "/tmp/x", id="absolute-path"),
        pytest.param({}, {"evil": "../../../etc/passwd"}, "evil", id="symlink-out"),
        pytest.param({}, {"evil": "/etc/passwd"}, "evil", id="absolute-symlink"),
    ],
)
def test_hostile_zip_member_is_refused(
    tmp_path: Path, files: dict[str, bytes], links: dict[str, str], offender: str
) -> None:
    archive = make_zip(tmp_path / "code.zip", {"Cargo.toml": CARGO, **files}, links)
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(archive), workdir=tmp_path / "work")
    assert_refused(caught.value, offender)
    assert os.listdir(tmp_path / "work") == []


def test_device_in_zip_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "code.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Cargo.toml", CARGO)
        info = zipfile.ZipInfo("null")
        info.create_system = 3
        info.external_attr = (stat.S_IFCHR | 0o666) << 16
        zf.writestr(info, b"")
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(archive), workdir=tmp_path / "work")
    assert_refused(caught.value, "null")


# --- bombs ---------------------------------------------------------------------------------------------


def zeros_zip(path: Path, *, files: int, each: int) -> Path:
    """A zip bomb: ``files`` entries of ``each`` zero bytes, which deflate to about 1/1000 of that."""
    chunk = bytes(MiB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Cargo.toml", CARGO)
        for i in range(files):
            with zf.open(f"zeros{i}.bin", "w", force_zip64=True) as out:
                for _ in range(each // MiB):
                    out.write(chunk)
    return path


class _Zeros(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        buffer[:] = bytes(len(buffer))
        return len(buffer)


def zeros_tgz(path: Path, *, size: int) -> Path:
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        tar.addfile(tarfile.TarInfo("Cargo.toml"))
        info = tarfile.TarInfo("zeros.bin")
        info.size = size
        tar.addfile(info, io.BufferedReader(_Zeros()))
    return path


def pax_header_bomb(path: Path, *, size: int) -> Path:
    """A pax header that claims ``size`` bytes: tarfile reads such a header into memory whole."""
    with tarfile.open(path, "w:gz", compresslevel=1, format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("././@PaxHeader")
        info.type, info.size = tarfile.XHDTYPE, size
        tar.addfile(info, io.BufferedReader(_Zeros()))
        tar.addfile(tarfile.TarInfo("Cargo.toml"))
    return path


@pytest.mark.parametrize(
    ("build", "limits", "words"),
    [
        pytest.param(
            lambda p: zeros_zip(p / "bomb.zip", files=1, each=64 * MiB),
            IntakeLimits(max_bytes=2 * MiB),
            ["in total", "zeros0.bin"],
            id="zip-one-big-entry",
        ),
        pytest.param(
            lambda p: zeros_zip(p / "bomb.zip", files=8, each=MiB),
            IntakeLimits(max_bytes=3 * MiB),
            ["in total"],
            id="zip-many-entries",
        ),
        pytest.param(
            lambda p: zeros_zip(p / "bomb.zip", files=1, each=8 * MiB),
            IntakeLimits(max_file_bytes=MiB),
            ["zeros0.bin", "one file"],
            id="zip-per-file-cap",
        ),
        pytest.param(
            lambda p: zeros_tgz(p / "bomb.tgz", size=64 * MiB),
            IntakeLimits(max_bytes=2 * MiB),
            ["in total", "zeros.bin"],
            id="tgz-one-big-member",
        ),
        pytest.param(
            lambda p: pax_header_bomb(p / "pax.tgz", size=64 * MiB),
            IntakeLimits(max_bytes=MiB, max_files=10),
            ["pax.tgz", "more data than the size limit"],
            id="tgz-pax-header-bomb",
        ),
        pytest.param(
            lambda p: make_tar(p / "many.tar", [reg(f"f{i}") for i in range(50)]),
            IntakeLimits(max_files=10),
            ["more than 10 files"],
            id="tar-too-many-files",
        ),
        pytest.param(
            lambda p: make_zip(p / "many.zip", {f"f{i}": b"" for i in range(50)}),
            IntakeLimits(max_files=10),
            ["more than 10 files"],
            id="zip-too-many-files",
        ),
    ],
)
def test_bomb_stops_at_the_cap(
    tmp_path: Path, peak: list[int], build: Callable[[Path], Path], limits: IntakeLimits, words: list[str]
) -> None:
    archive = build(tmp_path)
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(archive), workdir=tmp_path / "work", limits=limits)
    assert_refused(caught.value, *words)
    assert peak, "the partial output was removed"
    assert max(peak) <= limits.max_bytes
    assert disk_bytes(tmp_path / "work") == 0


def test_zip_whose_header_understates_the_size_is_refused(tmp_path: Path, peak: list[int]) -> None:
    """Declared sizes are not trusted: a header claiming 1000 bytes over 16 MiB of data is refused."""
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Cargo.toml", CARGO)
        zf.writestr("zeros.bin", bytes(16 * MiB))
        info = zf.getinfo("zeros.bin")
    data = bytearray(archive.read_bytes())
    lie = struct.pack("<I", 1000)
    data[info.header_offset + 22 : info.header_offset + 26] = lie  # local header: uncompressed size
    central = data.rindex(b"zeros.bin") - 46  # the last copy of the name is the central entry's
    assert data[central : central + 4] == b"PK\x01\x02"
    data[central + 24 : central + 28] = lie  # central directory: uncompressed size
    archive.write_bytes(bytes(data))
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(archive), workdir=tmp_path / "work", limits=IntakeLimits(max_bytes=4 * MiB))
    assert_refused(caught.value, "liar.zip")
    assert max(peak) <= 4 * MiB


# --- broken archives -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        pytest.param("code.zip", b"not a zip at all", ["code.zip", "not a readable zip"], id="garbage-zip"),
        pytest.param(
            "code.tar.gz", b"\x1f\x8b garbage", ["code.tar.gz", "not a readable tar"], id="garbage-tgz"
        ),
        pytest.param("code.tar", b"x" * 700, ["code.tar", "not a readable tar"], id="garbage-tar"),
    ],
)
def test_broken_archive_is_refused(tmp_path: Path, name: str, content: bytes, words: list[str]) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(tmp_path / name), workdir=tmp_path / "work")
    assert_refused(caught.value, *words)


def test_truncated_tgz_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "code.tgz", [*crate_members(), reg("big", os.urandom(200_000))])
    archive.write_bytes(archive.read_bytes()[:-50_000])
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(archive), workdir=tmp_path / "work")
    assert_refused(caught.value, "code.tgz")
    assert os.listdir(tmp_path / "work") == []


def test_empty_archive_has_no_build_file(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "empty.tar", [])
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(archive), workdir=tmp_path / "work")
    assert_refused(caught.value, "empty.tar", "neither")
    assert caught.value.hint is not None and "empty" in caught.value.hint
