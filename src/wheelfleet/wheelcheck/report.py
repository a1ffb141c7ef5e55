"""The result model of a wheel check: a report per wheel holding a list of problems."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Problem codes. They are part of the CLI's JSON contract, so they never change spelling.
ARCH_MISMATCH = "arch-mismatch"
MISSING_ARCH_SLICE = "missing-arch-slice"
MACOS_MIN_VERSION_ABOVE_TAG = "macos-min-version-above-tag"
SYMBOLS_TOO_NEW = "symbols-too-new"
EXTERNAL_LIBRARY_NOT_BUNDLED = "external-library-not-bundled"
EXECUTABLE_STACK = "executable-stack"
ABI3_VIOLATION = "abi3-violation"
TAG_METADATA_MISMATCH = "tag-metadata-mismatch"
RECORD_MISMATCH = "record-mismatch"
UNREADABLE_WHEEL = "unreadable-wheel"
UNSAFE_PATH = "unsafe-path"
DUPLICATE_ENTRY = "duplicate-entry"
BUDGET_EXCEEDED = "budget-exceeded"
INTERNAL_ERROR = "internal-error"
PYTHON_ABI_MISMATCH = "python-abi-mismatch"
WINDOWS_CRT_MISMATCH = "windows-crt-mismatch"
LIBC_FAMILY_MISMATCH = "libc-family-mismatch"
BINARY_IN_PURE_WHEEL = "binary-in-pure-wheel"

ALL_CODES = (
    ARCH_MISMATCH,
    MISSING_ARCH_SLICE,
    MACOS_MIN_VERSION_ABOVE_TAG,
    SYMBOLS_TOO_NEW,
    EXTERNAL_LIBRARY_NOT_BUNDLED,
    EXECUTABLE_STACK,
    ABI3_VIOLATION,
    TAG_METADATA_MISMATCH,
    RECORD_MISMATCH,
    UNREADABLE_WHEEL,
    UNSAFE_PATH,
    DUPLICATE_ENTRY,
    BUDGET_EXCEEDED,
    INTERNAL_ERROR,
    PYTHON_ABI_MISMATCH,
    WINDOWS_CRT_MISMATCH,
    LIBC_FAMILY_MISMATCH,
    BINARY_IN_PURE_WHEEL,
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a wheel.

    ``file`` is the path inside the wheel the problem is about, or ``""`` when it concerns
    the wheel as a whole (e.g. it cannot be opened).
    """

    code: str
    file: str
    message: str


class ProblemList:
    """The problems of one wheel, of which at most ``limit`` are kept; the rest are counted,
    so a wheel with a million bad RECORD rows costs neither memory nor a huge report."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._listed: list[Problem] = []
        self._unlisted = 0

    def add(self, problem: Problem) -> None:
        if len(self._listed) < self.limit:
            self._listed.append(problem)
        else:
            self._unlisted += 1

    def extend(self, problems: list[Problem]) -> None:
        for problem in problems:
            self.add(problem)

    def __len__(self) -> int:
        return len(self._listed) + self._unlisted

    def finish(self) -> list[Problem]:
        """The listed problems, then one saying how many more were found, if any."""
        if not self._unlisted:
            return list(self._listed)
        return [*self._listed, Problem(
            BUDGET_EXCEEDED, "",
            f"{self._unlisted} more problems found but not listed (at most {self.limit} are "
            "listed per wheel)")]


@dataclass
class WheelReport:
    """Everything ``check_wheel`` found about one wheel; ``ok`` is true when nothing was found."""

    wheel: str
    ok: bool
    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def from_problems(cls, wheel: str, problems: list[Problem]) -> WheelReport:
        """Build a report whose ``ok`` is derived from the problems, so the two never disagree."""
        return cls(wheel=wheel, ok=not problems, problems=list(problems))

    def codes(self) -> set[str]:
        """The distinct problem codes, handy for callers that only want a verdict per check."""
        return {p.code for p in self.problems}

    def to_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` shape for this wheel."""
        return {
            "wheel": self.wheel,
            "ok": self.ok,
            "problems": [asdict(p) for p in self.problems],
        }
