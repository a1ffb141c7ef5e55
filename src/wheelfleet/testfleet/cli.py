"""``wheelfleet testfleet up N | down | status``: the command-line face of the fleet.

The lead's CLI calls :func:`main` with the arguments after ``testfleet``. Failures are
reported as one line on stderr (exit 1), never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from . import fleet
from .errors import FleetError


def _progress(msg: str) -> None:
    print(f"testfleet: {msg}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wheelfleet testfleet",
        description="Debian test hosts with their own sshd on 127.0.0.N (needs root).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    dir_help = f"fleet directory (default: {fleet.DEFAULT_DIR}/ in the current directory)"

    p_up = sub.add_parser("up", help="start N hosts tf1..tfN (reuses a matching fleet)")
    p_up.add_argument("count", type=int, metavar="N")
    p_up.add_argument("--dir", type=Path, default=fleet.DEFAULT_DIR, help=dir_help)
    p_up.add_argument("--port", type=int, default=22, help="sshd port on every host (22)")
    p_up.add_argument("--offset", type=int, default=10,
                      help="host i listens on 127.0.0.(OFFSET+i) (default 10)")

    p_down = sub.add_parser("down", help="stop the hosts, unmount, remove host dirs")
    p_down.add_argument("--dir", type=Path, default=fleet.DEFAULT_DIR, help=dir_help)

    p_status = sub.add_parser("status", help="show the fleet's hosts")
    p_status.add_argument("--dir", type=Path, default=fleet.DEFAULT_DIR, help=dir_help)
    p_status.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


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


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that `up` cleans up what it started."""


def _terminated(signum: int, _frame: object) -> None:
    raise _Terminated


def main(argv: list[str]) -> int:
    """Run one testfleet command; return the process exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return int(exc.code or 0)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "up":
            started = time.monotonic()
            fl = fleet.up(args.count, args.dir, port=args.port,
                          first_octet_offset=args.offset, log=_progress)
            _progress(f"{fl.count} host(s) up in {time.monotonic() - started:.1f}s")
            print(f"inventory: {fl.inventory}")
            print(f"try: pyinfra -y {fl.inventory} exec -- hostname")
        elif args.command == "down":
            fleet.down(args.dir)
            _progress(f"fleet in {args.dir} is down")
        else:
            _print_status(fleet.status(args.dir), args.json)
    except FleetError as exc:
        print(f"wheelfleet testfleet: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print("wheelfleet testfleet: interrupted (anything started was cleaned up)",
              file=sys.stderr)
        return 143 if isinstance(exc, _Terminated) else 130
    except OSError as exc:  # e.g. the fleet dir is not writable
        print(f"wheelfleet testfleet: error: {exc}", file=sys.stderr)
        return 1
    return 0
