"""Compare every member of a wheel against ``.dist-info/RECORD`` (hash, size, presence).

The wheel spec requires each file except RECORD itself (and its signatures) to be listed with
a hash; installers reject mismatches, so a mismatch is a broken wheel.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io

from .report import RECORD_MISMATCH, Problem

# Weak digests the wheel spec forbids in RECORD.
_FORBIDDEN_ALGORITHMS = {"md5", "sha1"}


class RecordVerifier:
    """Feed it each member's bytes with ``check``; then ``finish`` for files RECORD lists
    that the archive does not contain."""

    def __init__(self, record_path: str, record_text: str | None) -> None:
        self.record_path = record_path
        dist_info = record_path.rsplit("/", 1)[0]
        # RECORD cannot hash itself; its signature files are added after it is written.
        self._exempt = {record_path, f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s"}
        self._entries: dict[str, tuple[str, str]] = {}
        self._seen: set[str] = set()
        self.problems: list[Problem] = []
        if record_text is None:
            self.problems.append(Problem(RECORD_MISMATCH, record_path, "RECORD is missing"))
            self._missing_record = True
            return
        self._missing_record = False
        for row in csv.reader(io.StringIO(record_text)):
            if not row:
                continue
            path, digest, size = (row + ["", ""])[:3]
            self._entries[path] = (digest, size)

    def check(self, path: str, data: bytes) -> None:
        """Verify one member against its RECORD row."""
        self._seen.add(path)
        if self._missing_record or path in self._exempt:
            return
        entry = self._entries.get(path)
        if entry is None:
            self._add(path, "file is not listed in RECORD")
            return
        digest, size = entry
        if size and size != str(len(data)):
            self._add(path, f"size {len(data)} differs from RECORD's {size}")
        if not digest:
            self._add(path, "RECORD lists no hash for this file")
            return
        algorithm, _, expected = digest.partition("=")
        if algorithm in _FORBIDDEN_ALGORITHMS or algorithm not in hashlib.algorithms_available:
            self._add(path, f"RECORD uses unsupported hash algorithm {algorithm!r}")
            return
        actual = base64.urlsafe_b64encode(hashlib.new(algorithm, data).digest())
        if actual.rstrip(b"=").decode() != expected.rstrip("="):
            self._add(path, f"{algorithm} hash differs from RECORD")

    def finish(self) -> list[Problem]:
        """All problems, including RECORD rows whose file is absent from the archive."""
        for path in self._entries:
            if path not in self._seen and path not in self._exempt:
                self._add(path, "listed in RECORD but missing from the wheel")
        return self.problems

    def _add(self, path: str, message: str) -> None:
        self.problems.append(Problem(RECORD_MISMATCH, path, message))
