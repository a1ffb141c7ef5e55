"""verify_universal.py on small real Mach-O archives: the formats Apple's and LLVM's tools write,
and the defects ``lipo -verify_arch`` lets through.

Proof level: **real artifact**.  Every object is compiled here (``zig cc`` for macOS, clang-14
for iOS, arm64e and LLVM bitcode, gcc for ELF) and archived with ``llvm-ar-14`` (BSD/darwin and
GNU formats) or GNU ``ar``, fused with ``llvm-lipo-14``; fat files ``lipo`` refuses to write
(mixed archives) are assembled with the documented fat header, as a hand-rolled tool could.
"""

from __future__ import annotations

import ast
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from macos_builders import LIPO, run, zig_cc

from wheelfleet.macos import VERIFIER

FLOORS = {"x86_64": "10.12", "arm64": "11.0"}
LONG = "a_member_name_longer_than_sixteen"


def verifier(*args: str | Path, python: tuple[str, ...] = (sys.executable,)
             ) -> subprocess.CompletedProcess[str]:
    floors = [f"--floor={arch}={floor}" for arch, floor in FLOORS.items()]
    return run([*python, str(VERIFIER), *floors, *map(str, args)], timeout=120)


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


class Objects:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / f"{LONG}.c").write_text("int wf_long(void) { return 1; }\n")
        (root / "b.c").write_text("int wf_b(void) { return 2; }\n")

    def compile(self, name: str, source: str, command: list[str]) -> Path:
        out = self.root / name
        if not out.exists():
            done = run([*command, "-c", str(self.root / source), "-o", str(out)], timeout=300)
            assert done.returncode == 0, done.stderr
        return out

    def macos(self, arch: str, minimum: str, source: str = "b.c") -> Path:
        stem = Path(source).stem
        return self.compile(f"{arch}-{minimum}-{stem}.o", source,
                            zig_cc(arch, minimum).split())

    def clang(self, name: str, target: str, *flags: str) -> Path:
        return self.compile(name, "b.c", ["clang-14", "-target", target, *flags])

    def archive(self, name: str, *members: Path, tool: tuple[str, ...] = ("llvm-ar-14",)
                ) -> Path:
        out = self.root / name
        out.unlink(missing_ok=True)
        done = run([*tool, "rc", str(out), *map(str, members)], timeout=120)
        assert done.returncode == 0, done.stderr
        return out

    def lipo(self, name: str, *thin: Path) -> Path:
        out = self.root / name
        done = run([LIPO, "-create", "-output", str(out), *map(str, thin)], timeout=120)
        assert done.returncode == 0, done.stderr
        return out

    def good_pair(self, fmt: str) -> tuple[Path, Path]:
        tool = ("llvm-ar-14", f"--format={fmt}")
        x86 = self.archive(f"x86_64-{fmt}.a", self.macos("x86_64", "10.12", f"{LONG}.c"),
                           self.macos("x86_64", "10.12"), tool=tool)
        arm = self.archive(f"arm64-{fmt}.a", self.macos("arm64", "11.0", f"{LONG}.c"),
                           self.macos("arm64", "11.0"), tool=tool)
        return x86, arm


def fat(path: Path, slices: list[tuple[int, bytes]]) -> Path:
    """A fat file from (cputype, bytes) slices, 4 KiB aligned, as lipo lays them out."""
    header = struct.pack(">II", 0xCAFEBABE, len(slices))
    offset = 4096
    table, body = b"", b""
    for cputype, data in slices:
        table += struct.pack(">5I", cputype, 3 if cputype == 0x01000007 else 0, offset,
                             len(data), 12)
        padded = data + b"\0" * (-len(data) % 4096)
        body += padded
        offset += len(padded)
    path.write_bytes((header + table).ljust(4096, b"\0") + body)
    return path


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> Objects:
    return Objects(tmp_path_factory.mktemp("verify-universal"))


@pytest.mark.parametrize("fmt", ["darwin", "gnu"])
def test_both_archive_formats_verify(objects: Objects, fmt: str) -> None:
    """Proof level: real artifact.  BSD (``#1/len`` names, ``__.SYMDEF``) and GNU (``//`` name
    table, ``/`` symbol table) archives, fused: every member found, LC_VERSION_MIN_MACOSX
    (x86_64 10.12) and LC_BUILD_VERSION (arm64 11.0) both read."""
    fused = objects.lipo(f"good-{fmt}.a", *objects.good_pair(fmt))
    done = verifier("--json", fused)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["ok"] and found["problems"] == []
    assert found["per_arch"] == {
        "arm64": {"floor": "11.0", "max_minos": "11.0", "members": 2, "unversioned_members": 0},
        "x86_64": {"floor": "10.12", "max_minos": "10.12", "members": 2,
                   "unversioned_members": 0}}


def test_gnu_ar_archives_verify(objects: Objects) -> None:
    """Proof level: real artifact.  binutils ``ar`` (which knows nothing of Mach-O) writes
    GNU format; its archives are read all the same."""
    x86 = objects.archive("x86_64-binutils.a", objects.macos("x86_64", "10.12", f"{LONG}.c"),
                          objects.macos("x86_64", "10.12"), tool=("ar",))
    assert b"//" in x86.read_bytes()[:200]  # the long-name table is really there
    arm = objects.archive("arm64-binutils.a", objects.macos("arm64", "11.0"), tool=("ar",))
    done = verifier(fat(objects.root / "binutils.a",
                        [(0x01000007, x86.read_bytes()), (0x0100000C, arm.read_bytes())]))
    assert done.returncode == 0, done.stderr
    assert "arm64: 1 objects" in done.stdout and "x86_64: 2 objects" in done.stdout


