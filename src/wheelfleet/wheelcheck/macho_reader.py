"""Read the facts the checks need from a (thin or fat) Mach-O file, within budgets.

The structures are macholib's (``mach_header``, ``dylib_command``, ``build_version_command``
...), but the walk over load commands is done here: ``macholib.MachO`` also reads the contents
of every section into memory (a whole 1 GB library) and trusts ``ncmds``/``cmdsize``, so a tiny
file claiming millions of commands keeps it busy for minutes. Here the header's counts are
held to the budgets and every command must lie inside ``sizeofcmds`` before it is decoded.
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

from macholib.mach_o import (
    CPU_TYPE_NAMES,
    FAT_MAGIC,
    FAT_MAGIC_64,
    LC_BUILD_VERSION,
    LC_DYSYMTAB,
    LC_LAZY_LOAD_DYLIB,
    LC_LOAD_DYLIB,
    LC_LOAD_UPWARD_DYLIB,
    LC_LOAD_WEAK_DYLIB,
    LC_REEXPORT_DYLIB,
    LC_RPATH,
    LC_SEGMENT,
    LC_SEGMENT_64,
    LC_SYMTAB,
    LC_VERSION_MIN_MACOSX,
    MH_FILETYPE_SHORTNAMES,
    MH_MAGIC,
    MH_MAGIC_64,
    PLATFORM_NAMES,
    build_version_command,
    dylib_command,
    dysymtab_command,
    fat_arch,
    fat_arch64,
    fat_header,
    mach_header,
    mach_header_64,
    rpath_command,
    segment_command,
    segment_command_64,
    symtab_command,
    version_min_command,
)
from macholib.ptypes import sizeof

from .binary_facts import MachOFacts, MachOSlice
from .binary_format import MAX_FAT_SLICES
from .budgets import ParseLimits

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
_LOAD_COMMAND = struct.Struct("II")
_MAX_SYMBOL_NAME = 4096

# macholib names CPU types like "ARM64"/"PowerPC"; wheel tags and lipo say arm64/ppc.
_TAG_ARCH = {"x86_64": "x86_64", "i386": "i386", "ARM64": "arm64", "ARM": "arm",
             "PowerPC": "ppc", "PowerPC64": "ppc64"}


def read_macho(stream: BinaryIO, limits: ParseLimits, *,
               want_imported_symbols: bool = False) -> MachOFacts:
    """Parse a Mach-O image from a seekable stream. Raises ValueError/struct.error on a
    malformed one and ``BudgetExceeded`` when it has more load commands or sections than the
    budgets allow."""
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    (magic,) = struct.unpack(">I", _read_exactly(stream, 4))
    if magic not in (FAT_MAGIC, FAT_MAGIC_64):
        return MachOFacts([_read_slice(stream, 0, size, limits, want_imported_symbols)],
                          is_fat=False)
    stream.seek(0)
    header = fat_header.from_str(_read_exactly(stream, sizeof(fat_header)), _endian_=">")
    limits.at_most("Mach-O fat slices", int(header.nfat_arch), MAX_FAT_SLICES)
    arch_type = fat_arch if magic == FAT_MAGIC else fat_arch64
    archs = [arch_type.from_str(_read_exactly(stream, sizeof(arch_type)), _endian_=">")
             for _ in range(int(header.nfat_arch))]
    slices = []
    for arch in archs:
        offset, length = int(arch.offset), int(arch.size)
        if offset + length > size:
            raise ValueError(f"fat slice at {offset} of {length} bytes lies beyond the file")
        slices.append(_read_slice(stream, offset, length, limits, want_imported_symbols))
    return MachOFacts(slices, is_fat=True)


def _read_slice(stream: BinaryIO, offset: int, length: int, limits: ParseLimits,
                want_symbols: bool) -> MachOSlice:
    stream.seek(offset)
    raw_magic = _read_exactly(stream, 4)
    endian = next((e for e in "<>" if struct.unpack(e + "I", raw_magic)[0] in
                   (MH_MAGIC, MH_MAGIC_64)), None)
    if endian is None:
        raise ValueError(f"no Mach-O header at offset {offset}")
    is_64 = struct.unpack(endian + "I", raw_magic)[0] == MH_MAGIC_64
    header_type = mach_header_64 if is_64 else mach_header
    stream.seek(offset)
    header = header_type.from_str(_read_exactly(stream, sizeof(header_type)), _endian_=endian)
    ncmds, sizeofcmds = int(header.ncmds), int(header.sizeofcmds)
    budgets = limits.budgets
    limits.at_most("Mach-O load commands", ncmds, budgets.load_commands)
    limits.at_most("Mach-O load commands' size", sizeofcmds, budgets.load_command_bytes, "bytes")
    if sizeof(header_type) + sizeofcmds > length:
        raise ValueError(f"load commands ({sizeofcmds} bytes) run past the end of the slice")
    commands = _read_exactly(stream, sizeofcmds)

    cputype = int(header.cputype)
    subtype = int(header.cpusubtype) & _CPU_SUBTYPE_MASK
    cpu_name = CPU_TYPE_NAMES.get(cputype, f"cputype-{cputype:#x}")
    arch = _TAG_ARCH.get(cpu_name, cpu_name)
    if arch == "arm64" and subtype == _CPU_SUBTYPE_ARM64E:
        arch = "arm64e"
    filetype = int(header.filetype)
    found = MachOSlice(arch=arch, filetype=MH_FILETYPE_SHORTNAMES.get(filetype, str(filetype)))
    symtab = dysymtab = None
    sections = 0
    position = 0
    for index in range(ncmds):
        if index % 4096 == 0:
            limits.deadline.check(limits.file)
        if position + _LOAD_COMMAND.size > sizeofcmds:
            raise ValueError(f"load command {index} lies past sizeofcmds")
        kind, cmdsize = struct.unpack_from(endian + "II", commands, position)
        if cmdsize < _LOAD_COMMAND.size or position + cmdsize > sizeofcmds:
            raise ValueError(f"load command {index} has an impossible size {cmdsize}")
        body = commands[position : position + cmdsize]
        position += cmdsize
        if kind in _DEPENDENCY_COMMANDS:
            found.dependencies.append(
                (_DEPENDENCY_COMMANDS[kind], _lc_string(body, dylib_command, "name", endian)))
        elif kind == LC_RPATH:
            found.rpaths.append(_lc_string(body, rpath_command, "path", endian))
        elif kind == LC_BUILD_VERSION:
            command = _decode(body, build_version_command, endian)
            platform = int(command.platform)
            found.platform = PLATFORM_NAMES.get(platform, str(platform))
            if platform == PLATFORM_MACOS:
                found.min_os = _nibble_version(int(command.minos))
                found.min_os_source = "LC_BUILD_VERSION"
        elif kind == LC_VERSION_MIN_MACOSX and found.min_os is None:
            found.min_os = _nibble_version(int(_decode(body, version_min_command, endian).version))
            found.min_os_source = "LC_VERSION_MIN_MACOSX"
        elif kind in (LC_SEGMENT, LC_SEGMENT_64):
            segment_type = segment_command_64 if kind == LC_SEGMENT_64 else segment_command
            sections += int(_decode(body, segment_type, endian).nsects)
            limits.at_most("Mach-O sections", sections, budgets.sections)
        elif kind == LC_SYMTAB:
            symtab = _decode(body, symtab_command, endian)
        elif kind == LC_DYSYMTAB:
            dysymtab = _decode(body, dysymtab_command, endian)
    if want_symbols and symtab is not None:
        found.imported_symbols = _imported_symbols(stream, offset, is_64, endian, symtab,
                                                   dysymtab, limits)
    return found


def _decode(body: bytes, command_type: Any, endian: str) -> Any:
    """One command's structure, which follows the 8-byte (cmd, cmdsize) prefix."""
    end = _LOAD_COMMAND.size + sizeof(command_type)
    if end > len(body):
        raise ValueError(f"{command_type.__name__} is larger than its load command")
    return command_type.from_str(body[_LOAD_COMMAND.size : end], _endian_=endian)


