"""Fixed budgets every wheel is checked within, so a hostile wheel cannot stall or exhaust us.

Defaults are sized for real wheels: the largest on the package index are hundreds of MB with
single libraries over 1 GB, tens of thousands of files, RECORDs of a few MB and binaries with a
few hundred load commands, sections or imported libraries. Members are streamed and hashed
chunk by chunk, so memory does not grow with their size; what does grow (the zip directory,
RECORD, per-binary tables, the list of problems) is bounded here.

A budget that is exceeded is reported as a ``budget-exceeded`` problem saying which budget,
the value found and the limit; it is never an exception that escapes ``check_wheel``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

T = TypeVar("T")

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True)
class Budgets:
    """Limits for checking one wheel. All are per wheel unless the name says otherwise."""

    member_bytes: int = 4 * GiB  # decompressed size of one member
    wheel_bytes: int = 8 * GiB  # decompressed size of all members together
    # A member over ``ratio_applies_above`` bytes may inflate at most this many times its
    # compressed size (deflate peaks near 1000:1 on zeros; real files stay far below 100:1).
    compression_ratio: int = 200
    ratio_applies_above: int = 16 * MiB
    entries: int = 100_000  # names in the zip's central directory
    central_directory_bytes: int = 16 * MiB
    record_bytes: int = 16 * MiB  # .dist-info/RECORD (rows are also bounded by ``entries``)
    metadata_bytes: int = 1 * MiB  # .dist-info/WHEEL
    tags: int = 10_000  # tags the WHEEL Tag lines expand to (py2.py3-none-any is 2)
    load_commands: int = 10_000  # per Mach-O slice
    load_command_bytes: int = 32 * MiB  # per Mach-O slice (sizeofcmds)
    sections: int = 65_535  # sections / program headers per ELF, sections per PE or Mach-O
    imports: int = 200_000  # libraries, version needs and imported symbols per binary
    problems: int = 100  # problems listed per wheel; the rest are counted
    seconds: float = 120.0  # wall time per wheel
    # Hard cap on a worker process's heap (RLIMIT_DATA) when wheels are checked in worker
    # processes; checking one wheel needs well under 512 MB, so this only stops runaways.
    worker_memory_bytes: int = 1 * GiB

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Budgets:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


DEFAULT_BUDGETS = Budgets()


class BudgetExceeded(Exception):
    """A budget was exceeded; ``file`` is the member concerned ("" for the wheel)."""

    def __init__(self, message: str, file: str = "") -> None:
        super().__init__(message)
        self.file = file


class OutOfTime(BudgetExceeded):
    """The time budget of the wheel ran out: checking stops with what was found so far."""


class Deadline:
    """The wall-clock end of one wheel's time budget; ``check()`` is called in every loop."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def check(self, file: str = "") -> None:
        if time.monotonic() > self._end:
            raise OutOfTime(
                f"checking took longer than the time budget of {self.seconds:g} s per wheel; "
                "stopped here",
                file,
            )


@dataclass
class ParseLimits:
    """What a binary parser may spend on one member: counts from the budgets, the deadline."""

    budgets: Budgets
    deadline: Deadline
    file: str

    def at_most(self, what: str, found: int, limit: int, unit: str = "") -> None:
        if found > limit:
            raise too_many(what, found, limit, unit, self.file)

    def counted(self, items: Iterable[T], what: str, limit: int) -> Iterator[T]:
        """``items``, stopping with ``budget-exceeded`` after ``limit`` of them."""
        for number, item in enumerate(items, 1):
            if number > limit:
                raise BudgetExceeded(f"{what}: more than {limit} (budget {limit})", self.file)
            if number % 4096 == 0:
                self.deadline.check(self.file)
            yield item


def too_many(what: str, found: int, limit: int, unit: str = "", file: str = "") -> BudgetExceeded:
    """The uniform message of a count or size budget: what, the value found, the limit."""
    if unit == "bytes":
        return BudgetExceeded(f"{what} is {size_text(found)} (budget {size_text(limit)})", file)
    return BudgetExceeded(f"{what}: {found} (budget {limit})", file)


def size_text(n: int) -> str:
    """A byte count for messages: 1.5 GiB, 300.0 MiB, 12 bytes."""
    for unit, factor in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} bytes"
