"""Read the facts the checks need from a (thin or fat) Mach-O file, using macholib."""

from __future__ import annotations

import io
import os
import struct
from typing import Any

from macholib.mach_o import (
    CPU_TYPE_NAMES,
    LC_BUILD_VERSION,
    LC_LAZY_LOAD_DYLIB,
    LC_LOAD_DYLIB,
    LC_LOAD_UPWARD_DYLIB,
    LC_LOAD_WEAK_DYLIB,
    LC_REEXPORT_DYLIB,
    LC_RPATH,
    LC_VERSION_MIN_MACOSX,
    MH_CIGAM_64,
    MH_MAGIC_64,
    PLATFORM_NAMES,
)
from macholib.MachO import MachO, MachOHeader
from macholib.ptypes import sizeof

from .binary_facts import MachOFacts, MachOSlice

PLATFORM_MACOS = 1

# Load commands through which a binary needs another dylib at load time.
_DEPENDENCY_COMMANDS = {
    LC_LOAD_DYLIB: "LC_LOAD_DYLIB",
    LC_LOAD_WEAK_DYLIB: "LC_LOAD_WEAK_DYLIB",
    LC_REEXPORT_DYLIB: "LC_REEXPORT_DYLIB",
    LC_LAZY_LOAD_DYLIB: "LC_LAZY_LOAD_DYLIB",
    LC_LOAD_UPWARD_DYLIB: "LC_LOAD_UPWARD_DYLIB",
}
_CPU_SUBTYPE_ARM64E = 2
_CPU_SUBTYPE_MASK = 0x00FFFFFF  # the high byte carries capability bits (e.g. pointer auth)
_N_TYPE = 0x0E
_N_UNDF = 0x00
_N_EXT = 0x01
_N_STAB = 0xE0

# macholib names CPU types like "ARM64"/"PowerPC"; wheel tags and lipo say arm64/ppc.
_TAG_ARCH = {"x86_64": "x86_64", "i386": "i386", "ARM64": "arm64", "ARM": "arm",
             "PowerPC": "ppc", "PowerPC64": "ppc64"}


class _InMemoryMachO(MachO):
    """macholib's MachO reads from a path; this feeds it an in-memory image instead.

    ``MachO.load`` takes any seekable file object, so only the constructor differs; the wheel
    member is never written to disk.
    """

    def __init__(self, name: str, data: bytes) -> None:
        self.graphident = name
        self.filename = name
        self.loader_path = os.path.dirname(name)
        self.fat = None
        self.headers: list[MachOHeader] = []
        # Unknown (newer) load commands must not stop us: they are kept raw.
        self.allow_unknown_load_commands = True
        self.image = data
        self.load(io.BytesIO(data))


def read_macho(name: str, data: bytes, *, want_imported_symbols: bool = False) -> MachOFacts:
    """Parse an in-memory Mach-O image; raises ValueError/struct.error on a malformed one."""
    macho = _InMemoryMachO(name, data)
    slices = [_read_slice(macho, header, want_imported_symbols) for header in macho.headers]
    return MachOFacts(slices=slices, is_fat=macho.fat is not None)


def _read_slice(macho: _InMemoryMachO, header: MachOHeader, want_symbols: bool) -> MachOSlice:
    cputype = int(header.header.cputype)
    subtype = int(header.header.cpusubtype) & _CPU_SUBTYPE_MASK
    cpu_name = CPU_TYPE_NAMES.get(cputype, f"cputype-{cputype:#x}")
    arch = _TAG_ARCH.get(cpu_name, cpu_name)
    if arch == "arm64" and subtype == _CPU_SUBTYPE_ARM64E:
        arch = "arm64e"
    found = MachOSlice(arch=arch, filetype=str(header.filetype))
    for load_command, command, data in header.commands:
        kind = load_command.cmd
        if kind in _DEPENDENCY_COMMANDS:
            found.dependencies.append(
                (_DEPENDENCY_COMMANDS[kind], _lc_string(load_command, command, data, "name"))
            )
        elif kind == LC_RPATH:
            found.rpaths.append(_lc_string(load_command, command, data, "path"))
        elif kind == LC_BUILD_VERSION:
            platform = int(command.platform)
            found.platform = PLATFORM_NAMES.get(platform, str(platform))
            if platform == PLATFORM_MACOS:
                found.min_os = _nibble_version(int(command.minos))
                found.min_os_source = "LC_BUILD_VERSION"
        elif kind == LC_VERSION_MIN_MACOSX and found.min_os is None:
            found.min_os = _nibble_version(int(command.version))
            found.min_os_source = "LC_VERSION_MIN_MACOSX"
    if want_symbols:
        found.imported_symbols = _imported_symbols(macho.image, header)
    return found


def _lc_string(load_command: Any, command: Any, data: bytes, attribute: str) -> str:
    """Decode an lc_str member: an offset from the command start into the trailing data."""
    offset = int(getattr(command, attribute)) - sizeof(load_command) - sizeof(command)
    end = data.find(b"\x00", offset)
    raw = data[offset:] if end < 0 else data[offset:end]
    return raw.decode("utf-8", errors="replace")


def _nibble_version(encoded: int) -> tuple[int, int, int]:
    """Decode Apple's xxxx.yy.zz packed version."""
    return (encoded >> 16, (encoded >> 8) & 0xFF, encoded & 0xFF)


def _imported_symbols(data: bytes, header: MachOHeader) -> list[str]:
    """External undefined symbols (what the binary expects the loader to provide).

    macholib's SymbolTable builds a Python object per nlist entry, which takes seconds on a
    20 MB Rust extension; LC_DYSYMTAB already says which index range holds the undefined
    symbols, so only that slice of the table is unpacked, straight from the image.
    """
    symtab = header.getSymbolTableCommand()
    if symtab is None:
        return []
    dysymtab = header.getDynamicSymbolTableCommand()
    if dysymtab is not None:
        first, count = int(dysymtab.iundefsym), int(dysymtab.nundefsym)
    else:
        first, count = 0, int(symtab.nsyms)
    is_64 = header.MH_MAGIC in (MH_MAGIC_64, MH_CIGAM_64)
    entry = struct.Struct(header.endian + ("IBBhQ" if is_64 else "IBBhI"))
    base = header.offset
    strings_start = base + int(symtab.stroff)
    strings_end = strings_start + int(symtab.strsize)
    names = []
    for index in range(first, first + count):
        position = base + int(symtab.symoff) + index * entry.size
        n_strx, n_type, _sect, _desc, _value = entry.unpack_from(data, position)
        if n_type & _N_STAB or not n_type & _N_EXT or (n_type & _N_TYPE) != _N_UNDF:
            continue
        start = strings_start + n_strx
        end = data.find(b"\x00", start, strings_end)
        name = data[start : end if end >= 0 else strings_end].decode("utf-8", errors="replace")
        # C symbols carry a leading underscore on Apple platforms.
        names.append(name[1:] if name.startswith("_") else name)
    return names
