"""``wheelfleet testfleet up N | down | status``: the lab's test hosts from the command line.

Exit status: 0 done; 1 a lab step failed (one line on stderr, anything ``up`` started is taken
down again); 2 bad command line; 130 interrupted (Ctrl-C or SIGTERM, after the same cleanup).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from wheelfleet.errors import OK

from . import fleet
from .errors import LabError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = "Debian test hosts with their own sshd on 127.0.0.N (needs root)."
    sub = parser.add_subparsers(dest="command", required=True)
    dir_help = f"fleet directory (default: {fleet.DEFAULT_DIR}/ in the current directory)"

    up = sub.add_parser("up", help="start N hosts tf1..tfN (reuses a matching fleet)")
    up.add_argument("count", type=int, metavar="N")
    up.add_argument("--dir", type=Path, default=fleet.DEFAULT_DIR, help=dir_help)
    up.add_argument("--port", type=int, default=22, help="sshd port on every host (22)")
    up.add_argument("--offset", type=int, default=10,
                    help="host i listens on 127.0.0.(OFFSET+i) (default 10)")

    down = sub.add_parser("down", help="stop the hosts, unmount, remove host dirs")
    down.add_argument("--dir", type=Path, default=fleet.DEFAULT_DIR, help=dir_help)

    status = sub.add_parser("status", help="show the fleet's hosts")
    status.add_argument("--dir", type=Path, default=fleet.DEFAULT_DIR, help=dir_help)
    status.add_argument("--json", action="store_true", help="machine-readable output")


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that `up` cleans up what it started.

    A KeyboardInterrupt rather than a LabError: code that collects LabErrors to carry on
    (teardown of several hosts) must not swallow it.
    """


def _terminated(signum: int, _frame: object) -> None:
    raise _Terminated


def execute(args: argparse.Namespace) -> int:
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        _act(args)
    except OSError as exc:  # e.g. the fleet dir is not writable: a lab step that failed
        raise LabError(str(exc)) from exc
    finally:
        signal.signal(signal.SIGTERM, previous)
    return OK


def _act(args: argparse.Namespace) -> None:
    if args.command == "up":
        started = time.monotonic()
        fl = fleet.up(args.count, args.dir, port=args.port, first_octet_offset=args.offset,
                      log=_progress)
        _progress(f"{fl.count} host(s) up in {time.monotonic() - started:.1f}s")
        print(f"inventory: {fl.inventory}")
        print(f"try: pyinfra -y {fl.inventory} exec -- hostname")
    elif args.command == "down":
        fleet.down(args.dir)
        _progress(f"fleet in {args.dir} is down")
    else:
        _print_status(fleet.status(args.dir), args.json)


def _progress(msg: str) -> None:
    print(f"testfleet: {msg}", file=sys.stderr, flush=True)


def _print_status(info: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(info, indent=2))
        return
    if not info["hosts"]:
        print(f"no fleet in {info['fleet_dir']}")
        return
    print(f"fleet {info['fleet_dir']}: {'up' if info['up'] else 'DEGRADED'}")
    print(f"inventory: {info['inventory']}")
    for h in info["hosts"]:  # type: ignore[attr-defined]
        state = "running" if h["sshd_running"] else "STOPPED"
        print(f"  {h['name']:<5} {h['address']}:{h['port']:<5} sshd {state:<8} "
              f"pid {h['pid']}  mounts {h['mounts_present']}/{h['mounts_recorded']}")


def main(argv: Sequence[str] | None = None) -> int:
    """``wheelfleet testfleet ARGV...`` (argv without the subcommand); return the exit status."""
    from wheelfleet.cli import run_as

    return run_as("testfleet", argv)


if __name__ == "__main__":
    sys.exit(main())
