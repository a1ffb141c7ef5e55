"""Verify universal (fat) macOS static libraries and binaries, member object by member object.

Runs on the build Mac with whatever ``python3`` it has (the Command Line Tools' 3.9), so it uses
the standard library only and parses the formats itself:

* the fat header (``FAT_MAGIC``/``FAT_MAGIC_64``, big-endian): one slice per architecture;
* each slice is an ``ar`` archive (BSD ``#1/<len>`` long names as Apple's ``ar``/``libtool``
  write them, or GNU ``/`` + ``//`` names as binutils/llvm-ar may write them) or one Mach-O
  image (the ``openssl`` program);
* each member's Mach-O header (cputype) and load commands ``LC_BUILD_VERSION`` (platform,
  ``minos``) and ``LC_VERSION_MIN_MACOSX`` (``version``).

A file passes when its slices are exactly the architectures given floors for, and every member
object of every slice is a 64-bit Mach-O object of that slice's architecture, built for macOS,
whose minimum macOS is at or below that architecture's floor.  Static archives are the case
``lipo``/``vtool`` cannot answer: a linker takes the *output's* minimum from its own flags, so
one object compiled for a newer macOS hides inside a wheel that claims an older one.

Usage (``openssl_universal.sh`` calls it; exit 0 verified, 1 not, 2 usage)::

    python3 verify_universal.py --floor x86_64=10.12 --floor arm64=11.0 \
        [--base DIR] [--manifest OUT.json --meta KEY=VALUE ...] FILE...

On failure it prints one line naming the first problem (and how many more there are).  With
``--manifest`` it writes the build manifest (``--meta`` values plus what was found) after a
successful verification only.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import struct
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Union

FAT_MAGIC = 0xCAFEBABE
FAT_MAGIC_64 = 0xCAFEBABF
MH_MAGIC = 0xFEEDFACE
MH_MAGIC_64 = 0xFEEDFACF
MH_CIGAM = 0xCEFAEDFE
MH_CIGAM_64 = 0xCFFAEDFE
AR_MAGIC = b"!<arch>\n"
AR_HEADER = 60
LLVM_BITCODE = (b"BC\xc0\xde", b"\xde\xc0\x17\x0b")
LC_BUILD_VERSION = 0x32
LC_VERSION_MIN_MACOSX = 0x24
# Other platforms' version commands: an object carrying one was built for iOS/tvOS/watchOS.
LC_VERSION_MIN_OTHER = {0x25: "iOS", 0x2F: "tvOS", 0x30: "watchOS"}
PLATFORM_MACOS = 1
PLATFORM_NAMES = {1: "macOS", 2: "iOS", 3: "tvOS", 4: "watchOS", 5: "bridgeOS",
                  6: "Mac Catalyst", 7: "iOS simulator", 8: "tvOS simulator",
                  9: "watchOS simulator", 10: "DriverKit", 11: "visionOS",
                  12: "visionOS simulator"}
CPU_ARCH_ABI64 = 0x01000000
CPU_TYPES = {7: "i386", 7 | CPU_ARCH_ABI64: "x86_64", 12: "arm", 12 | CPU_ARCH_ABI64: "arm64",
             18: "ppc", 18 | CPU_ARCH_ABI64: "ppc64"}
CPU_SUBTYPE_MASK = 0x00FFFFFF
CPU_SUBTYPE_ARM64E = 2
CPU_SUBTYPE_X86_64_H = 8
SYMBOL_TABLES = ("__.SYMDEF", "__.SYMDEF SORTED", "__.SYMDEF_64", "__.SYMDEF_64 SORTED",
                 "/", "/SYM64/", "//")
MAX_SLICES = 16
MAX_LOAD_COMMANDS = 4096

Version = tuple  # (major, minor, patch)
Buffer = Union[bytes, mmap.mmap]  # noqa: UP007 (runs on the Mac's python3, maybe 3.9)


class Malformed(ValueError):
    """The bytes are not the structure they claim to be."""


def parse_version(text: str) -> Version:
    parts = text.strip().split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a macOS version: {text!r}")
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    return tuple(numbers)


def dotted(version: Version) -> str:
    major, minor, patch = version
    return f"{major}.{minor}.{patch}" if patch else f"{major}.{minor}"


def _nibbles(encoded: int) -> Version:
    return (encoded >> 16, (encoded >> 8) & 0xFF, encoded & 0xFF)


def arch_name(cputype: int, cpusubtype: int) -> str:
    name = CPU_TYPES.get(cputype, f"cputype-{cputype:#x}")
    subtype = cpusubtype & CPU_SUBTYPE_MASK
    if name == "arm64" and subtype == CPU_SUBTYPE_ARM64E:
        return "arm64e"
    if name == "x86_64" and subtype == CPU_SUBTYPE_X86_64_H:
        return "x86_64h"
    return name


@dataclass
class MemberFacts:
    """What one Mach-O image (an archive member or a whole slice) says about itself."""

    name: str
    arch: str
    is_64: bool
    platform: str | None = None
    min_os: Version | None = None
    source: str | None = None


@dataclass
class SliceReport:
    arch: str
    kind: str  # "archive" or "image"
    members: int = 0
    unversioned: int = 0
    max_min_os: Version | None = None
    max_member: str | None = None
    max_source: str | None = None


@dataclass
class FileReport:
    path: str
    slices: list[SliceReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_macho(data: Buffer, start: int, end: int, name: str) -> MemberFacts:
    """Header and version load commands of the Mach-O image in ``data[start:end]``."""
    if end - start < 28:
        raise Malformed(f"{name}: too short for a Mach-O header")
    (magic,) = struct.unpack_from("<I", data, start)
    if magic in (MH_MAGIC, MH_MAGIC_64):
        endian = "<"
    elif magic in (MH_CIGAM, MH_CIGAM_64):
        endian = ">"
    elif bytes(data[start:start + 4]) in LLVM_BITCODE:
        raise Malformed(f"{name}: LLVM bitcode (LTO), not a Mach-O object: its minimum macOS "
                        "is decided only at link time")
    elif bytes(data[start:start + 4]) == b"\x7fELF":
        raise Malformed(f"{name}: an ELF object, not Mach-O")
    else:
        raise Malformed(f"{name}: not a Mach-O object (magic {bytes(data[start:start + 4])!r})")
    is_64 = magic in (MH_MAGIC_64, MH_CIGAM_64)
    _, cputype, cpusubtype, _, ncmds, sizeofcmds, _ = struct.unpack_from(endian + "7I", data,
                                                                          start)
    header = 32 if is_64 else 28
    if ncmds > MAX_LOAD_COMMANDS or start + header + sizeofcmds > end:
        raise Malformed(f"{name}: load commands ({ncmds}, {sizeofcmds} bytes) do not fit")
    facts = MemberFacts(name, arch_name(cputype, cpusubtype), is_64)
    position, limit = start + header, start + header + sizeofcmds
    for index in range(ncmds):
        if position + 8 > limit:
            raise Malformed(f"{name}: load command {index} lies past sizeofcmds")
        kind, size = struct.unpack_from(endian + "II", data, position)
        if size < 8 or position + size > limit:
            raise Malformed(f"{name}: load command {index} has an impossible size {size}")
        if kind == LC_BUILD_VERSION and size >= 24:
            platform, minos = struct.unpack_from(endian + "II", data, position + 8)
            facts.platform = PLATFORM_NAMES.get(platform, f"platform {platform}")
            facts.min_os, facts.source = _nibbles(minos), "LC_BUILD_VERSION"
        elif kind == LC_VERSION_MIN_MACOSX and size >= 16 and facts.source is None:
            (version,) = struct.unpack_from(endian + "I", data, position + 8)
            facts.platform = "macOS"
            facts.min_os, facts.source = _nibbles(version), "LC_VERSION_MIN_MACOSX"
        elif kind in LC_VERSION_MIN_OTHER and facts.source is None:
            (version,) = struct.unpack_from(endian + "I", data, position + 8)
            facts.platform = LC_VERSION_MIN_OTHER[kind]
            facts.min_os, facts.source = _nibbles(version), "LC_VERSION_MIN"
        position += size
    return facts


def ar_members(data: Buffer, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """Yield ``(name, data_start, data_end)`` for each member of the archive in
    ``data[start:end]``, symbol tables skipped.  BSD and GNU long names are resolved."""
    if bytes(data[start:start + 8]) != AR_MAGIC:
        raise Malformed("not an ar archive")
    position = start + 8
    gnu_names = b""
    while position < end:
        if position + AR_HEADER > end:
            raise Malformed(f"truncated member header at offset {position - start}")
        header = bytes(data[position:position + AR_HEADER])
        if header[58:60] != b"`\n":
            raise Malformed(f"bad member header at offset {position - start}")
        raw_name = header[0:16].decode("ascii", "replace").rstrip(" ")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise Malformed(f"bad member size at offset {position - start}") from None
        body = position + AR_HEADER
        body_end = body + size
        if body_end > end:
            raise Malformed(f"member {raw_name!r} runs past the end of the archive")
        name = raw_name
        if raw_name.startswith("#1/"):  # BSD: the name is the first <len> bytes of the body
            length = int(raw_name[3:])
            name = bytes(data[body:body + length]).split(b"\0", 1)[0].decode("utf-8", "replace")
            body += length
        elif raw_name == "//":
            gnu_names = bytes(data[body:body_end])
        elif raw_name.startswith("/") and raw_name[1:].isdigit():
            offset = int(raw_name[1:])
            name = gnu_names[offset:].split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("/")
        elif raw_name.endswith("/") and raw_name not in ("/", "//"):
            name = raw_name[:-1]
        if name not in SYMBOL_TABLES and raw_name not in SYMBOL_TABLES:
            yield name, body, body_end
        position = body_end + (body_end - start) % 2  # members start on even offsets


def slices_of(data: Buffer) -> tuple[bool, list[tuple[str, int, int]]]:
    """``(is_fat, [(arch, start, end)])``; a thin file is one slice spanning the file."""
    if len(data) < 8:
        raise Malformed("too short to be a Mach-O file or an archive")
    (magic,) = struct.unpack_from(">I", data, 0)
    if magic not in (FAT_MAGIC, FAT_MAGIC_64):
        return False, [(_thin_arch(data), 0, len(data))]
    (count,) = struct.unpack_from(">I", data, 4)
    if not 0 < count <= MAX_SLICES:
        raise Malformed(f"fat header claims {count} slices")
    found = []
    for index in range(count):
        if magic == FAT_MAGIC:
            cputype, subtype, offset, size, _ = struct.unpack_from(">5I", data, 8 + index * 20)
        else:
            cputype, subtype, offset, size, _, _ = struct.unpack_from(">iiQQII", data,
                                                                      8 + index * 32)
        if offset + size > len(data):
            raise Malformed(f"slice {index} lies beyond the end of the file")
        found.append((arch_name(cputype, subtype), offset, offset + size))
    return True, found


def _thin_arch(data: Buffer) -> str:
    """The architecture of a thin file: its own header, or its first archive member's."""
    if bytes(data[:8]) == AR_MAGIC:
        for name, start, end in ar_members(data, 0, len(data)):
            try:
                return read_macho(data, start, end, name).arch
            except Malformed:
                continue
        return "unknown"
    (magic,) = struct.unpack_from("<I", data, 0)
    if magic not in (MH_MAGIC, MH_MAGIC_64, MH_CIGAM, MH_CIGAM_64):
        raise Malformed("neither a Mach-O file nor an ar archive")
    return read_macho(data, 0, len(data), "the file").arch


