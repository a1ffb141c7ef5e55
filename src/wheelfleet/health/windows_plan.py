"""The Windows health check's plan: what the node's agent checks on the Windows host itself.

One check per selected Python x arch (``x86``, ``x64``, ``arm64``): the agent
(``health/agent.py`` in host mode, with ``health/windows_agent.py`` beside it) opens the
compiler environment of that Python's family (VC14.x: ``vcvarsall.bat`` of the Build Tools
vswhere finds, for the target arch; VC10: Windows SDK 7.1's ``SetEnv.cmd``; VC9:
VCForPython27's ``vcvarsall.bat``), builds the canary against the OpenSSL archive of that
family and arch, repairs it with the pinned delvewheel, installs it into a fresh venv offline
and imports it.  The controller then judges each kept wheel with wheelcheck (arch, C runtime,
``pythonXY.dll``).  Everything a check needs is decided here, from the matrix and the host's
typed settings, so the node decides nothing.

Proof level: unit.  Plans are built from the real matrix and read back in
tests/test_windows_health.py; no Windows host has run one (there is none here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wheelfleet.canary import CANARY_INPUT, expected_digest
from wheelfleet.matrix.query import canary_build_requirements, interpreter_tag

if TYPE_CHECKING:
    from wheelfleet.matrix import Matrix, Python
    from wheelfleet.platforms.windows import WindowsSettings
    from wheelfleet.selection import Selection

IMAGE = "windows"  # no images on Windows: the platform stands in for it in a check's name
# Oldest Python the agent and the pinned delvewheel run on: the tools venv needs one this new.
TOOLS_PYTHON_MIN = (3, 9)
WHEEL_PLATFORM = {"x86": "win32", "x64": "win_amd64", "arm64": "win_arm64"}
# SDK 7.1's SetEnv.cmd and VCForPython27's vcvarsall.bat name their targets their own way.
SETENV_ARCH = {"x86": "/x86", "x64": "/x64"}
VC9_ARCH = {"x86": "x86", "x64": "amd64"}


def health_dir(settings: WindowsSettings) -> str:
    return f"{settings.install_root}\\health"


def agent_path(settings: WindowsSettings) -> str:
    return f"{health_dir(settings)}\\agent.py"


def windows_agent_path(settings: WindowsSettings) -> str:
    """The Windows host mode, uploaded beside the agent (it imports it from there)."""
    return f"{health_dir(settings)}\\windows_agent.py"


def plan_path(settings: WindowsSettings) -> str:
    return f"{health_dir(settings)}\\plan.json"


def canary_dir(settings: WindowsSettings) -> str:
    return f"{health_dir(settings)}\\canary"


def tools_venv(settings: WindowsSettings) -> str:
    return f"{settings.install_root}\\tools"  # delvewheel at the matrix's pin


def wheelhouse_dir(settings: WindowsSettings) -> str:
    return f"{settings.cache_dir}\\wheelhouse"


def work_dir(settings: WindowsSettings) -> str:
    """Scratch space of the checks; the POSIX default of other platforms means nothing here."""
    return f"{settings.install_root}\\work"


def openssl_dir(settings: WindowsSettings, family: str, arch: str) -> str:
    return f"{settings.install_root}\\openssl\\{family}-{arch}"


@dataclass(frozen=True)
class OpenSSLArchive:
    """One prebuilt OpenSSL archive (compiler family x arch) the health check builds against."""

    family: str
    arch: str
    version: str
    url: str | None  # None: the host has no artifact mirror to fetch it from
    sha256: str | None  # None: not locked; the role refuses it
    dll: str  # what the canary imports: libcrypto-3-x64.dll …
    import_library: str
    target: str  # where the role unpacks it

    @property
    def cache_name(self) -> str:
        return f"openssl-{self.version}-{self.family}-{self.arch}.zip"


def artifact_mirror(settings: WindowsSettings) -> str | None:
    """The host's artifact mirror: the one target its ``artifact_mirrors`` names (several
    different targets leave it ambiguous: None)."""
    targets = sorted(set(settings.artifact_mirrors.values()))
    return targets[0] if len(targets) == 1 else None


def openssl_archive(matrix: Matrix, settings: WindowsSettings, family: str,
                    arch: str) -> OpenSSLArchive | None:
    """The matrix's OpenSSL archive for ``family`` on ``arch``, or None when it has none."""
    section = dict(matrix.windows_openssl)
    build = dict(dict(section.get("builds") or {}).get(family) or {})  # type: ignore[call-overload]
    dlls = dict(build.get("dll") or {})
    if arch not in dlls:
        return None
    version = str(build["version"])
    mirror = artifact_mirror(settings)
    url = (str(section["url"]).format(mirror=mirror, version=version, family=family, arch=arch)
           if mirror else None)
    sha = dict(build.get("sha256") or {}).get(arch)
    return OpenSSLArchive(family=family, arch=arch, version=version, url=url,
                          sha256=str(sha) if sha else None, dll=str(dlls[arch]),
                          import_library=str(section.get("import_library") or "libcrypto.lib"),
                          target=openssl_dir(settings, family, arch))


