"""Read the facts the checks need from a PE (Windows DLL/EXE/.pyd) file, using pefile."""

from __future__ import annotations

import mmap
import struct

import pefile

from .binary_facts import PEFacts
from .budgets import ParseLimits

# IMAGE_FILE_MACHINE_* -> the toolchain matrix's Windows arch names (platforms.windows.arches
# maps those to wheel tags); machines no CPython runs on keep a descriptive name.
_MACHINE_ARCH = {
    0x014C: "x86",
    0x8664: "x64",
    0xAA64: "arm64",
    0x01C4: "arm",
    0x0200: "ia64",
}
_IMAGE_FILE_DLL = 0x2000
_COMIMAGE_FLAGS_ILONLY = 0x1
_COMIMAGE_FLAGS_32BITREQUIRED = 0x2

_DIRECTORIES = [
    pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"],
    pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT"],
    pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR"],
]


class _BufferPE(pefile.PE):
    """pefile's PE over a buffer wheelcheck owns (bytes, or the spool's mmap, which the spool
    closes). ``PE.close()`` — which pefile's constructor also calls on every file it fails to
    parse — runs a full ``gc.collect()`` to release a file mapping pefile opened itself; there
    is none here, and that collection cost more than parsing the file did."""

    def close(self) -> None:
        """Nothing to release: the buffer is the caller's."""


def is_pe(data: bytes | mmap.mmap) -> bool:
    """An MZ file whose DOS header points at a ``PE\\0\\0`` signature."""
    if len(data) < 0x40 or data[:2] != b"MZ":
        return False
    (pe_offset,) = struct.unpack("<I", data[0x3C:0x40])
    return data[pe_offset : pe_offset + 4] == b"PE\0\0"


def read_pe(data: bytes | mmap.mmap, limits: ParseLimits, *,
            want_imported_symbols: bool = False) -> PEFacts:
    """Parse a PE image; raises pefile.PEFormatError on a malformed one and
    ``BudgetExceeded`` when it has more sections or imports than the budgets allow.

    The names of the functions imported from each DLL cost most of the parse and only abi3
    and CPython 2 wheels are judged by them, so other wheels get the DLL names only."""
    (pe_offset,) = struct.unpack("<I", data[0x3C:0x40])
    (sections,) = struct.unpack("<H", data[pe_offset + 6 : pe_offset + 8])
    limits.at_most("PE sections", sections, limits.budgets.sections)
    pe = _BufferPE(data=data, fast_load=True)
    limits.deadline.check(limits.file)
    pe.parse_data_directories(directories=_DIRECTORIES,
                              import_dllnames_only=not want_imported_symbols)
    machine = int(pe.FILE_HEADER.Machine)
    facts = PEFacts(
        arch=_MACHINE_ARCH.get(machine, f"machine-{machine:#06x}"),
        is_dll=bool(int(pe.FILE_HEADER.Characteristics) & _IMAGE_FILE_DLL),
    )
    com = getattr(pe, "DIRECTORY_ENTRY_COM_DESCRIPTOR", None)
    if com is not None:
        flags = int(com.struct.Flags)
        facts.architecture_neutral = bool(
            flags & _COMIMAGE_FLAGS_ILONLY and not flags & _COMIMAGE_FLAGS_32BITREQUIRED
        )
    facts.imports = _import_table(getattr(pe, "DIRECTORY_ENTRY_IMPORT", []), limits)
    facts.delay_imports = _import_table(getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", []),
                                        limits)
    return facts


def _import_table(entries: list[pefile.ImportDescData],
                  limits: ParseLimits) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    count = 0
    for entry in entries:
        dll = entry.dll.decode("ascii", errors="replace")
        names = table.setdefault(dll, [])
        names.extend(
            imported.name.decode("ascii", errors="replace")
            for imported in entry.imports
            if imported.name
        )
        count += 1 + len(entry.imports)
        limits.at_most("PE imports", count, limits.budgets.imports)
    return table
