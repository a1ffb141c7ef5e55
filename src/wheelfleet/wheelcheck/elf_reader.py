"""Read the facts the checks need from an ELF file, using pyelftools, within budgets."""

from __future__ import annotations

from typing import BinaryIO

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection
from elftools.elf.sections import SymbolTableSection
from elftools.elf.segments import InterpSegment

from .binary_facts import ElfFacts
from .budgets import ParseLimits

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


def read_elf(stream: BinaryIO, limits: ParseLimits, *,
             want_imported_symbols: bool = False) -> ElfFacts:
    """Parse an ELF image from a seekable stream. Raises ``elftools`` errors on a malformed
    file and ``BudgetExceeded`` when its tables are larger than the budgets allow."""
    budgets = limits.budgets
    elf = ELFFile(stream)
    limits.at_most("ELF program headers", elf.num_segments(), budgets.sections)
    limits.at_most("ELF sections", elf.num_sections(), budgets.sections)
    facts = ElfFacts(arch=_tag_arch(elf), elf_type=str(elf.header["e_type"]))
    for segment in elf.iter_segments():
        kind = segment["p_type"]
        if kind == "PT_GNU_STACK":
            facts.gnu_stack_executable = bool(segment["p_flags"] & PF_X)
        elif kind == "PT_INTERP" and isinstance(segment, InterpSegment):
            facts.interpreter = segment.get_interp_name()
    dynamic = elf.get_section_by_name(".dynamic")
    if isinstance(dynamic, DynamicSection):
        _read_dynamic(dynamic, facts, limits)
    verneed = elf.get_section_by_name(".gnu.version_r")
    imports = limits.budgets.imports
    if isinstance(verneed, GNUVerNeedSection):
        needs = limits.counted(
            ((library.name or "", aux.name)
             for library, auxiliaries in limits.counted(verneed.iter_versions(),
                                                        "ELF version needs", imports)
             for aux in auxiliaries),
            "ELF version needs",
            imports,
        )
        facts.version_needs.extend(needs)
    if want_imported_symbols:
        dynsym = elf.get_section_by_name(".dynsym")
        if isinstance(dynsym, SymbolTableSection):
            facts.imported_symbols = [
                symbol.name
                for symbol in limits.counted(dynsym.iter_symbols(), "ELF dynamic symbols",
                                             imports)
                if symbol.name
                and symbol["st_shndx"] == "SHN_UNDEF"
                and symbol["st_info"]["bind"] != "STB_LOCAL"
            ]
    return facts


def _read_dynamic(dynamic: DynamicSection, facts: ElfFacts, limits: ParseLimits) -> None:
    rpath: list[str] = []
    runpath: list[str] = []
    for tag in limits.counted(dynamic.iter_tags(), "ELF dynamic entries",
                              limits.budgets.imports):
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