def python_dll(py: Python) -> str:
    """The interpreter DLL a module for ``py`` imports: ``python27.dll``, ``python313t.dll``."""
    return f"python{py.minor.replace('.', '')}{'t' if py.free_threaded else ''}.dll"


def environment(sel: Selection, py: Python, arch: str) -> dict[str, Any]:
    """How the agent opens ``py``'s compiler environment for ``arch`` (paths as the
    windows_msvc role installs them; vcvarsall's arch argument is completed on the node, which
    knows its own arch)."""
    from wheelfleet.platforms.windows import SDK71_DIR, VCFORPYTHON_DIR, VSWHERE, WindowsSettings

    settings = sel.settings
    assert isinstance(settings, WindowsSettings) and py.windows is not None
    family = py.windows.compiler
    sdk = {"DISTUTILS_USE_SDK": "1", "MSSdk": "1"}  # setuptools: use the environment as set
    if family == "vc9":
        return {"kind": "script", "script": f"{VCFORPYTHON_DIR}\\vcvarsall.bat",
                "args": [VC9_ARCH[arch]], "env": sdk}
    if family == "vc10":
        return {"kind": "script", "script": f"{SDK71_DIR}\\Bin\\SetEnv.cmd",
                "args": [SETENV_ARCH[arch], "/release"], "env": sdk}
    components = sel.matrix.windows_compilers[family].components_for(arch)
    args = [f"-vcvars_ver={settings.vs_toolset[1:3]}.{settings.vs_toolset[3:]}"] \
        if settings.vs_toolset else []
    return {"kind": "vcvarsall", "vswhere": VSWHERE, "requires": list(components),
            "vcvarsall": "VC\\Auxiliary\\Build\\vcvarsall.bat", "target": arch, "args": args,
            "env": sdk}


def tools_python(sel: Selection) -> str | None:
    """The interpreter that runs the agent and the tools venv: the newest selected Python
    with the GIL that delvewheel runs on, native x64 or arm64 before x86; None without one."""
    from wheelfleet.platforms.windows import python_installs

    def key(install: Any) -> tuple[tuple[int, ...], int]:
        return (tuple(int(x) for x in install.version.split(".")[:2]),
                {"x64": 2, "arm64": 1}.get(install.arch, 0))

    fit = [i for i in python_installs(sel) if not i.free_threaded
           and tuple(int(x) for x in i.version.split(".")[:2]) >= TOOLS_PYTHON_MIN]
    return max(fit, key=key).interpreter if fit else None


