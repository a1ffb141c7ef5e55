"""Open a wheel and stream its members straight from the zip, without extracting.

The zip's central directory is sized and counted before ``zipfile`` parses it (it holds every
entry in memory), and members are inflated here chunk by chunk rather than by ``zipfile``:
that bounds memory whatever a member inflates to, and lets every member be checked against
what the directory says about it — local header present and naming the same file, exactly
the declared number of bytes, the declared CRC-32, no data after the compressed stream.

Everything that makes a wheel unusable as an archive (not a zip, truncated, damaged member,
no ``.dist-info/WHEEL``, a name that is not a wheel name) is raised as ``UnreadableWheel`` with
a one-line reason and the member concerned, so callers report it instead of a traceback.
"""

from __future__ import annotations

import bz2
import lzma
import math
import struct
import zipfile
import zlib
from collections.abc import Iterator
from email.parser import HeaderParser
from pathlib import Path
from typing import BinaryIO, Protocol

from packaging.tags import Tag, parse_tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from .budgets import Budgets, Deadline, too_many


class UnreadableWheel(Exception):
    """The wheel cannot be read as a wheel; ``str(exc)`` is the reason, ``file`` the member."""

    def __init__(self, reason: str, file: str = "") -> None:
        super().__init__(reason)
        self.file = file


# The errors zipfile/zlib raise on damaged archives, whatever the damage.
ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
                  ValueError, NotImplementedError, struct.error, lzma.LZMAError)

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_CENTRAL_HEADER = struct.Struct("<4s4B4HL2L5H2L")
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_MAX_COMMENT = 0xFFFF
_FLAG_ENCRYPTED = 0x1
_FLAG_UTF8 = 0x800

_READ_SIZE = 256 * 1024  # compressed bytes read at a time
_CHUNK_SIZE = 1024 * 1024  # at most this many decompressed bytes per chunk


