"""macOS build hosts: python.org Pythons by sha256, a wide-unicode pyenv 2.7, a universal
OpenSSL, and the canary built, repaired with delocate and imported under each arch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wheelfleet.platforms.base import Platform
from wheelfleet.settings import MirroredHostSettings, setting, text

if TYPE_CHECKING:
    from wheelfleet.lock.needs import Artifact, PackageSet
    from wheelfleet.matrix import Matrix, Python
    from wheelfleet.matrix.reader import Reader
    from wheelfleet.report.schema import Check
    from wheelfleet.selection import Selection

CACHE_DIR = "/Library/Caches/wheelfleet"
CLT_PYTHON = "3.9"  # the Command Line Tools' python3, used when no python.org one fits
LOCK_PLATFORMS = ("macosx_11_0_arm64", "macosx_11_0_x86_64")  # pip adds the older tags
# What the host-mode agent asks its node once before any check (arch, compiler, delocate).
HOST_PROBE_SECONDS = 130


@dataclass(frozen=True)
class MacosSettings(MirroredHostSettings):
    cache_dir: str = setting(CACHE_DIR, read=text)  # downloads, verified before use
    pyenv_root: str = setting("/opt/wheelfleet/pyenv", read=text)  # the wide-unicode 2.7
    openssl_root: str = setting("/opt/wheelfleet/openssl", read=text)  # <version>-<sha>/, current
    openssl_version: str | None = setting(read=text)  # must match the matrix's when set



@dataclass(frozen=True)
class PkgInstall:
    """One python.org installer the host needs, and how to tell it is there."""

    python: str  # matrix id: 3.12, 3.14t
    version: str  # the patch version the matrix pins
    url: str  # after the artifact mirror
    sha256: str | None  # None: not locked; the role refuses it
    receipt: str  # pkgutil package id
    interpreter: str  # absolute path of the installed interpreter
    universal2: bool
    choice: str | None = None  # the free-threaded choice identifier, None for the default build

    @property
    def cache_name(self) -> str:
        return self.url.rstrip("/").rpartition("/")[2]

    def choices_xml(self) -> str | None:
        """The installer's choice-changes plist selecting the free-threaded framework."""
        if self.choice is None:
            return None
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
                '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
                '<plist version="1.0">\n<array>\n  <dict>\n'
                '    <key>attributeSetting</key>\n    <integer>1</integer>\n'
                '    <key>choiceAttribute</key>\n    <string>selected</string>\n'
                f'    <key>choiceIdentifier</key>\n    <string>{self.choice}</string>\n'
                '  </dict>\n</array>\n</plist>\n')


@dataclass(frozen=True)
class SourceBuild:
    """A source tarball pinned by the matrix (pyenv, Python 2.7, OpenSSL)."""

    name: str
    version: str
    url: str
    sha256: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cache_name(self) -> str:
        return self.url.rstrip("/").rpartition("/")[2]


def pkg_installs(sel: Selection) -> list[PkgInstall]:
    """The python.org installers of the host's selection (the pyenv 2.7 is not one)."""
    settings = sel.settings
    assert isinstance(settings, MacosSettings)
    mac = sel.matrix.macos
    found = []
    for py in sel.pythons:
        m = py.macos
        if m is None or m.source == "pyenv_ucs4":
            continue
        free = m.source == "pkg_freethreaded"
        url = str(mac["pkg_url"]).format(version=m.pkg_version, pkg_suffix=m.pkg_suffix)
        found.append(PkgInstall(
            python=py.id, version=m.pkg_version, url=settings.via_mirror(url), sha256=m.sha256,
            receipt=str(mac["receipt_freethreaded" if free else "receipt"]).format(
                minor=py.minor),
            interpreter=str(mac["framework_python_freethreaded" if free else
                                "framework_python"]).format(minor=py.minor),
            universal2=m.universal2,
            choice=str(mac["freethreaded_choice"]).format(minor=py.minor) if free else None))
    return found


def wants_ucs4(sel: Selection) -> bool:
    return any(py.macos is not None and py.macos.source == "pyenv_ucs4" for py in sel.pythons)


