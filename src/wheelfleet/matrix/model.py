"""Typed view of the toolchain matrix (see ``data/matrix.yaml``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wheelfleet.lock.records import PackageLock

PLATFORMS = ("linux", "macos", "windows")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}\Z")
SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class Tool:
    name: str
    version: str
    platform: str
    note: str = ""


@dataclass(frozen=True)
class WindowsCompiler:
    id: str
    msc_ver: int
    runtime: str
    toolsets: tuple[str, ...]
    provided_by: str
    install: dict[str, object]
    components: dict[str, tuple[str, ...]]
    caveats: tuple[str, ...]
    # DLL names (fnmatch patterns, lower case) of the C/C++ runtime this family's modules import
    runtime_dlls: tuple[str, ...] = ()

    def components_for(self, arch: str) -> tuple[str, ...]:
        return self.components.get("all", ()) + self.components.get(arch, ())


@dataclass(frozen=True)
class Image:
    """One container image, pinned by digest."""

    policy: str
    arch: str
    repository: str
    digest: str
    state: str
    pythons: tuple[str, ...]
    base: str = ""
    glibc: str = ""
    musl: str = ""
    note: str = ""
    tag: str = ""  # the human tag the digest was published under (explains drift)
    eol_since: date | None = None

    @property
    def ref(self) -> str:
        return f"{self.repository}@{self.digest}"

    @property
    def local_name(self) -> str:
        """Stable local name a builder host tags the pinned image with."""
        return f"wheelfleet/{self.policy}_{self.arch}:pinned"

    @property
    def platform_tag(self) -> str:
        return f"{self.policy}_{self.arch}"

    def ref_via(self, mirrors: dict[str, str]) -> str:
        """The reference to pull, rewritten through a registry mirror when one is set.

        ``quay.io/pypa/x`` with mirrors ``{"quay.io": "127.0.0.1:5000"}`` becomes
        ``127.0.0.1:5000/pypa/x@sha256:…`` — same digest, so the bytes are the same.
        """
        registry, _, path = self.repository.partition("/")
        mirror = mirrors.get(registry) or mirrors.get("*")
        return f"{mirror}/{path}@{self.digest}" if mirror else self.ref


@dataclass(frozen=True)
class WindowsPython:
    compiler: str
    abi_tag: str
    arches: dict[str, str]  # arch -> source kind (nuget | msi)


@dataclass(frozen=True)
class MacPython:
    source: str  # pkg | pkg_freethreaded | pyenv_ucs4
    abi_tag: str
    arches: tuple[str, ...]
    min_macos: dict[str, str]
    universal2: bool = False
    pkg_version: str = ""
    pkg_suffix: str = ""
    sha256: str | None = None
    caveats: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinuxPython:
    abi_tags: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Python:
    id: str
    version: str
    state: str
    abi_tags: tuple[str, ...]
    free_threaded: bool = False
    windows: WindowsPython | None = None
    macos: MacPython | None = None
    linux: LinuxPython | None = None

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def pre_release(self) -> bool:
        return self.state == "pre-release"


@dataclass
class Matrix:
    pythons: dict[str, Python]
    images: list[Image]
    tools: dict[str, Tool]
    windows_compilers: dict[str, WindowsCompiler]
    windows_sources: dict[str, object]
    macos: dict[str, object]
    platform_arches: dict[str, dict[str, str]]
    eol_policies: dict[str, date]
    # Every Visual C++ runtime DLL name pattern (platforms.windows.vc_runtime_dlls)
    windows_vc_runtime_dlls: tuple[str, ...]
    # The oldest macOS any arm64 Mac runs (macos.arm64_min_version), as (major, minor)
    macos_arm64_floor: tuple[int, int]
    canary_build_requirements: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    # Prebuilt OpenSSL archives per compiler family x arch for the Windows health check
    windows_openssl: dict[str, object] = field(default_factory=dict)
    # Locked Python package sets (tools/linux, canary/3.12 …), from `wheelfleet lock`
    python_locks: dict[str, PackageLock] = field(default_factory=dict)

    def images_for(self, policy: str, arch: str | None = None) -> list[Image]:
        return [i for i in self.images if i.policy == policy and (arch is None or i.arch == arch)]

    def tool_pins(self, platform: str) -> dict[str, str]:
        """Name -> pinned version of the repair/build tools the matrix pins for ``platform``."""
        return {t.name: t.version for t in self.tools.values() if t.platform == platform}

    @property
    def policies(self) -> list[str]:
        return sorted({i.policy for i in self.images})

    @property
    def windows_tag_arches(self) -> dict[str, str]:
        """Wheel platform tag -> Windows arch name (``win_amd64`` -> ``x64``)."""
        return {tag: arch for arch, tag in self.platform_arches["windows"].items()}
