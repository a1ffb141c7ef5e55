"""Mounts made by the lab, and deleting a tree that might still have some below it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .commands import run
from .errors import LabError


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
    except LabError:
        run(["umount", "--lazy", target], what=f"lazily unmounting {target}")


def remove_tree(path: Path) -> None:
    """``rm -rf`` *path*, but never while anything is mounted below it.

    Deleting through a forgotten bind mount of /dev or /proc would damage the controller,
    so a leftover mount is unmounted first and, if that fails, we refuse.
    """
    _unmount_below(path)
    if path.exists() or path.is_symlink():
        shutil.rmtree(path)


def _unmount_below(path: Path) -> None:
    for mnt in reversed(mounts_under(path)):
        umount(mnt)
    if mounts_under(path):
        raise LabError(f"refusing to delete {path}: something is still mounted below it")


def discard_tree(path: Path) -> None:
    """:func:`remove_tree`, without waiting for the deletion.

    Once nothing is mounted below it, *path* is moved aside at once (a rename on the same
    filesystem) and a detached ``rm -rf --one-file-system`` deletes it: a converged test
    host holds tens of thousands of files (its packages, its container store), and deleting
    them took 6 s a host here.  Where no rename is possible (another filesystem, a symlink)
    it is :func:`remove_tree`.
    """
    _unmount_below(path)
    spare = Path(tempfile.gettempdir())
    if not path.exists() or path.is_symlink() or spare.stat().st_dev != path.stat().st_dev:
        remove_tree(path)
        return
    trash = Path(tempfile.mkdtemp(prefix="wheelfleet-discarded-", dir=spare))
    path.rename(trash / path.name)
    subprocess.Popen(["rm", "-rf", "--one-file-system", str(trash)], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
