"""``wheelfleet check-wheel [--json] [--jobs N] WHEEL...``

Exit status: 0 when every wheel is ok, 1 when any has a problem, 2 on usage errors (no wheel
given, a path that does not exist). Usage errors print one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .checker import check_wheel
from .report import WheelReport

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2

PROG = "wheelfleet check-wheel"


class UsageError(Exception):
    """Bad command line; the message is printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse would print the usage block and exit; we want one line and exit code 2.
        raise UsageError(message)


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Validate wheels: binary architectures, macOS minimum versions, "
        "manylinux/musllinux symbol versions, external libraries, executable stacks, abi3, "
        "WHEEL tags and RECORD.",
    )
    parser.add_argument("wheels", nargs="*", metavar="WHEEL", help="wheel files to check")
    parser.add_argument("--json", action="store_true", help="print a JSON list of reports")
    parser.add_argument(
        "--jobs",
        type=int,
        default=0,
        metavar="N",
        help="check wheels in N processes (default: one per CPU, at most one per wheel)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status instead of exiting."""
    try:
        args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        paths = _existing_paths(args.wheels)
        if args.jobs < 0:
            raise UsageError("--jobs must be 0 (automatic) or more")
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    reports = check_wheels(paths, jobs=args.jobs)
    if args.json:
        print(json.dumps([report.to_json() for report in reports], indent=2))
    else:
        for report in reports:
            print(format_report(report))
    return EXIT_OK if all(report.ok for report in reports) else EXIT_PROBLEMS


def check_wheels(paths: Sequence[Path], jobs: int = 0) -> list[WheelReport]:
    """Check wheels, in parallel processes when there are several (reading is CPU-bound:
    inflating and hashing every member), keeping the input order."""
    workers = jobs or min(len(paths), os.cpu_count() or 1)
    if workers <= 1 or len(paths) <= 1:
        return [check_wheel(path) for path in paths]
    # Imported only for batches: multiprocessing's import costs a one-wheel run ~40 ms.
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(check_wheel, paths))


def format_report(report: WheelReport) -> str:
    """The human-readable block for one wheel."""
    if report.ok:
        return f"{report.wheel}: OK"
    count = len(report.problems)
    lines = [f"{report.wheel}: {count} problem{'s' if count != 1 else ''}"]
    for problem in report.problems:
        where = problem.file or "<wheel>"
        lines.append(f"  [{problem.code}] {where}: {problem.message}")
    return "\n".join(lines)


def _existing_paths(names: list[str]) -> list[Path]:
    if not names:
        raise UsageError("no wheel given (usage: check-wheel [--json] WHEEL...)")
    paths = [Path(name) for name in names]
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file")
        if path.is_dir():
            raise UsageError(f"{path}: is a directory, not a wheel file")
    return paths


if __name__ == "__main__":
    sys.exit(main())