def build_plan(sel: Selection) -> dict[str, Any]:
    """The agent's host-mode plan for one Windows host: a check per selected Python x arch."""
    from wheelfleet.platforms.windows import WindowsSettings, python_installs

    settings = sel.settings
    assert isinstance(settings, WindowsSettings), "a Windows plan needs a Windows host's settings"
    installs = {(i.python, i.arch): i for i in python_installs(sel)}
    checks = []
    for py in sel.pythons:
        win = py.windows
        if win is None:
            continue
        compiler = sel.matrix.windows_compilers[win.compiler]
        for arch in sel.arches:
            install = installs.get((py.id, arch))
            if install is None:
                continue
            ssl = openssl_archive(sel.matrix, settings, win.compiler, arch)
            plat = WHEEL_PLATFORM[arch]
            checks.append({
                "image": IMAGE, "digest": None, "python": py.id, "arch": arch,
                "variant": "default", "interpreter": install.interpreter,
                "platform": install.platform, "bits": install.bits,
                "family": win.compiler, "msc_ver": compiler.msc_ver,
                "runtime": compiler.runtime, "python_dll": python_dll(py),
                "plat": plat, "abi_tag": win.abi_tag,
                "wheel_tag": f"{interpreter_tag(py)}-{win.abi_tag}-{plat}",
                "environment": environment(sel, py, arch),
                "openssl": None if ssl is None else {
                    "dir": ssl.target, "dll": ssl.dll, "version": ssl.version,
                    "import_library": ssl.import_library},
                # CPython 2.7 has no venv module: its wheel goes into a fresh --target dir.
                "install": "target" if py.minor.startswith("2.") else "venv",
                "build_requirements": canary_build_requirements(sel.matrix, py.id)})
    timeout = settings.health_timeout
    return {
        "kind": "host", "os": "windows", "work_dir": work_dir(settings),
        "keep_dir": f"{work_dir(settings)}\\kept-wheels", "canary_dir": canary_dir(settings),
        "wheelhouse": wheelhouse_dir(settings),
        "tools_venv": tools_venv(settings),
        "delvewheel_version": sel.matrix.tool_pins("windows").get("delvewheel"),
        "input": CANARY_INPUT.decode(), "expected": expected_digest(),
        "parallel": settings.health_parallel, "timeout": timeout,
        "timeouts": {"interpreter": min(120, timeout), "environment": min(300, timeout),
                     "build": timeout, "repair": timeout, "install": timeout,
                     "import": min(300, timeout)},
        "checks": checks,
    }


def planned_cells(sel: Selection) -> list[dict[str, str]]:
    """The cells a Windows host is checked on, from its own plan (planned and ran agree)."""
    return [{"image": c["image"], "python": c["python"], "arch": c["arch"],
             "variant": c["variant"]} for c in build_plan(sel)["checks"]]


def collect(host: Any, sel: Selection, budget: int) -> tuple[list[Any], dict[str, str | None]]:
    """Run the Windows host's agent (PowerShell, the tools Python) and shape its records; each
    kept wheel is judged by wheelcheck on the controller.  Never raises for what the node
    does: every outcome becomes this host's own records."""
    from wheelfleet.facts.windows_health import WindowsHealthRecords
    from wheelfleet.health.collect import validate_with_wheelcheck
    from wheelfleet.health.records import checks_from_answer, host_level
    from wheelfleet.platforms.windows import WindowsSettings

    settings = sel.settings
    assert isinstance(settings, WindowsSettings)
    cells = planned_cells(sel)
    python = tools_python(sel)
    if python is None:
        return host_level(cells, sel.host, status="not-run", cause="the Windows health agent "
                          "needs a selected Python 3.9 or newer (with the GIL) to run on"), {}
    try:
        answer = host.get_fact(WindowsHealthRecords, agent=agent_path(settings),
                               plan=plan_path(settings), python=python, _timeout=budget,
                               _ignore_errors=True)
    except Exception as err:  # noqa: BLE001 - a timeout or lost connection is this host's
        return host_level(cells, sel.host, cause=f"reading the health agent's answer failed: "
                          f"{type(err).__name__}: {err}"), {}
    if not isinstance(answer, dict):
        return host_level(cells, sel.host, cause="the health agent gave no answer: it timed out "
                          f"(limit {budget}s) or the connection failed"), {}
    for raw in answer.get("records") or []:
        if isinstance(raw, dict):
            validate_with_wheelcheck(host, raw)
    checks = checks_from_answer(answer, cells, sel.host)
    tools: dict[str, str | None] = {}
    for record in checks:
        for key in ("delvewheel", "msvc", "windows_sdk", "compiler", "windows"):
            value = record["versions"].get(key)
            if value:
                tools.setdefault(f"{key} ({record['arch']})", value)
    return checks, tools  # type: ignore[return-value]
