"""``wheelfleet check-wheel [--json] [--jobs N] WHEEL...``

Exit status: 0 when every wheel is ok, 1 when any has a problem, 2 on usage errors (no wheel
given, a path that does not exist). Usage errors print one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from wheelfleet.errors import FAILED, OK, UsageError

from .report import WheelReport


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Validate wheels: binary architectures, macOS minimum versions, "
        "manylinux/musllinux symbol versions, external libraries, executable stacks, abi3, "
        "WHEEL tags and RECORD."
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


def execute(args: argparse.Namespace) -> int:
    paths = _existing_paths(args.wheels)
    if args.jobs < 0:
        raise UsageError("--jobs must be 0 (automatic) or more")
    reports = check_wheels(paths, jobs=args.jobs)
    if args.json:
        print(json.dumps([report.to_json() for report in reports], indent=2))
    else:
        for report in reports:
            print(format_report(report))
    return OK if all(report.ok for report in reports) else FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """``wheelfleet check-wheel ARGV...``; returns the exit status instead of exiting."""
    from wheelfleet.cli import run_as

    return run_as("check-wheel", argv)


def check_wheels(paths: Sequence[Path], jobs: int = 0) -> list[WheelReport]:
    """Check wheels in worker processes (reading is CPU-bound: inflating and hashing every
    member), each under the default budgets and a hard timeout, keeping the input order."""
    from .pool import check_wheels as check_in_workers

    return check_in_workers(paths, jobs=jobs)


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
