"""Which Python a wheel's interpreter/ABI tags claim, and which Python a binary is built for.

A binary tells its Python in three places: the extension-module file name suffix the import
system looks for (``.cpython-312-x86_64-linux-gnu.so``, ``.cp313t-win_amd64.pyd``,
``.abi3.so``), the interpreter library it links (``python312.dll``, ``libpython3.12.so.1.0``,
``Python.framework/Versions/3.12/Python``) and, for CPython 2, the unicode width of the API it
calls (``PyUnicodeUCS2_*`` narrow, ``PyUnicodeUCS4_*`` wide). ``accepts_*`` answer whether an
interpreter the tags claim would load it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.tags import Tag

CPYTHON = "cpython"  # cp311-cp311, cp313-cp313t, cp37-cp37m, cp27-cp27mu
ABI3 = "abi3"  # cp39-abi3: the stable ABI from 3.9 on
CPYTHON_ANY_ABI = "cpython-none"  # cp34-none: CPython 3.4, ABI not named
ANY_PYTHON = "none"  # py3-none: any Python 3
PYPY = "pypy"  # pp310-pypy310_pp73
UNKNOWN = "unknown"  # graalpy and others: no verdict

_CPYTHON_ABI = re.compile(r"^cp(?P<major>\d)(?P<minor>\d+)(?P<flags>[a-z]*)$")
_CP_INTERPRETER = re.compile(r"^cp(?P<major>\d)(?P<minor>\d*)$")
_PYPY_ABI = re.compile(r"^pypy(?P<version>\d+)_pp(?P<pp>\d+)$")


@dataclass(frozen=True)
class InterpreterClaim:
    """One interpreter-ABI pair of a wheel's tags."""

    interpreter: str
    abi: str
    kind: str
    cpython_version: tuple[int, int] | None = None  # CPYTHON, CPYTHON_ANY_ABI, ABI3 (floor)
    flags: str = ""  # CPython ABI flags: t (free-threaded), d, m, u
    pypy_suffix: str = ""  # the suffix tag PyPy imports: pypy310-pp73

    @property
    def free_threaded(self) -> bool:
        return "t" in self.flags


def interpreter_claims(tags: Iterable[Tag]) -> frozenset[InterpreterClaim]:
    return frozenset(_claim(tag.interpreter, tag.abi) for tag in tags)


def _claim(interpreter: str, abi: str) -> InterpreterClaim:
    if match := _CPYTHON_ABI.match(abi):
        version = (int(match["major"]), int(match["minor"]))
        return InterpreterClaim(interpreter, abi, CPYTHON, version, match["flags"])
    cp_interpreter = _CP_INTERPRETER.match(interpreter)
    if abi == "abi3" and cp_interpreter:
        floor = (int(cp_interpreter["major"]), int(cp_interpreter["minor"] or 2))
        return InterpreterClaim(interpreter, abi, ABI3, floor)
    if abi == "none" and cp_interpreter and cp_interpreter["minor"]:
        version = (int(cp_interpreter["major"]), int(cp_interpreter["minor"]))
        return InterpreterClaim(interpreter, abi, CPYTHON_ANY_ABI, version)
    if abi == "none" and interpreter.startswith("py"):
        return InterpreterClaim(interpreter, abi, ANY_PYTHON)
    if match := _PYPY_ABI.match(abi):
        return InterpreterClaim(interpreter, abi, PYPY,
                                pypy_suffix=f"pypy{match['version']}-pp{match['pp']}")
    return InterpreterClaim(interpreter, abi, UNKNOWN)


# --- what a binary is built for ---------------------------------------------------------------


@dataclass(frozen=True)
class BuiltFor:
    """The Python one name (suffix or linked library) says a binary is built for."""

    kind: str  # CPYTHON (one version), ABI3 (stable ABI) or PYPY
    version: tuple[int, int] | None = None
    flags: str | None = None  # None: the name does not say (Windows suffixes, libraries)
    free_threaded: bool = False
    pypy_suffix: str = ""
    platform: str = ""  # platform part of a suffix: x86_64-linux-gnu, win_amd64, darwin

    def describe(self) -> str:
        if self.kind == ABI3:
            return "the stable ABI (abi3)" + (", free-threaded" if self.free_threaded else "")
        if self.kind == PYPY:
            return f"PyPy ({self.pypy_suffix})"
        assert self.version is not None
        flavour = "free-threaded " if self.free_threaded else ""
        return f"{flavour}CPython {self.version[0]}.{self.version[1]}"


