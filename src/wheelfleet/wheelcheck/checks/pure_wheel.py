"""``binary-in-pure-wheel``: a pure wheel must not carry compiled extensions or libraries.

A ``*-none-any`` wheel installs on every platform, and ``Root-Is-Purelib: true`` puts its
files in purelib; either way a shared library or extension module in it runs on one
platform only. Executables are not counted (pip and setuptools ship Windows launcher .exe
files in their pure wheels, on purpose).
"""

from __future__ import annotations

from ..binary_facts import ElfFacts, MachOFacts
from ..report import BINARY_IN_PURE_WHEEL, Problem
from ..wheel_contents import WheelBinary, WheelContents


def check(binary: WheelBinary, contents: WheelContents) -> list[Problem]:
    facts = binary.facts
    if isinstance(facts, ElfFacts):
        kind = "ELF shared library" if facts.is_library else None
    elif isinstance(facts, MachOFacts):
        kind = "Mach-O dylib/bundle" if facts.is_library else None
    else:
        kind = "Windows DLL" if facts.is_dll else None
    if kind is None:
        return []
    if contents.claims.is_pure:
        why = "a pure wheel (platform tag 'any'), which installs on every platform"
    elif contents.root_is_purelib:
        why = "a wheel whose WHEEL says Root-Is-Purelib: true"
    else:
        return []
    return [Problem(BINARY_IN_PURE_WHEEL, binary.path,
                    f"{kind} in {why}; compiled code runs on one platform only")]
