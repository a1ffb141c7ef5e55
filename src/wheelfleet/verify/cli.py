"""``wheelfleet verify INVENTORY``: the nightly verification as one command.

Exit status: 0 when every host is reachable, drift-free and passed every check; 1 when the
fleet failed verification (the report says why); 2 for bad input (one line, nothing touched);
3 when verify itself could not finish (e.g. the report directory is not writable).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("inventory", help="pyinfra inventory file of the fleet")
    parser.add_argument("--limit", action="append", metavar="HOST",
                        help="only this host (repeatable)")
    parser.add_argument("--out", metavar="DIR",
                        help="write the report here (default: REPORTS_ROOT/<UTC timestamp>/)")
    parser.add_argument("--reports-root", default="reports", metavar="DIR",
                        help="where nightly report directories go (default: reports)")
    parser.add_argument("--timeout", type=int, default=7200, metavar="SECONDS",
                        help="limit for each of the two pyinfra runs (default: 7200)")
    parser.add_argument("--step-timeout", type=int, default=300, metavar="SECONDS",
                        help="limit for any single remote step (a fact, a file transfer); "
                        "a host that passes it fails alone (default: 300)")
    parser.add_argument("--drift-timeout", type=int, default=1800, metavar="SECONDS",
                        help="deadline of each host's dry run (default: 1800); a host's "
                        "health check is bounded by its health_timeout budget")


def execute(args: argparse.Namespace) -> int:
    from wheelfleet.fleetfile import load_fleet
    from wheelfleet.verify.run import run_verify

    # Refused before connecting: a host that would trust an unverified host key.
    load_fleet(args.inventory, args.limit, host_keys=True)

    code, _report, _paths = run_verify(args.inventory, limit=args.limit, out=args.out,
                                       reports_root=args.reports_root, timeout=args.timeout,
                                       step_timeout=args.step_timeout,
                                       drift_timeout=args.drift_timeout, echo=_echo)
    return code


def _echo(line: str) -> None:
    # Flushed per line: under systemd/cron stdout is a pipe and progress would otherwise lag.
    print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``wheelfleet verify ARGV...`` (argv without the subcommand); return the exit status."""
    from wheelfleet.cli import run_as

    return run_as("verify", argv)


if __name__ == "__main__":
    sys.exit(main())
