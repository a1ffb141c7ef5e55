"""macos_pythons: the python.org Pythons the host's selection names, each by its sha256."""

from __future__ import annotations

from pyinfra.api import deploy

from wheelfleet.operations.macos import python_pkg
from wheelfleet.platforms.macos import MacosSettings, pkg_installs
from wheelfleet.selection import Selection


@deploy("macos_pythons")
def macos_pythons(selection: Selection) -> None:
    """
    For every selected Python with a python.org installer: downloaded through the fleet's
    artifact mirror, sha256-verified before ``installer`` runs, free-threaded builds selected
    by the matrix's choice, checked by receipt and by running the interpreter (``lipo`` for
    universal2), CA certificates linked.

    + selection: the host's validated selection

    **Example:**

    .. code:: python

        macos_pythons(selection=current_selection())
    """
    settings = selection.settings
    assert isinstance(settings, MacosSettings)
    for pkg in pkg_installs(selection):
        python_pkg(name=f"Python {pkg.python} ({pkg.version}, {pkg.receipt})",
                   version=pkg.version, url=pkg.url, sha256=pkg.sha256, receipt=pkg.receipt,
                   interpreter=pkg.interpreter, cache_dir=settings.cache_dir,
                   universal2=pkg.universal2, choices_xml=pkg.choices_xml(),
                   _sudo=True, _timeout=1800)
