"""Atomic file writes: a report directory never holds a half-written file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> Path:
    """Write *data* to a temporary file beside *path*, then rename it into place.

    A crashed or killed run then leaves either the old file or the new one, never a truncated
    ``report.json`` that would later break the trend section or a CI parser.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; reports are meant to be served and read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
