"""The ``wheelfleet`` command: one entry point, subcommands in their own modules."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, NoReturn, Protocol

from wheelfleet.errors import FAILED, OK, USAGE, UsageError, error_line, error_status

# How a command shows a bad command line (errors.error_line), each as it always has.
ARGPARSE = "{usage}{prog}: error: {message}"  # argparse's own: the usage block, then the error
ONE_LINE = "{prog}: error: {message}"  # the error line alone
PREFIXED = "wheelfleet: {prog}: {message}"  # like every other wheelfleet error


class CommandModule(Protocol):
    """A command: a module (or a class of static methods) with these two functions.

    The pattern and the error model are described in :mod:`wheelfleet.errors`.
    """

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def execute(self, args: argparse.Namespace) -> int: ...


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    where: str  # a CommandModule, or "module:NAME" for its configure_NAME and execute_NAME
    usage_errors: str = ARGPARSE

    def load(self) -> CommandModule:
        module, _, name = self.where.partition(":")
        found: Any = importlib.import_module(module)
        if name:
            found = SimpleNamespace(configure=getattr(found, f"configure_{name}"),
                                    execute=getattr(found, f"execute_{name}"))
        return found


COMMANDS = (
    Command("matrix", "query the toolchain matrix", "wheelfleet.cli:matrix"),
    Command("check-inventory", "validate a fleet inventory, no connecting",
            "wheelfleet.cli:check_inventory"),
    Command("check-wheel", "validate wheels for any platform (see check-wheel -h)",
            "wheelfleet.wheelcheck.cli", ONE_LINE),
    Command("testfleet", "local Debian test hosts (see testfleet -h)",
            "wheelfleet.lab.cli"),
    Command("verify", "drift + health check of a fleet, with reports (see -h)",
            "wheelfleet.verify.cli", PREFIXED),
    Command("onboard", "bare host -> converged -> verified (see -h)",
            "wheelfleet.verify.onboard", PREFIXED),
    Command("health", "every Linux node builds, repairs, installs and imports the canary; "
            "records as JSON", "wheelfleet.cli:health"),
    Command("demo", "bring up a local test host, converge it, show it", "wheelfleet.cli:demo"),
    Command("lock", "download what the fleet's selection has no sha256 for; record the "
            "hashes in its matrix overlay (see lock -h)", "wheelfleet.lock.cli"),
)


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of printing and exiting itself."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, prog=self.prog, usage=self.format_usage())


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``wheelfleet ARGV...``; return the exit status (the one wrapper of every command)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((c for c in COMMANDS if argv and argv[0] == c.name), None)
    try:
        return _run(command, argv)
    except (Exception, KeyboardInterrupt) as err:
        name = command.name if command else ""
        status = error_status(err, name)
        if status is None:
            raise  # a bug: keep the traceback
        line = error_line(err, name, f"wheelfleet {name}".rstrip(),
                          command.usage_errors if command else ARGPARSE)
        if line:
            # Errors never echo secrets (URL credentials go); an error is one line (a usage
            # block above it aside).
            from wheelfleet.settings import one_line, redact

            line = redact(line) if isinstance(err, UsageError) else one_line(line)
            print(line, file=sys.stderr)
        return status


def run_as(name: str, argv: Sequence[str] | None = None) -> int:
    """``wheelfleet NAME ARGV...``: for command modules that are also run with ``python -m``."""
    return main([name, *(sys.argv[1:] if argv is None else argv)])


def _run(command: Command | None, argv: list[str]) -> int:
    impl = command.load() if command else None
    parser = Parser(prog="wheelfleet", description=__doc__)
    sub = parser.add_subparsers(metavar="COMMAND")
    for c in COMMANDS:
        sub_parser = sub.add_parser(c.name, help=c.help)
        if c is command and impl is not None:  # only the chosen command is configured ...
            impl.configure(sub_parser)
            sub_parser.set_defaults(execute=impl.execute)
            parser = sub_parser  # ... and parses its own arguments (errors name it)
    try:
        args = parser.parse_args(argv[1:] if command else argv)
    except SystemExit as done:  # --help
        return int(done.code or 0)
    execute = getattr(args, "execute", None)
    if execute is None:  # `wheelfleet` alone
        parser.print_help()
        return USAGE
    return int(execute(args))


# The commands that live here, each a configure/execute pair like a command module's.


def configure_matrix(parser: argparse.ArgumentParser) -> None:
    msub = parser.add_subparsers(metavar="ACTION")
    show = msub.add_parser("show", help="what one Python needs on one platform")
    show.add_argument("--python", required=True)
    show.add_argument("--platform", required=True, choices=["linux", "macos", "windows"])
    show.add_argument("--arch")
    show.add_argument("--overlay", help="a fleet's matrix overlay (locks, extra images)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(action=matrix_show)
    lst = msub.add_parser("list", help="every Python and image the matrix knows")
    lst.add_argument("--overlay")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(action=matrix_list)


def execute_matrix(args: argparse.Namespace) -> int:
    action = getattr(args, "action", None)
    if action is None:  # `wheelfleet matrix` alone: the overview of every command
        main(["--help"])
        return USAGE
    return int(action(args))


def matrix_show(args: argparse.Namespace) -> int:
    from wheelfleet.matrix import load_matrix
    from wheelfleet.matrix.query import describe, render_text

    info = describe(load_matrix(args.overlay), args.python, args.platform, args.arch)
    print(json.dumps(info, indent=2) if args.json else render_text(info))
    return OK


def matrix_list(args: argparse.Namespace) -> int:
    from wheelfleet.matrix import load_matrix

    m = load_matrix(args.overlay)
    data: dict[str, Any] = {
        "pythons": {p.id: {"version": p.version, "state": p.state,
                           "platforms": [k for k in ("linux", "macos", "windows")
                                         if getattr(p, k)]} for p in m.pythons.values()},
        "images": [{"policy": i.policy, "arch": i.arch, "ref": i.ref, "state": i.state,
                    "eol_since": str(i.eol_since) if i.eol_since else None}
                   for i in m.images],
        "tools": {t.name: t.version for t in m.tools.values()},
    }
    if args.json:
        print(json.dumps(data, indent=2))
        return OK
    for pid, p in data["pythons"].items():
        print(f"python {pid:<6} {p['version']:<9} {p['state']:<12} "
              f"{' '.join(p['platforms'])}")
    for i in data["images"]:
        print(f"image  {i['policy']}_{i['arch']:<8} [{i['state']}] {i['ref']}")
    for name, version in data["tools"].items():
        print(f"tool   {name} {version}")
    return OK


def configure_check_inventory(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inventory")
    parser.add_argument("--json", action="store_true")


def execute_check_inventory(args: argparse.Namespace) -> int:
    """Validate a fleet inventory, connect to nothing."""
    from wheelfleet.fleetfile import load_fleet

    # Host keys too: a fleet that would connect without verified keys is not a valid fleet.
    sels = load_fleet(args.inventory, host_keys=True)
    rows = [{"host": s.host, "platform": s.platform, "pythons": [p.id for p in s.pythons],
             "arches": s.arches, "images": [i.platform_tag for i in s.images]}
            for s in sels]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            extra = f" images={','.join(row['images'])}" if row["images"] else ""
            print(f"{row['host']}: {row['platform']} pythons={','.join(row['pythons'])} "
                  f"arches={','.join(row['arches'])}{extra}")
        print(f"ok: {len(rows)} hosts")
    return OK


def configure_health(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inventory")
    parser.add_argument("--limit", action="append", help="only this host (repeatable)")
    parser.add_argument("--json", action="store_true")


def execute_health(args: argparse.Namespace) -> int:
    """Every Linux node builds, repairs, installs and imports the canary."""
    from wheelfleet.fleetfile import load_fleet
    from wheelfleet.health.run import run_health

    load_fleet(args.inventory, args.limit, host_keys=True)  # refuse before connecting
    docs, result = run_health(args.inventory, limit=args.limit)
    records = [c for doc in docs.values() for c in doc["checks"]]
    if args.json:
        print(json.dumps(records, indent=1))
    else:
        for c in records:
            what = c.get("diagnosis") or c.get("reason") or ""
            print(f"{c.get('host', '?'):<12} {c.get('image') or '-':<24} "
                  f"{c.get('python', '-'):<14} {c.get('variant', ''):<8} {c['status']:<8} "
                  f"{c.get('step') or ''} {what}")
    unreachable = sorted(set(result.failed_hosts) - set(docs))
    for host in unreachable:
        print(f"{host}: no records (unreachable or failed before the check)",
              file=sys.stderr)
    ok = records and all(c["status"] == "passed" for c in records) and not unreachable
    return OK if ok else FAILED


def configure_demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hosts", type=int, default=1)
    parser.add_argument("--dir", default=".testfleet")
    parser.add_argument("--down", action="store_true",
                        help="stop the demo's hosts and registry")


def execute_demo(args: argparse.Namespace) -> int:
    """A local test host, converged and verified (see wheelfleet.lab.demo)."""
    from wheelfleet.lab.demo import run_demo

    return run_demo(args.hosts, args.dir, down=args.down)


if __name__ == "__main__":
    sys.exit(main())
