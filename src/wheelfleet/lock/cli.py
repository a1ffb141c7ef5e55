"""``wheelfleet lock INVENTORY [--overlay FILE]``: record the sha256 of everything the fleet's
selection downloads that the matrix has none for (see :mod:`wheelfleet.lock.run`)."""

from __future__ import annotations

import argparse
import sys

from wheelfleet.lock import fetch


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.add_argument("inventory", help="the fleet inventory whose selection is locked")
    parser.add_argument("--overlay", help="record into this overlay (default: each host's "
                        "matrix_overlay)")
    parser.add_argument("--limit", action="append", help="only this host (repeatable)")
    parser.add_argument("--timeout", type=float, default=fetch.DOWNLOAD_TIMEOUT,
                        help="seconds one artifact download may take (default %(default)g)")


def execute(args: argparse.Namespace) -> int:
    from wheelfleet.lock.run import lock_fleet

    return lock_fleet(args.inventory, args.overlay, args.limit,
                      warn=lambda line: print(line, file=sys.stderr),
                      download_timeout=args.timeout)


def main(argv: list[str] | None = None) -> int:
    from wheelfleet.cli import run_as

    return run_as("lock", argv)


if __name__ == "__main__":
    sys.exit(main())
