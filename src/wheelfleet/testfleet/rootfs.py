"""The cached Debian root filesystem every test host starts from.

Built once with ``debootstrap --variant=minbase`` into
``$XDG_CACHE_HOME/wheelfleet/rootfs/<key>/root`` (default ``~/.cache``), where *key* hashes
everything that shapes the result (format version, suite, package lists, mirrors). The build
happens in a ``.build-*`` directory that is renamed into place only when complete, so an
interrupted build is never used; a later build removes such leftovers.

The packages the lead's ``linux_base`` role installs are *downloaded* into the root's apt
cache (not installed): converges of the hosts then do real ``apt-get install`` runs
without waiting for the network.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import aptsources, system
from .errors import FleetError

# Bump when the way a root is built or configured changes, so old caches are not reused.
ROOTFS_FORMAT = 1

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
# What roles/linux_base installs; only downloaded into /var/cache/apt/archives.
DEFAULT_DOWNLOAD: tuple[str, ...] = (
    "build-essential",
    "python3-dev",
    "python3-venv",
    "python3-pip",
    "patchelf",
)

DEBOOTSTRAP_TIMEOUT = 1200
APT_UPDATE_TIMEOUT = 300
APT_DOWNLOAD_TIMEOUT = 1200
LOCK_TIMEOUT = DEBOOTSTRAP_TIMEOUT + APT_UPDATE_TIMEOUT + APT_DOWNLOAD_TIMEOUT

Log = Callable[[str], None]


def _quiet(_msg: str) -> None:
    """Default progress sink: say nothing."""


def cache_home() -> Path:
    """``$XDG_CACHE_HOME/wheelfleet`` or ``~/.cache/wheelfleet``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "wheelfleet"


@dataclass(frozen=True)
class RootfsSpec:
    """What goes into a cached root; its :meth:`key` names the cache entry."""

    suite: str = DEFAULT_SUITE
    include: tuple[str, ...] = DEFAULT_INCLUDE
    download: tuple[str, ...] = DEFAULT_DOWNLOAD
    mirrors: aptsources.Mirrors | None = field(default=None)

    def resolved(self) -> RootfsSpec:
        """This spec with the controller's mirrors filled in (read now, never hard-coded)."""
        if self.mirrors is not None:
            return self
        return RootfsSpec(
            self.suite, self.include, self.download, aptsources.mirrors_for(self.suite)
        )

    def key(self) -> str:
        """Short stable hash of the inputs (mirrors included: they end up in the root)."""
        data = {
            "format": ROOTFS_FORMAT,
            "suite": self.suite,
            "variant": "minbase",
            "include": sorted(set(self.include)),
            "download": sorted(set(self.download)),
            "mirrors": asdict(self.mirrors) if self.mirrors else None,
        }
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@contextmanager
def _locked(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[int]:
    """Hold an exclusive flock on *path*; yield its fd.

    The fd is handed to the build's commands (``pass_fds``), so the lock stays held while
    any process of an interrupted build still runs (debootstrap forks subshells that
    survive their parent): a new build never deletes a directory still being written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise FleetError(
                        f"rootfs cache {path.parent} is locked by another build for "
                        f"{timeout:.0f}s (lock: {path})"
                    ) from None
                time.sleep(1)
        try:
            yield fh.fileno()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def chroot_mounts(root: Path) -> Iterator[None]:
    """/proc and /dev inside *root* for the duration of a chroot command, then unmounted."""
    done: list[Path] = []
    try:
        system.mount(["-t", "proc", "proc"], root / "proc", what="mounting /proc in the rootfs")
        done.append(root / "proc")
        system.mount(["--bind", "/dev"], root / "dev", what="binding /dev into the rootfs")
        done.append(root / "dev")
        yield
    finally:
        for target in reversed(done):
            system.umount(target)


def _configure(root: Path, spec: RootfsSpec) -> None:
    """Point apt at the controller's mirrors and make the root safe to copy per host."""
    assert spec.mirrors is not None
    apt = root / "etc/apt"
    (apt / "sources.list").unlink(missing_ok=True)  # debootstrap's one-line version
    (apt / "sources.list.d").mkdir(parents=True, exist_ok=True)
    (apt / "sources.list.d/debian.sources").write_text(
        aptsources.render_sources(spec.suite, spec.mirrors)
    )
    options = aptsources.controller_apt_options()
    if options:
        (apt / "apt.conf.d/90wheelfleet-controller").write_text(options)
    # No init system runs in a test host: keep package scripts from starting daemons
    # (the one sshd per host is started by the fleet).
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# wheelfleet test host: no services started by dpkg\nexit 101\n")
    policy.chmod(0o755)
    # Host keys are per host (generated in each host's own filesystem at `up`); keys
    # baked into the shared root would make every host look the same.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()


def _predownload(root: Path, packages: Sequence[str], log_file: Path, lock_fd: int) -> None:
    """``apt-get install --download-only`` inside the root, nothing installed."""
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "DEBIAN_FRONTEND": "noninteractive",
        "LC_ALL": "C",
    }
    with chroot_mounts(root):
        system.run(
            ["chroot", root, "apt-get", "update"],
            what="apt-get update in the rootfs", timeout=APT_UPDATE_TIMEOUT,
            log=log_file, env=env, pass_fds=(lock_fd,),
        )
        if packages:
            system.run(
                ["chroot", root, "apt-get", "install", "-y", "--download-only", *packages],
                what="pre-downloading packages in the rootfs", timeout=APT_DOWNLOAD_TIMEOUT,
                log=log_file, env=env, pass_fds=(lock_fd,),
            )


