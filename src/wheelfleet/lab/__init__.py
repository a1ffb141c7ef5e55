"""The local lab: real Debian hosts and a real image registry on this machine, for the demo,
the tests and the benchmarks (``wheelfleet demo``, ``wheelfleet testfleet``; needs root).

Hosts (:mod:`.fleet`, one per :mod:`.host`, with :mod:`.keys` and an :mod:`.inventory`) are
Debian roots with their own sshd on 127.0.0.N. The :mod:`.registry` is Debian's
``docker-registry`` on loopback, holding manylinux-like :mod:`.images` pushed through an isolated
:mod:`.podman` store. Both kinds of Debian root come from one builder (:mod:`.roots`) with two
recipes (:mod:`.host_root`, :mod:`.image_root`), cached under ``~/.cache/wheelfleet/roots``.
:mod:`.localfleet` puts it all together: a registry, its images pinned by digest in a matrix
overlay, and hosts whose inventory selects them. Every command runs through :mod:`.commands`;
every failure is a one-line :class:`LabError`.
"""

from .errors import LabError
from .fleet import DEFAULT_DIR, Fleet, down, load, status, up
from .images import POLICIES, PushedImage, build_and_push
from .localfleet import (
    LocalFleet,
    bring_up,
    group_data_for,
    overlay_text,
    start_registry,
    tear_down,
    write_inventory,
)
from .podman import PodmanEnv
from .registry import Registry

__all__ = [
    "DEFAULT_DIR",
    "POLICIES",
    "Fleet",
    "LabError",
    "LocalFleet",
    "PodmanEnv",
    "PushedImage",
    "Registry",
    "bring_up",
    "build_and_push",
    "down",
    "group_data_for",
    "load",
    "overlay_text",
    "start_registry",
    "status",
    "tear_down",
    "up",
    "write_inventory",
]
