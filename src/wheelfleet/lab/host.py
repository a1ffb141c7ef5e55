"""One test host: its own filesystem over the cached root, mounts, keys and sshd.

Layout of host *tfN* in the fleet dir (``hosts/tfN/``)::

    upper/ work/   overlayfs upper and work dirs: everything the host writes lands here
    root/          the host's filesystem (overlay of the cached root; a copy as fallback)
    containers/    bind-mounted at /var/lib/containers (podman's overlay storage cannot sit
                   on an overlayfs, so it gets a plain directory of the fleet dir's fs)
    sshd.log       sshd's stderr (-e)

sshd runs as ``unshare --uts --mount -- chroot root /usr/sbin/sshd -D -e``: its own UTS
namespace gives each host its own ``hostname`` and marks every process of the host (so
teardown can find exactly those), and its own mount namespace keeps mounts made inside
the host (e.g. by podman) from leaking into the controller's mount table.

Every step that changes the machine records itself in :class:`HostRecord` and calls the
*save* callback at once, so a crash at any point leaves a state file that ``down`` can
use to undo exactly what was done.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import commands, mounts, processes
from .errors import LabError

SSHD_READY_TIMEOUT = 20.0
KEYGEN_TIMEOUT = 60
COPY_TIMEOUT = 600

Save = Callable[[], None]


@dataclass
class HostRecord:
    """What was created for one host; stored in ``fleet.json``."""

    name: str
    address: str
    port: int
    dir: str
    mode: str = ""  # "overlay" or "copy"
    mounts: list[str] = field(default_factory=list)  # in mount order
    pid: int | None = None
    starttime: int | None = None
    uts_ns: str | None = None
    host_keys: list[str] = field(default_factory=list)  # "ssh-ed25519 AAAA..." lines

    @property
    def root(self) -> Path:
        """The host's filesystem as seen from the controller."""
        return Path(self.dir) / "root"

    @property
    def log(self) -> Path:
        """sshd's log file."""
        return Path(self.dir) / "sshd.log"


# --- creation ---------------------------------------------------------------------------


def check_address_free(address: str, port: int) -> None:
    """Fail clearly when something already listens on *address*:*port*."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # sshd sets SO_REUSEADDR too, so TIME_WAIT leftovers of a previous fleet are fine.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise LabError(
                    f"address {address}:{port} is already in use "
                    "(another fleet or sshd?): take that fleet down, "
                    "or choose another --port/--offset"
                ) from None
            raise LabError(f"cannot bind {address}:{port}: {exc.strerror}") from None


def _mount(rec: HostRecord, save: Save, args: list[str], target: Path, what: str) -> None:
    mounts.mount(args, target, what=f"{rec.name}: {what}")
    rec.mounts.append(os.fspath(target))
    save()


def _make_filesystem(rec: HostRecord, lower: Path, save: Save) -> None:
    """Overlay the cached root; copy it when overlayfs is unavailable (e.g. nested)."""
    hdir = Path(rec.dir)
    upper, work = hdir / "upper", hdir / "work"
    upper.mkdir(parents=True, exist_ok=True)
    work.mkdir(exist_ok=True)
    try:
        _mount(
            rec, save,
            ["-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}"],
            rec.root, "overlay mount",
        )
        rec.mode = "overlay"
    except LabError:
        # Typically: the fleet dir itself is on overlayfs. A full copy is slower (~500 MB)
        # but behaves the same from the host's point of view.
        commands.run(
            ["cp", "-a", "--reflink=auto", f"{lower}/.", rec.root],
            what=f"{rec.name}: copying the rootfs", timeout=COPY_TIMEOUT,
        )
        rec.mode = "copy"
    save()


def _cgroup_mounts() -> list[str]:
    """The controller's mounts under /sys/fs/cgroup (v1 hierarchies, v2, or hybrid)."""
    top = "/sys/fs/cgroup"
    return [m for m in mounts.mountpoints() if m == top or m.startswith(top + "/")]