class WheelArchive:
    """A wheel opened for reading; use as a context manager."""

    def __init__(self, path: Path, budgets: Budgets) -> None:
        self.path = path
        try:
            name, version, _build, tags = parse_wheel_filename(path.name)
        except InvalidWheelFilename as exc:
            raise UnreadableWheel(f"not a wheel file name: {exc}") from None
        self.project = canonicalize_name(name)
        self.version = str(version)
        self.filename_tags: frozenset[Tag] = tags
        try:
            self._fp: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed in __exit__/close
        except OSError as exc:
            raise UnreadableWheel(f"cannot open: {exc.strerror}") from None
        try:
            _check_central_directory(self._fp, budgets)
            self._zip = zipfile.ZipFile(self._fp)
            # Every entry, in archive order, directories and repeated names included.
            self.entries = self._zip.infolist()
            self.members = [info for info in self.entries if not info.is_dir()]
            self.names = [info.filename for info in self.members]
            self.dist_info = self._find_dist_info()
        except ARCHIVE_ERRORS as exc:
            self.close()
            raise UnreadableWheel(f"not a readable zip archive: {exc}") from None
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> WheelArchive:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._fp.close()

    def iter_chunks(self, info: zipfile.ZipInfo, deadline: Deadline) -> Iterator[bytes]:
        """A member's bytes in chunks of at most 1 MiB, verified against the directory."""
        name = info.filename
        try:
            yield from self._iter_chunks(info, deadline)
        except ARCHIVE_ERRORS as exc:
            raise UnreadableWheel(f"cannot read member: {exc}", name) from None

    def read_small(self, info: zipfile.ZipInfo, limit: int, what: str,
                   deadline: Deadline) -> bytes:
        """A whole (metadata) member, refused with ``budget-exceeded`` above ``limit``."""
        if info.file_size > limit:
            raise too_many(what, info.file_size, limit, "bytes", info.filename)
        return b"".join(self.iter_chunks(info, deadline))

    def info(self, name: str) -> zipfile.ZipInfo:
        """The entry an installer would extract for ``name`` (the last of repeated names)."""
        return self._zip.getinfo(name)

    @property
    def wheel_metadata_path(self) -> str:
        return f"{self.dist_info}/WHEEL"

    @property
    def record_path(self) -> str:
        return f"{self.dist_info}/RECORD"

    def _iter_chunks(self, info: zipfile.ZipInfo, deadline: Deadline) -> Iterator[bytes]:
        name = info.filename
        if info.flag_bits & _FLAG_ENCRYPTED:
            raise UnreadableWheel("member is encrypted", name)
        self._fp.seek(info.header_offset)
        header = self._fp.read(_LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            raise UnreadableWheel("no local file header where the directory points", name)
        fields = _LOCAL_HEADER.unpack(header)
        flags, name_length, extra_length = fields[3], fields[10], fields[11]
        raw_name = self._fp.read(name_length)
        local_name = raw_name.decode("utf-8" if flags & _FLAG_UTF8 else "cp437")
        if local_name != info.orig_filename:
            raise UnreadableWheel(
                f"local header names {local_name!r}, the central directory {info.orig_filename!r}",
                name,
            )
        self._fp.seek(extra_length, 1)
        decoder = _decoder(info)
        remaining = info.compress_size
        produced = 0
        crc = 0
        while True:
            deadline.check(name)
            data = self._fp.read(min(_READ_SIZE, remaining)) if remaining else b""
            if remaining and not data:
                raise UnreadableWheel("archive ends inside this member's data", name)
            remaining -= len(data)
            for chunk in decoder.feed(data, final=not remaining):
                produced += len(chunk)
                if produced > info.file_size:
                    raise UnreadableWheel(
                        f"data inflates to more than the {info.file_size} bytes the zip "
                        "directory declares", name)
                crc = zlib.crc32(chunk, crc)
                yield chunk
            if not remaining:
                break
        if produced != info.file_size:
            raise UnreadableWheel(
                f"data inflates to {produced} bytes, the zip directory declares "
                f"{info.file_size}", name)
        if crc != info.CRC:
            raise UnreadableWheel(
                f"CRC-32 of the data is {crc:08x}, the zip directory declares {info.CRC:08x}",
                name)

    def metadata_tags(self, text: str, limit: int) -> set[Tag]:
        """The tags the ``Tag:`` lines of ``.dist-info/WHEEL`` declare (expanded); a compressed
        tag set is a product (``a.b-c.d-e.f`` is 8 tags), so its size is checked first."""
        tags: set[Tag] = set()
        expanded = 0
        for line in HeaderParser().parsestr(text).get_all("Tag") or []:
            parts = line.strip().split("-")
            expanded += math.prod(len(part.split(".")) for part in parts)
            if expanded > limit:
                raise too_many("tags the WHEEL Tag lines expand to", expanded, limit,
                               file=self.wheel_metadata_path)
            try:
                tags.update(parse_tag(line.strip()))
            except ValueError:
                continue  # a malformed line matches no filename tag: reported as a mismatch
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


class _Decoder(Protocol):
    def feed(self, data: bytes, final: bool) -> Iterator[bytes]: ...


class _Stored:
    def feed(self, data: bytes, final: bool) -> Iterator[bytes]:
        for start in range(0, len(data), _CHUNK_SIZE):
            yield data[start : start + _CHUNK_SIZE]


class _Deflated:
    """Raw deflate, with the output of each call capped (a 256 KiB read can hold 250 MB)."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)

    def feed(self, data: bytes, final: bool) -> Iterator[bytes]:
        pending = data
        while pending:
            yield self._inflate.decompress(pending, _CHUNK_SIZE)
            pending = self._inflate.unconsumed_tail
        if final:
            yield self._inflate.flush()
            if not self._inflate.eof:
                raise zipfile.BadZipFile("compressed data ends before the deflate stream does")
            if self._inflate.unused_data:
                raise zipfile.BadZipFile("data follows the end of the deflate stream")


class _Buffered:
    """bzip2 / LZMA decompressors, which buffer input themselves and cap output per call."""

    def __init__(self, method: int) -> None:
        self._method = method
        self._decompressor: bz2.BZ2Decompressor | lzma.LZMADecompressor | None = (
            bz2.BZ2Decompressor() if method == zipfile.ZIP_BZIP2 else None)
        self._header = b""

    def feed(self, data: bytes, final: bool) -> Iterator[bytes]:
        if self._decompressor is None:
            data = self._start_lzma(data)
        decompressor = self._decompressor
        if decompressor is not None:
            output = decompressor.decompress(data, _CHUNK_SIZE)
            yield output
            while not decompressor.eof and not decompressor.needs_input:
                yield decompressor.decompress(b"", _CHUNK_SIZE)
        if final and self._method == zipfile.ZIP_BZIP2:
            if decompressor is None or not decompressor.eof:
                raise zipfile.BadZipFile("compressed data ends before the bzip2 stream does")

    def _start_lzma(self, data: bytes) -> bytes:
        """zip's LZMA: a 4-byte header (version, properties size), properties, raw LZMA1."""
        self._header += data
        if len(self._header) < 4:
            return b""
        (props_size,) = struct.unpack("<H", self._header[2:4])
        if len(self._header) < 4 + props_size:
            return b""
        props = self._header[4 : 4 + props_size]
        if len(props) < 5:
            raise zipfile.BadZipFile("LZMA properties are truncated")
        lc_lp_pb = props[0]
        (dict_size,) = struct.unpack("<I", props[1:5])
        lzma1 = {"id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": lc_lp_pb % 9,
                 "lp": (lc_lp_pb // 9) % 5, "pb": lc_lp_pb // 45}
        self._decompressor = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma1])
        rest = self._header[4 + props_size :]
        self._header = b""
        return rest


def _decoder(info: zipfile.ZipInfo) -> _Decoder:
    method = info.compress_type
    if method == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise UnreadableWheel(
                f"stored (uncompressed) member with {info.compress_size} bytes of data, the "
                f"zip directory declares {info.file_size}", info.filename)
        return _Stored()
    if method == zipfile.ZIP_DEFLATED:
        return _Deflated()
    if method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        return _Buffered(method)
    raise UnreadableWheel(f"compression method {method} is not one zip readers support",
                          info.filename)


def _check_central_directory(fp: BinaryIO, budgets: Budgets) -> None:
    """Refuse a central directory over its budgets before zipfile holds it in memory.

    Damage (no end record, bad signatures) is left to zipfile, which reports it.
    """
    fp.seek(0, 2)
    size = fp.tell()
    tail_size = min(size, _EOCD.size + _MAX_COMMENT)
    fp.seek(size - tail_size)
    tail = fp.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        return
    eocd_offset = size - tail_size + at
    record = _EOCD.unpack_from(tail, at)
    cd_size, end = record[5], eocd_offset
    if at >= _ZIP64_LOCATOR.size and tail[at - _ZIP64_LOCATOR.size :].startswith(b"PK\x06\x07"):
        locator = _ZIP64_LOCATOR.unpack_from(tail, at - _ZIP64_LOCATOR.size)
        fp.seek(locator[2])
        raw = fp.read(_ZIP64_EOCD.size)
        if len(raw) == _ZIP64_EOCD.size and raw.startswith(b"PK\x06\x06"):
            cd_size, end = _ZIP64_EOCD.unpack(raw)[8], locator[2]
    if cd_size > budgets.central_directory_bytes:
        raise too_many("the zip's central directory", cd_size,
                       budgets.central_directory_bytes, "bytes")
    start = end - cd_size
    if start < 0:
        return
    fp.seek(start)
    directory = fp.read(cd_size)
    count = 0
    offset = 0
    while offset + _CENTRAL_HEADER.size <= len(directory):
        if directory[offset : offset + 4] != b"PK\x01\x02":
            break
        header = _CENTRAL_HEADER.unpack_from(directory, offset)
        offset += _CENTRAL_HEADER.size + header[12] + header[13] + header[14]
        count += 1
    if count > budgets.entries:
        raise too_many("entries in the zip", count, budgets.entries)
