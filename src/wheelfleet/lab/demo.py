"""``wheelfleet demo``: the main job on the embedded default fleet, start to finish.

Brings up a local Debian test host (own sshd on 127.0.0.11) and a local registry holding a
manylinux-like image pinned by digest, converges the host with ``deploys/fleet.py`` (twice: the
second run must change nothing), then verifies it (drift + health check) and prints where the
report is.  ``wheelfleet demo --down`` removes it all.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from wheelfleet.fleetfile import load_fleet
from wheelfleet.pyinfra_run import repo_file, run_deploy
from wheelfleet.verify import run_verify

from .localfleet import bring_up, tear_down

DEMO_POLICIES = ["manylinux_2_36"]


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run_demo(hosts: int, state_dir: str, down: bool = False) -> int:
    state = Path(state_dir).absolute()
    if down:
        tear_down(state)
        say(f"test hosts and registry in {state} stopped")
        return 0
    started = time.monotonic()
    say(f"bringing up {hosts} local test host(s) and a registry in {state} "
        "(first run builds cached Debian roots: a few minutes)")
    local = bring_up(state, hosts=hosts, policies=DEMO_POLICIES)
    assert local.fleet is not None
    inventory = local.fleet.inventory
    for sel in load_fleet(inventory):
        say(f"{sel.host}: {sel.platform}, Pythons {', '.join(p.id for p in sel.pythons)}, "
            f"images {', '.join(i.ref_via(sel.registry_mirrors) for i in sel.images)}")

    fleet_py = repo_file("deploys/fleet.py")
    for attempt in ("first", "second"):
        say(f"{attempt} converge: pyinfra -y {inventory} {fleet_py}")
        result = run_deploy(inventory, fleet_py, timeout=3600)
        for host in sorted(set(result.changes) | set(result.unchanged) | set(result.errors)):
            changed = result.changes.get(host, [])
            say(f"  {host}: {len(changed)} changed, {result.unchanged.get(host, 0)} unchanged, "
                f"{len(result.errors.get(host, []))} failed")
            for name in changed:
                print(f"      changed: {name}")
        if result.returncode != 0:
            sys.stderr.write(result.log[-4000:])
            say("converge failed")
            return 1
        if attempt == "second" and result.total_changes:
            say("the second converge changed something: the roles are not idempotent")
            return 1

    say("verifying: drift check + health check (build, repair, install, import the canary)")
    status, _report, paths = run_verify(str(inventory))
    say(f"report: {paths.get('html')} (also {paths.get('json')}, {paths.get('junit')})")
    say(f"done in {time.monotonic() - started:.0f}s; tear down with: wheelfleet demo --down")
    return status
