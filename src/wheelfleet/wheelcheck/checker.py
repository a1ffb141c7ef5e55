"""``check_wheel``: read a wheel once, member by member, and run every check on it."""

from __future__ import annotations

import os
from pathlib import Path

from . import binary_format
from .archive import UnreadableWheel, WheelArchive
from .checks import ALL_BINARY_CHECKS
from .platform_claims import claims_from_tags
from .record_check import RecordVerifier
from .report import UNREADABLE_WHEEL, Problem, WheelReport
from .tag_metadata_check import check_tags
from .wheel_contents import BinaryFacts, WheelBinary, WheelContents


def check_wheel(path: str | os.PathLike[str]) -> WheelReport:
    """Check one wheel file; never raises for a bad wheel, it reports ``unreadable-wheel``."""
    wheel_path = Path(path)
    name = wheel_path.name
    try:
        archive = WheelArchive(wheel_path)
    except UnreadableWheel as exc:
        return WheelReport.from_problems(name, [Problem(UNREADABLE_WHEEL, exc.file, str(exc))])
    with archive:
        problems = _check_archive(archive)
    return WheelReport.from_problems(name, problems)


def _check_archive(archive: WheelArchive) -> list[Problem]:
    problems: list[Problem] = []
    claims = claims_from_tags(archive.filename_tags)
    contents = WheelContents(claims=claims)
    for member in archive.names:
        contents.add_file(member)
    try:
        problems += check_tags(
            archive.wheel_metadata_path, archive.filename_tags, archive.metadata_tags()
        )
        record_text = (
            archive.read(archive.record_path).decode("utf-8", errors="replace")
            if archive.record_path in archive.names
            else None
        )
        record = RecordVerifier(archive.record_path, record_text)
        want_symbols = claims.abi3_version is not None
        for member, data in archive.iter_members():
            record.check(member, data)
            if claims.is_pure:
                continue  # pure wheels get no binary checks, by contract
            facts_or_problem = _parse_binary(member, data, want_symbols)
            if isinstance(facts_or_problem, Problem):
                problems.append(facts_or_problem)
            elif facts_or_problem is not None:
                contents.binaries.append(WheelBinary(member, facts_or_problem))
        problems += record.finish()
    except UnreadableWheel as exc:
        problems.append(Problem(UNREADABLE_WHEEL, exc.file, str(exc)))
        return problems
    for binary in contents.binaries:
        for binary_check in ALL_BINARY_CHECKS:
            problems += binary_check(binary, contents)
    return problems


def _parse_binary(member: str, data: bytes, want_symbols: bool) -> BinaryFacts | Problem | None:
    """Parsed facts for an executable member, None for any other file, a Problem if broken."""
    kind = binary_format.sniff(data[: binary_format.SNIFF_SIZE], data)
    if kind is None:
        return None
    # Each parser is imported on first need: a Linux-only batch never loads macholib/pefile.
    try:
        if kind == binary_format.ELF:
            from .elf_reader import read_elf

            return read_elf(data, want_imported_symbols=want_symbols)
        if kind == binary_format.MACHO:
            from .macho_reader import read_macho

            return read_macho(member, data, want_imported_symbols=want_symbols)
        from .pe_reader import read_pe

        return read_pe(data)
    except Exception as exc:
        # pyelftools, macholib and pefile raise many unrelated types (ELFError, struct.error,
        # PEFormatError, ValueError, ...) on a damaged body; whatever the type, a file with an
        # executable magic that its parser rejects cannot be loaded either.
        return Problem(UNREADABLE_WHEEL, member, f"{kind} file cannot be parsed: {exc}")
