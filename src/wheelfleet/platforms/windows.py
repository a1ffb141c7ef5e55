"""Windows build hosts, reached with ``@winrm``: the MSVC each selected Python needs (VC9 /
VC10 / VC14.x) and python.org or NuGet Pythons per arch, each download sha256-verified before
anything runs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wheelfleet.platforms.base import Platform
from wheelfleet.settings import MirroredHostSettings, flag, positive_int, setting

if TYPE_CHECKING:
    from wheelfleet.lock.needs import Artifact, PackageSet
    from wheelfleet.matrix import Matrix, Python
    from wheelfleet.matrix.reader import Reader
    from wheelfleet.report.schema import Check
    from wheelfleet.selection import Selection

# A drive-rooted Windows path of plain parts (spaces allowed: "Program Files").
WINDOWS_PATH = re.compile(r"[A-Za-z]:\\(?:[A-Za-z0-9 ._+()-]+\\)*[A-Za-z0-9 ._+()-]*")
TOOLSET = re.compile(r"v1[0-9]{2}")
INSTALL_ROOT = "C:\\wheelfleet"
# The bootstrapper and the python.org installers answer 1618 while another MSI transaction
# runs (Windows Update does that for minutes): retried after these many seconds.
RETRY_BACKOFF = (30, 60, 120, 240)
# Where each compiler family's environment is recorded for builds (read by the health check).
MSVC_RECORD = "msvc.json"
VCFORPYTHON_DIR = ("C:\\Program Files (x86)\\Common Files\\Microsoft\\"
                   "Visual C++ for Python\\9.0")
SDK71_DIR = "C:\\Program Files\\Microsoft SDKs\\Windows\\v7.1"
VSWHERE = "C:\\Program Files (x86)\\Microsoft Visual Studio\\Installer\\vswhere.exe"


def windows_path(r: Reader, key: str) -> str:
    value = r.string(key)
    if not WINDOWS_PATH.fullmatch(value) or "\\..\\" in value + "\\":
        raise r.fail(key, f"expected an absolute Windows path like 'D:\\wheelfleet' (letters, "
                     f"digits, spaces and . _ + ( ) - in each part), got {value!r}")
    return str(value.rstrip("\\"))


def toolset(r: Reader, key: str) -> str:
    value = r.string(key)
    if not TOOLSET.fullmatch(value):
        raise r.fail(key, f"expected an MSVC toolset like 'v143', got {value!r}")
    return str(value)


def seconds_list(r: Reader, key: str) -> tuple[int, ...]:
    value = r.raw(key)
    if not isinstance(value, list | tuple) or len(value) > 10 or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 3600 for v in value):
        raise r.fail(key, f"expected at most 10 waits in seconds (1..3600), got {value!r}")
    return tuple(value)


def nuget_feed(r: Reader, key: str) -> str:
    value = r.string(key)
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~%/-]*)?", value):
        raise r.fail(key, "expected the http(s) base URL of a NuGet v3 flat container "
                     f"(…/v3-flatcontainer), got {value!r}")
    return str(value.rstrip("/"))


@dataclass(frozen=True)
class WindowsSettings(MirroredHostSettings):
    # VCForPython27.msi exists only on the fleet's artifact mirror (artifact_mirrors).
    nuget_feed: str | None = setting(read=nuget_feed)  # NuGet v3 flat container (nuget Pythons)
    install_root: str = setting(INSTALL_ROOT, read=windows_path)  # pythons\, cache\, msvc.json
    allow_reboot: bool = setting(True, read=flag)  # an installer's 3010 reboots the host
    reboot_timeout: int = setting(1200, read=positive_int)  # seconds for WinRM to come back
    installer_timeout: int = setting(1800, read=positive_int)  # a python.org / SDK installer
    retry_backoff: tuple[int, ...] = setting(RETRY_BACKOFF, read=seconds_list)  # on 1618
    vs_toolset: str | None = setting(read=toolset)  # recorded for builds (-vcvars_ver)

    @property
    def cache_dir(self) -> str:
        return f"{self.install_root}\\cache"



@dataclass(frozen=True)
class PythonInstall:
    """One interpreter (Python × arch) the host needs, and how to tell it is there."""

    python: str  # matrix id: 3.12, 3.14t
    arch: str  # x86 | x64 | arm64
    version: str  # the patch version the matrix pins
    kind: str  # exe | msi | nuget
    url: str | None  # after the artifact mirror; None: no NuGet feed set
    sha256: str | None  # None: not locked; the role refuses it
    target: str  # one directory per version × arch
    platform: str  # sysconfig.get_platform(): win32 | win-amd64 | win-arm64
    bits: int  # pointer size
    free_threaded: bool
    registry_tag: str | None  # PEP 514 tag under PythonCore (installers register, NuGet not)
    registry_view: int  # 32 or 64: where the installer registers it

    @property
    def cache_name(self) -> str:
        return (self.url or "").rstrip("/").rpartition("/")[2]

    @property
    def interpreter(self) -> str:
        exe = f"python{self.python}.exe" if self.free_threaded else "python.exe"
        if self.kind == "nuget":
            return f"{self.target}\\tools\\{exe}"
        return f"{self.target}\\{exe}"

    def expected(self) -> dict[str, Any]:
        """What the interpreter must answer about itself."""
        return {"version": self.version, "platform": self.platform, "bits": self.bits,
                "free_threaded": self.free_threaded}


ARCH_PLATFORM = {"x86": ("win32", 32), "x64": ("win-amd64", 64), "arm64": ("win-arm64", 64)}
EXE_SUFFIX = {"x86": "", "x64": "-amd64", "arm64": "-arm64"}


def _registry_tag(py: Python, arch: str) -> str:
    """``sys.winver`` of the interpreter: ``3.12``, ``3.12-32``, ``3.12-arm64``, ``3.13t``.
    Before 3.5 a 32-bit Python has no ``-32`` suffix (it registers in the 32-bit view)."""
    tag = py.minor + ("t" if py.free_threaded else "")
    old = tuple(int(x) for x in py.minor.split(".")) < (3, 5)
    if arch == "x86" and not old:
        return tag + "-32"
    if arch == "arm64":
        return tag + "-arm64"
    return tag


def python_installs(sel: Selection) -> list[PythonInstall]:
    """Every selected Python × arch, as the matrix says to install it."""
    settings = sel.settings
    assert isinstance(settings, WindowsSettings)
    src = sel.matrix.windows_sources
    hashes = dict(src.get("sha256") or {})  # type: ignore[call-overload]
    found = []
    for py in sel.pythons:
        if py.windows is None:
            continue
        for arch in sel.arches:
            kind = py.windows.arches.get(arch)
            if kind is None:
                continue
            platform, bits = ARCH_PLATFORM[arch]
            url: str | None
            if kind == "nuget":
                package = str(dict(src["nuget"])[arch])  # type: ignore[call-overload]
                package += "-freethreaded" if py.free_threaded else ""
                url = (str(src["nuget_url"]).format(feed=settings.nuget_feed, id=package.lower(),
                                                    version=py.version)
                       if settings.nuget_feed else None)
            elif kind == "msi":
                suffix = dict(src["msi_suffix"]).get(arch, "")  # type: ignore[call-overload]
                url = settings.via_mirror(str(src["python_org_msi_url"]).format(
                    version=py.version, msi_suffix=suffix))
            else:
                url = settings.via_mirror(str(src["python_org_exe_url"]).format(
                    version=py.version, exe_suffix=EXE_SUFFIX[arch]))
            name = (url or "").rpartition("/")[2]
            found.append(PythonInstall(
                python=py.id, arch=arch, version=py.version, kind=kind, url=url,
                sha256=hashes.get(name), platform=platform, bits=bits,
                target=f"{settings.install_root}\\pythons\\{py.id}-{arch}",
                free_threaded=py.free_threaded,
                registry_tag=None if kind == "nuget" else _registry_tag(py, arch),
                registry_view=32 if arch == "x86" else 64))
    return found


@dataclass(frozen=True)
class MsvcNeeds:
    """The compiler families the selected Pythons need, and for VC14.x the VS components."""

    families: tuple[str, ...]  # vc9, vc10, vc14 (in that order)
    components: tuple[str, ...]  # VS component ids for the selected arches (VC14.x)


def msvc_needs(sel: Selection) -> MsvcNeeds:
    families: set[str] = set()
    components: list[str] = []
    for py in sel.pythons:
        if py.windows is None:
            continue
        arches = [a for a in sel.arches if a in py.windows.arches]
        if not arches:
            continue
        families.add(py.windows.compiler)
        comp = sel.matrix.windows_compilers[py.windows.compiler]
        for arch in arches:
            components += [c for c in comp.components_for(arch) if c not in components]
    if "vc14" not in families:
        components = []
    return MsvcNeeds(tuple(f for f in ("vc9", "vc10", "vc14") if f in families),
                     tuple(components))


def compiler_install(matrix: Matrix, settings: WindowsSettings, family: str) -> dict[str, Any]:
    """The matrix's install entry of a compiler family, its URL through the mirror."""
    install = dict(matrix.windows_compilers[family].install)
    if install.get("url"):
        install["url"] = settings.via_mirror(str(install["url"]))
    return install