def _build(spec: RootfsSpec, staging: Path, log: Log, lock_fd: int) -> None:
    root = staging / "root"
    log_file = staging / "build.log"
    staging.mkdir(parents=True)
    assert spec.mirrors is not None
    log(f"debootstrap {spec.suite} (minbase) from {spec.mirrors.archive} ...")
    system.run(
        [
            system.require_tool("debootstrap"), "--variant=minbase",
            "--include=" + ",".join(spec.include), "--components=main",
            spec.suite, root, spec.mirrors.archive,
        ],
        what="debootstrap", timeout=DEBOOTSTRAP_TIMEOUT, log=log_file, pass_fds=(lock_fd,),
    )
    _configure(root, spec)
    log(f"pre-downloading {' '.join(spec.download)} ...")
    _predownload(root, spec.download, log_file, lock_fd)


def ensure_rootfs(
    spec: RootfsSpec | None = None, *, cache_dir: Path | None = None, log: Log = _quiet
) -> Path:
    """Return the cached root for *spec*, building it first if needed (~1-2 minutes)."""
    system.require_root()
    system.require_tool("chroot", "coreutils")
    spec = (spec or RootfsSpec()).resolved()
    base = (cache_dir or cache_home()) / "rootfs"
    key = spec.key()
    final = base / key
    if (final / "meta.json").is_file():
        return final / "root"
    with _locked(base / f".lock-{key}") as lock_fd:
        if (final / "meta.json").is_file():  # built by someone else while we waited
            return final / "root"
        system.require_tool("debootstrap")
        # We hold the lock, so any staging dir of this key is an interrupted build.
        for stale in base.glob(f".build-{key}-*"):
            system.remove_tree(stale)
        if final.exists():  # incomplete entry without meta.json (should not happen)
            system.remove_tree(final)
        staging = base / f".build-{key}-{os.getpid()}"
        started = time.monotonic()
        try:
            _build(spec, staging, log, lock_fd)
            meta = {
                "key": key,
                "format": ROOTFS_FORMAT,
                "suite": spec.suite,
                "include": list(spec.include),
                "download": list(spec.download),
                "mirrors": asdict(spec.mirrors) if spec.mirrors else None,
                "build_seconds": round(time.monotonic() - started, 1),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            (staging / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
            os.rename(staging, final)  # atomic: the entry appears complete or not at all
        except BaseException:
            system.remove_tree(staging)
            raise
        log(f"rootfs {key} built in {time.monotonic() - started:.0f}s")
    return final / "root"
