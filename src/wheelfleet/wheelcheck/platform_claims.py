"""What a wheel's filename tags promise about its binaries.

``packaging`` parses the tags; this module turns the platform and ABI parts into the facts the
checks need: which CPU architectures each OS family may contain, which manylinux/musllinux policy
applies, which macOS version each architecture must load on, and which abi3 version is claimed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from packaging.tags import Tag

from . import matrix_facts
from .linux_policy import LinuxPolicy, policy_for_platform_tag
from .python_tags import InterpreterClaim, interpreter_claims

# The OS families a binary format belongs to; a binary is judged against its own family's tags.
LINUX = "linux"
MACOS = "macos"
WINDOWS = "windows"

# macOS "binary format" tag suffixes naming more than one architecture. packaging keeps the
# same table private (tags._mac_binary_formats works the other way round), so it is spelled
# out here.
MACOS_MULTI_ARCH_FORMATS: dict[str, frozenset[str]] = {
    "universal2": frozenset({"x86_64", "arm64"}),
    "intel": frozenset({"x86_64", "i386"}),
    "fat": frozenset({"i386", "ppc"}),
    "fat3": frozenset({"x86_64", "i386", "ppc"}),
    "fat32": frozenset({"x86_64", "i386", "ppc"}),
    "fat64": frozenset({"x86_64", "ppc64"}),
    "universal": frozenset({"x86_64", "i386", "ppc64", "ppc"}),
}

_MACOS_TAG = re.compile(r"^macosx_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.+)$")
_LINUX_TAG = re.compile(r"^(?:many|musl)?linux(?:1|2010|2014|_\d+_\d+)?_(?P<arch>.+)$")
_ABI3_INTERPRETER = re.compile(r"^cp(?P<major>\d)(?P<minor>\d+)$")


@dataclass
class PlatformClaims:
    """The per-family promises of a wheel's platform tags."""

    platform_tags: frozenset[str]
    linux_archs: set[str] = field(default_factory=set)
    # arch -> the policies claimed for it; a binary must satisfy each (the strictest of a libc
    # family implies the others, and manylinux + musllinux would both have to hold).
    linux_policies: dict[str, list[LinuxPolicy]] = field(default_factory=dict)
    # arch -> the oldest macOS the wheel claims to load on for that arch (arm64 floor applied).
    macos_min_version: dict[str, tuple[int, int]] = field(default_factory=dict)
    windows_archs: set[str] = field(default_factory=set)  # the matrix's names: x86, x64, arm64
    unknown_platforms: set[str] = field(default_factory=set)
    abi3_version: tuple[int, int] | None = None
    # What the interpreter/ABI parts of the tags promise (cp311-cp311, cp39-abi3, ...).
    interpreters: frozenset[InterpreterClaim] = frozenset()

    @property
    def is_pure(self) -> bool:
        """True for ``*-none-any``-style wheels: no platform, so no binary checks."""
        return self.platform_tags == {"any"}

    @property
    def interpreter_tags(self) -> str:
        """The interpreter-ABI pairs of the tags, for messages: ``cp313-cp313t``."""
        return ", ".join(sorted(f"{c.interpreter}-{c.abi}" for c in self.interpreters))

    @property
    def wants_imported_symbols(self) -> bool:
        """abi3 wheels (limited API) and CPython 2 wheels (narrow/wide unicode) are judged by
        the symbols their binaries import, which costs time to collect for other wheels."""
        return self.abi3_version is not None or any(
            c.cpython_version is not None and c.cpython_version[0] == 2
            for c in self.interpreters)

    @property
    def macos_archs(self) -> frozenset[str]:
        return frozenset(self.macos_min_version)

    def archs_for(self, family: str) -> set[str]:
        """Architectures the tags allow for binaries of an OS family (empty: family not claimed)."""
        if family == LINUX:
            return set(self.linux_archs)
        if family == MACOS:
            return set(self.macos_min_version)
        if family == WINDOWS:
            return set(self.windows_archs)
        return set()

    def claimed_families(self) -> set[str]:
        families = set()
        if self.linux_archs:
            families.add(LINUX)
        if self.macos_min_version:
            families.add(MACOS)
        if self.windows_archs:
            families.add(WINDOWS)
        return families


def claims_from_tags(tags: Iterable[Tag]) -> PlatformClaims:
    """Derive the platform claims of a wheel from its (filename) tags."""
    tags = list(tags)
    claims = PlatformClaims(platform_tags=frozenset(t.platform for t in tags))
    for platform in sorted(claims.platform_tags):
        _add_platform(claims, platform)
    claims.abi3_version = _abi3_version(tags)
    claims.interpreters = interpreter_claims(tags)
    return claims


def _add_platform(claims: PlatformClaims, platform: str) -> None:
    if platform == "any":
        return
    if match := _MACOS_TAG.match(platform):
        version = (int(match["major"]), int(match["minor"]))
        arch = match["arch"]
        for one_arch in MACOS_MULTI_ARCH_FORMATS.get(arch, frozenset({arch})):
            # Apple silicon never ran a macOS older than the matrix's arm64 floor (11.0), so
            # arm64 code built for it is fine in a wheel tagged older (macosx_10_9_universal2).
            floor = (max(version, matrix_facts.matrix().macos_arm64_floor)
                     if one_arch == "arm64" else version)
            previous = claims.macos_min_version.get(one_arch)
            # The wheel promises to load on the oldest of the versions it names for an arch.
            claims.macos_min_version[one_arch] = min(previous, floor) if previous else floor
        return
    if platform.startswith("win") and platform in matrix_facts.matrix().windows_tag_arches:
        claims.windows_archs.add(matrix_facts.matrix().windows_tag_arches[platform])
        return
    if match := _LINUX_TAG.match(platform):
        arch = match["arch"]
        claims.linux_archs.add(arch)
        policy = policy_for_platform_tag(platform)
        if policy is not None:
            _add_linux_policy(claims.linux_policies.setdefault(arch, []), policy)
        return
    claims.unknown_platforms.add(platform)


def _add_linux_policy(policies: list[LinuxPolicy], new: LinuxPolicy) -> None:
    """Keep only the strictest policy per libc: it implies every looser one of the same libc."""
    for index, existing in enumerate(policies):
        if existing.libc == new.libc:
            if new.priority > existing.priority:
                policies[index] = new
            return
    policies.append(new)


def _abi3_version(tags: list[Tag]) -> tuple[int, int] | None:
    """The Python version an abi3 wheel claims; like abi3audit, the highest of its abi3 tags."""
    abi3_tags = [tag for tag in tags if tag.abi == "abi3"]
    if not abi3_tags:
        return None
    versions = [
        (int(match["major"]), int(match["minor"]))
        for tag in abi3_tags
        if (match := _ABI3_INTERPRETER.match(tag.interpreter))
    ]
    # An abi3 tag without a minor version (e.g. cp3) promises the oldest stable ABI, 3.2.
    return max(versions) if versions else (3, 2)
