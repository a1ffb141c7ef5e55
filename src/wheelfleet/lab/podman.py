"""An isolated podman configuration: its own storage, runtime settings and registries.

Everything podman reads is pointed at files generated here through
``CONTAINERS_CONF``, ``CONTAINERS_STORAGE_CONF`` and ``CONTAINERS_REGISTRIES_CONF``, so
neither the image builder nor the tests touch the machine's default storage
(``/var/lib/containers``) or its lock/tmp directories. The same settings are what a
chroot build host needs: :data:`HOST_DATA` hands them to the fleet's roles, so they are
spelled out in this one place.

Why each setting exists on this kind of machine (Debian 12, no systemd as PID 1,
hybrid cgroup v1):

* ``runtime = "runc"`` -- crun fails on the hybrid cgroup layout here.
* ``cgroup_manager = "cgroupfs"`` -- the systemd manager needs a running systemd.
* ``events_logger = "file"`` -- journald is not there either.
* ``default_ulimits`` -- the inherited nofile/nproc hard limits are larger than a
  container is allowed to get here; lowered limits make ``podman run`` work.
* ``lock_type = "file"`` with ``tmp_dir`` inside our run root -- the default shm lock
  (``/dev/shm/libpod_lock``) is shared by every podman store on the machine, so two
  stores would hand out the same lock numbers.
* storage ``driver`` -- ``overlay`` (native, on ext4) by default; ``vfs`` works on any
  filesystem but copies the whole image per container.
* an insecure ``[[registry]]`` entry for ``127.0.0.1:<port>`` -- the test registry is
  plain HTTP; with it, ``--tls-verify=false`` is no longer needed per command.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .commands import run

RUNTIME = "runc"
CGROUP_MANAGER = "cgroupfs"
EVENTS_LOGGER = "file"
ULIMITS = ("nofile=1024:1024", "nproc=4096:4096")

# The same settings as host data for ``roles/linux_builder``, which writes them on a test host.
HOST_DATA: dict[str, object] = {
    "container_engine": "podman",
    "container_runtime": RUNTIME,
    "container_cgroup_manager": CGROUP_MANAGER,
    "container_events_logger": EVENTS_LOGGER,
    "container_default_ulimits": list(ULIMITS),
}


def render_confs(
    graphroot: Path,
    runroot: Path,
    *,
    driver: str = "overlay",
    insecure_registries: Iterable[str] = (),
) -> dict[str, str]:
    """Text of ``storage.conf``, ``containers.conf`` and ``registries.conf``."""
    storage = (
        "[storage]\n"
        f'driver = "{driver}"\n'
        f'graphroot = "{graphroot}"\n'
        f'runroot = "{runroot}"\n'
    )
    ulimits = ", ".join(f'"{u}"' for u in ULIMITS)
    containers = (
        "[containers]\n"
        f"default_ulimits = [{ulimits}]\n"
        'log_driver = "k8s-file"\n'
        "\n"
        "[engine]\n"
        f'runtime = "{RUNTIME}"\n'
        f'cgroup_manager = "{CGROUP_MANAGER}"\n'
        f'events_logger = "{EVENTS_LOGGER}"\n'
        'lock_type = "file"\n'
        f'tmp_dir = "{runroot}/libpod-tmp"\n'
        f'volume_path = "{graphroot}/volumes"\n'
    )
    registries = 'unqualified-search-registries = []\nshort-name-mode = "enforcing"\n'
    for loc in insecure_registries:
        registries += f'\n[[registry]]\nlocation = "{loc}"\ninsecure = true\n'
    return {
        "storage.conf": storage,
        "containers.conf": containers,
        "registries.conf": registries,
    }


# podman refuses a longer run root: "the specified runroot is longer than 50 characters".
RUNROOT_LIMIT = 50


@dataclass(frozen=True)
class PodmanEnv:
    """A podman store rooted at ``base`` (keep ``base`` short: socket paths live there)."""

    base: Path
    driver: str = "overlay"

    @property
    def graphroot(self) -> Path:
        return self.base / "root"

    @property
    def runroot(self) -> Path:
        near = self.base / "run"
        if len(str(near)) <= RUNROOT_LIMIT:
            return near
        # A store under a deep directory (a test worker's temp dir, a fleet dir a user chose)
        # keeps its runtime state under /run instead, named by the store's path: the same on
        # every use of this store, never another store's.
        return Path("/run/wheelfleet-pm") / hashlib.sha256(str(self.base).encode()).hexdigest()[:16]

    @property
    def conf_dir(self) -> Path:
        return self.base / "conf"

    def setup(self, insecure_registries: Iterable[str] = ()) -> PodmanEnv:
        """Write the three config files (idempotent) and return self."""
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        for name, text in render_confs(
            self.graphroot, self.runroot, driver=self.driver,
            insecure_registries=insecure_registries,
        ).items():
            (self.conf_dir / name).write_text(text)
        return self

    @property
    def env(self) -> dict[str, str]:
        """Environment that makes podman/skopeo/buildah use only this store."""
        return {
            "CONTAINERS_CONF": str(self.conf_dir / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(self.conf_dir / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(self.conf_dir / "registries.conf"),
        }

    def argv(self, *args: str) -> list[str]:
        # --root/--runroot repeat what storage.conf says: belt and braces against a
        # CONTAINERS_STORAGE_CONF that some outer environment might override.
        return ["podman", "--root", str(self.graphroot), "--runroot", str(self.runroot), *args]

    def podman(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run podman against this store (timeout always; raise on failure if ``check``)."""
        what = " ".join(["podman", *args]).replace("\n", " ")
        return run(self.argv(*args), what=what[:160], timeout=timeout, env=self.env, check=check)

    def reset(self, timeout: float = 120) -> None:
        """Remove every container and image in this store (not the store itself)."""
        self.podman("rm", "--all", "--force", timeout=timeout, check=False)
        self.podman("rmi", "--all", "--force", timeout=timeout, check=False)