def test_object_for_ios_in_the_arm64_slice_fails(objects: Objects) -> None:
    """Proof level: real artifact.  ``lipo`` fuses an iOS arm64 archive without a word (same
    cputype); the verifier names the member and its platform."""
    x86, _ = objects.good_pair("darwin")
    ios = objects.archive("ios.a", objects.clang("ios.o", "arm64-apple-ios14.0"))
    fused = objects.lipo("with-ios.a", x86, ios)
    assert run([LIPO, str(fused), "-verify_arch", "x86_64", "arm64"], timeout=60).returncode == 0
    line = one_line_failure(verifier(fused))
    assert line == (f"wheelfleet: verification failed: {fused}: arm64 slice: member ios.o is "
                    "built for iOS (LC_BUILD_VERSION), not macOS")


def test_lto_bitcode_member_fails(objects: Objects) -> None:
    """Proof level: real artifact.  An LTO build leaves LLVM bitcode in the archive (lipo
    accepts it): its minimum macOS is unknowable until link time, so it is refused."""
    x86, _ = objects.good_pair("darwin")
    bitcode = objects.archive("bitcode.a", objects.clang("lto.o", "arm64-apple-macos11", "-flto"))
    line = one_line_failure(verifier(objects.lipo("with-bitcode.a", x86, bitcode)))
    assert "arm64 slice: lto.o: LLVM bitcode (LTO), not a Mach-O object" in line


def test_extra_slice_fails(objects: Objects) -> None:
    """Proof level: real artifact.  A third slice (arm64e) is not what was built: refused."""
    x86, arm = objects.good_pair("darwin")
    arm64e = objects.archive("arm64e.a", objects.clang("arm64e.o", "arm64e-apple-macos11"))
    line = one_line_failure(verifier(objects.lipo("three.a", x86, arm, arm64e)))
    assert line.endswith("unexpected slice arm64e (only arm64, x86_64 were built)")


def test_member_of_the_other_arch_fails(objects: Objects) -> None:
    """Proof level: real artifact.  lipo refuses mixed archives, a hand-made fat file does
    not: an x86_64 object inside the arm64 slice is named."""
    x86, _ = objects.good_pair("darwin")
    mixed = objects.archive("mixed.a", objects.macos("arm64", "11.0"),
                            objects.macos("x86_64", "10.12", f"{LONG}.c"))
    fused = fat(objects.root / "mixed-fat.a",
                [(0x01000007, x86.read_bytes()), (0x0100000C, mixed.read_bytes())])
    line = one_line_failure(verifier(fused))
    assert line.endswith(f"arm64 slice: member x86_64-10.12-{LONG}.o is a x86_64 object")


def test_elf_member_fails(objects: Objects) -> None:
    """Proof level: real artifact.  A Linux object that slipped into a slice is named."""
    x86, _ = objects.good_pair("darwin")
    elf = objects.compile("linux.o", "b.c", ["gcc"])
    mixed = objects.archive("elf.a", objects.macos("arm64", "11.0"), elf)
    fused = fat(objects.root / "elf-fat.a",
                [(0x01000007, x86.read_bytes()), (0x0100000C, mixed.read_bytes())])
    assert one_line_failure(verifier(fused)).endswith(
        "arm64 slice: linux.o: an ELF object, not Mach-O")


def test_fat_module_image_verifies(objects: Objects) -> None:
    """Proof level: real artifact.  A fused program/module (not an archive) is checked as one
    image per slice — the script verifies ``bin/openssl`` this way."""
    slices = []
    for arch, floor in FLOORS.items():
        out = objects.root / f"module-{arch}.dylib"
        done = run([*zig_cc(arch, floor).split(), "-shared", "-o", str(out),
                    str(objects.root / "b.c")], timeout=300)
        assert done.returncode == 0, done.stderr
        slices.append(out)
    done = verifier("--json", objects.lipo("module.dylib", *slices))
    assert done.returncode == 0, done.stderr
    files = json.loads(done.stdout)["files"]
    assert {arch: facts["kind"] for arch, facts in next(iter(files.values())).items()} == {
        "x86_64": "image", "arm64": "image"}


def test_damaged_input_is_one_line_never_a_traceback(objects: Objects) -> None:
    """Proof level: real artifact (a real archive, cut short) and plain garbage."""
    fused = objects.lipo("to-cut.a", *objects.good_pair("darwin"))
    cut = objects.root / "cut.a"
    cut.write_bytes(fused.read_bytes()[:5000])
    assert one_line_failure(verifier(cut)).endswith(
        "malformed: slice 1 lies beyond the end of the file")
    garbage = objects.root / "garbage.a"
    garbage.write_bytes(b"not a library at all\n")
    assert one_line_failure(verifier(garbage)).endswith(
        "malformed: neither a Mach-O file nor an ar archive")
    missing = verifier(objects.root / "absent.a")
    assert "cannot read" in one_line_failure(missing)
    usage = run([sys.executable, str(VERIFIER), "x.a"], timeout=60)
    assert usage.returncode == 2
    assert usage.stderr.strip().startswith("wheelfleet: verify_universal: ")


def test_runs_on_a_bare_python3(objects: Objects) -> None:
    """Proof level: real artifact.  The verifier runs on a Mac's stock python3: standard
    library only (isolated, no site-packages), and Python 3.9 syntax (Command Line Tools)."""
    fused = objects.lipo("bare.a", *objects.good_pair("darwin"))
    done = verifier(fused, python=(sys.executable, "-I", "-S"))
    assert done.returncode == 0, done.stderr
    ast.parse(VERIFIER.read_text(), feature_version=(3, 9))
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(VERIFIER.read_text()))
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in (node.names if isinstance(node, ast.Import) else
                              [ast.alias(node.module or "")])}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
