"""Recipe: the root every test host starts from (the lower layer of its overlay).

An SSH-reachable pyinfra target: sshd, python3, sudo and friends, apt pointed at the
controller's own mirrors. The packages ``roles/linux_base`` and ``roles/linux_builder`` install
are *downloaded* into the root's apt cache (not installed): converges of the hosts then do real
``apt-get install`` runs without each host downloading the same packages again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

from wheelfleet.platforms.linux import BASE_PACKAGES, ENGINE_PACKAGES

from . import aptsources
from .podman import RUNTIME
from .roots import Build

DEFAULT_SUITE = "bookworm"
# What every test host needs to be an SSH-reachable pyinfra target.
DEFAULT_INCLUDE: tuple[str, ...] = (
    "openssh-server",
    "python3",
    "ca-certificates",
    "sudo",
    "procps",
    "curl",
    "xz-utils",
)
# What roles/linux_base and roles/linux_builder install with the lab's settings (podman, its
# runtime); only downloaded into /var/cache/apt/archives.
DEFAULT_DOWNLOAD: tuple[str, ...] = (*BASE_PACKAGES, *ENGINE_PACKAGES["podman"], RUNTIME)
APT_UPDATE_TIMEOUT = 300
APT_DOWNLOAD_TIMEOUT = 1200


@dataclass(frozen=True)
class HostRoot:
    """A test host's root; *mirrors* default to the controller's (read now, never hard-coded)."""

    suite: str = DEFAULT_SUITE
    include: tuple[str, ...] = DEFAULT_INCLUDE
    download: tuple[str, ...] = DEFAULT_DOWNLOAD
    mirrors: aptsources.Mirrors | None = None
    packed: ClassVar[bool] = False  # a directory: the lower layer of every host's overlay

    @property
    def name(self) -> str:
        return f"host-{self.suite}"

    def _mirrors(self) -> aptsources.Mirrors:
        return self.mirrors or aptsources.mirrors_for(self.suite)

    def inputs(self) -> dict[str, object]:
        # The mirrors count: they end up in the root's apt sources.
        return {"download": sorted(set(self.download)), "mirrors": asdict(self._mirrors())}

    def archive(self) -> str:
        return self._mirrors().archive

    def provision(self, build: Build) -> dict[str, object]:
        root = build.root
        apt = root / "etc/apt"
        (apt / "sources.list").unlink(missing_ok=True)  # debootstrap's one-line version
        (apt / "sources.list.d").mkdir(parents=True, exist_ok=True)
        (apt / "sources.list.d/debian.sources").write_text(
            aptsources.render_sources(self.suite, self._mirrors())
        )
        options = aptsources.controller_apt_options()
        if options:
            (apt / "apt.conf.d/90wheelfleet-controller").write_text(options)
        # No init system runs in a test host: keep package scripts from starting daemons
        # (the one sshd per host is started by the fleet).
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\n# wheelfleet test host: no services started by dpkg\n"
                          "exit 101\n")
        policy.chmod(0o755)
        # Host keys are per host (generated in each host's own filesystem at `up`); keys
        # baked into the shared root would make every host look the same.
        for key in (root / "etc/ssh").glob("ssh_host_*"):
            key.unlink()
        build.chroot("apt-get update", what="apt-get update in the root",
                     timeout=APT_UPDATE_TIMEOUT)
        if self.download:
            build.say(f"pre-downloading {' '.join(self.download)} ...")
            build.chroot(f"apt-get install -y --download-only {' '.join(self.download)}",
                         what="pre-downloading packages in the root",
                         timeout=APT_DOWNLOAD_TIMEOUT)
        return {}
