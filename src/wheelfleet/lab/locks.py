"""Exclusive ``flock`` locks: one fleet up/down per fleet dir, one build per cached root."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import LabError


@contextmanager
def exclusive(path: Path, *, wait: float, busy: str) -> Iterator[int]:
    """Hold an exclusive flock on *path* (created if missing) and yield its fd.

    Waits up to *wait* seconds for another holder (0: not at all), then fails with *busy*.
    A flock dies with the last process holding its fd, so a crashed holder never leaves the
    lock taken; a caller may pass the fd on to child processes to keep it held while they run.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LabError(busy) from None
                time.sleep(1)
        try:
            yield fh.fileno()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
