"""Issue 6 acceptance on real hosts: ``wheelfleet verify`` on a fleet with a healthy host (that
has drifted by hand), a host whose image lost its compiler, and a host that is down."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

from wheelfleet.pyinfra_run import run_deploy
from wheelfleet.report import load_report

pytestmark = [pytest.mark.fleet, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_verify_reports_passed_failed_unreachable_and_drift(verify_fleet, three_host_inventory):
    vf = verify_fleet
    # Drift by hand on the healthy host: roles/linux_builder manages this file.
    edit = vf.ssh("tf1", "echo '# edited by hand' >> /etc/containers/containers.conf")
    assert edit.returncode == 0, edit.stderr
    root = vf.work / "reports"
    started = time.monotonic()
    proc = vf.wheelfleet("verify", str(three_host_inventory), "--reports-root", str(root))
    elapsed = time.monotonic() - started
    print(f"verify on 3 hosts: {elapsed:.1f}s\n{proc.stdout}")
    assert proc.returncode == 1, proc.stdout + proc.stderr

    # Progress while it ran: the plan per host, each host's records, the table, the path.
    out = proc.stdout
    assert "tf2 [linux]: manylinux_2_36_x86_64: cp311-cp311, cp311-cp311 (abi3)" in out
    assert re.search(r"tf1: health records \(2\)", out)
    assert "verdict: FAILED (3 hosts" in out
    reports = sorted(p for p in root.iterdir() if p.is_dir())
    assert len(reports) == 1 and re.fullmatch(r"\d{8}T\d{6}Z", reports[0].name)
    assert f"report: {reports[0]}" in out

    report = load_report(reports[0] / "report.json")  # validates against the schema too
    hosts = {h["host"]: h for h in report["hosts"]}
    assert report["verdict"] == "failed"

    tf1, tf2, tf9 = hosts["tf1"], hosts["tf2"], hosts["tf9"]
    assert {c["status"] for c in tf1["checks"]} == {"passed"} and len(tf1["checks"]) == 2
    assert tf1["drift"]["checked"] and tf1["status"] == "failed"
    assert any("Engine settings" in change for change in tf1["drift"]["changes"]), tf1["drift"]

    assert tf2["status"] == "failed" and tf2["drift"] == {"checked": True, "changes": [],
                                                          "error": None}
    for check in tf2["checks"]:
        assert check["status"] == "failed" and check["step"] == "build"
        assert check["diagnosis"] == "compiler missing in the image: gcc not found"

    assert tf9["status"] == "unreachable"
    assert "Could not connect" in tf9["error"] and "127.0.0.39" in tf9["error"]
    assert "\n" not in tf9["error"]

    xml = JUnitXml.fromfile(str(reports[0] / "junit.xml"))
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == {"wheelfleet.tf1", "wheelfleet.tf2", "wheelfleet.tf9"}
    failed = {suite.name: sorted(case.name for case in suite
                                 if any(isinstance(r, Failure) for r in case.result))
              for suite in xml}
    assert failed["wheelfleet.tf1"] == ["drift"]
    assert len(failed["wheelfleet.tf2"]) == 2
    assert failed["wheelfleet.tf9"] == ["connect"]
    assert sum(suite.failures for suite in xml) == 4
    assert json.loads(Path(reports[0] / "report.json").read_text())["schema"] == \
        "wheelfleet.report/1"


def test_pyinfra_native_verify_deploy_fails_the_broken_host(verify_fleet, three_host_inventory):
    """``pyinfra -y INVENTORY deploys/verify.py``: records per host, a failing host fails."""
    out = verify_fleet.work / "native-health"
    result = run_deploy(three_host_inventory, ROOT / "deploys" / "verify.py", limit=["tf2"],
                        timeout=600, env={"WHEELFLEET_HEALTH_OUT": str(out)})
    # The only host failed, so pyinfra ends with "No hosts remaining!" and prints no JSON.
    assert result.returncode != 0, result.log
    assert "[tf2] health: 0 passed, 2 failed, 0 not run" in result.log
    assert "[tf2] health check did not pass: cp311-cp311 default on manylinux_2_36_x86_64 " \
        "failed at build: compiler missing in the image: gcc not found" in result.log
    records = json.loads((out / "tf2.json").read_text())["checks"]
    assert [r["status"] for r in records] == ["failed", "failed"]
