"""The parsed binaries of a wheel and the file layout they will have once installed.

Library resolution ($ORIGIN, @loader_path, DLLs beside the module) is about installed paths,
so members under ``<name>.data/purelib/`` or ``platlib/`` are mapped to where an installer puts
them: the root of site-packages, next to the other top-level packages.
"""

from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import dataclass, field

from .binary_facts import ElfFacts, MachOFacts, PEFacts
from .platform_claims import LINUX, MACOS, WINDOWS, PlatformClaims

_LIB_DATA_DIR = re.compile(r"^[^/]+\.data/(?:purelib|platlib)/")

BinaryFacts = ElfFacts | MachOFacts | PEFacts


@dataclass
class WheelBinary:
    """One executable member of the wheel and what its parser found."""

    path: str  # path inside the wheel, as reported in problems
    facts: BinaryFacts

    @property
    def install_path(self) -> str:
        return install_path(self.path)

    def imported_symbols(self) -> set[str]:
        """What the binary expects CPython to provide (collected for abi3 and CPython 2 wheels
        only): its undefined dynamic symbols, or for a PE file its imports from python*.dll."""
        facts = self.facts
        if isinstance(facts, ElfFacts):
            return set(facts.imported_symbols)
        if isinstance(facts, MachOFacts):
            return {name for one_slice in facts.slices for name in one_slice.imported_symbols}
        return {name for dll, names in facts.imports.items()
                if dll.lower().startswith("python") for name in names}

    @property
    def family(self) -> str:
        if isinstance(self.facts, ElfFacts):
            return LINUX
        if isinstance(self.facts, MachOFacts):
            return MACOS
        return WINDOWS


@dataclass
class WheelContents:
    """What every check may look at: the claims of the tags and the whole wheel's files."""

    claims: PlatformClaims
    binaries: list[WheelBinary] = field(default_factory=list)
    installed_files: set[str] = field(default_factory=set)
    # lower-cased basenames, for lookups that do not depend on a directory (DLLs, sonames)
    basenames: set[str] = field(default_factory=set)
    root_is_purelib: bool = False  # WHEEL's Root-Is-Purelib

    def add_file(self, path: str) -> None:
        installed = install_path(path)
        self.installed_files.add(installed)
        self.basenames.add(posixpath.basename(installed).lower())

    def has_installed(self, path: str) -> bool:
        return posixpath.normpath(path) in self.installed_files

    def has_basename(self, name: str) -> bool:
        return name.lower() in self.basenames

    @functools.cached_property
    def needed_names(self) -> set[str]:
        """Basenames of every library some binary in the wheel names as a dependency.

        Computed once, after all binaries were added (the checks run after parsing).
        """
        names: set[str] = set()
        for binary in self.binaries:
            facts = binary.facts
            if isinstance(facts, ElfFacts):
                names.update(facts.needed)
            elif isinstance(facts, PEFacts):
                names.update(n.lower() for n in facts.needed)
            else:
                for one_slice in facts.slices:
                    names.update(posixpath.basename(p) for _, p in one_slice.dependencies)
        return names


def install_path(member: str) -> str:
    """Where a wheel member lands relative to site-packages (``.data`` lib dirs unwrapped)."""
    return _LIB_DATA_DIR.sub("", member)
