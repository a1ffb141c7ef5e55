"""Issue 16 on real hosts: one ``wheelfleet verify`` over a fleet where every host but one has
a host-level fault, injected for real over SSH.  The night's report is still written, holds
every host, and each broken host's cause names what was injected.

Level: real host (Debian roots with their own sshd, real podman, the real agent and runner).

* tf1 — healthy: passes;
* tf2 — its health runner replaced by a script that exits 3 before the first step;
* tf4 — the podman binary deleted while its package stays registered (drift is clean by the
  package database; the engine fact must still see it);
* tf5 — its health agent replaced by one that raises;
* tf6 — never converged: no agent at all.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from junitparser import JUnitXml

from wheelfleet.health.plan import AGENT, RUNNER
from wheelfleet.pyinfra_run import run_deploy
from wheelfleet.report import load_report

pytestmark = [pytest.mark.fleet, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]

FAULTS = {
    "tf2": (f"cp -p {RUNNER} {RUNNER}.orig && printf '#!/bin/sh\\nexit 3\\n' > {RUNNER}",
            f"mv {RUNNER}.orig {RUNNER}"),
    "tf4": ("mv /usr/bin/podman /usr/bin/podman.hidden-by-test",
            "mv /usr/bin/podman.hidden-by-test /usr/bin/podman"),
    "tf5": (f"cp -p {AGENT} {AGENT}.orig && printf 'raise RuntimeError(\"injected agent "
            f"crash\")\\n' > {AGENT}", f"mv {AGENT}.orig {AGENT}"),
}


@pytest.fixture()
def faulty_fleet(verify_fleet, three_host_inventory):
    vf = verify_fleet
    inventory = vf.inventory("faults.py", {"linux": ([
        ("tf1", vf.host("tf1")),
        ("tf2", {**vf.host("tf2"), "matrix_overlay": str(vf.broken_overlay)}),
        ("tf4", vf.host("tf4")),
        ("tf5", vf.host("tf5")),
        ("tf6", vf.host("tf6")),
    ], vf.group_data)})
    # Converge all but tf6 (also undoing what other tests did by hand), then break them.
    result = run_deploy(inventory, ROOT / "deploys" / "fleet.py",
                        limit=["tf1", "tf2", "tf4", "tf5"], timeout=1800)
    assert result.returncode == 0 and not result.errors, result.log[-3000:]
    assert vf.ssh("tf6", f"test -e {AGENT}").returncode != 0, "tf6 must stay bare"
    injected = []
    try:
        for host, (inject, _) in FAULTS.items():
            proc = vf.ssh(host, inject)
            assert proc.returncode == 0, (host, proc.stderr)
            injected.append(host)
        yield inventory
    finally:
        for host in injected:
            proc = vf.ssh(host, FAULTS[host][1])
            assert proc.returncode == 0, (host, proc.stderr)


def test_one_verify_reports_every_host_with_its_own_cause(verify_fleet, faulty_fleet):
    vf = verify_fleet
    root = vf.work / "fault-reports"
    started = time.monotonic()
    proc = vf.wheelfleet("verify", str(faulty_fleet), "--reports-root", str(root))
    print(f"verify over 5 hosts with 4 faults: {time.monotonic() - started:.1f}s\n{proc.stdout}")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the fleet failed; verify ran
    assert "Traceback" not in proc.stdout + proc.stderr
    night = next(p for p in root.iterdir() if p.is_dir())
    for name in ("report.json", "junit.xml", "index.html"):
        assert (night / name).stat().st_size > 0, name
    report = load_report(night / "report.json")  # validates against the schema
    hosts = {h["host"]: h for h in report["hosts"]}
    assert sorted(hosts) == ["tf1", "tf2", "tf4", "tf5", "tf6"]

    tf1 = hosts["tf1"]
    assert tf1["status"] == "passed", tf1
    assert [c["status"] for c in tf1["checks"]] == ["passed", "passed"]

    def causes(host: str) -> set[tuple[str, str | None, str]]:
        return {(c["status"], c["step"], c["diagnosis"] or c["reason"] or "")
                for c in hosts[host]["checks"]}

    for host in ("tf2", "tf4", "tf5", "tf6"):
        assert hosts[host]["status"] == "failed", hosts[host]
        assert len(hosts[host]["checks"]) == 2, hosts[host]["checks"]
        assert hosts[host]["error"] is None  # reached: not "unreachable"

    [(status, step, why)] = causes("tf2")
    assert (status, step) == ("failed", "container"), why
    assert why.startswith("health runner stopped before its first step (exit 3)"), why

    [(status, step, why)] = causes("tf4")
    assert (status, step) == ("failed", "engine"), why
    assert why.startswith("container engine not runnable: podman not found on the node"), why
    assert "image" not in why and "local store" not in why
    assert "linux_builder | Reinstall the container engine if not runnable (podman)" in \
        hosts["tf4"]["drift"]["changes"], hosts["tf4"]["drift"]
    # The healthy host has no such pending change: the operation reads each host's own engine.
    assert not hosts["tf1"]["drift"]["changes"], hosts["tf1"]["drift"]

    [(status, step, why)] = causes("tf5")
    assert (status, step) == ("failed", "agent"), why
    assert why == "health agent crashed (exit 1): RuntimeError: injected agent crash", why
    assert any("Traceback" in line for c in hosts["tf5"]["checks"] for line in c["output_tail"])

    [(status, step, why)] = causes("tf6")
    assert (status, step) == ("not-run", None), why
    assert why.startswith("health agent not installed on the node"), why
    assert hosts["tf6"]["drift"]["checked"] and hosts["tf6"]["drift"]["changes"]

    xml = JUnitXml.fromfile(str(night / "junit.xml"))
    assert {suite.name for suite in xml} == {f"wheelfleet.{h}" for h in hosts}
