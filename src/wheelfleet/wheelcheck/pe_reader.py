"""Read the facts the checks need from a PE (Windows DLL/EXE/.pyd) file, using pefile."""

from __future__ import annotations

import pefile

from .binary_facts import PEFacts

# IMAGE_FILE_MACHINE_* -> the architecture spelling used for Windows tags in platform_claims.
_MACHINE_ARCH = {
    0x014C: "x86",
    0x8664: "x86_64",
    0xAA64: "arm64",
    0x01C4: "arm",
    0x0200: "ia64",
}
_COMIMAGE_FLAGS_ILONLY = 0x1
_COMIMAGE_FLAGS_32BITREQUIRED = 0x2

_DIRECTORIES = [
    pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"],
    pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT"],
    pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR"],
]


def read_pe(data: bytes) -> PEFacts:
    """Parse an in-memory PE image; raises pefile.PEFormatError on a malformed one."""
    pe = pefile.PE(data=data, fast_load=True)
    try:
        pe.parse_data_directories(directories=_DIRECTORIES)
        machine = int(pe.FILE_HEADER.Machine)
        facts = PEFacts(arch=_MACHINE_ARCH.get(machine, f"machine-{machine:#06x}"))
        com = getattr(pe, "DIRECTORY_ENTRY_COM_DESCRIPTOR", None)
        if com is not None:
            flags = int(com.struct.Flags)
            facts.architecture_neutral = bool(
                flags & _COMIMAGE_FLAGS_ILONLY and not flags & _COMIMAGE_FLAGS_32BITREQUIRED
            )
        facts.imports = _import_table(getattr(pe, "DIRECTORY_ENTRY_IMPORT", []))
        facts.delay_imports = _import_table(getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", []))
        return facts
    finally:
        pe.close()


def _import_table(entries: list[pefile.ImportDescData]) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for entry in entries:
        dll = entry.dll.decode("ascii", errors="replace")
        names = table.setdefault(dll, [])
        names.extend(
            imported.name.decode("ascii", errors="replace")
            for imported in entry.imports
            if imported.name
        )
    return table
