"""A real Linux test fleet: Debian roots with their own sshd on 127.0.0.N.

``up(3, Path(".testfleet"))`` gives three SSH-reachable hosts with strict host keys and a
pyinfra inventory; ``down`` removes them and everything they mounted.
"""

from .errors import FleetError
from .fleet import DEFAULT_DIR, Fleet, down, load, status, up
from .host import HostRecord
from .rootfs import RootfsSpec, ensure_rootfs

__all__ = [
    "DEFAULT_DIR",
    "Fleet",
    "FleetError",
    "HostRecord",
    "RootfsSpec",
    "down",
    "ensure_rootfs",
    "load",
    "status",
    "up",
]