def _lc_string(body: bytes, command_type: Any, attribute: str, endian: str) -> str:
    """Decode an lc_str member: an offset from the command start into the command."""
    offset = int(getattr(_decode(body, command_type, endian), attribute))
    end = body.find(b"\x00", offset)
    raw = body[offset:] if end < 0 else body[offset:end]
    return raw.decode("utf-8", errors="replace")


def _nibble_version(encoded: int) -> tuple[int, int, int]:
    """Decode Apple's xxxx.yy.zz packed version."""
    return (encoded >> 16, (encoded >> 8) & 0xFF, encoded & 0xFF)


def _imported_symbols(stream: BinaryIO, base: int, is_64: bool, endian: str, symtab: Any,
                      dysymtab: Any, limits: ParseLimits) -> list[str]:
    """External undefined symbols (what the binary expects the loader to provide).

    LC_DYSYMTAB says which index range of the symbol table holds the undefined symbols, so
    only that range is read, and each name is read from the string table on its own.
    """
    if dysymtab is not None:
        first, count = int(dysymtab.iundefsym), int(dysymtab.nundefsym)
    else:
        first, count = 0, int(symtab.nsyms)
    limits.at_most("Mach-O undefined symbols", count, limits.budgets.imports)
    entry = struct.Struct(endian + ("IBBhQ" if is_64 else "IBBhI"))
    stream.seek(base + int(symtab.symoff) + first * entry.size)
    table = _read_exactly(stream, count * entry.size)
    strings_start = base + int(symtab.stroff)
    strings_size = int(symtab.strsize)
    names = []
    for index, (n_strx, n_type, _sect, _desc, _value) in enumerate(entry.iter_unpack(table)):
        if index % 4096 == 0:
            limits.deadline.check(limits.file)
        if n_type & _N_STAB or not n_type & _N_EXT or (n_type & _N_TYPE) != _N_UNDF:
            continue
        if n_strx >= strings_size:
            continue
        stream.seek(strings_start + n_strx)
        raw = stream.read(min(_MAX_SYMBOL_NAME, strings_size - n_strx))
        name = raw.split(b"\x00", 1)[0].decode("utf-8", errors="replace")
        # C symbols carry a leading underscore on Apple platforms.
        names.append(name[1:] if name.startswith("_") else name)
    return names


def _read_exactly(stream: BinaryIO, count: int) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise ValueError(f"file ends {count - len(data)} bytes early")
    return data
