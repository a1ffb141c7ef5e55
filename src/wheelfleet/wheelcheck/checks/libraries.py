"""``external-library-not-bundled``: every library a binary needs is in the wheel or allowed.

Allowed means what the tool that repairs wheels for the platform leaves out: on Linux the
policy whitelist of the tag (auditwheel's data); on macOS the OS itself (delocate's rule:
/usr/lib, /System); on Windows the system DLLs of the binary's architecture, API sets, the
interpreter DLLs and the runtime each claimed Python ships (delvewheel's data), plus the C
runtime of each claimed CPython's compiler family (the toolchain matrix's).
"In the wheel" is resolved the way each loader would: DT_RUNPATH/DT_RPATH with $ORIGIN,
@loader_path and @rpath (LC_RPATH), and for DLLs any copy in the wheel (delvewheel-style
repairs add their directory to the DLL search path at import time).
"""

from __future__ import annotations

import posixpath

from .. import windows_dlls
from ..binary_facts import ElfFacts, MachOFacts, MachOSlice, PEFacts
from ..macos_libs import is_provided_by_macos
from ..matrix_facts import claimed_windows_pythons, is_vc_runtime, matches, matrix
from ..report import EXTERNAL_LIBRARY_NOT_BUNDLED, Problem
from ..wheel_contents import WheelBinary, WheelContents
from .libc_family import libc_of_library

_ORIGIN_TOKENS = ("${ORIGIN}", "$ORIGIN")


def is_dynamic_loader(soname: str) -> bool:
    """ld-linux*.so, ld64.so.{1,2} (ppc64le, s390x): the loader is never a dependency to ship."""
    return soname.startswith("ld-linux") or soname in ("ld64.so.1", "ld64.so.2")


def check(binary: WheelBinary, contents: WheelContents) -> list[Problem]:
    facts = binary.facts
    if isinstance(facts, ElfFacts):
        missing = _elf_missing(binary, facts, contents)
    elif isinstance(facts, MachOFacts):
        missing = _macho_missing(binary, facts, contents)
    else:
        missing = _pe_missing(binary, facts, contents)
    return [Problem(EXTERNAL_LIBRARY_NOT_BUNDLED, binary.path, message) for message in missing]


def _elf_missing(binary: WheelBinary, facts: ElfFacts, contents: WheelContents) -> list[str]:
    policies = contents.claims.linux_policies.get(facts.arch, [])
    if not policies or not facts.is_loadable:
        # Plain linux_* tags have no whitelist (anything goes); a foreign arch is reported as
        # arch-mismatch instead.
        return []
    origin = posixpath.dirname(binary.install_path)
    # A library that other binaries of the wheel load is loaded after them, and ld.so reuses
    # sonames already loaded through their RUNPATH (auditwheel's _fixup_elf_trees does alike).
    is_bundled_library = posixpath.basename(binary.path) in contents.needed_names or (
        facts.soname is not None and facts.soname in contents.needed_names
    )
    missing = []
    for soname in facts.needed:
        if is_dynamic_loader(soname):
            continue
        libc = libc_of_library(soname)
        if libc is not None and any(policy.libc != libc for policy in policies):
            continue  # the other libc's own library: libc-family-mismatch says so
        if all(soname in policy.whitelist for policy in policies):
            continue
        if _elf_resolves(soname, facts.search_paths, origin, contents):
            continue
        if is_bundled_library and contents.has_basename(soname):
            continue
        names = ", ".join(p.tag for p in policies)
        missing.append(
            f"needs {soname}, which is neither bundled (searched RUNPATH/RPATH "
            f"{':'.join(facts.search_paths) or '<none>'}) nor allowed by {names}"
        )
    return missing


def _elf_resolves(
    soname: str, search_paths: list[str], origin: str, contents: WheelContents
) -> bool:
    for entry in search_paths:
        if entry.startswith(_ORIGIN_TOKENS):
            # $ORIGIN of a module at the wheel's top level is the wheel root: "" joined
            # with "/x" would look absolute, so anchor it at "." and let normpath drop it.
            for token in _ORIGIN_TOKENS:
                entry = entry.replace(token, origin or ".")
        if entry.startswith("/"):
            continue  # an absolute path on the build machine, not in the wheel
        if contents.has_installed(posixpath.join(entry, soname)):
            return True
    return False


