"""windows_pythons: every selected Python × arch, from python.org or NuGet as the matrix says."""

from __future__ import annotations

from dataclasses import asdict

from pyinfra.api import deploy

from wheelfleet.operations.windows import directory, python_install
from wheelfleet.platforms.windows import WindowsSettings, python_installs
from wheelfleet.selection import Selection


@deploy("windows_pythons")
def windows_pythons(selection: Selection) -> None:
    """
    One directory per selected Python × arch under ``<install_root>\\pythons``: the python.org
    ``.exe`` (3.5+) or ``.msi`` (2.7, 3.3, 3.4) installer, or the NuGet package where the
    matrix says ``nuget``; sha256-verified before it runs; checked by asking the interpreter
    (version, pointer size, platform, free-threading) and its PEP 514 registration; another
    patch version is upgraded.

    + selection: the host's validated selection

    **Example:**

    .. code:: python

        windows_pythons(selection=current_selection())
    """
    settings = selection.settings
    assert isinstance(settings, WindowsSettings)
    directory(name="Pythons directory", path=f"{settings.install_root}\\pythons")
    for item in python_installs(selection):
        install = asdict(item) | {"interpreter": item.interpreter}
        python_install(name=f"Python {item.python} {item.arch} ({item.version}, {item.kind})",
                       install=install, cache_dir=settings.cache_dir,
                       timeout=settings.installer_timeout, allow_reboot=settings.allow_reboot,
                       reboot_timeout=settings.reboot_timeout,
                       retry_backoff=list(settings.retry_backoff))
