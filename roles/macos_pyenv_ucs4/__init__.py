"""macos_pyenv_ucs4: the wide-unicode (cp27mu) Python 2.7 legacy wheels are built with."""

from __future__ import annotations

from pyinfra.api import deploy

from wheelfleet.operations.macos import pyenv_python_ucs4
from wheelfleet.platforms.macos import MacosSettings, source_builds, wants_ucs4
from wheelfleet.selection import Selection


@deploy("macos_pyenv_ucs4")
def macos_pyenv_ucs4(selection: Selection) -> None:
    """
    When 2.7 is selected: pyenv from its pinned release tarball, and CPython 2.7 built by it
    with ``--enable-unicode=ucs4`` from a pinned source tarball, verified wide (cp27mu).

    + selection: the host's validated selection

    **Example:**

    .. code:: python

        macos_pyenv_ucs4(selection=current_selection())
    """
    if not wants_ucs4(selection):
        return
    settings = selection.settings
    assert isinstance(settings, MacosSettings)
    builds = source_builds(selection.matrix, settings)
    pyenv, python = builds["pyenv"], builds["python27"]
    # The matrix's floor for 2.7's one arch (x86_64; built under Rosetta on Apple silicon).
    py27 = next(py.macos for py in selection.pythons
                if py.macos is not None and py.macos.source == "pyenv_ucs4")
    arch = py27.arches[0]
    pyenv_python_ucs4(name=f"Wide-unicode Python {python.version} (pyenv {pyenv.version})",
                      root=settings.pyenv_root, pyenv_version=pyenv.version,
                      pyenv_url=pyenv.url, pyenv_sha256=pyenv.sha256, version=python.version,
                      source_url=python.url, source_sha256=python.sha256,
                      configure_opts=str(python.extra["configure_opts"]),
                      expected_maxunicode=int(python.extra["expected_maxunicode"]),
                      deployment_target=py27.min_macos[arch], arch=arch,
                      cache_dir=settings.cache_dir, _sudo=True, _timeout=3600)
