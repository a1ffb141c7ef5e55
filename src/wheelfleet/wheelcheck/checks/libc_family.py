"""``libc-family-mismatch``: musllinux binaries must not need glibc, manylinux ones not musl.

A binary says which C library it was linked against through the sonames it needs
(``libc.so.6``, ``libm.so.6`` … are glibc's; ``libc.musl-<arch>.so.1`` and musl-gcc's bare
``libc.so`` are musl's) and, for executables, through the program loader it names
(``ld-linux-*``, ``ld-musl-*``). Such a
binary does not even load on the other libc, whatever else the policy allows.
Which glibc versions it needs from those libraries are named too, as the detail a builder
needs (``GLIBC_2.25``: built on a glibc host, not in a musllinux image).
"""

from __future__ import annotations

import re

from ..binary_facts import ElfFacts
from ..report import LIBC_FAMILY_MISMATCH, Problem
from ..wheel_contents import WheelBinary, WheelContents

GLIBC = "glibc"
MUSL = "musl"

# Libraries that only glibc provides under these sonames.
GLIBC_SONAMES = frozenset({
    "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
    "libcrypt.so.1", "libresolv.so.2", "libnsl.so.1", "libanl.so.1", "libBrokenLocale.so.1",
    "libmvec.so.1", "libc_malloc_debug.so.0", "libthread_db.so.1",
})


def libc_of_library(soname: str) -> str | None:
    """Which libc a needed soname belongs to, if it is one of a libc's own."""
    if soname in GLIBC_SONAMES or soname.startswith("ld-linux"):
        return GLIBC
    if soname.startswith(("libc.musl-", "ld-musl-")) or soname == "libc.so":
        return MUSL
    return None


def evidence(facts: ElfFacts) -> dict[str, list[str]]:
    """libc family -> what in the binary says it needs that libc."""
    found: dict[str, list[str]] = {}
    for soname in facts.needed:
        libc = libc_of_library(soname)
        if libc is not None:
            found.setdefault(libc, []).append(soname)
    # Versions needed *from glibc's libraries* only: libgcc_s on aarch64 defines GLIBC_2.0
    # versions of its own, and musl binaries bundle it.
    glibc_versions = sorted({version for library, version in facts.version_needs
                             if libc_of_library(library) == GLIBC and version.startswith("GLIBC_")},
                            key=lambda v: [int(n) for n in re.findall(r"\d+", v)])
    if glibc_versions:
        found.setdefault(GLIBC, []).append(f"symbol versions {', '.join(glibc_versions[:3])}"
                                           + (" …" if len(glibc_versions) > 3 else ""))
    interpreter = facts.interpreter or ""
    if "ld-musl" in interpreter:
        found.setdefault(MUSL, []).append(f"loader {interpreter}")
    elif "ld-linux" in interpreter or "/ld64.so" in interpreter:
        found.setdefault(GLIBC, []).append(f"loader {interpreter}")
    return found


def check(binary: WheelBinary, contents: WheelContents) -> list[Problem]:
    facts = binary.facts
    if not isinstance(facts, ElfFacts) or not facts.is_loadable:
        return []
    policies = contents.claims.linux_policies.get(facts.arch, [])
    if not policies:
        return []
    found = evidence(facts)
    problems = []
    for policy in policies:
        for libc, what in sorted(found.items()):
            if libc != policy.libc:
                problems.append(Problem(
                    LIBC_FAMILY_MISMATCH, binary.path,
                    f"needs {libc} ({'; '.join(what)}) but {policy.tag} promises a "
                    f"{policy.libc} system"))
    return problems
