"""Hold one binary member for its parser: in memory when small, in a temporary file when not.

Parsers need random access (ELF section headers sit at the end of the file), so a binary
cannot be parsed from the inflating stream. Real libraries reach 1.5 GB, so anything over
``IN_MEMORY_LIMIT`` goes to a temporary file (``TMPDIR``) and is read from there, which keeps
the memory of a check flat whatever the size of the wheel's binaries.
"""

from __future__ import annotations

import io
import mmap
import tempfile
from typing import BinaryIO

IN_MEMORY_LIMIT = 16 * 1024 * 1024


class Spool:
    """Write chunks, then read them back as a stream or a buffer; use as a context manager."""

    def __init__(self, in_memory_limit: int = IN_MEMORY_LIMIT) -> None:
        self._limit = in_memory_limit
        self._memory = io.BytesIO()
        self._file: BinaryIO | None = None
        self._map: mmap.mmap | None = None
        self.size = 0

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._file is None and self.size > self._limit:
            self._file = tempfile.TemporaryFile(prefix="wheelcheck-")  # noqa: SIM115
            self._file.write(self._memory.getbuffer())
            self._memory = io.BytesIO()
        (self._file or self._memory).write(chunk)

    def stream(self) -> BinaryIO:
        """A seekable binary stream over everything written, positioned at the start."""
        stream = self._file or self._memory
        stream.seek(0)
        return stream

    def buffer(self) -> bytes | mmap.mmap:
        """Everything written as one buffer (a read-only map of the file when spooled)."""
        if self._file is None:
            return self._memory.getvalue()
        if self._map is None:
            self._file.flush()
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        return self._map

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._file is not None:
            self._file.close()
            self._file = None
        self._memory = io.BytesIO()
