"""Read the facts the checks need from an ELF file, using pyelftools."""

from __future__ import annotations

import io

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection
from elftools.elf.sections import SymbolTableSection

from .binary_facts import ElfFacts

PF_X = 0x1
_STRING_TAGS = frozenset({"DT_NEEDED", "DT_RUNPATH", "DT_RPATH", "DT_SONAME"})

# ELF e_machine -> the architecture spelling of Linux platform tags. Where the spelling depends
# on word size or byte order, the value is chosen in ``_tag_arch``.
_MACHINE_ARCH = {
    "EM_X86_64": "x86_64",
    "EM_386": "i686",
    "EM_AARCH64": "aarch64",
    "EM_ARM": "armv7l",
    "EM_S390": "s390x",
    "EM_RISCV": "riscv64",
    "EM_LOONGARCH": "loongarch64",
    "EM_PPC": "ppc",
}


def read_elf(data: bytes, *, want_imported_symbols: bool = False) -> ElfFacts:
    """Parse an in-memory ELF image. Raises ``elftools`` errors on a malformed file."""
    elf = ELFFile(io.BytesIO(data))
    facts = ElfFacts(arch=_tag_arch(elf), elf_type=str(elf.header["e_type"]))
    for segment in elf.iter_segments("PT_GNU_STACK"):
        facts.gnu_stack_executable = bool(segment["p_flags"] & PF_X)
    dynamic = elf.get_section_by_name(".dynamic")
    if isinstance(dynamic, DynamicSection):
        _read_dynamic(dynamic, facts)
    verneed = elf.get_section_by_name(".gnu.version_r")
    if isinstance(verneed, GNUVerNeedSection):
        for library, auxiliaries in verneed.iter_versions():
            facts.version_needs.extend((library.name or "", aux.name) for aux in auxiliaries)
    if want_imported_symbols:
        dynsym = elf.get_section_by_name(".dynsym")
        if isinstance(dynsym, SymbolTableSection):
            facts.imported_symbols = [
                symbol.name
                for symbol in dynsym.iter_symbols()
                if symbol.name
                and symbol["st_shndx"] == "SHN_UNDEF"
                and symbol["st_info"]["bind"] != "STB_LOCAL"
            ]
    return facts


def _read_dynamic(dynamic: DynamicSection, facts: ElfFacts) -> None:
    rpath: list[str] = []
    runpath: list[str] = []
    for tag in dynamic.iter_tags():
        kind = tag.entry.d_tag
        if kind not in _STRING_TAGS:
            continue
        # pyelftools sets the decoded string as an attribute named after the tag
        # (DT_NEEDED -> .needed), which its type stubs cannot know about.
        value = str(getattr(tag, kind[3:].lower()))
        if kind == "DT_NEEDED":
            facts.needed.append(value)
        elif kind == "DT_RUNPATH":
            runpath.extend(p for p in value.split(":") if p)
        elif kind == "DT_RPATH":
            rpath.extend(p for p in value.split(":") if p)
        else:
            facts.soname = value
    facts.search_paths = runpath or rpath


def _tag_arch(elf: ELFFile) -> str:
    machine = str(elf.header["e_machine"])
    if machine == "EM_PPC64":
        return "ppc64le" if elf.little_endian else "ppc64"
    if machine == "EM_X86_64" and elf.elfclass == 32:
        return "x32"
    return _MACHINE_ARCH.get(machine, machine)