def source_builds(matrix: Matrix, settings: MacosSettings) -> dict[str, SourceBuild]:
    """pyenv, Python 2.7's source and OpenSSL as the matrix pins them, through the mirror."""
    mac = matrix.macos
    pyenv = dict(mac["pyenv"])  # type: ignore[call-overload]
    ucs4 = dict(mac["pyenv_ucs4"])  # type: ignore[call-overload]
    ssl = dict(mac["openssl"])  # type: ignore[call-overload]
    return {
        "pyenv": SourceBuild("pyenv", str(pyenv["version"]), settings.via_mirror(
            str(pyenv["url"]).format(version=pyenv["version"])), pyenv.get("sha256")),
        "python27": SourceBuild("Python", str(ucs4["version"]),
                                settings.via_mirror(str(ucs4["source_url"])),
                                ucs4.get("source_sha256"),
                                {"configure_opts": ucs4["configure_opts"],
                                 "expected_maxunicode": int(ucs4["expected_maxunicode"])}),
        "openssl": SourceBuild("openssl", str(ssl["version"]), settings.via_mirror(
            str(ssl["url"]).format(version=ssl["version"])), ssl.get("sha256"),
            {"configure_flags": list(ssl["configure_flags"]),
             "arch_cflags": dict(ssl.get("arch_cflags") or {}),
             "min_macos": dict(ssl["min_macos"])}),
    }


class Macos(Platform):
    name = "macos"
    settings_type = MacosSettings
    roles = ("macos_base", "macos_pythons", "macos_pyenv_ucs4", "macos_openssl", "macos_health")
    kernels = ("Darwin",)

    def check_arch(self, r: Reader, index: int, arch: str, py: Python, tag: str) -> None:
        if py.macos is None:
            return
        if arch in py.macos.arches or (arch == "universal2" and py.macos.universal2):
            return
        raise r.child("arches").fail(index, f"Python {py.id} has no {arch} build on macOS; it "
                                     f"has {', '.join(py.macos.arches)}")

    def planned_cells(self, sel: Selection) -> list[dict[str, str]]:
        # Imported here: the plan module reads this one's settings and installs.
        from wheelfleet.health.macos_plan import planned_cells

        return planned_cells(sel)

    def collect(self, host: Any, sel: Selection) -> tuple[list[Check], dict[str, str | None]]:
        from wheelfleet.health.collect import agent_checks

        cells = self.planned_cells(sel)
        # Checks run on the host itself, health_parallel at a time, after one node probe.
        batches = -(-len(cells) // sel.settings.health_parallel)
        budget = sel.settings.health_timeout * max(1, batches) + HOST_PROBE_SECONDS
        return agent_checks(host, cells, budget)

    def canary_pythons(self, sel: Selection) -> list[Python]:
        return list(sel.pythons)  # a Mac checks every selected Python on itself

    def package_sets(self, sel: Selection) -> list[PackageSet]:
        from wheelfleet.lock.needs import TOOLS_PYTHON_MIN, canary_set, minor_of, tools_set

        m = sel.matrix
        fit = [p.version for p in pkg_installs(sel)
               if p.choice is None and minor_of(p.version) >= TOOLS_PYTHON_MIN]
        tools_python = ".".join(max(fit, key=minor_of).split(".")[:2]) if fit else CLT_PYTHON
        sets = [tools_set(m, self.name, {(tools_python, p) for p in LOCK_PLATFORMS})]
        sets += [canary_set(m, py, LOCK_PLATFORMS) for py in self.canary_pythons(sel)]
        return sets

    def artifacts(self, sel: Selection) -> list[Artifact]:
        from wheelfleet.lock.needs import Artifact

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

    def complete(self, r: Reader, sel: Selection) -> None:
        """Refuse, before anything connects, what the roles would refuse on the host."""
        settings = sel.settings
        assert isinstance(settings, MacosSettings)
        for index, py in enumerate(sel.pythons):
            m = py.macos
            if m is not None and m.source != "pyenv_ucs4" and not m.sha256:
                raise r.child("pythons").fail(index, f"Python {py.id}'s macOS installer has no "
                                              "sha256 in the matrix; lock it in the fleet's "
                                              "matrix overlay (never installed unverified)")
        ssl = source_builds(sel.matrix, settings)["openssl"]
        if settings.openssl_version and settings.openssl_version != ssl.version:
            raise r.fail("openssl_version", f"the matrix pins OpenSSL {ssl.version}; change "
                         f"the matrix (overlay), not the host, got {settings.openssl_version!r}")
