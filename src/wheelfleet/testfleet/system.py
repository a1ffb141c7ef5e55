"""Thin, timed wrappers over the Linux tools the test fleet needs.

Everything that touches the machine (commands, mounts, processes) goes through here so
that every step has a timeout and fails with one readable line (:class:`FleetError`).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from .errors import FleetError

# Seconds. Mount/umount/keygen are quick; a stuck one means something is wrong (e.g. a
# hung FUSE or NFS mount below the fleet dir), so fail fast rather than hang the CLI.
QUICK_TIMEOUT = 60


def require_root() -> None:
    """Refuse early: mounts, chroot and namespaces all need root."""
    if os.geteuid() != 0:
        raise FleetError(
            "the test fleet needs root (it mounts, chroots and starts sshd); run as root"
        )


def require_tool(name: str, package: str | None = None) -> str:
    """Return the absolute path of *name* or fail naming the Debian package to install."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if not found:
        hint = f"; install it: apt-get install {package or name}"
        raise FleetError(f"{name} not found{hint}")
    return found


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL if we die, so no step outlives its caller.

    Without this, a killed ``up`` would leave e.g. debootstrap writing into a staging dir
    that the next builder is about to delete.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _last_line(text: str | bytes | None) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    what: str,
    timeout: float = QUICK_TIMEOUT,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    pass_fds: Sequence[int] = (),
) -> str:
    """Run *cmd*; return its stdout, or raise one-line :class:`FleetError`.

    With *log*, stdout and stderr are appended to that file instead (for long, chatty
    steps such as debootstrap) and the error message points at it. *pass_fds* are
    inherited by the command (e.g. a lock that must stay held while any of it runs).
    """
    argv = [os.fspath(c) for c in cmd]
    try:
        if log is not None:
            with log.open("ab") as fh:
                fh.write(("$ " + " ".join(argv) + "\n").encode())
                fh.flush()
                logged = subprocess.run(
                    argv, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout, env=env,
                    stdin=subprocess.DEVNULL, check=False, preexec_fn=_die_with_parent,
                    pass_fds=pass_fds,
                )
            if logged.returncode != 0:
                tail = _last_line(log.read_text(errors="replace")[-4000:])
                raise FleetError(
                    f"{what} failed (exit {logged.returncode}): {tail} (full log: {log})"
                )
            return ""
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=env,
            stdin=subprocess.DEVNULL, check=False, preexec_fn=_die_with_parent,
            pass_fds=pass_fds,
        )
    except subprocess.TimeoutExpired as exc:
        where = f" (log: {log})" if log else ""
        raise FleetError(f"{what} timed out after {exc.timeout:.0f}s{where}") from None
    except FileNotFoundError:
        raise FleetError(f"{what} failed: {argv[0]} not found") from None
    if proc.returncode != 0:
        detail = _last_line(proc.stderr) or _last_line(proc.stdout)
        raise FleetError(f"{what} failed (exit {proc.returncode}): {detail}")
    return proc.stdout


# --- mounts -----------------------------------------------------------------------------


def _unescape(field: str) -> str:
    # /proc/self/mountinfo escapes space, tab, newline and backslash as octal (\040 ...).
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mountpoints() -> list[str]:
    """Mount points of this mount namespace, in mount order (parents before children)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        return [_unescape(line.split()[4]) for line in fh if line.strip()]


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below *path*, in mount order."""
    top = os.path.realpath(path)
    return [m for m in mountpoints() if m == top or m.startswith(top.rstrip("/") + "/")]


def is_mountpoint(path: Path) -> bool:
    """True when *path* itself is a mount point in this namespace."""
    return os.path.realpath(path) in mountpoints()


def mount(args: Sequence[str | os.PathLike[str]], target: Path, *, what: str) -> None:
    """``mount ARGS TARGET``; the target must exist (created if missing)."""
    target.mkdir(parents=True, exist_ok=True)
    run(["mount", *args, target], what=what)


def umount(target: str | Path) -> None:
    """Unmount *target*; if it is busy, detach it lazily so teardown always finishes.

    A lazy unmount removes the mount from the namespace at once (so nothing below the
    fleet dir stays visible) and lets the kernel free it when the last user lets go.
    """
    target = os.fspath(target)
    if target not in mountpoints():
        return
    try:
        run(["umount", target], what=f"unmounting {target}")
    except FleetError:
        run(["umount", "--lazy", target], what=f"lazily unmounting {target}")


# --- processes ----------------------------------------------------------------------------


def proc_starttime(pid: int) -> int | None:
    """Start time (clock ticks since boot) of *pid*, or None if it is gone.

    Recorded with a pid so that a recycled pid is never mistaken for our process.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            stat = fh.read()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie is dead for our purposes
        return None
    return int(fields[19])


def proc_link(pid: int, name: str) -> str | None:
    """``readlink /proc/PID/NAME`` (root, exe, ns/uts ...), or None if unreadable."""
    try:
        return os.readlink(f"/proc/{pid}/{name}")
    except OSError:
        return None


def pids_with_link(name: str, value: str) -> list[int]:
    """All pids whose ``/proc/PID/NAME`` link reads *value* (e.g. one UTS namespace)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and proc_link(int(entry), name) == value:
            found.append(int(entry))
    return found


def reap(pid: int) -> None:
    """Collect *pid*'s exit status if it is our child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def terminate(pids: Sequence[int], *, grace: float = 5.0) -> None:
    """SIGTERM *pids*, wait up to *grace* seconds, then SIGKILL whatever is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        live = [p for p in pids if proc_starttime(p) is not None]
        for pid in live:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            for pid in live:
                reap(pid)
            if all(proc_starttime(p) is None for p in live):
                return
            time.sleep(0.05)


# --- files ------------------------------------------------------------------------------


def remove_tree(path: Path) -> None:
    """``rm -rf`` *path*, but never while anything is mounted below it.

    Deleting through a forgotten bind mount of /dev or /proc would damage the controller,
    so a leftover mount is unmounted first and, if that fails, we refuse.
    """
    for mnt in reversed(mounts_under(path)):
        umount(mnt)
    if mounts_under(path):
        raise FleetError(f"refusing to delete {path}: something is still mounted below it")
    if path.exists() or path.is_symlink():
        shutil.rmtree(path)
