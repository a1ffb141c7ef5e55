"""The ``wheelfleet`` command: one entry point, subcommands in their own modules."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from wheelfleet.errors import InputError


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Subcommands that own their argument parsing.
    delegated = {
        "check-wheel": "wheelfleet.wheelcheck.cli",
        "testfleet": "wheelfleet.testfleet.cli",
        "verify": "wheelfleet.verify.cli",
        "onboard": "wheelfleet.verify.onboard",
    }
    if argv and argv[0] in delegated:
        import importlib

        return int(importlib.import_module(delegated[argv[0]]).main(argv[1:]))

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except InputError as err:
        print(f"wheelfleet: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        # Failures of the local test infrastructure (a busy address, a registry that will not
        # start) are one line for the user, never a traceback.
        from wheelfleet.testfleet import FleetError
        from wheelfleet.testregistry import RegistryError

        if isinstance(err, FleetError | RegistryError):
            print(f"wheelfleet: {err}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wheelfleet", description=__doc__)
    sub = parser.add_subparsers(metavar="COMMAND")

    matrix = sub.add_parser("matrix", help="query the toolchain matrix")
    msub = matrix.add_subparsers(metavar="ACTION")
    show = msub.add_parser("show", help="what one Python needs on one platform")
    show.add_argument("--python", required=True)
    show.add_argument("--platform", required=True, choices=["linux", "macos", "windows"])
    show.add_argument("--arch")
    show.add_argument("--overlay", help="a fleet's matrix overlay (locks, extra images)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_matrix_show)
    lst = msub.add_parser("list", help="every Python and image the matrix knows")
    lst.add_argument("--overlay")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_matrix_list)

    check = sub.add_parser("check-inventory", help="validate a fleet inventory, no connecting")
    check.add_argument("inventory")
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=cmd_check_inventory)

    sub.add_parser("check-wheel", help="validate wheels for any platform (see check-wheel -h)")
    sub.add_parser("testfleet", help="local Debian test hosts (see testfleet -h)")
    sub.add_parser("verify", help="drift + health check of a fleet, with reports (see -h)")
    sub.add_parser("onboard", help="bare host -> converged -> verified (see -h)")

    health = sub.add_parser("health", help="every Linux node builds, repairs, installs and "
                            "imports the canary; records as JSON")
    health.add_argument("inventory")
    health.add_argument("--limit", action="append", help="only this host (repeatable)")
    health.add_argument("--json", action="store_true")
    health.set_defaults(func=cmd_health)

    demo = sub.add_parser("demo", help="bring up a local test host, converge it, show it")
    demo.add_argument("--hosts", type=int, default=1)
    demo.add_argument("--dir", default=".testfleet")
    demo.add_argument("--down", action="store_true", help="stop the demo's hosts and registry")
    demo.set_defaults(func=cmd_demo)
    return parser


def cmd_matrix_show(args: argparse.Namespace) -> int:
    from wheelfleet.matrix import load_matrix
    from wheelfleet.matrix.query import describe, render_text

    info = describe(load_matrix(args.overlay), args.python, args.platform, args.arch)
    print(json.dumps(info, indent=2) if args.json else render_text(info))
    return 0


def cmd_matrix_list(args: argparse.Namespace) -> int:
    from wheelfleet.matrix import load_matrix

    m = load_matrix(args.overlay)
    data: dict[str, Any] = {
        "pythons": {p.id: {"version": p.version, "state": p.state,
                           "platforms": [k for k in ("linux", "macos", "windows")
                                         if getattr(p, k)]} for p in m.pythons.values()},
        "images": [{"policy": i.policy, "arch": i.arch, "ref": i.ref, "state": i.state,
                    "eol_since": str(i.eol_since) if i.eol_since else None} for i in m.images],
        "tools": {t.name: t.version for t in m.tools.values()},
    }
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    for pid, p in data["pythons"].items():
        print(f"python {pid:<6} {p['version']:<9} {p['state']:<12} {' '.join(p['platforms'])}")
    for i in data["images"]:
        print(f"image  {i['policy']}_{i['arch']:<8} [{i['state']}] {i['ref']}")
    for name, version in data["tools"].items():
        print(f"tool   {name} {version}")
    return 0


def cmd_check_inventory(args: argparse.Namespace) -> int:
    from wheelfleet.fleetfile import load_fleet

    sels = load_fleet(args.inventory)
    rows = [{"host": s.host, "platform": s.platform, "pythons": [p.id for p in s.pythons],
             "arches": s.arches, "images": [i.platform_tag for i in s.images]} for s in sels]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            extra = f" images={','.join(row['images'])}" if row["images"] else ""
            print(f"{row['host']}: {row['platform']} pythons={','.join(row['pythons'])} "
                  f"arches={','.join(row['arches'])}{extra}")
        print(f"ok: {len(rows)} hosts")
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    from wheelfleet.fleetfile import load_fleet
    from wheelfleet.health.run import run_health

    load_fleet(args.inventory, args.limit)  # refuse bad input before connecting
    docs, result = run_health(args.inventory, limit=args.limit)
    records = [c for doc in docs.values() for c in doc["checks"]]
    if args.json:
        print(json.dumps(records, indent=1))
    else:
        for c in records:
            what = c.get("diagnosis") or c.get("reason") or ""
            print(f"{c.get('host', '?'):<12} {c.get('image') or '-':<24} {c.get('python', '-'):<14}"
                  f" {c.get('variant', ''):<8} {c['status']:<8} {c.get('step') or ''} {what}")
    unreachable = sorted(set(result.failed_hosts) - set(docs))
    for host in unreachable:
        print(f"{host}: no records (unreachable or failed before the check)", file=sys.stderr)
    ok = records and all(c["status"] == "passed" for c in records) and not unreachable
    return 0 if ok else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from wheelfleet.demo import run_demo

    return run_demo(args.hosts, args.dir, down=args.down)


if __name__ == "__main__":
    sys.exit(main())
