"""macOS build hosts: validated and planned; no roles yet, so refused by the fleet deploy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from wheelfleet.platforms.base import Platform
from wheelfleet.settings import HostSettings, setting, text

if TYPE_CHECKING:
    from wheelfleet.matrix import Python
    from wheelfleet.matrix.reader import Reader


@dataclass(frozen=True)
class MacosSettings(HostSettings):
    openssl_version: str | None = setting(read=text)  # the universal OpenSSL to build
    pyenv_root: str | None = setting(read=text)  # where the wide-unicode 2.7 is built


class Macos(Platform):
    name = "macos"
    settings_type = MacosSettings
    kernels = ("Darwin",)

    def check_arch(self, r: Reader, index: int, arch: str, py: Python, tag: str) -> None:
        if py.macos is None:
            return
        if arch in py.macos.arches or (arch == "universal2" and py.macos.universal2):
            return
        raise r.child("arches").fail(index, f"Python {py.id} has no {arch} build on macOS; it "
                                     f"has {', '.join(py.macos.arches)}")
