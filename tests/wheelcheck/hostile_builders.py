"""Hostile wheels, built here: what a broken or compromised build node could hand back.

Each builder writes one wheel into a directory and returns its path. They start from real
binaries (gcc, clang + ld64.lld) and real zip structures, and then lie in exactly one place.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from wheelcheck_builders import RawMember, make_wheel, record_hash

PURE = "py3-none-any"
MODULE = {"pkg/__init__.py": b"VALUE = 1\n"}
MiB = 1024 * 1024
GiB = 1024 * MiB


def zip_bomb(directory: Path, *, declared_size: int | None = None) -> Path:
    """A ~2 MB pure wheel holding one 2 GiB member of zeros (deflate's ~1000:1 on zeros).

    The deflate stream is one compressed MiB of zeros (ended with a full flush, so it stands
    alone) repeated 2048 times: the same bytes zlib would write, without 20 s of compressing.
    ``declared_size`` makes the zip directory lie about the size (a bomb in disguise).
    """
    block = bytes(MiB)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    one_mib = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    final_empty_block = b"\x03\x00"
    crc = 0
    sha = hashlib.sha256()
    for _ in range(2048):
        crc = zlib.crc32(block, crc)
        sha.update(block)
    digest = f"sha256={_b64(sha.digest())}"
    bomb = RawMember("pkg/zeros.bin", compressed=one_mib * 2048 + final_empty_block,
                     size=declared_size if declared_size is not None else 2 * GiB, crc=crc,
                     record=digest)
    out = directory / ("lying" if declared_size is not None else "honest")
    out.mkdir(exist_ok=True)
    return make_wheel(out, PURE, MODULE, dist="bomb", raw=[bomb])


def macho_with_load_commands(directory: Path, macho: bytes, ncmds: int) -> Path:
    """A Mach-O with a real header (cputype, filetype) followed by ``ncmds`` minimal load
    commands of an unknown kind (8 bytes each): 2 million of them inflate from ~20 KB."""
    header = bytearray(macho[:32])  # mach_header_64
    struct.pack_into("<II", header, 16, ncmds, ncmds * 8)  # ncmds, sizeofcmds
    commands = struct.pack("<II", 0x4242, 8) * ncmds
    return make_wheel(directory, "cp312-cp312-macosx_11_0_arm64",
                      {"pkg/ext.cpython-312-darwin.so": bytes(header) + commands},
                      dist="machocmds")


def elf_with_sections(directory: Path, elf: bytes, sections: int) -> Path:
    """A real ELF64 whose section header table is moved to its end and padded with empty
    headers to ``sections`` entries, counted the extended way (e_shnum 0, section 0's
    sh_size) as linkers do past 65279 sections."""
    (shoff,) = struct.unpack_from("<Q", elf, 0x28)
    (shnum,) = struct.unpack_from("<H", elf, 0x3C)
    table = bytearray(elf[shoff : shoff + 64 * shnum] + bytes(64 * (sections - shnum)))
    struct.pack_into("<Q", table, 0x20, sections)  # section 0's sh_size
    patched = bytearray(elf)
    struct.pack_into("<Q", patched, 0x28, len(patched))  # e_shoff: the new table
    struct.pack_into("<H", patched, 0x3C, 0)  # e_shnum: see section 0
    return make_wheel(directory, "cp311-cp311-manylinux_2_17_x86_64",
                      {"pkg/ext.cpython-311-x86_64-linux-gnu.so": bytes(patched + table)},
                      dist="elfsections")


def huge_record(directory: Path, size: int) -> Path:
    """A pure wheel whose RECORD is ``size`` bytes of rows for files it does not hold."""
    row = "pkg/missing/{:08d}.py,sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,1\n"
    count = size // len(row.format(0))

    def add(rows: list[list[str]]) -> list[list[str]]:
        return rows + [row.format(i).rstrip("\n").split(",") for i in range(count)]

    return make_wheel(directory, PURE, MODULE, dist="bigrecord", edit_record=add)


def record_rows(directory: Path, count: int, dist: str) -> Path:
    """A pure wheel whose RECORD lists ``count`` short rows of files it does not hold."""

    def add(rows: list[list[str]]) -> list[list[str]]:
        return rows + [[f"m/{i:x}", "", ""] for i in range(count)]

    return make_wheel(directory, PURE, MODULE, dist=dist, edit_record=add)


def shake_record(directory: Path) -> Path:
    """RECORD names shake_128, a hash without a fixed length (hashlib needs one to digest)."""

    def edit(rows: list[list[str]]) -> list[list[str]]:
        for row in rows:
            if row[0] == "pkg/__init__.py":
                row[1] = "shake_128=" + _b64(hashlib.shake_128(MODULE[row[0]]).digest(16))
        return rows

    return make_wheel(directory, PURE, MODULE, dist="shake", edit_record=edit)


def exploding_tag_line(directory: Path) -> Path:
    """A WHEEL whose one Tag line is a compressed tag set of 340^3 (39 million) tags."""
    parts = [".".join(f"{prefix}{i}" for i in range(340)) for prefix in ("py", "abi", "plat")]
    return make_wheel(directory, PURE, MODULE, dist="tagbomb", wheel_tags=["-".join(parts)])


UNSAFE_NAMES = ["../../evil.pth", "/etc/cron.d/evil", "pkg\\evil.py", "C:/evil.py"]


def unsafe_paths(directory: Path) -> Path:
    """A pure wheel with names that escape site-packages, and a symlink entry."""
    raw = [RawMember(name, b"import os\n") for name in UNSAFE_NAMES]
    raw.append(RawMember("pkg/link", b"/etc/passwd", mode=0o120777))
    return make_wheel(directory, PURE, MODULE, dist="unsafe", raw=raw)


def duplicate_entry(directory: Path) -> Path:
    """``pkg/__init__.py`` twice, with different contents (RECORD lists the first)."""
    second = RawMember("pkg/__init__.py", b"import os; os.system('true')\n", record="")
    return make_wheel(directory, PURE, MODULE, dist="duplicate", raw=[second])


def lying_member(directory: Path, kind: str) -> Path:
    """One member whose zip entry lies: ``crc``, ``size`` (declared larger than its data) or
    ``local-name`` (its local header names another file)."""
    data = b"print('hello')\n" * 100
    member = RawMember("pkg/data.py", data)
    if kind == "crc":
        member.crc = zlib.crc32(data) ^ 0xFFFF
    elif kind == "size":
        member.size = len(data) + 10
        member.record = record_hash(data)
    else:
        member.local_name = "pkg/evil.py"
    out = directory / kind
    out.mkdir(exist_ok=True)
    return make_wheel(out, PURE, MODULE, dist="lying", raw=[member])


def many_entries(directory: Path, count: int) -> Path:
    """A pure wheel of ``count`` empty stored files (RECORD lists none of them)."""
    raw = [RawMember(f"pkg/f{i}", method=0, record="") for i in range(count)]
    return make_wheel(directory, PURE, MODULE, dist="entries", raw=raw)


def big_wheel(directory: Path, elf: bytes, member_size: int, elf_padding: int) -> Path:
    """An honest wheel of real size: one incompressible data file of ``member_size`` bytes and
    an extension padded to ``elf_padding`` bytes (loaders ignore bytes after the ELF), both
    stored, as large packages ship CUDA libraries."""
    block = os.urandom(MiB)
    data = block * (member_size // MiB)
    ext = elf + bytes(elf_padding - len(elf))
    raw = [RawMember("pkg/data.bin", data, method=0),
           RawMember("pkg/ext.cpython-311-x86_64-linux-gnu.so", ext, method=0)]
    return make_wheel(directory, "cp311-cp311-manylinux_2_17_x86_64", MODULE, dist="big",
                      raw=raw)


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float  # ru_maxrss of the command and of every child it waited for
    seconds: float


# Runs the command as its own child and reports its wait4 rusage. A process forked from
# pytest would start with pytest's memory high-water mark (Linux carries it over at exec),
# so the command is forked from this small launcher instead.
_LAUNCHER = """
import json, os, subprocess, sys
process = subprocess.Popen(sys.argv[2:])
_pid, status, usage = os.wait4(process.pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"status": os.waitstatus_to_exitcode(status), "kib": usage.ru_maxrss}, out)
"""


def run_measured(args: list[str], timeout: float) -> Measured:
    """Run a command (its process group killed after ``timeout`` s); peak memory via wait4."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rusage.json"
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(report), *args],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
        seconds = time.monotonic() - started
        measured = json.loads(report.read_text()) if report.exists() else {"status": -9,
                                                                             "kib": 0}
    return Measured(measured["status"], stdout.decode(), stderr.decode(),
                    measured["kib"] / 1024, seconds)


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
