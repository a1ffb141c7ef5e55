"""Recognise executable formats by their leading bytes, not their file names.

Extension modules are named ``.so``/``.pyd``/``.dylib``, but bundled libraries and helper
executables can have any name (``libfoo.so.1.2``, ``bin/tool``), so the magic number decides.
"""

from __future__ import annotations

import struct

ELF = "ELF"
MACHO = "Mach-O"
PE = "PE"

_ELF_MAGIC = b"\x7fELF"
_MACHO_THIN_MAGICS = {0xFEEDFACE, 0xFEEDFACF, 0xCEFAEDFE, 0xCFFAEDFE}
_MACHO_FAT_MAGICS = {0xCAFEBABE, 0xCAFEBABF}
# Java class files share 0xCAFEBABE; there the next word is a class-file version (>= 45),
# whereas a fat Mach-O has a handful of slices.
_MAX_FAT_SLICES = 20

# Enough bytes to tell every format apart, including the PE signature offset at 0x3C.
SNIFF_SIZE = 64


def sniff(head: bytes, data: bytes | None = None) -> str | None:
    """The format of a file from its first bytes, or None if it is not an executable format.

    ``data`` (the whole file) is only needed for PE, whose real signature sits at an offset
    given in the DOS header.
    """
    if head.startswith(_ELF_MAGIC):
        return ELF
    if len(head) >= 8:
        (magic,) = struct.unpack(">I", head[:4])
        if magic in _MACHO_THIN_MAGICS:
            return MACHO
        if magic in _MACHO_FAT_MAGICS:
            (count,) = struct.unpack(">I", head[4:8])
            if 0 < count <= _MAX_FAT_SLICES:
                return MACHO
    if head.startswith(b"MZ") and data is not None and len(data) >= 0x40:
        (pe_offset,) = struct.unpack("<I", data[0x3C:0x40])
        if data[pe_offset : pe_offset + 4] == b"PE\0\0":
            return PE
    return None
