"""Read the facts the checks need from an ELF file, within budgets.

Only the ELF header, the program headers and four tables are read, straight from the file:
the dynamic section (DT_NEEDED, DT_RUNPATH/DT_RPATH, DT_SONAME), the version needs
(``.gnu.version_r``), the dynamic symbols (for abi3 and CPython 2 wheels) and their string
tables. A general-purpose parser builds an object per section, segment and symbol, which is
most of the time a wheel check takes; here every count comes from the header, is held to the
budgets first, and every offset is checked against the file before it is followed. Verdicts
are cross-checked against ``auditwheel show`` (pyelftools) in the tests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from .binary_facts import ElfFacts
from .budgets import ParseLimits

PF_X = 0x1
_PT_INTERP = 3
_PT_GNU_STACK = 0x6474E551
_SHT_DYNAMIC = 6
_SHT_DYNSYM = 11
_SHT_GNU_VERNEED = 0x6FFFFFFE
_DT_NEEDED, _DT_SONAME, _DT_RPATH, _DT_RUNPATH = 1, 14, 15, 29
_SHN_UNDEF = 0
_STB_LOCAL = 0
_PN_XNUM = 0xFFFF
_MAX_STRING = 4096

_TYPES = {1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
# e_machine -> the architecture spelling of Linux platform tags. Where the spelling depends
# on word size or byte order, the value is chosen in ``_tag_arch``.
_MACHINE_ARCH = {
    62: "x86_64",
    3: "i686",
    183: "aarch64",
    40: "armv7l",
    22: "s390x",
    243: "riscv64",
    258: "loongarch64",
    20: "ppc",
}
_EM_PPC64 = 21
_EM_X86_64 = 62


@dataclass(frozen=True)
class _Layout:
    """The struct formats of one ELF class and byte order."""

    header: struct.Struct
    program_header: struct.Struct
    section_header: struct.Struct
    dynamic: struct.Struct
    symbol: struct.Struct
    is_64: bool
    order: str  # struct byte order: "<" little-endian, ">" big-endian

    @classmethod
    def of(cls, ident: bytes) -> _Layout:
        elf_class, data = ident[4], ident[5]
        if elf_class not in (1, 2) or data not in (1, 2):
            raise ValueError(f"unknown ELF class {elf_class} or byte order {data}")
        e = "<" if data == 1 else ">"
        if elf_class == 2:
            return cls(struct.Struct(e + "HHIQQQIHHHHHH"), struct.Struct(e + "IIQQQQQQ"),
                       struct.Struct(e + "IIQQQQIIQQ"), struct.Struct(e + "qQ"),
                       struct.Struct(e + "IBBHQQ"), True, e)
        return cls(struct.Struct(e + "HHIIIIIHHHHHH"), struct.Struct(e + "IIIIIIII"),
                   struct.Struct(e + "IIIIIIIIII"), struct.Struct(e + "iI"),
                   struct.Struct(e + "IIIBBH"), False, e)


@dataclass(frozen=True)
class _Section:
    type: int
    offset: int
    size: int
    link: int
    info: int


class _Elf:
    """Bounded reads from one ELF file."""

    def __init__(self, stream: BinaryIO, limits: ParseLimits) -> None:
        self.stream = stream
        self.limits = limits
        stream.seek(0, 2)
        self.size = stream.tell()
        ident = self.read(0, 16)
        if ident[:4] != b"\x7fELF":
            raise ValueError("no ELF magic number")
        self.layout = _Layout.of(ident)
        self.header = self.layout.header.unpack(self.read(16, self.layout.header.size))

    def read(self, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0 or offset + size > self.size:
            raise ValueError(f"{size} bytes at offset {offset} lie outside the file")
        self.stream.seek(offset)
        return self.stream.read(size)

    def string(self, table: _Section, index: int) -> str:
        if index >= table.size:
            raise ValueError(f"string {index} lies outside its string table")
        length = min(_MAX_STRING, table.size - index)
        raw = self.read(table.offset + index, length)
        return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")

    def sections(self) -> list[_Section]:
        shoff, shnum = self.header[5], self.header[11]
        if shoff == 0:
            return []
        entry = self.layout.section_header
        first = entry.unpack(self.read(shoff, entry.size))
        count = shnum or first[5]  # past 65279 sections the count is in section 0's sh_size
        self.limits.at_most("ELF sections", count, self.limits.budgets.sections)
        return [_Section(type=f[1], offset=f[4], size=f[5], link=f[6], info=f[7])
                for f in entry.iter_unpack(self.read(shoff, count * entry.size))]

    def program_headers(self, sections: list[_Section]) -> list[tuple[int, int, int, int]]:
        """(p_type, p_flags, p_offset, p_filesz) of each program header."""
        phoff, phnum = self.header[4], self.header[9]
        if phnum == _PN_XNUM and sections:
            phnum = sections[0].info  # as for sections, the real count is in section 0
        self.limits.at_most("ELF program headers", phnum, self.limits.budgets.sections)
        entry = self.layout.program_header
        headers: list[tuple[int, int, int, int]] = []
        for fields in entry.iter_unpack(self.read(phoff, phnum * entry.size)):
            if self.layout.is_64:  # p_type, p_flags, p_offset, ..., p_filesz
                headers.append((fields[0], fields[1], fields[2], fields[5]))
            else:  # p_type, p_offset, ..., p_filesz, p_memsz, p_flags
                headers.append((fields[0], fields[6], fields[1], fields[4]))
        return headers

    def linked(self, sections: list[_Section], section: _Section) -> _Section:
        if section.link >= len(sections):
            raise ValueError(f"section link {section.link} names no section")
        return sections[section.link]


def read_elf(stream: BinaryIO, limits: ParseLimits, *,
             want_imported_symbols: bool = False) -> ElfFacts:
    """Parse an ELF image from a seekable stream. Raises ValueError on a malformed file and
    ``BudgetExceeded`` when its tables are larger than the budgets allow."""
    elf = _Elf(stream, limits)
    e_type, machine = elf.header[0], elf.header[1]
    facts = ElfFacts(arch=_tag_arch(elf, machine), elf_type=_TYPES.get(e_type, f"ET_{e_type}"))
    sections = elf.sections()
    for p_type, p_flags, p_offset, p_filesz in elf.program_headers(sections):
        if p_type == _PT_GNU_STACK:
            facts.gnu_stack_executable = bool(p_flags & PF_X)
        elif p_type == _PT_INTERP:
            raw = elf.read(p_offset, min(p_filesz, _MAX_STRING))
            facts.interpreter = raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")
    by_type: dict[int, _Section] = {}
    for section in sections:
        by_type.setdefault(section.type, section)
    if _SHT_DYNAMIC in by_type:
        _read_dynamic(elf, sections, by_type[_SHT_DYNAMIC], facts)
    if _SHT_GNU_VERNEED in by_type:
        _read_version_needs(elf, sections, by_type[_SHT_GNU_VERNEED], facts)
    if want_imported_symbols and _SHT_DYNSYM in by_type:
        facts.imported_symbols = _imported_symbols(elf, sections, by_type[_SHT_DYNSYM])
    return facts


def _read_dynamic(elf: _Elf, sections: list[_Section], dynamic: _Section,
                  facts: ElfFacts) -> None:
    strings = elf.linked(sections, dynamic)
    entry = elf.layout.dynamic
    count = dynamic.size // entry.size
    elf.limits.at_most("ELF dynamic entries", count, elf.limits.budgets.imports)
    rpath: list[str] = []
    runpath: list[str] = []
    for tag, value in entry.iter_unpack(elf.read(dynamic.offset, count * entry.size)):
        if tag == 0:  # DT_NULL ends the table
            break
        if tag == _DT_NEEDED:
            facts.needed.append(elf.string(strings, value))
        elif tag == _DT_RUNPATH:
            runpath.extend(p for p in elf.string(strings, value).split(":") if p)
        elif tag == _DT_RPATH:
            rpath.extend(p for p in elf.string(strings, value).split(":") if p)
        elif tag == _DT_SONAME:
            facts.soname = elf.string(strings, value)
    facts.search_paths = runpath or rpath  # DT_RUNPATH wins over DT_RPATH, as in ld.so


def _read_version_needs(elf: _Elf, sections: list[_Section], verneed: _Section,
                        facts: ElfFacts) -> None:
    """Elf_Verneed entries (one per library) each chain Elf_Vernaux entries (one per
    version); sh_info counts the libraries. Both chains are walked by relative offsets."""
    strings = elf.linked(sections, verneed)
    order = elf.layout.order
    need = struct.Struct(order + "HHIII")  # vn_version, vn_cnt, vn_file, vn_aux, vn_next
    aux = struct.Struct(order + "IHHII")  # vna_hash, vna_flags, vna_other, vna_name, vna_next
    budget = elf.limits.budgets.imports
    elf.limits.at_most("ELF version needs", verneed.info, budget)
    offset = verneed.offset
    total = 0
    for _library in range(verneed.info):
        _version, aux_count, file_name, aux_offset, next_offset = need.unpack(
            elf.read(offset, need.size))
        total += aux_count
        elf.limits.at_most("ELF version needs", total, budget)
        library = elf.string(strings, file_name)
        position = offset + aux_offset
        for _version_index in range(aux_count):
            _hash, _flags, _other, name, next_aux = aux.unpack(elf.read(position, aux.size))
            facts.version_needs.append((library, elf.string(strings, name)))
            position += next_aux
        if not next_offset:
            break
        offset += next_offset


def _imported_symbols(elf: _Elf, sections: list[_Section], dynsym: _Section) -> list[str]:
    strings = elf.linked(sections, dynsym)
    entry = elf.layout.symbol
    count = dynsym.size // entry.size
    elf.limits.at_most("ELF dynamic symbols", count, elf.limits.budgets.imports)
    names = []
    for index, fields in enumerate(entry.iter_unpack(elf.read(dynsym.offset,
                                                               count * entry.size))):
        if index % 4096 == 0:
            elf.limits.deadline.check(elf.limits.file)
        if elf.layout.is_64:
            name, info, _other, shndx = fields[0], fields[1], fields[2], fields[3]
        else:
            name, info, shndx = fields[0], fields[3], fields[5]
        if name and shndx == _SHN_UNDEF and info >> 4 != _STB_LOCAL:
            names.append(elf.string(strings, name))
    return names


def _tag_arch(elf: _Elf, machine: int) -> str:
    if machine == _EM_PPC64:
        return "ppc64le" if elf.layout.order == "<" else "ppc64"
    if machine == _EM_X86_64 and not elf.layout.is_64:
        return "x32"
    return _MACHINE_ARCH.get(machine, f"e_machine-{machine}")
