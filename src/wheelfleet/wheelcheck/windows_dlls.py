"""DLLs a Windows wheel may import without shipping them, as delvewheel knows them.

delvewheel, the tool Windows wheels are repaired with, maintains what a wheel may leave out:
per CPU architecture the DLLs of every Windows from 7 SP1 on (collected from real installs:
over 1,200 names for x86, 1,400 for x64, 2,700 for arm64), the interpreter DLLs and API sets
as patterns, the runtime each Python distribution ships for each ABI/platform tag, and the
dependencies of redistributable DLLs that are never needed. Those tables live in its
``_dll_list`` module, which has no public name; pyproject.toml bounds delvewheel's version so
a change of its shape is a deliberate upgrade, and ``_tables()`` checks the shape on load.

What wheelfleet decides itself — which C runtime each CPython's compiler family ships — is the
toolchain matrix's (``windows_compilers.*.runtime``), applied by the external-library check.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from . import matrix_facts


@dataclass(frozen=True)
class _Tables:
    system_dlls: dict[str, frozenset[str]]  # arch -> lower-case DLL names
    patterns: tuple[re.Pattern[str], ...]  # interpreter DLLs, API sets (full match)
    by_abi_platform: tuple[tuple[str, frozenset[str]], ...]  # "cp312-win_amd64" regex -> DLLs
    abi3_by_python_platform: tuple[tuple[str, frozenset[str]], ...]  # "cp39-win32" regex -> DLLs
    ignored_dependencies: dict[str, frozenset[str]]  # importer -> imports it never needs


@functools.cache
def _tables() -> _Tables:
    """delvewheel's tables, loaded on the first PE file (Linux and macOS batches never do)."""
    from delvewheel import _dll_list

    # PEFacts.arch is the matrix's Windows arch name (x86, x64, arm64); the matrix maps it to
    # a platform tag (win32 …) and delvewheel maps that to its own machine type.
    return _read_tables(_dll_list, {arch: tag for tag, arch
                                    in matrix_facts.matrix().windows_tag_arches.items()})


def _read_tables(module: ModuleType, tag_of_arch: dict[str, str]) -> _Tables:
    try:
        machines: Any = module.MachineType
        by_machine: dict[Any, Iterable[str]] = module.ignore_names
        system = {arch: frozenset(name.lower() for name in by_machine[machine])
                  for arch, tag in tag_of_arch.items()
                  if (machine := machines.platform_tag_to_type(tag)) in by_machine}
        return _Tables(
            system_dlls=system,
            patterns=tuple(module.ignore_regexes),
            by_abi_platform=tuple((str(k), frozenset(v))
                                  for k, v in module.ignore_by_abi_platform.items()),
            abi3_by_python_platform=tuple((str(k), frozenset(v))
                                          for k, v in module.ignore_abi3.items()),
            ignored_dependencies={str(k).lower(): frozenset(v)
                                  for k, v in module.ignore_dependency.items()},
        )
    except (AttributeError, KeyError, TypeError) as exc:
        raise RuntimeError(
            f"delvewheel's DLL tables (delvewheel._dll_list) are not in the shape wheelcheck "
            f"reads ({type(exc).__name__}: {exc}); install the delvewheel version range "
            "pyproject.toml names") from None


def known_arches() -> frozenset[str]:
    """The architectures delvewheel has a system DLL list for (x86, x64, arm64)."""
    return frozenset(_tables().system_dlls)


def system_dlls(arch: str) -> frozenset[str]:
    """Lower-case names of the DLLs every Windows (7 SP1 on) has for ``arch``; empty for a
    machine delvewheel has no list for."""
    return _tables().system_dlls.get(arch, frozenset())


def is_system_dll(dll_name: str, arch: str) -> bool:
    """Part of Windows on ``arch``: a system DLL or an API set (``api-ms-win-*``)."""
    name = dll_name.lower()
    return name in system_dlls(arch) or any(p.fullmatch(name) for p in _tables().patterns)


def is_provided_by_windows_or_python(dll_name: str, arch: str | None = None) -> bool:
    """Whether importing ``dll_name`` is fine without the wheel bundling it: a system DLL of
    ``arch`` (of every architecture when None), an API set, or an interpreter DLL
    (``python3.dll``, ``python312t.dll``, PyPy's ``libpypy3.10-c.dll``)."""
    if arch is not None:
        return is_system_dll(dll_name, arch)
    return all(is_system_dll(dll_name, one) for one in known_arches())


def shipped_with_python(pairs: Iterable[tuple[str, str, str]]) -> frozenset[str]:
    """DLLs every Python the (interpreter, abi, platform) tags name ships beside itself
    (``vcruntime140.dll``, ``vcruntime140_1.dll`` on x64 and arm64 …), per delvewheel: the
    intersection over the tags, empty when one names a Python delvewheel does not know."""
    tables = _tables()
    shipped: frozenset[str] | None = None
    for interpreter, abi, platform in pairs:
        if abi in ("abi3", "abi3t"):
            found = _lookup(tables.abi3_by_python_platform, f"{interpreter}-{platform}")
        else:
            found = _lookup(tables.by_abi_platform, f"{abi}-{platform}")
        shipped = found if shipped is None else shipped & found
    return shipped or frozenset()


def is_ignored_dependency(importer: str, dll_name: str) -> bool:
    """An import delvewheel knows is never needed (msvcp140.dll's delay-loaded concrt140.dll,
    a Windows XP fallback)."""
    return dll_name.lower() in _tables().ignored_dependencies.get(importer.lower(), frozenset())


@functools.cache
def _lookup(table: tuple[tuple[str, frozenset[str]], ...], key: str) -> frozenset[str]:
    # delvewheel takes the first pattern that matches, in its table's order.
    return next((dlls for pattern, dlls in table if re.fullmatch(pattern, key)), frozenset())
