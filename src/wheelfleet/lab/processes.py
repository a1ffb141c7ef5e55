"""The process table as the lab reads it: which pid is still *ours*, and stopping it.

A pid alone is not an identity (pids are recycled), so the lab records a pid together with its
kernel start time and checks both before it signals anything.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path


def starttime(pid: int) -> int | None:
    """Start time (clock ticks since boot) of *pid*, or None if it is gone."""
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


def cmdline(pid: int) -> list[str]:
    """``/proc/PID/cmdline`` as a list of arguments (empty when unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def link(pid: int, name: str) -> str | None:
    """``readlink /proc/PID/NAME`` (root, exe, ns/uts ...), or None if unreadable."""
    try:
        return os.readlink(f"/proc/{pid}/{name}")
    except OSError:
        return None


def pids_with_link(name: str, value: str) -> list[int]:
    """All pids whose ``/proc/PID/NAME`` link reads *value* (e.g. one UTS namespace)."""
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and link(int(e), name) == value]


def reap(pid: int) -> None:
    """Collect *pid*'s exit status if it is our child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def terminate(pids: Sequence[int], *, grace: float = 5.0) -> None:
    """SIGTERM *pids*, wait up to *grace* seconds, then SIGKILL whatever is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        live = [p for p in pids if starttime(p) is not None]
        for pid in live:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            for pid in live:
                reap(pid)
            if all(starttime(p) is None for p in live):
                return
            time.sleep(0.05)
