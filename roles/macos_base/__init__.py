"""macos_base: what every macOS build host needs before it installs or builds anything."""

from __future__ import annotations

from importlib import resources

from pyinfra.api import deploy
from pyinfra.operations import files

from wheelfleet.operations.macos import FETCH, command_line_tools, rosetta
from wheelfleet.platforms.macos import MacosSettings
from wheelfleet.selection import Selection


@deploy("macos_base")
def macos_base(selection: Selection) -> None:
    """
    Xcode Command Line Tools, Rosetta 2 where x86_64 code must run on Apple silicon, the
    download cache, and the verified-download helper every later role fetches through.

    + selection: the host's validated selection (its settings name the cache directory)

    **Example:**

    .. code:: python

        macos_base(selection=current_selection())
    """
    settings = selection.settings
    assert isinstance(settings, MacosSettings)
    command_line_tools(name="Xcode Command Line Tools", _sudo=True, _timeout=3600)
    runs_x86 = any(arch in ("x86_64", "universal2") for arch in selection.arches)
    rosetta(name="Rosetta 2 (for x86_64 checks on Apple silicon)", needed=runs_x86,
            _sudo=True, _timeout=1800)
    files.directory(name="Download cache", path=settings.cache_dir, _sudo=True)
    files.put(name="Verified-download helper",
              src=str(resources.files("wheelfleet").joinpath("scripts/fetch-verified.sh")),
              dest=FETCH, mode="755", create_remote_dir=True, _sudo=True)
