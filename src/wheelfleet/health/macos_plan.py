"""The macOS health check's plan: what the node's agent checks on the Mac itself.

One check per selected Python x arch (``x86_64``, ``arm64`` or ``universal2``): the agent
(``health/agent.py``, host mode) builds the canary with that Python against the universal
OpenSSL, for the check's arches and deployment target, repairs it with the pinned delocate,
checks the wheel's tag, installs it into a fresh venv offline and imports it under each arch
the wheel claims.  Everything a check needs is decided here, from the matrix and the host's
typed settings, so the node decides nothing.

Proof level: unit.  Plans are built from the real matrix and read back in
tests/test_macos_health.py; no Mac has run one (there is none here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wheelfleet.canary import CANARY_INPUT, expected_digest
from wheelfleet.health.plan import CANARY_DIR
from wheelfleet.matrix.query import canary_build_requirements, interpreter_tag, mac_platform_tag

if TYPE_CHECKING:
    from wheelfleet.matrix import Python
    from wheelfleet.platforms.macos import MacosSettings
    from wheelfleet.selection import Selection

IMAGE = "macos"  # no images on a Mac: the platform stands in for it in a check's name
TOOLS_VENV = "/opt/wheelfleet/tools"  # delocate at the matrix's pin
SYSTEM_PYTHON = "/usr/bin/python3"  # the Command Line Tools' Python (3.9)
# Oldest Python the pinned delocate runs on; the tools venv needs one at least this new.
TOOLS_PYTHON_MIN = (3, 9)
PYENV_PYTHON = "{root}/versions/{version}/bin/python"


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def slices(arch: str) -> list[str]:
    """The Mach-O slices a wheel for ``arch`` carries."""
    return ["x86_64", "arm64"] if arch == "universal2" else [arch]


def deployment_target(sel: Selection, py: Python, arch: str) -> str:
    """MACOSX_DEPLOYMENT_TARGET for ``py`` on ``arch``: the higher of the Python's floor and
    the universal OpenSSL's floor for that arch (from the matrix; arm64 never below
    ``arm64_min_version``).  A universal2 wheel is named by its x86_64 floor; clang raises
    the arm64 slice to 11.0 by itself.

    The OpenSSL is linked statically: a target below its floor would give a wheel whose tag
    claims a macOS its libcrypto code was not built for, which no repair tool notices.
    """
    assert py.macos is not None, f"Python {py.id} has no macOS build"
    arm_min = str(sel.matrix.macos["arm64_min_version"])
    ssl = dict(sel.matrix.macos.get("openssl") or {})  # type: ignore[call-overload]
    ssl_min = dict(ssl.get("min_macos") or {})
    floor_arch = "x86_64" if arch == "universal2" else arch
    floors = [py.macos.min_macos.get(floor_arch, arm_min)]
    if floor_arch in ssl_min:
        floors.append(str(ssl_min[floor_arch]))
    if floor_arch == "arm64":
        floors.append(arm_min)
    return max(floors, key=version_key)


def platform_tag(target: str, arch: str) -> str:
    """``macosx_10_13_universal2``, ``macosx_11_0_arm64`` (macOS >= 11: always ``X_0``)."""
    return mac_platform_tag({"x86_64": target, "arm64": target}, arch, target)


def interpreters(sel: Selection) -> dict[str, str]:
    """Matrix Python id -> the interpreter a check runs: python.org's framework Python, or the
    wide-unicode 2.7 under ``<pyenv_root>/versions/<version>``."""
    from wheelfleet.platforms.macos import MacosSettings, pkg_installs

    settings = sel.settings
    assert isinstance(settings, MacosSettings)
    found = {pkg.python: pkg.interpreter for pkg in pkg_installs(sel)}
    recipe = dict(sel.matrix.macos["pyenv_ucs4"])  # type: ignore[call-overload]
    for py in sel.pythons:
        if py.macos is not None and py.macos.source == "pyenv_ucs4":
            found[py.id] = PYENV_PYTHON.format(root=settings.pyenv_root,
                                               version=recipe["version"])
    return found


def tools_python(sel: Selection) -> str:
    """The interpreter of the tools venv and of the wheelhouse download: the newest selected
    python.org Python (with the GIL) that the pinned delocate runs on, else the system's."""
    from wheelfleet.platforms.macos import pkg_installs

    fit = [pkg for pkg in pkg_installs(sel) if pkg.choice is None
           and version_key(pkg.version)[:2] >= TOOLS_PYTHON_MIN]
    if not fit:
        return SYSTEM_PYTHON
    return max(fit, key=lambda pkg: version_key(pkg.version)).interpreter