_SUFFIX = re.compile(r"\.(?P<tag>[^./]+)\.(?:so|pyd)$")
_CPYTHON_SUFFIX = re.compile(
    r"^cpython-(?P<major>\d)(?P<minor>\d+)(?P<flags>[a-z]*)(?:-(?P<platform>.+))?$")
_WINDOWS_SUFFIX = re.compile(r"^cp(?P<major>\d)(?P<minor>\d+)(?P<flags>t?)-(?P<platform>win\w*)$")
_PYPY_SUFFIX = re.compile(r"^(?P<pypy>pypy\d+-pp\d+)(?:-(?P<platform>.+))?$")


def suffix_built_for(basename: str) -> tuple[str, BuiltFor] | None:
    """The suffix tag of an extension module's file name and what it means, if it has one."""
    match = _SUFFIX.search(basename)
    if match is None:
        return None
    tag = match["tag"]
    if tag == "abi3":
        return tag, BuiltFor(ABI3)
    if found := _CPYTHON_SUFFIX.match(tag):
        flags = found["flags"]
        return tag, BuiltFor(CPYTHON, (int(found["major"]), int(found["minor"])), flags,
                             "t" in flags, platform=found["platform"] or "")
    if (found := _WINDOWS_SUFFIX.match(tag)) and basename.endswith(".pyd"):
        return tag, BuiltFor(CPYTHON, (int(found["major"]), int(found["minor"])), None,
                             found["flags"] == "t", platform=found["platform"])
    if found := _PYPY_SUFFIX.match(tag):
        return tag, BuiltFor(PYPY, pypy_suffix=found["pypy"], platform=found["platform"] or "")
    return None


_PYTHON_DLL = re.compile(r"^python(?P<major>\d)(?P<minor>\d+)(?P<t>t?)(?:_d)?\.dll$")
_STABLE_DLL = re.compile(r"^python3(?P<t>t?)(?:_d)?\.dll$")
_LIBPYTHON = re.compile(r"^libpython(?P<major>\d)\.(?P<minor>\d+)(?P<flags>[a-z]*)\.(?:so|dylib)")
_STABLE_LIBPYTHON = re.compile(r"^libpython3(?P<t>t?)\.(?:so|dylib)")
_FRAMEWORK = re.compile(r"Python(?P<t>T?)\.framework/Versions/(?P<major>\d)\.(?P<minor>\d+)")


def library_built_for(name: str) -> BuiltFor | None:
    """The Python an interpreter library a binary links belongs to, or None for others."""
    base = name.rsplit("/", 1)[-1].lower()
    if found := _STABLE_DLL.match(base) or _STABLE_LIBPYTHON.match(base):
        return BuiltFor(ABI3, free_threaded=bool(found["t"]))
    if found := _PYTHON_DLL.match(base):
        return BuiltFor(CPYTHON, (int(found["major"]), int(found["minor"])),
                        free_threaded=bool(found["t"]))
    if found := _LIBPYTHON.match(base):
        return BuiltFor(CPYTHON, (int(found["major"]), int(found["minor"])),
                        free_threaded="t" in found["flags"])
    if found := _FRAMEWORK.search(name):
        return BuiltFor(CPYTHON, (int(found["major"]), int(found["minor"])),
                        free_threaded=bool(found["t"]))
    return None


def accepts(claim: InterpreterClaim, built: BuiltFor) -> bool:
    """Whether the interpreter of ``claim`` loads a binary built for ``built``."""
    if claim.kind in (UNKNOWN, PYPY) and built.kind != PYPY:
        # A PyPy wheel may link or name CPython things we cannot judge; unknown: no verdict.
        return claim.kind == UNKNOWN
    if built.kind == PYPY:
        return claim.kind == UNKNOWN or built.pypy_suffix == claim.pypy_suffix
    if built.kind == ABI3:
        if claim.kind == CPYTHON:
            assert claim.cpython_version is not None
            # Free-threaded builds do not load the (GIL) stable ABI.
            return claim.cpython_version >= (3, 2) and not claim.free_threaded
        return claim.kind in (ABI3, CPYTHON_ANY_ABI, ANY_PYTHON)
    # built for one CPython version
    if claim.kind == CPYTHON:
        if built.version != claim.cpython_version or built.free_threaded != claim.free_threaded:
            return False
        # Linux/macOS suffixes spell every ABI flag (3.7's "m", debug "d"); Windows' do not.
        return built.flags is None or built.flags == claim.flags
    if claim.kind == CPYTHON_ANY_ABI:
        return built.version == claim.cpython_version
    return False  # abi3 or "any Python": a version-specific binary breaks the promise


def accepted_by_any(claims: Iterable[InterpreterClaim], built: BuiltFor) -> bool:
    return any(accepts(claim, built) for claim in claims)
