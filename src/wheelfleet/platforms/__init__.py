"""One module per platform behind one protocol (``base.Platform``).

>>> platform("linux").roles
('linux_base', 'linux_builder', 'wheel_health')
>>> platform_of_kernel("Darwin")
'macos'
"""

from __future__ import annotations

from wheelfleet.platforms.base import Platform
from wheelfleet.platforms.linux import Linux
from wheelfleet.platforms.macos import Macos
from wheelfleet.platforms.windows import Windows

PLATFORMS: dict[str, Platform] = {p.name: p for p in (Linux(), Macos(), Windows())}

__all__ = ["PLATFORMS", "Platform", "platform", "platform_of_kernel"]


def platform(name: str) -> Platform:
    """The platform of an inventory group name (``linux``, ``macos``, ``windows``)."""
    return PLATFORMS[name]


def platform_of_kernel(kernel: str | None) -> str | None:
    """The platform whose hosts answer ``uname -s`` with ``kernel``, or None."""
    if not kernel:
        return None
    return next((p.name for p in PLATFORMS.values() if p.owns_kernel(kernel)), None)
