"""``check_wheel``: read a wheel once, member by member, and run every check on it.

Members stream past once: each is inflated in chunks, hashed for RECORD as it goes, and only
binaries (recognised by their magic number) are kept — in a ``Spool`` — long enough to be
parsed into plain facts. All of it runs within the wheel's ``Budgets``; whatever goes wrong
(damage, an exceeded budget, a bug in one check) becomes a problem on this wheel.
"""

from __future__ import annotations

import os
import stat
import zipfile
from email.parser import HeaderParser
from pathlib import Path

from . import binary_format
from .archive import UnreadableWheel, WheelArchive
from .archive_checks import layout_problems
from .budgets import (
    DEFAULT_BUDGETS,
    BudgetExceeded,
    Budgets,
    Deadline,
    OutOfTime,
    ParseLimits,
    size_text,
    too_many,
)
from .checks import ALL_BINARY_CHECKS, PURE_WHEEL_CHECKS
from .platform_claims import PlatformClaims, claims_from_tags
from .record_check import RecordVerifier
from .report import (
    BUDGET_EXCEEDED,
    INTERNAL_ERROR,
    UNREADABLE_WHEEL,
    Problem,
    ProblemList,
    WheelReport,
)
from .spool import Spool
from .tag_metadata_check import check_tags
from .wheel_contents import BinaryFacts, WheelBinary, WheelContents

_MESSAGE_LIMIT = 300


def check_wheel(path: str | os.PathLike[str], budgets: Budgets | None = None) -> WheelReport:
    """Check one wheel file within ``budgets``; never raises for any input: damage, budgets
    and internal errors are problems in the report."""
    budgets = budgets or DEFAULT_BUDGETS
    wheel_path = Path(path)
    problems = ProblemList(budgets.problems)
    try:
        _check_path(wheel_path, budgets, problems)
    except UnreadableWheel as exc:
        problems.add(Problem(UNREADABLE_WHEEL, exc.file, str(exc)))
    except BudgetExceeded as exc:
        problems.add(Problem(BUDGET_EXCEEDED, exc.file, str(exc)))
    except Exception as exc:  # noqa: BLE001 - any bug must become a problem on this wheel
        problems.add(internal_error("", "wheelcheck", exc))
    return WheelReport.from_problems(wheel_path.name, problems.finish())


def internal_error(file: str, where: str, exc: BaseException) -> Problem:
    """A problem for an unexpected exception: one line, with its type and message."""
    text = " ".join(str(exc).split())[:_MESSAGE_LIMIT]
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return Problem(INTERNAL_ERROR, file, f"{where} failed: {detail}")