def _macho_missing(binary: WheelBinary, facts: MachOFacts, contents: WheelContents) -> list[str]:
    loader_dir = posixpath.dirname(binary.install_path)
    missing: dict[str, None] = {}  # ordered set: a fat file reports each name once
    for one_slice in facts.slices:
        if not one_slice.is_loadable:
            continue
        for command, install_name in one_slice.dependencies:
            if command == "LC_LOAD_WEAK_DYLIB":
                continue  # dyld tolerates an absent weak dylib by design
            if is_provided_by_macos(install_name):
                continue
            candidates = _macho_candidates(install_name, one_slice, loader_dir, binary, contents)
            if any(contents.has_installed(c) for c in candidates):
                continue
            missing[f"needs {install_name} ({command}), which is neither in the wheel nor "
                    "part of macOS (/usr/lib, /System)"] = None
    return list(missing)


def _macho_candidates(
    install_name: str,
    one_slice: MachOSlice,
    loader_dir: str,
    binary: WheelBinary,
    contents: WheelContents,
) -> list[str]:
    """Where dyld would look for ``install_name`` inside the installed wheel."""
    if install_name.startswith("@loader_path/"):
        return [posixpath.join(loader_dir, install_name[len("@loader_path/") :])]
    if not install_name.startswith("@rpath/"):
        # Absolute paths outside the OS, bare names and @executable_path (python's own dir)
        # all point outside the wheel.
        return []
    rest = install_name[len("@rpath/") :]
    rpath_dirs = _rpath_dirs(one_slice.rpaths, loader_dir)
    # dyld also searches the LC_RPATHs of whatever loaded this image: for a bundled dylib that
    # is the extension (or library) in the wheel that depends on it.
    own_name = posixpath.basename(binary.path)
    for other in contents.binaries:
        if other is binary or not isinstance(other.facts, MachOFacts):
            continue
        other_dir = posixpath.dirname(other.install_path)
        for other_slice in other.facts.slices:
            if any(posixpath.basename(p) == own_name for _, p in other_slice.dependencies):
                rpath_dirs.extend(_rpath_dirs(other_slice.rpaths, other_dir))
    return [posixpath.join(directory, rest) for directory in rpath_dirs]


def _rpath_dirs(rpaths: list[str], loader_dir: str) -> list[str]:
    dirs = []
    for rpath in rpaths:
        if rpath.startswith("@loader_path"):
            dirs.append(posixpath.join(loader_dir, rpath[len("@loader_path") :].lstrip("/")))
        # Absolute rpaths name the build machine; relative ones the process's working
        # directory: neither is inside the installed wheel.
    return dirs


def _pe_missing(binary: WheelBinary, facts: PEFacts, contents: WheelContents) -> list[str]:
    if facts.arch not in windows_dlls.known_arches():
        return []  # no system list for this machine: arch-mismatch reports the binary
    claims = contents.claims
    # CPython's installer ships the C runtime of its compiler family (MSVCR90.DLL with 2.7,
    # MSVCR100.DLL with 3.3/3.4); which one is the matrix's.
    compilers = matrix().windows_compilers
    families = [compilers[p.windows.compiler]
                for p in claimed_windows_pythons(claims.interpreters) if p.windows]
    shipped = {family.runtime.lower() for family in families} | windows_dlls.shipped_with_python(
        (c.interpreter, c.abi, platform)
        for c in claims.interpreters for platform in sorted(claims.platform_tags)
        if platform.startswith("win"))
    importer = posixpath.basename(binary.path)
    missing = []
    for dll in facts.needed:
        if (dll.lower() in shipped or windows_dlls.is_system_dll(dll, facts.arch)
                or windows_dlls.is_ignored_dependency(importer, dll)
                or contents.has_basename(dll)):
            continue
        if is_vc_runtime(dll) and any(not matches(dll.lower(), f.runtime_dlls) for f in families):
            continue  # another compiler family's runtime: windows-crt-mismatch says so
        missing.append(
            f"imports {dll}, which is neither bundled in the wheel nor a Windows system DLL, "
            "API set or a DLL that CPython ships"
        )
    return missing