def verify_file(path: str, floors: dict[str, Version], label: str | None = None) -> FileReport:
    report = FileReport(label or path)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                report.problems.append(f"{report.path}: empty file")
                return report
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                _verify_data(data, floors, report)
    except OSError as exc:
        report.problems.append(f"{report.path}: cannot read: {exc.strerror or exc}")
    except (Malformed, struct.error, ValueError) as exc:
        report.problems.append(f"{report.path}: malformed: {exc}")
    return report


def _verify_data(data: mmap.mmap, floors: dict[str, Version], report: FileReport) -> None:
    is_fat, slices = slices_of(data)
    wanted = sorted(floors)
    present = [arch for arch, _, _ in slices]
    if not is_fat:
        missing = [a for a in wanted if a not in present]
        if missing or present[0] not in floors:
            report.problems.append(
                f"{report.path}: not universal: a thin {present[0]} file; needs slices "
                f"{', '.join(wanted)} (missing {', '.join(missing) or 'none'})")
    else:
        duplicates = sorted({a for a in present if present.count(a) > 1})
        missing = [a for a in wanted if a not in present]
        extra = sorted(a for a in set(present) if a not in floors)
        if duplicates:
            report.problems.append(f"{report.path}: slice {duplicates[0]} appears twice")
        if missing:
            report.problems.append(f"{report.path}: missing the {', '.join(missing)} slice "
                                   f"(has {', '.join(present)}); needs {', '.join(wanted)}")
        if extra:
            report.problems.append(f"{report.path}: unexpected slice {', '.join(extra)} "
                                   f"(only {', '.join(wanted)} were built)")
    for arch, start, end in slices:
        report.slices.append(_verify_slice(data, arch, start, end, floors.get(arch), report))


