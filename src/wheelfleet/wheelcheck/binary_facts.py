"""Plain records of what the binary readers found; no parser is imported here.

Checks only need these records, so a run that meets no Mach-O never imports macholib, one
without PE files never imports pefile, and so on (start-up time matters for one-wheel runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ElfFacts:
    """What one ELF file declares about itself."""

    arch: str  # Linux tag spelling, e.g. x86_64, aarch64, ppc64le
    elf_type: str  # ET_DYN, ET_EXEC, ET_REL, ...
    needed: list[str] = field(default_factory=list)
    # Search path entries; DT_RUNPATH wins over DT_RPATH when both exist, as in ld.so.
    search_paths: list[str] = field(default_factory=list)
    soname: str | None = None
    # (library, version name) pairs from .gnu.version_r, e.g. ("libc.so.6", "GLIBC_2.17")
    version_needs: list[tuple[str, str]] = field(default_factory=list)
    # None: no PT_GNU_STACK header at all; else whether it asks for an executable stack
    gnu_stack_executable: bool | None = None
    # Undefined dynamic symbols; only collected when asked for (abi3 and 2.7 wheels) as it
    # costs time.
    imported_symbols: list[str] = field(default_factory=list)
    interpreter: str | None = None  # PT_INTERP: the program loader an executable names

    @property
    def is_loadable(self) -> bool:
        """Shared objects and executables; relocatable objects and core files are not."""
        return self.elf_type in ("ET_DYN", "ET_EXEC")

    @property
    def is_library(self) -> bool:
        """A shared library or extension module (a PIE executable is ET_DYN too, but names
        a program loader and no soname)."""
        return self.elf_type == "ET_DYN" and (self.interpreter is None or self.soname is not None)


@dataclass
class MachOSlice:
    """One architecture slice of a Mach-O file."""

    arch: str  # wheel-tag spelling: x86_64, arm64, arm64e, i386, ...
    filetype: str  # macholib short name: dylib, bundle, execute, object, ...
    min_os: tuple[int, int, int] | None = None
    min_os_source: str | None = None  # LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX
    platform: str | None = None  # from LC_BUILD_VERSION, e.g. "macOS", "iOS"
    dependencies: list[tuple[str, str]] = field(default_factory=list)  # (command, install name)
    rpaths: list[str] = field(default_factory=list)
    imported_symbols: list[str] = field(default_factory=list)

    @property
    def is_loadable(self) -> bool:
        return self.filetype in ("dylib", "bundle", "execute")


@dataclass
class MachOFacts:
    """All slices of one Mach-O file (a thin file has one)."""

    slices: list[MachOSlice]
    is_fat: bool

    @property
    def archs(self) -> list[str]:
        return [s.arch for s in self.slices]

    @property
    def is_library(self) -> bool:
        """A dylib or a bundle (what Python extension modules are linked as)."""
        return any(s.filetype in ("dylib", "bundle") for s in self.slices)


@dataclass
class PEFacts:
    """What one PE file declares about itself."""

    arch: str  # the matrix's Windows arch names: x86, x64, arm64 (or arm, ia64, machine-0x1234)
    is_dll: bool = False  # IMAGE_FILE_DLL: a DLL or .pyd, not an .exe
    # Pure .NET (IL-only, not 32-bit-required) images run on any architecture.
    architecture_neutral: bool = False
    # DLL name -> names of the functions imported from it (by-ordinal imports have no name)
    imports: dict[str, list[str]] = field(default_factory=dict)
    delay_imports: dict[str, list[str]] = field(default_factory=dict)

    @property
    def needed(self) -> list[str]:
        """Every DLL this image names, load-time and delay-loaded."""
        return [*self.imports, *(d for d in self.delay_imports if d not in self.imports)]