def msvc_record(sel: Selection) -> str:
    """The JSON a build reads to open each needed family's environment (the health check's
    vcvarsall, SDK 7.1's SetEnv with DISTUTILS_USE_SDK, VCForPython27's vcvarsall)."""
    needs = msvc_needs(sel)
    settings = sel.settings
    assert isinstance(settings, WindowsSettings)
    record: dict[str, Any] = {}
    if "vc9" in needs.families:
        record["vc9"] = {"vcvarsall": f"{VCFORPYTHON_DIR}\\vcvarsall.bat",
                         "env": {"DISTUTILS_USE_SDK": "1", "MSSdk": "1"}}
    if "vc10" in needs.families:
        record["vc10"] = {"setenv": f"{SDK71_DIR}\\Bin\\SetEnv.cmd",
                          "env": {"DISTUTILS_USE_SDK": "1", "MSSdk": "1"}}
    if "vc14" in needs.families:
        record["vc14"] = {"vswhere": VSWHERE, "requires": list(needs.components),
                          "vcvarsall": "VC\\Auxiliary\\Build\\vcvarsall.bat",
                          "toolset": settings.vs_toolset}
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


def _health_checks(sel: Selection) -> dict[str, set[str]]:
    """Python id -> the wheel platforms (``win_amd64``) its checks build for: exactly the
    checks of the host's health plan (a Python x arch the host installs)."""
    from wheelfleet.health.windows_plan import build_plan

    checks: dict[str, set[str]] = {}
    for check in build_plan(sel)["checks"]:
        checks.setdefault(check["python"], set()).add(check["plat"])
    return checks


