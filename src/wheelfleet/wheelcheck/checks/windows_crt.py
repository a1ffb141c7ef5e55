"""``windows-crt-mismatch``: a .pyd/.dll must use the C runtime of its Python's compiler.

Each CPython on Windows is built with one Visual C++ family — VC9 (MSVCR90) for 2.7, VC10
(MSVCR100) for 3.3–3.4, VC14 (VCRUNTIME140 + the Universal CRT) for 3.5 on — and modules built
with another family get their own heap and FILE table: they import fine on the builder and
crash when memory or files cross the boundary. Which family goes with which Python, and which
DLLs are each family's runtime, is the toolchain matrix's (``windows_compilers``,
``pythons.*.windows.compiler``, ``platforms.windows.vc_runtime_dlls``); this check only
compares. ``msvcrt.dll`` (Windows' own CRT, mingw's default) is not a Visual C++ runtime.
"""

from __future__ import annotations

from ..binary_facts import PEFacts
from ..matrix_facts import claimed_windows_pythons, is_vc_runtime, matches, matrix, runtime_family
from ..report import WINDOWS_CRT_MISMATCH, Problem
from ..wheel_contents import WheelBinary, WheelContents


def check(binary: WheelBinary, contents: WheelContents) -> list[Problem]:
    facts = binary.facts
    if not isinstance(facts, PEFacts):
        return []
    runtimes = [dll for dll in facts.needed if is_vc_runtime(dll)]
    if not runtimes:
        return []
    compilers = matrix().windows_compilers
    # family id -> (the Pythons the tags claim that use it, the DLLs that are not its runtime)
    wrong: dict[str, tuple[list[str], list[str]]] = {}
    for python in claimed_windows_pythons(contents.claims.interpreters):
        assert python.windows is not None
        family = compilers[python.windows.compiler]
        foreign = [dll for dll in runtimes if not matches(dll.lower(), family.runtime_dlls)]
        if foreign:
            wrong.setdefault(family.id, ([], foreign))[0].append(python.id)
    problems = []
    for family_id, (python_ids, foreign) in wrong.items():
        family = compilers[family_id]
        problems.append(Problem(
            WINDOWS_CRT_MISMATCH, binary.path,
            f"imports {', '.join(_owned(dll) for dll in foreign)}, but the toolchain matrix "
            f"builds extensions for Python {', '.join(python_ids)} with {family.id.upper()} "
            f"({family.runtime}): two C runtimes in one process crash when memory or files "
            "cross between them"))
    return problems


def _owned(dll: str) -> str:
    family = runtime_family(dll)
    return f"{dll} ({family.id.upper()}'s runtime)" if family else \
        f"{dll} (a Visual C++ runtime no CPython uses)"
