"""The toolchain matrix, where wheelcheck reads the platform facts it shares with the fleet.

The arm64 macOS floor, the Windows arch names of the win32/win_amd64/win_arm64 tags and which
C runtime each Python's compiler family uses live once, in ``data/matrix.yaml``. It is loaded
on first need only: a batch of Linux wheels never reads it.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .python_tags import ABI3, CPYTHON, CPYTHON_ANY_ABI, InterpreterClaim

if TYPE_CHECKING:
    from wheelfleet.matrix.model import Matrix, Python, WindowsCompiler


@functools.cache
def matrix() -> Matrix:
    """The shipped matrix (validated by its loader)."""
    from wheelfleet.matrix.load import load_matrix  # YAML and its loader: only when needed

    return load_matrix()


def claimed_windows_pythons(claims: Iterable[InterpreterClaim]) -> list[Python]:
    """The matrix's Pythons (with a Windows entry) that interpreter-ABI claims name: one per
    CPython tag, every GIL CPython from the floor on for abi3; none for py3-none or PyPy."""
    pythons = [p for p in matrix().pythons.values() if p.windows is not None]
    found: dict[str, Python] = {}
    for claim in claims:
        version = claim.cpython_version
        if version is None or claim.kind not in (CPYTHON, CPYTHON_ANY_ABI, ABI3):
            continue
        for python in pythons:
            python_version = _version(python)
            if claim.kind == ABI3:
                if python_version >= version and not python.free_threaded:
                    found[python.id] = python
            elif python_version == version and python.free_threaded == claim.free_threaded:
                found[python.id] = python
    return list(found.values())


def runtime_family(dll: str) -> WindowsCompiler | None:
    """The compiler family whose runtime a DLL is, per the matrix."""
    name = dll.lower()
    return next((compiler for compiler in matrix().windows_compilers.values()
                 if matches(name, compiler.runtime_dlls)), None)


def is_vc_runtime(dll: str) -> bool:
    return matches(dll.lower(), matrix().windows_vc_runtime_dlls)


def matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _version(python: Python) -> tuple[int, int]:
    major, minor = python.minor.split(".")
    return int(major), int(minor)