def wheelhouse_pythons(sel: Selection) -> list[str]:
    """The Python versions (``2.7``, ``3.12``) the host's wheelhouse serves: one per selected
    macOS Python, each downloaded for that Python (``pip download --python-version``)."""
    return list(dict.fromkeys(py.minor for py in sel.pythons if py.macos is not None))


def wheelhouse_dir(settings: MacosSettings) -> str:
    return f"{settings.cache_dir}/wheelhouse"


def keep_dir(settings: MacosSettings) -> str:
    """Where the agent keeps each check's repaired wheel for the controller's wheelcheck:
    under the work dir, which the agent can write whichever user runs it."""
    return f"{settings.work_dir}/kept-wheels"


def build_plan(sel: Selection) -> dict[str, Any]:
    """The agent's host-mode plan for one macOS host: a check per selected Python x arch."""
    from wheelfleet.platforms.macos import MacosSettings

    settings = sel.settings
    assert isinstance(settings, MacosSettings), "a macOS plan needs a macOS host's settings"
    found = interpreters(sel)
    recipe = dict(sel.matrix.macos["pyenv_ucs4"])  # type: ignore[call-overload]
    checks = []
    for py in sel.pythons:
        mac = py.macos
        if mac is None:
            continue
        for arch in sel.arches:
            target = deployment_target(sel, py, arch)
            plat = platform_tag(target, arch)
            checks.append({
                "image": IMAGE, "digest": None, "python": py.id, "arch": arch,
                "variant": "default", "interpreter": found[py.id], "archs": slices(arch),
                "deployment_target": target, "plat": plat, "abi_tag": mac.abi_tag,
                "wheel_tag": f"{interpreter_tag(py)}-{mac.abi_tag}-{plat}",
                # This Python's own pins (2.7 and 3.3-3.8 need older setuptools and wheel).
                "build_requirements": canary_build_requirements(sel.matrix, py.id),
                # CPython 2.7 has no venv module: its wheel goes into a fresh --target dir.
                "install": "target" if py.minor.startswith("2.") else "venv",
                "maxunicode": (int(recipe["expected_maxunicode"])
                               if mac.source == "pyenv_ucs4" else None)})
    timeout = settings.health_timeout
    return {
        "kind": "host", "work_dir": settings.work_dir, "keep_dir": keep_dir(settings),
        "canary_dir": CANARY_DIR, "wheelhouse": wheelhouse_dir(settings),
        "openssl_prefix": f"{settings.openssl_root}/current", "tools_venv": TOOLS_VENV,
        "delocate_version": sel.matrix.tool_pins("macos").get("delocate"),
        "input": CANARY_INPUT.decode(), "expected": expected_digest(),
        "keep_wheels": settings.health_keep_wheels,
        "parallel": settings.health_parallel, "timeout": timeout,
        "timeouts": {"interpreter": min(120, timeout), "build": timeout, "repair": timeout,
                     "install": timeout, "import": min(300, timeout)},
        "checks": checks,
    }


def planned_cells(sel: Selection) -> list[dict[str, str]]:
    """The cells a macOS host is checked on, from its own plan (planned and ran agree)."""
    return [{"image": c["image"], "python": c["python"], "arch": c["arch"],
             "variant": c["variant"]} for c in build_plan(sel)["checks"]]
