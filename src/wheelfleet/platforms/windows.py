"""Windows build hosts: validated and planned; no roles yet, so refused by the fleet deploy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from wheelfleet.platforms.base import Platform
from wheelfleet.settings import HostSettings, setting, text

if TYPE_CHECKING:
    from wheelfleet.matrix import Python
    from wheelfleet.matrix.reader import Reader


@dataclass(frozen=True)
class WindowsSettings(HostSettings):
    vs_toolset: str | None = setting(read=text)  # e.g. v143: pin the VC14.x toolset
    vs_edition: str | None = setting(read=text)  # BuildTools, Community …
    artifact_mirror: str | None = setting(read=text)  # where installers are fetched from


class Windows(Platform):
    name = "windows"
    settings_type = WindowsSettings
    # Windows has no uname; these are what its POSIX layers answer.
    kernels = ("CYGWIN", "MINGW", "MSYS", "Windows")

    def check_arch(self, r: Reader, index: int, arch: str, py: Python, tag: str) -> None:
        if py.windows and arch not in py.windows.arches:
            raise r.child("arches").fail(index, f"Python {py.id} has no {arch} ({tag}) "
                                         f"interpreter; it has {', '.join(py.windows.arches)}")
