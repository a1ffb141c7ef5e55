"""Every external command of the lab runs through :func:`run`.

The lab shells out to debootstrap, chroot, mount, ssh-keygen, tar, pip, podman and skopeo.
Any of them can hang on a dead mirror or a stuck lock, so no call runs without a timeout, and
a failure is one readable :class:`LabError` line that names the step and its last words.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import LabError

# Seconds. Mount/umount/keygen are quick; a stuck one means something is wrong (e.g. a
# hung FUSE or NFS mount below the fleet dir), so fail fast rather than hang the CLI.
QUICK_TIMEOUT = 60

_PR_SET_PDEATHSIG = 1


def require_root() -> None:
    """Refuse early: mounts, chroot, namespaces and podman's storage all need root."""
    if os.geteuid() != 0:
        raise LabError(
            "the local lab needs root (it mounts, chroots and starts sshd); run as root"
        )


def require_tool(name: str, package: str | None = None) -> str:
    """Return the absolute path of *name* or fail naming the Debian package to install."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if not found:
        raise LabError(f"{name} not found; install it: apt-get install {package or name}")
    return found


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
    argv: Sequence[str | os.PathLike[str]],
    *,
    what: str,
    timeout: float = QUICK_TIMEOUT,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    log: Path | None = None,
    pass_fds: Sequence[int] = (),
) -> subprocess.CompletedProcess[str]:
    """Run *argv* (no shell) and return the finished process, its output as text.

    *env* is merged over this process's environment: podman and debootstrap need PATH and
    friends. With *log*, stdout and stderr are appended to that file instead of captured (for
    long, chatty steps such as debootstrap) and an error points at it. *pass_fds* are inherited
    (e.g. a lock that must stay held while any part of the command still runs). A timeout always
    raises; a non-zero exit raises when *check* is true.
    """
    args = [os.fspath(a) for a in argv]
    full_env = {**os.environ, **(env or {})}
    try:
        if log is None:
            proc = subprocess.run(
                args, capture_output=True, text=True, timeout=timeout, env=full_env,
                stdin=subprocess.DEVNULL, check=False, preexec_fn=_die_with_parent,
                pass_fds=pass_fds,
            )
        else:
            with log.open("a") as fh:
                fh.write("$ " + " ".join(args) + "\n")
                fh.flush()
                proc = subprocess.run(
                    args, stdout=fh, stderr=subprocess.STDOUT, text=True, timeout=timeout,
                    env=full_env, stdin=subprocess.DEVNULL, check=False,
                    preexec_fn=_die_with_parent, pass_fds=pass_fds,
                )
            proc.stdout = proc.stderr = ""
    except subprocess.TimeoutExpired as exc:
        where = f" (log: {log})" if log else ""
        raise LabError(f"{what} timed out after {exc.timeout:.0f}s{where}") from None
    except FileNotFoundError:
        raise LabError(f"{what} failed: {args[0]} not found") from None
    if check and proc.returncode != 0:
        if log is None:
            detail = _last_line(proc.stderr) or _last_line(proc.stdout)
        else:
            detail = f"{_last_line(log.read_text(errors='replace')[-4000:])} (full log: {log})"
        raise LabError(f"{what} failed (exit {proc.returncode}): {detail}")
    return proc
