"""``python-abi-mismatch``: each binary must load on the Python the wheel's tags claim.

Judged on every platform from three things a binary says (see ``python_tags``): its extension
suffix (``.cpython-312-…so`` in a ``cp311`` wheel, ``.cpython-313-…so`` in a ``cp313t`` one,
anything but ``.abi3`` in an abi3 wheel; the platform part of the suffix too), the interpreter
library it links (``python312.dll`` in a ``cp311`` wheel; anything but ``python3.dll`` in an
abi3 one) and, for CPython 2, narrow (UCS2) versus wide (UCS4) unicode symbols.
"""

from __future__ import annotations

import posixpath

from ..binary_facts import ElfFacts, PEFacts
from ..python_tags import (
    ABI3,
    CPYTHON,
    BuiltFor,
    InterpreterClaim,
    accepted_by_any,
    library_built_for,
    suffix_built_for,
)
from ..report import PYTHON_ABI_MISMATCH, Problem
from ..wheel_contents import WheelBinary, WheelContents

# The CPU part of CPython's multiarch triplets (x86_64-linux-gnu) -> Linux platform tag arches.
_TRIPLET_CPU_ARCHES = {
    "x86_64": {"x86_64"}, "i386": {"i686"}, "i686": {"i686"}, "aarch64": {"aarch64"},
    "arm": {"armv7l", "armv6l"}, "powerpc64le": {"ppc64le"}, "powerpc64": {"ppc64"},
    "s390x": {"s390x"}, "riscv64": {"riscv64"}, "loongarch64": {"loongarch64"},
}
_UCS_PREFIX = {"PyUnicodeUCS2_": "narrow (UCS2)", "PyUnicodeUCS4_": "wide (UCS4)"}


def check(binary: WheelBinary, contents: WheelContents) -> list[Problem]:
    claims = contents.claims
    interpreters = claims.interpreters
    if not interpreters:
        return []
    claimed = claims.interpreter_tags
    problems = []
    suffix = suffix_built_for(posixpath.basename(binary.path))
    if suffix is not None:
        tag, built = suffix
        if not accepted_by_any(interpreters, built):
            problems.append(_problem(binary, f"extension suffix .{tag} is imported only by "
                                     f"{built.describe()}; the wheel's tags claim {claimed}"
                                     + _hint(interpreters, built)))
        if message := _platform_mismatch(tag, built, contents):
            problems.append(_problem(binary, message))
    for library in _interpreter_libraries(binary):
        linked = library_built_for(library)
        if linked is not None and not accepted_by_any(interpreters, linked):
            problems.append(_problem(binary, f"links {library} ({linked.describe()}); the "
                                     f"wheel's tags claim {claimed}"
                                     + _hint(interpreters, linked)))
    if message := _unicode_mismatch(binary, interpreters, claimed):
        problems.append(_problem(binary, message))
    return problems


def _hint(interpreters: frozenset[InterpreterClaim], built: BuiltFor) -> str:
    if built.kind != ABI3 and any(c.kind == ABI3 for c in interpreters):
        return ": an abi3 wheel's modules must load on every CPython from its version on"
    cpython = [c for c in interpreters if c.kind == CPYTHON]
    if built.kind == ABI3 and cpython and all(c.free_threaded for c in cpython):
        return ": free-threaded CPython does not load the stable ABI"
    return ""


def _platform_mismatch(tag: str, built: BuiltFor, contents: WheelContents) -> str | None:
    """The platform part of a suffix must be one the wheel is tagged for, or the import
    system never looks for the file."""
    claims = contents.claims
    platform = built.platform
    if platform.startswith("win") and claims.windows_archs:
        tagged = sorted(p for p in claims.platform_tags if p.startswith("win"))
        if platform not in tagged:
            return f"extension suffix .{tag} is for {platform}; the wheel is tagged " \
                   f"{', '.join(tagged)}"
    cpu = platform.split("-", 1)[0]
    if "-linux" in platform and claims.linux_archs and cpu in _TRIPLET_CPU_ARCHES:
        if not _TRIPLET_CPU_ARCHES[cpu] & claims.linux_archs:
            return (f"extension suffix .{tag} is for {cpu} Linux; the wheel is tagged for "
                    f"{', '.join(sorted(claims.linux_archs))}")
    return None


def _interpreter_libraries(binary: WheelBinary) -> list[str]:
    facts = binary.facts
    if isinstance(facts, ElfFacts):
        return list(facts.needed)
    if isinstance(facts, PEFacts):
        return facts.needed
    names: dict[str, None] = {}
    for one_slice in facts.slices:
        names.update((name, None) for _command, name in one_slice.dependencies)
    return list(names)


def _unicode_mismatch(binary: WheelBinary, interpreters: frozenset[InterpreterClaim],
                      claimed: str) -> str | None:
    """CPython 2 comes narrow (cp27m) or wide (cp27mu); its unicode API names say which."""
    python2 = [c for c in interpreters if c.kind == CPYTHON and c.cpython_version
               and c.cpython_version[0] == 2]
    if not python2 or len(python2) != len(interpreters):
        return None
    widths = {"PyUnicodeUCS4_" if "u" in c.flags else "PyUnicodeUCS2_" for c in python2}
    used = sorted({name for name in binary.imported_symbols()
                   if name.startswith(tuple(_UCS_PREFIX)) and not name.startswith(tuple(widths))})
    if not used:
        return None
    width = _UCS_PREFIX[used[0][: len("PyUnicodeUCS2_")]]
    shown = ", ".join(used[:3]) + (f" and {len(used) - 3} more" if len(used) > 3 else "")
    return (f"uses {shown}, the unicode API of a {width} CPython 2 build; the wheel's tags "
            f"claim {claimed}")


def _problem(binary: WheelBinary, message: str) -> Problem:
    return Problem(PYTHON_ABI_MISMATCH, binary.path, message)