def _verify_slice(data: mmap.mmap, arch: str, start: int, end: int, floor: Version | None,
                  report: FileReport) -> SliceReport:
    where = f"{report.path}: {arch} slice"
    images: Iterator[tuple[str, int, int]]
    if bytes(data[start:start + 8]) == AR_MAGIC:
        one = SliceReport(arch, "archive")
        images = ar_members(data, start, end)
    else:
        one = SliceReport(arch, "image")
        images = iter([(os.path.basename(report.path), start, end)])
    too_new: list[MemberFacts] = []
    for name, member_start, member_end in images:
        one.members += 1
        try:
            facts = read_macho(data, member_start, member_end, name)
        except (Malformed, struct.error) as exc:
            report.problems.append(f"{where}: {exc}")
            continue
        if facts.arch != arch:
            report.problems.append(f"{where}: member {name} is a {facts.arch} object")
            continue
        if not facts.is_64:
            report.problems.append(f"{where}: member {name} is a 32-bit object")
        if facts.min_os is None:
            one.unversioned += 1
            continue
        if facts.platform != "macOS":
            report.problems.append(f"{where}: member {name} is built for {facts.platform} "
                                   f"({facts.source}), not macOS")
            continue
        if one.max_min_os is None or facts.min_os > one.max_min_os:
            one.max_min_os, one.max_member, one.max_source = facts.min_os, name, facts.source
        if floor is not None and facts.min_os > floor:
            too_new.append(facts)
    if one.members == 0:
        report.problems.append(f"{where}: no member objects")
    if too_new:
        worst = max(too_new, key=lambda f: f.min_os or (0, 0, 0))
        assert worst.min_os is not None and floor is not None
        report.problems.append(
            f"{where}: {len(too_new)} of {one.members} member objects need a newer macOS than "
            f"the floor {dotted(floor)} (highest {dotted(worst.min_os)} in {worst.name}, "
            f"{worst.source})")
    return one