def _mount_api_filesystems(rec: HostRecord, save: Save) -> None:
    """What programs in the host expect: /proc, /sys (with cgroups), /dev, /run ...

    /dev/shm and /run are fresh tmpfs per host (sshd and podman keep state in /run);
    /sys/fs/cgroup mirrors the controller's hierarchies so podman/runc can create cgroups.
    """
    root = rec.root
    _mount(rec, save, ["-t", "proc", "proc"], root / "proc", "/proc")
    _mount(rec, save, ["--bind", "/sys"], root / "sys", "/sys")
    for cg in _cgroup_mounts():
        _mount(rec, save, ["--bind", cg], root / cg.lstrip("/"), cg)
    _mount(rec, save, ["--bind", "/dev"], root / "dev", "/dev")
    _mount(rec, save, ["--bind", "/dev/pts"], root / "dev/pts", "/dev/pts")
    _mount(rec, save, ["-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "shm"],
           root / "dev/shm", "/dev/shm")
    _mount(rec, save, ["-t", "tmpfs", "-o", "mode=755,nosuid,nodev", "run"], root / "run", "/run")
    storage = Path(rec.dir) / "containers"
    storage.mkdir(exist_ok=True)
    _mount(rec, save, ["--bind", os.fspath(storage)], root / "var/lib/containers",
           "/var/lib/containers")


SSHD_DROPIN = """\
# Written by wheelfleet's lab for test host {name}.
# Loopback only: a test host is never reachable from outside this machine.
ListenAddress {address}:{port}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
# No PAM: there is no login session machinery (systemd, loginuid) in a test host.
UsePAM no
"""


def _configure(rec: HostRecord, client_pubkey: str) -> None:
    """Identity, sshd settings and the client key, written into the host's own fs."""
    root = rec.root
    (root / "etc/hostname").write_text(rec.name + "\n")
    (root / "etc/hosts").write_text(
        f"127.0.0.1\tlocalhost\n{rec.address}\t{rec.name}\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    # Name resolution as on the controller right now (the cached copy may be stale).
    resolv = root / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    shutil.copyfile("/etc/resolv.conf", resolv)
    dropin = root / "etc/ssh/sshd_config.d/00-wheelfleet.conf"
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_text(SSHD_DROPIN.format(name=rec.name, address=rec.address, port=rec.port))
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    ssh_dir.chmod(0o700)
    auth = ssh_dir / "authorized_keys"
    auth.write_text(client_pubkey.strip() + "\n")
    auth.chmod(0o600)
    (root / "run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir


def _generate_host_keys(rec: HostRecord) -> None:
    """``ssh-keygen -A`` inside the host: keys of its own, read back for known_hosts."""
    commands.run(
        ["chroot", rec.root, "/usr/bin/ssh-keygen", "-A"],
        what=f"{rec.name}: generating host keys", timeout=KEYGEN_TIMEOUT,
    )
    lines = []
    # ed25519 first: it is what the client prefers and what the known_hosts example shows.
    for kind in ("ed25519", "ecdsa", "rsa"):
        pub = rec.root / f"etc/ssh/ssh_host_{kind}_key.pub"
        if pub.is_file():
            keytype, blob = pub.read_text().split()[:2]
            lines.append(f"{keytype} {blob}")
    if not lines:
        raise LabError(f"{rec.name}: ssh-keygen -A produced no host keys")
    rec.host_keys = lines


def create(rec: HostRecord, lower: Path, client_pubkey: str, save: Save) -> None:
    """Build the host's filesystem and mounts, configure it and make its host keys."""
    Path(rec.dir).mkdir(parents=True, exist_ok=True)
    _make_filesystem(rec, lower, save)
    _mount_api_filesystems(rec, save)
    _configure(rec, client_pubkey)
    _generate_host_keys(rec)
    save()


# --- sshd -------------------------------------------------------------------------------


def _wait_ready(rec: HostRecord, proc: subprocess.Popen[bytes]) -> None:
    """Until sshd answers with its banner on the host's address, or fail with its log."""
    deadline = time.monotonic() + SSHD_READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = rec.log.read_text(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise LabError(f"{rec.name}: sshd exited ({proc.returncode}): {tail[0]}")
        try:
            with socket.create_connection((rec.address, rec.port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise LabError(f"{rec.name}: sshd not answering on {rec.address}:{rec.port} "
                     f"after {SSHD_READY_TIMEOUT:.0f}s (log: {rec.log})")


def start_sshd(rec: HostRecord, save: Save) -> None:
    """Start the host's sshd (foreground mode, detached from our session)."""
    argv = [
        commands.require_tool("unshare", "util-linux"), "--uts", "--mount", "--propagation",
        "private", "--", "/bin/sh", "-c",
        # Each exec replaces the process, so the pid we record ends up being sshd itself.
        'hostname "$1" && exec chroot "$2" /usr/sbin/sshd -D -e', "sh", rec.name,
        os.fspath(rec.root),
    ]
    with rec.log.open("ab") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the CLI must not reach the hosts
        )
    rec.pid, rec.starttime = proc.pid, processes.starttime(proc.pid)
    save()  # recorded before waiting, so a crash right now still leaves it to `down`
    _wait_ready(rec, proc)
    rec.uts_ns = processes.link(proc.pid, "ns/uts")
    save()


def sshd_running(rec: HostRecord) -> bool:
    """True when the recorded pid is still the sshd this fleet started."""
    if rec.pid is None or rec.starttime is None:
        return False
    if processes.starttime(rec.pid) != rec.starttime:
        return False  # gone, or the pid now belongs to another process
    return any("sshd" in arg for arg in processes.cmdline(rec.pid))


# --- teardown -----------------------------------------------------------------------------


def _host_pids(rec: HostRecord) -> list[int]:
    """Processes of this host: the sshd and everything in its UTS namespace."""
    pids = []
    if sshd_running(rec):
        assert rec.pid is not None
        pids.append(rec.pid)
    own_uts = processes.link(os.getpid(), "ns/uts")
    if rec.uts_ns and rec.uts_ns != own_uts:
        for pid in processes.pids_with_link("ns/uts", rec.uts_ns):
            # A namespace id could be reused after the host died: also require that the
            # process lives inside this host's filesystem.
            root = processes.link(pid, "root")
            if root and (root == os.fspath(rec.root) or root.startswith(f"{rec.root}/")):
                pids.append(pid)
    return sorted(set(pids))


def stop(rec: HostRecord, *, wait: bool = True) -> None:
    """Kill the host's processes, unmount what was mounted, delete the host dir (``wait``
    False: moved aside and deleted in the background, see ``mounts.discard_tree``)."""
    processes.terminate(_host_pids(rec))
    hdir = Path(rec.dir)
    # Mounts that appeared below the host beyond ours (only possible if something in the
    # host ran in the controller's namespace) go first, deepest (latest) first.
    ours = set(rec.mounts)
    for mnt in reversed(mounts.mounts_under(hdir)):
        if mnt not in ours:
            mounts.umount(mnt)
    for mnt in reversed(rec.mounts):
        mounts.umount(mnt)
    rec.mounts.clear()
    (mounts.remove_tree if wait else mounts.discard_tree)(hdir)