class Windows(Platform):
    name = "windows"
    settings_type = WindowsSettings
    roles = ("windows_msvc", "windows_pythons", "windows_health")
    # Windows has no uname: onboarding asks this fact instead ($env:OS, "Windows_NT"); the
    # other prefixes are what Windows' POSIX layers answer to uname -s.
    kernels = ("CYGWIN", "MINGW", "MSYS", "Windows")
    kernel_fact = "wheelfleet.facts.windows_health.WindowsKernel"

    def check_arch(self, r: Reader, index: int, arch: str, py: Python, tag: str) -> None:
        if py.windows and arch not in py.windows.arches:
            raise r.child("arches").fail(index, f"Python {py.id} has no {arch} ({tag}) "
                                         f"interpreter; it has {', '.join(py.windows.arches)}")

    # --- health check (health/windows_plan.py): one check per Python x arch, on the host ---

    def planned_cells(self, sel: Selection) -> list[dict[str, str]]:
        from wheelfleet.health.windows_plan import planned_cells

        return planned_cells(sel)

    def plan_group(self, cell: dict[str, str]) -> str:
        return f"{self.name} {cell['arch']}"

    def collect(self, host: Any, sel: Selection) -> tuple[list[Check], dict[str, str | None]]:
        from wheelfleet.health.windows_plan import collect

        # Checks run on the host, health_parallel at a time, after one node probe.
        batches = -(-len(self.planned_cells(sel)) // sel.settings.health_parallel)
        return collect(host, sel, sel.settings.health_timeout * max(1, batches) + 130)

    def canary_pythons(self, sel: Selection) -> list[Python]:
        checks = _health_checks(sel)
        return [py for py in sel.pythons if py.id in checks]

    def package_sets(self, sel: Selection) -> list[PackageSet]:
        from wheelfleet.lock.needs import TOOLS_PYTHON_MIN, canary_set, minor_of, tools_set

        m = sel.matrix
        fit = [py.minor for py in sel.pythons
               if not py.free_threaded and not py.pre_release and py.windows
               and minor_of(py.minor) >= TOOLS_PYTHON_MIN]
        wheel_tags = m.platform_arches[self.name]
        # delvewheel runs on the newest selected Python
        sets = [tools_set(m, self.name, {(max(fit, key=minor_of), wheel_tags[a])
                                         for a in sel.arches})] if fit else []
        # Each checked Python's canary pins, for the platforms its checks build (the host's
        # wheelhouse downloads them with --python-version and --platform).
        checks = _health_checks(sel)
        sets += [canary_set(m, py, checks[py.id]) for py in self.canary_pythons(sel)]
        return sets

    def artifacts(self, sel: Selection) -> list[Artifact]:
        """Compiler installers, Python installers and packages, the health check's OpenSSL."""
        from wheelfleet.health.windows_plan import openssl_archive
        from wheelfleet.lock.needs import Artifact

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

    def complete(self, r: Reader, sel: Selection) -> None:
        """A lock that is not a sha256 is refused before anything connects (an unlocked one
        is refused by the role on that host alone)."""
        from wheelfleet.matrix.model import SHA256_RE

        locks = sel.matrix.windows_sources.get("sha256") or {}
        if not isinstance(locks, dict):
            raise r.fail("matrix_overlay", "windows_sources.sha256: expected a mapping of file "
                         f"name -> sha256, got {locks!r}")
        for name, digest in locks.items():
            if digest is not None and not (isinstance(digest, str) and SHA256_RE.match(digest)):
                raise r.fail("matrix_overlay", f"windows_sources.sha256.{name}: expected 64 "
                             f"lowercase hex digits or null, got {digest!r}")
