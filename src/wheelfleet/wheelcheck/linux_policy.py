"""manylinux / musllinux policies, taken from auditwheel's own policy data.

auditwheel ships the PEP 600 / PEP 656 policy JSON and a loader (``WheelPolicies``) that
resolves aliases (manylinux2014 -> manylinux_2_17), picks the per-arch symbol-version lists and
fixes up the musl libc soname. We use that loader rather than copying the data, and only add
the one thing it does not do: map a tag version it has no policy for (e.g. manylinux_2_29) to
the nearest older policy it has.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditwheel.policy import Policy, WheelPolicies

_GLIBC_TAG = re.compile(r"^manylinux_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.+)$")
_MUSL_TAG = re.compile(r"^musllinux_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.+)$")
_LEGACY_TAG = re.compile(r"^(?P<name>manylinux(?:1|2010|2014))_(?P<arch>.+)$")
_LEGACY_GLIBC = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_POLICY_VERSION = re.compile(r"^(?:many|musl)linux_(\d+)_(\d+)_")
_HIGHEST_MUSL_MINOR = 32


@dataclass(frozen=True)
class LinuxPolicy:
    """The rules a manylinux/musllinux tag imposes on the ELF files of a wheel."""

    tag: str  # as written in the wheel name, e.g. manylinux2014_x86_64
    name: str  # auditwheel's canonical policy name, e.g. manylinux_2_17_x86_64
    libc: str  # "glibc" or "musl"
    priority: int  # auditwheel's: higher means older, i.e. stricter
    # symbol-version prefix (GLIBC, GLIBCXX, ...) -> the versions allowed
    symbol_versions: dict[str, frozenset[str]]
    whitelist: frozenset[str]  # sonames a wheel may use without bundling them
    # For a tag newer than any policy auditwheel knows: the tag's own glibc version, which
    # allows GLIBC_x.y up to it on top of the nearest older policy's list.
    glibc_ceiling: tuple[int, int] | None = None

    def allows_version(self, prefix: str, version_name: str) -> bool:
        """Whether a versioned-symbol requirement such as ``GLIBC_2.28`` fits this policy."""
        allowed = self.symbol_versions.get(prefix)
        if allowed is None:
            # auditwheel only constrains the prefixes its policy lists (GLIBC, GLIBCXX, CXXABI,
            # GCC, ...); versions of bundled or other libraries are not the tag's business.
            return True
        version = version_name[len(prefix) + 1 :]
        if version in allowed:
            return True
        if self.glibc_ceiling is not None and prefix == "GLIBC":
            parsed = _parse_dotted(version)
            return parsed is not None and parsed[:2] <= self.glibc_ceiling
        return False

    def highest_allowed(self, prefix: str) -> str | None:
        """The newest version allowed for a prefix, for messages (``GLIBC_2.17``)."""
        if self.glibc_ceiling is not None and prefix == "GLIBC":
            return f"GLIBC_{self.glibc_ceiling[0]}.{self.glibc_ceiling[1]}"
        allowed = self.symbol_versions.get(prefix)
        if not allowed:
            return None
        newest = max(allowed, key=lambda v: _parse_dotted(v) or (0,))
        return f"{prefix}_{newest}"


def policy_for_platform_tag(platform: str) -> LinuxPolicy | None:
    """The policy of a Linux platform tag; None for plain ``linux_*`` tags (no policy)."""
    if match := _LEGACY_TAG.match(platform):
        version = _LEGACY_GLIBC[match["name"]]
        return _glibc_policy(platform, match["arch"], version)
    if match := _GLIBC_TAG.match(platform):
        version = (int(match["major"]), int(match["minor"]))
        return _glibc_policy(platform, match["arch"], version)
    if match := _MUSL_TAG.match(platform):
        version = (int(match["major"]), int(match["minor"]))
        return _musl_policy(platform, match["arch"], version)
    return None


def _glibc_policy(tag: str, arch: str, version: tuple[int, int]) -> LinuxPolicy | None:
    policies = _wheel_policies("glibc", arch, None)
    if policies is None:
        return None
    chosen = _nearest_not_newer(policies, version)
    if chosen is None:
        return None
    exact = _policy_version(chosen) == version
    return _to_linux_policy(tag, chosen, "glibc", None if exact else version)


def _musl_policy(tag: str, arch: str, version: tuple[int, int]) -> LinuxPolicy | None:
    # auditwheel loads one musl policy at a time (it fixes up the libc soname per arch), so
    # walk down from the tag's version to the newest musl policy it knows.
    major, minor = version
    # A tag from the future (or a hostile one, musllinux_1_4000000000) starts from a minor
    # version above any musl release, not from its own.
    for candidate_minor in range(min(minor, _HIGHEST_MUSL_MINOR), -1, -1):
        policies = _wheel_policies("musl", arch, f"musllinux_{major}_{candidate_minor}")
        if policies is not None:
            return _to_linux_policy(tag, policies.highest, "musl", None)
    return None


@functools.cache
def _wheel_policies(libc: str, arch: str, musl_policy: str | None) -> WheelPolicies | None:
    """auditwheel's policies for a libc/arch, or None if it knows no such arch or musl policy."""
    # Imported on first use: auditwheel pulls in its whole ELF tree machinery (~40 ms), which
    # a run over macOS/Windows wheels never needs.
    from auditwheel.architecture import Architecture
    from auditwheel.libc import Libc

    try:
        architecture = Architecture(arch)
    except ValueError:
        return None
    try:
        from auditwheel.policy import WheelPolicies

        return WheelPolicies(libc=Libc(libc), arch=architecture, musl_policy=musl_policy)
    except (AssertionError, ValueError):
        # auditwheel asserts when the named musl policy is not in its data.
        return None


def _nearest_not_newer(policies: WheelPolicies, version: tuple[int, int]) -> Policy | None:
    candidates = [
        p for p in policies if (pv := _policy_version(p)) is not None and pv <= version
    ]
    return max(candidates, key=lambda p: _policy_version(p) or (0, 0), default=None)


def _policy_version(policy: Policy) -> tuple[int, int] | None:
    match = _POLICY_VERSION.match(policy.name)
    return (int(match[1]), int(match[2])) if match else None


def _to_linux_policy(
    tag: str, policy: Policy, libc: str, glibc_ceiling: tuple[int, int] | None
) -> LinuxPolicy:
    return LinuxPolicy(
        tag=tag,
        name=policy.name,
        libc=libc,
        priority=policy.priority,
        symbol_versions=dict(policy.symbol_versions),
        whitelist=policy.whitelist,
        glibc_ceiling=glibc_ceiling,
    )


def _parse_dotted(version: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return None
