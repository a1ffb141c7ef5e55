"""Open a wheel and read its members and metadata straight from the zip, without extracting.

Everything that makes a wheel unusable as an archive (not a zip, truncated, bad CRC, no
``.dist-info/WHEEL``, a name that is not a wheel name) is raised as ``UnreadableWheel`` with a
one-line reason, so callers can turn it into a problem record instead of a traceback.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from email.parser import HeaderParser
from pathlib import Path

from packaging.tags import Tag, parse_tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename


class UnreadableWheel(Exception):
    """The wheel cannot be read as a wheel; ``str(exc)`` is the reason, ``file`` the member."""

    def __init__(self, reason: str, file: str = "") -> None:
        super().__init__(reason)
        self.file = file


# The errors zipfile/zlib raise on damaged archives, whatever the damage.
ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
                  ValueError, NotImplementedError)


class WheelArchive:
    """A wheel opened for reading; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            name, version, _build, tags = parse_wheel_filename(path.name)
        except InvalidWheelFilename as exc:
            raise UnreadableWheel(f"not a wheel file name: {exc}") from None
        self.project = canonicalize_name(name)
        self.version = str(version)
        self.filename_tags: frozenset[Tag] = tags
        try:
            self._zip = zipfile.ZipFile(path)
        except ARCHIVE_ERRORS as exc:
            raise UnreadableWheel(f"not a readable zip archive: {exc}") from None
        try:
            self.members = [info for info in self._zip.infolist() if not info.is_dir()]
            self.dist_info = self._find_dist_info()
        except UnreadableWheel:
            self._zip.close()
            raise

    def __enter__(self) -> WheelArchive:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._zip.close()

    @property
    def names(self) -> list[str]:
        return [info.filename for info in self.members]

    def read(self, name: str) -> bytes:
        """One member's bytes; damage (bad CRC, truncation) becomes UnreadableWheel."""
        try:
            return self._zip.read(name)
        except ARCHIVE_ERRORS as exc:
            raise UnreadableWheel(f"cannot read member: {exc}", name) from None

    def iter_members(self) -> Iterator[tuple[str, bytes]]:
        """Each file member with its content, one at a time (only one is held in memory)."""
        for info in self.members:
            yield info.filename, self.read(info.filename)

    @property
    def wheel_metadata_path(self) -> str:
        return f"{self.dist_info}/WHEEL"

    @property
    def record_path(self) -> str:
        return f"{self.dist_info}/RECORD"

    def metadata_tags(self) -> set[Tag]:
        """The tags the ``Tag:`` lines of ``.dist-info/WHEEL`` declare (expanded)."""
        text = self.read(self.wheel_metadata_path).decode("utf-8", errors="replace")
        message = HeaderParser().parsestr(text)
        tags: set[Tag] = set()
        for line in message.get_all("Tag") or []:
            tags.update(parse_tag(line.strip()))
        return tags

    def _find_dist_info(self) -> str:
        """The ``.dist-info`` directory holding WHEEL, preferring the one named like the file."""
        candidates = sorted(
            {
                name.split("/", 1)[0]
                for name in self.names
                if name.count("/") == 1
                and name.endswith("/WHEEL")
                and name.split("/", 1)[0].endswith(".dist-info")
            }
        )
        if not candidates:
            raise UnreadableWheel("no .dist-info/WHEEL in the archive")
        for candidate in candidates:
            stem = candidate[: -len(".dist-info")]
            project, _, _version = stem.partition("-")
            if canonicalize_name(project) == self.project:
                return candidate
        return candidates[0]
