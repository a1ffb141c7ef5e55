"""Command line: start/stop the test registry, build+push images, print podman confs.

Examples::

    python -m wheelfleet.testregistry start --state-dir /var/tmp/wf-reg --port 5000
    python -m wheelfleet.testregistry push --state-dir /var/tmp/wf-reg \\
        --policy manylinux_2_36 --policy manylinux_2_41 --tag 2026.01.01-1
    python -m wheelfleet.testregistry podman-confs --port 5000 --base /var/lib/wf-podman
    python -m wheelfleet.testregistry stop --state-dir /var/tmp/wf-reg
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .images import POLICIES, build_and_push
from .podmanenv import render_confs
from .registry import Registry


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m wheelfleet.testregistry")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("start", "stop", "push"):
        s = sub.add_parser(name)
        s.add_argument("--state-dir", type=Path, required=True)
        s.add_argument("--port", type=int, default=5000)
        if name == "push":
            s.add_argument("--policy", action="append", choices=sorted(POLICIES))
            s.add_argument("--tag", default="latest")
    c = sub.add_parser("podman-confs", help="print storage/containers/registries.conf")
    c.add_argument("--port", type=int, default=5000)
    c.add_argument("--base", type=Path, default=Path("/var/lib/containers"))
    c.add_argument("--driver", default="overlay", choices=["overlay", "vfs"])
    args = p.parse_args(argv)

    if args.cmd == "podman-confs":
        confs = render_confs(args.base / "storage", Path("/run/containers/storage"),
                             driver=args.driver, insecure_registries=[f"127.0.0.1:{args.port}"])
        for name, text in confs.items():
            print(f"# ---- {name}\n{text}")
        return 0
    if args.cmd == "stop":
        reg = Registry.find(args.state_dir.resolve())
        if reg is None:
            print("not running", file=sys.stderr)
            return 0
        reg.stop()
        return 0
    reg = Registry.start(args.state_dir, port=args.port)
    if args.cmd == "start":
        print(json.dumps({"address": reg.address, "pid": reg.pid}))
        return 0
    pushed = [build_and_push(reg, pol, args.tag).to_dict() for pol in args.policy or POLICIES]
    print(json.dumps(pushed, indent=2))
    return 0
