"""Compare every member of a wheel against ``.dist-info/RECORD`` (hash, size, presence).

The wheel spec requires each file except RECORD itself (and its signatures) to be listed with
a hash; installers reject mismatches, so a mismatch is a broken wheel. Members are hashed as
they stream past (``start`` gives the hash object, ``finish_member`` compares), never held.
"""

from __future__ import annotations

import base64
import csv
import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from .report import BUDGET_EXCEEDED, RECORD_MISMATCH, Problem, ProblemList

# Fixed-length digests of at least SHA-256's strength; md5/sha1 are forbidden by the wheel
# spec and shake_* have no fixed length (hashlib cannot even produce them without one).
SUPPORTED_ALGORITHMS = frozenset(
    {"sha224", "sha256", "sha384", "sha512", "sha3_224", "sha3_256", "sha3_384", "sha3_512",
     "blake2b", "blake2s"}
)


class RecordVerifier:
    """Checks members against RECORD rows; problems go to the wheel's ``ProblemList``."""

    def __init__(self, record_path: str, record_text: str | None, problems: ProblemList,
                 max_rows: int, *, unread: bool = False) -> None:
        """``record_text`` None: the wheel has no RECORD; ``unread``: it has one that was not
        read (over its budget, already reported), so nothing is compared."""
        self.record_path = record_path
        self._problems = problems
        dist_info = record_path.rsplit("/", 1)[0]
        # RECORD cannot hash itself; its signature files are added after it is written.
        self._exempt = {record_path, f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s"}
        self._entries: dict[str, tuple[str, str]] = {}
        self._usable = record_text is not None and not unread
        if unread:
            return
        if record_text is None:
            self._add(record_path, "RECORD is missing")
            return
        try:
            for row in csv.reader(_lines(record_text)):
                if not row:
                    continue
                path, digest, size = (row + ["", ""])[:3]
                self._entries[path] = (digest, size)
                if len(self._entries) > max_rows:
                    # Each row would be reported missing: a RECORD longer than the zip
                    # could ever be is refused instead of listed.
                    self._usable = False
                    self._problems.add(Problem(
                        BUDGET_EXCEEDED, record_path,
                        f"RECORD has more than {max_rows} rows (budget {max_rows}, as for zip "
                        "entries); RECORD was not checked"))
                    self._entries.clear()
                    return
        except csv.Error as exc:
            self._usable = False
            self._add(record_path, f"RECORD is not valid CSV: {exc}")

    def start(self, path: str) -> Any | None:
        """The hash object to feed ``path``'s bytes into, or None when there is nothing to
        compare (problems such as "not listed" are recorded here)."""
        if not self._usable or path in self._exempt:
            return None
        entry = self._entries.get(path)
        if entry is None:
            self._add(path, "file is not listed in RECORD")
            return None
        digest = entry[0]
        if not digest:
            self._add(path, "RECORD lists no hash for this file")
            return None
        algorithm = digest.partition("=")[0]
        if algorithm not in SUPPORTED_ALGORITHMS:
            self._add(path, f"RECORD uses unsupported hash algorithm {algorithm[:40]!r}")
            return None
        return hashlib.new(algorithm)

    def finish_member(self, path: str, size: int, hasher: Any | None) -> None:
        """Compare the size and (when ``start`` gave one) the hash of a member read whole."""
        if not self._usable or path in self._exempt or path not in self._entries:
            return
        digest, recorded_size = self._entries[path]
        if recorded_size and recorded_size != str(size):
            self._add(path, f"size {size} differs from RECORD's {recorded_size[:40]}")
        if hasher is None:
            return
        expected = digest.partition("=")[2]
        actual = base64.urlsafe_b64encode(hasher.digest()).rstrip(b"=").decode()
        if actual != expected.rstrip("="):
            self._add(path, f"{hasher.name} hash differs from RECORD")

    def finish(self, present: Iterable[str]) -> None:
        """Report RECORD rows whose file the archive does not hold at all."""
        if not self._usable:
            return
        names = set(present)
        for path in self._entries:
            if path not in names and path not in self._exempt:
                self._add(path, "listed in RECORD but missing from the wheel")

    def _add(self, path: str, message: str) -> None:
        self._problems.add(Problem(RECORD_MISMATCH, path, message))


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one at a time (a StringIO copy would cost four bytes a char)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end