def _check_path(path: Path, budgets: Budgets, problems: ProblemList) -> None:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise UnreadableWheel(f"cannot open: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise UnreadableWheel("not a regular file")
    deadline = Deadline(budgets.seconds)
    with WheelArchive(path, budgets) as archive:
        _check_archive(archive, budgets, deadline, problems)


def _check_archive(archive: WheelArchive, budgets: Budgets, deadline: Deadline,
                   problems: ProblemList) -> None:
    claims = claims_from_tags(archive.filename_tags)
    contents = WheelContents(claims=claims)
    for member in archive.names:
        contents.add_file(member)
    problems.extend(layout_problems(archive.entries))
    wheel_info = archive.info(archive.wheel_metadata_path)
    wheel_text = archive.read_small(wheel_info, budgets.metadata_bytes, "WHEEL",
                                    deadline).decode("utf-8", errors="replace")
    problems.extend(check_tags(archive.wheel_metadata_path, archive.filename_tags,
                               archive.metadata_tags(wheel_text, budgets.tags)))
    root_is_purelib = HeaderParser().parsestr(wheel_text).get("Root-Is-Purelib", "")
    contents.root_is_purelib = str(root_is_purelib).strip().lower() == "true"
    record = _record_verifier(archive, budgets, deadline, problems)
    inflated = 0
    for info in archive.members:
        deadline.check(info.filename)
        if refusal := _refuse_member(info, budgets):
            problems.add(Problem(BUDGET_EXCEEDED, info.filename, refusal))
            continue
        inflated += info.file_size
        if inflated > budgets.wheel_bytes:
            problems.add(Problem(
                BUDGET_EXCEEDED, info.filename,
                f"the members up to this one inflate to {size_text(inflated)}, over the budget "
                f"of {size_text(budgets.wheel_bytes)} per wheel; the rest were not read"))
            break
        try:
            binary = _read_member(archive, info, record, claims, budgets, deadline)
        except UnreadableWheel as exc:
            problems.add(Problem(UNREADABLE_WHEEL, exc.file, str(exc)))
            continue
        if isinstance(binary, Problem):
            problems.add(binary)
        elif binary is not None:
            contents.binaries.append(binary)
    record.finish(archive.names)
    checks = PURE_WHEEL_CHECKS if claims.is_pure else ALL_BINARY_CHECKS
    for binary in contents.binaries:
        for binary_check in checks:
            deadline.check(binary.path)
            try:
                problems.extend(binary_check(binary, contents))
            except BudgetExceeded:
                raise
            except Exception as exc:  # noqa: BLE001 - one check's bug is this wheel's problem
                problems.add(internal_error(binary.path, f"the {_check_name(binary_check)} "
                                            "check", exc))


def _record_verifier(archive: WheelArchive, budgets: Budgets, deadline: Deadline,
                     problems: ProblemList) -> RecordVerifier:
    path = archive.record_path
    if path not in archive.names:
        return RecordVerifier(path, None, problems, budgets.entries)
    try:
        data = archive.read_small(archive.info(path), budgets.record_bytes, "RECORD", deadline)
    except BudgetExceeded as exc:
        problems.add(Problem(BUDGET_EXCEEDED, exc.file, f"{exc}; RECORD was not checked"))
        return RecordVerifier(path, None, problems, budgets.entries, unread=True)
    return RecordVerifier(path, data.decode("utf-8", errors="replace"), problems,
                          budgets.entries)


def _refuse_member(info: zipfile.ZipInfo, budgets: Budgets) -> str | None:
    """Why a member is not read at all (its declared size is beyond a budget), or None."""
    if info.file_size > budgets.member_bytes:
        return str(too_many("the member's uncompressed size", info.file_size,
                            budgets.member_bytes, "bytes"))
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > budgets.ratio_applies_above and ratio > budgets.compression_ratio:
        return (f"member inflates {info.file_size} bytes from {info.compress_size} "
                f"({ratio:.0f}:1, budget {budgets.compression_ratio}:1 for members over "
                f"{budgets.ratio_applies_above // (1024 * 1024)} MiB): a zip bomb")
    return None


def _read_member(archive: WheelArchive, info: zipfile.ZipInfo, record: RecordVerifier,
                 claims: PlatformClaims, budgets: Budgets,
                 deadline: Deadline) -> WheelBinary | Problem | None:
    """Stream one member: hash it for RECORD, and parse it if it is a binary."""
    name = info.filename
    hasher = record.start(name)
    head = b""
    kind: str | None = None
    with Spool() as spool:
        for chunk in archive.iter_chunks(info, deadline):
            if hasher is not None:
                hasher.update(chunk)
            if len(head) < binary_format.SNIFF_SIZE:
                head += chunk[: binary_format.SNIFF_SIZE - len(head)]
                kind = binary_format.sniff(head)
            if kind is not None:
                spool.write(chunk)
        record.finish_member(name, info.file_size, hasher)
        if kind is None:
            return None
        facts = _parse_binary(name, kind, spool, claims, ParseLimits(budgets, deadline, name))
    if facts is None or isinstance(facts, Problem):
        return facts
    return WheelBinary(name, facts)


def _parse_binary(name: str, kind: str, spool: Spool, claims: PlatformClaims,
                  limits: ParseLimits) -> BinaryFacts | Problem | None:
    """Parsed facts for an executable member, None for any other file, a Problem if broken."""
    want_symbols = claims.wants_imported_symbols
    # Each parser is imported on first need: a Linux-only batch never loads macholib/pefile.
    try:
        if kind == binary_format.ELF:
            from .elf_reader import read_elf

            return read_elf(spool.stream(), limits, want_imported_symbols=want_symbols)
        if kind == binary_format.MACHO:
            from .macho_reader import read_macho

            return read_macho(spool.stream(), limits, want_imported_symbols=want_symbols)
        from .pe_reader import is_pe, read_pe

        buffer = spool.buffer()
        if not is_pe(buffer):
            return None
        kind = binary_format.PE
        return read_pe(buffer, limits, want_imported_symbols=want_symbols)
    except OutOfTime:
        raise
    except BudgetExceeded as exc:
        return Problem(BUDGET_EXCEEDED, name, f"{kind} file: {exc}")
    except Exception as exc:  # noqa: BLE001
        # The readers, macholib's structures and pefile raise many unrelated types
        # (ValueError, struct.error, PEFormatError, ...) on a damaged body; whatever the
        # type, a file with an executable magic that its parser rejects cannot be loaded
        # either. In a pure wheel such a file is only data that happens to start like one.
        if claims.is_pure:
            return None
        text = " ".join(str(exc).split())[:_MESSAGE_LIMIT]
        return Problem(UNREADABLE_WHEEL, name, f"{kind} file cannot be parsed: {text}")


def _check_name(binary_check: object) -> str:
    module = getattr(binary_check, "__module__", "") or ""
    return module.rsplit(".", 1)[-1].replace("_", "-")