def verify(paths: list[str], floors: dict[str, Version], base: str | None = None
           ) -> list[FileReport]:
    reports = []
    for path in paths:
        label = os.path.relpath(path, base) if base else path
        reports.append(verify_file(path, floors, label))
    return reports


def summary(reports: list[FileReport], floors: dict[str, Version]) -> dict[str, object]:
    """Per-arch totals over every verified file, for the manifest."""
    per_arch: dict[str, dict[str, object]] = {}
    for arch in sorted(floors):
        slices = [s for r in reports for s in r.slices if s.arch == arch]
        versions = [s.max_min_os for s in slices if s.max_min_os is not None]
        highest = max(versions) if versions else None
        per_arch[arch] = {
            "floor": dotted(floors[arch]),
            "max_minos": dotted(highest) if highest else None,
            "members": sum(s.members for s in slices),
            "unversioned_members": sum(s.unversioned for s in slices),
        }
    return {
        "arches": sorted(floors),
        "per_arch": per_arch,
        "files": {r.path: {s.arch: {"kind": s.kind, "members": s.members,
                                    "max_minos": dotted(s.max_min_os) if s.max_min_os else None}
                           for s in r.slices} for r in reports},
    }


def _parse_floor(text: str) -> tuple[str, Version]:
    arch, sep, version = text.partition("=")
    if not sep or not arch:
        raise argparse.ArgumentTypeError(f"expected ARCH=VERSION, got {text!r}")
    try:
        return arch, parse_version(version)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parse_meta(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"wheelfleet: verify_universal: {message}\n")
        raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="verify_universal",
                     description="Verify universal macOS libraries member by member.")
    parser.add_argument("--floor", action="append", type=_parse_floor, required=True,
                        metavar="ARCH=VERSION", help="required slice and its minimum macOS")
    parser.add_argument("--base", help="report paths relative to this directory")
    parser.add_argument("--manifest", help="write the build manifest here when verified")
    parser.add_argument("--meta", action="append", type=_parse_meta, default=[],
                        metavar="KEY=VALUE", help="a manifest field (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    floors = dict(args.floor)
    started = time.monotonic()
    reports = verify(args.files, floors, args.base)
    seconds = round(time.monotonic() - started, 3)
    problems = [p for r in reports for p in r.problems]
    found = summary(reports, floors)
    if args.json:
        print(json.dumps({"ok": not problems, "problems": problems, "seconds": seconds,
                          **found}, indent=2, sort_keys=True))
    if problems:
        others = len(problems) - 1
        more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
        sys.stderr.write(f"wheelfleet: verification failed: {problems[0]}{more}\n")
        return 1
    if args.manifest:
        _write_manifest(args.manifest, dict(args.meta), found, seconds)
    if not args.json:
        per_arch = found["per_arch"]
        assert isinstance(per_arch, dict)
        print("verified " + ", ".join(r.path for r in reports) + ": " + "; ".join(
            f"{arch}: {facts['members']} objects, highest minimum macOS {facts['max_minos']} "
            f"<= floor {facts['floor']}" for arch, facts in per_arch.items())
            + f" ({seconds} s)")
    return 0


# Manifest fields whose --meta values are whitespace-separated lists.
_LIST_FIELDS = ("configure_flags", "libraries")


def _write_manifest(path: str, meta: dict[str, str], found: dict[str, object],
                    seconds: float) -> None:
    manifest: dict[str, object] = {"schema": "wheelfleet.macos-openssl/1"}
    for key, value in meta.items():
        # "build_seconds.x86_64=312" -> {"build_seconds": {"x86_64": 312}}
        name, _, sub = key.partition(".")
        parsed: object = value.split() if name in _LIST_FIELDS else (
            int(value) if name.endswith("_seconds") and value.isdigit() else value)
        if sub:
            table = manifest.setdefault(name, {})
            if isinstance(table, dict):
                table[sub] = parsed
        else:
            manifest[name] = parsed
    per_arch = found["per_arch"]
    assert isinstance(per_arch, dict)
    manifest["arches"] = found["arches"]
    manifest["min_macos"] = {arch: facts["floor"] for arch, facts in per_arch.items()}
    manifest["max_minos"] = {arch: facts["max_minos"] for arch, facts in per_arch.items()}
    manifest["verification"] = {"seconds": seconds, "per_arch": per_arch,
                                "files": found["files"]}
    partial = f"{path}.part"
    with open(partial, "w") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(partial, path)


if __name__ == "__main__":
    sys.exit(main())
