"""Recognise executable formats by their leading bytes, not their file names.

Extension modules are named ``.so``/``.pyd``/``.dylib``, but bundled libraries and helper
executables can have any name (``libfoo.so.1.2``, ``bin/tool``), so the magic number decides.
"""

from __future__ import annotations

import struct

ELF = "ELF"
MACHO = "Mach-O"
PE = "PE"
# An ``MZ`` file: a PE file if its DOS header points at a PE signature, which may lie beyond
# the first bytes, so it is confirmed once the whole member is at hand.
MZ = "MZ"

_ELF_MAGIC = b"\x7fELF"
_MACHO_THIN_MAGICS = {0xFEEDFACE, 0xFEEDFACF, 0xCEFAEDFE, 0xCFFAEDFE}
_MACHO_FAT_MAGICS = {0xCAFEBABE, 0xCAFEBABF}
# Java class files share 0xCAFEBABE; there the next word is a class-file version (>= 45),
# whereas a fat Mach-O has a handful of slices.
MAX_FAT_SLICES = 20

SNIFF_SIZE = 8


def sniff(head: bytes) -> str | None:
    """The format a file's first ``SNIFF_SIZE`` bytes announce, or None."""
    if head.startswith(_ELF_MAGIC):
        return ELF
    if len(head) >= 8:
        (magic,) = struct.unpack(">I", head[:4])
        if magic in _MACHO_THIN_MAGICS:
            return MACHO
        if magic in _MACHO_FAT_MAGICS:
            (count,) = struct.unpack(">I", head[4:8])
            if 0 < count <= MAX_FAT_SLICES:
                return MACHO
    if head.startswith(b"MZ"):
        return MZ
    return None
