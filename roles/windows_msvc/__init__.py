"""windows_msvc: the compiler family of every selected Python (VC9 / VC10 / VC14.x)."""

from __future__ import annotations

from io import StringIO
from typing import Any

from pyinfra.api import deploy

from wheelfleet.connectors import windows_files
from wheelfleet.operations.windows import compiler_msi, directory, vs_build_tools
from wheelfleet.platforms.windows import (
    MSVC_RECORD,
    SDK71_DIR,
    VCFORPYTHON_DIR,
    WindowsSettings,
    compiler_install,
    msvc_needs,
    msvc_record,
)
from wheelfleet.selection import Selection


@deploy("windows_msvc")
def windows_msvc(selection: Selection) -> None:
    """
    For each compiler family the selected Pythons need: VCForPython27.msi (VC9, 2.7) and the
    Windows SDK 7.1 (VC10, 3.3/3.4) from the fleet's artifact mirror, Visual Studio Build Tools
    with the selected arches' components (VC14.x, 3.5+); each download sha256-verified before
    it runs, each installer under the matrix's timeout.  The environment each build opens
    (vcvarsall, SetEnv with DISTUTILS_USE_SDK) is recorded in ``<install_root>\\msvc.json``.

    + selection: the host's validated selection

    **Example:**

    .. code:: python

        windows_msvc(selection=current_selection())
    """
    settings = selection.settings
    assert isinstance(settings, WindowsSettings)
    needs = msvc_needs(selection)
    common: dict[str, Any] = {
        "cache_dir": settings.cache_dir, "allow_reboot": settings.allow_reboot,
        "reboot_timeout": settings.reboot_timeout, "retry_backoff": list(settings.retry_backoff)}
    directory(name="wheelfleet root", path=settings.install_root)
    directory(name="Download cache", path=settings.cache_dir)
    if "vc9" in needs.families:
        vc9 = compiler_install(selection.matrix, settings, "vc9")
        compiler_msi(name="VC9: VCForPython27.msi", what="VCForPython27.msi (VC9, Python 2.7)",
                     url=vc9.get("url"), sha256=vc9.get("sha256"),
                     registry_key="HKLM\\SOFTWARE\\Microsoft\\DevDiv\\VCForPython\\9.0",
                     registry_view=32, marker=f"{VCFORPYTHON_DIR}\\vcvarsall.bat",
                     arguments=list(vc9.get("arguments") or ["/qn", "ALLUSERS=1"]),
                     timeout=int(vc9.get("timeout_seconds") or 1800), **common)
    if "vc10" in needs.families:
        vc10 = compiler_install(selection.matrix, settings, "vc10")
        compiler_msi(name="VC10: Windows SDK 7.1", what="Windows SDK 7.1 (VC10, Python 3.3/3.4)",
                     url=vc10.get("url"), sha256=vc10.get("sha256"),
                     registry_key=str(vc10.get("registry_key")), registry_view=64,
                     marker=f"{SDK71_DIR}\\Bin\\SetEnv.cmd",
                     arguments=list(vc10.get("arguments") or []), msi=False,
                     timeout=int(vc10.get("timeout_seconds") or 3600), **common)
    if "vc14" in needs.families:
        vc14 = compiler_install(selection.matrix, settings, "vc14")
        vs_build_tools(name="VC14.x: Visual Studio Build Tools", url=vc14.get("url"),
                       sha256=vc14.get("sha256"), components=list(needs.components),
                       product_id=str(vc14.get("product_id")),
                       arguments=list(vc14.get("arguments") or []),
                       timeout=int(vc14.get("timeout_seconds") or 3600), **common)
    windows_files.put(name="MSVC environments for builds", src=StringIO(msvc_record(selection)),
                      dest=f"{settings.install_root}\\{MSVC_RECORD}")
