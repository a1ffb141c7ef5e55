"""Unit tests (no hosts, no root): reading pyinfra's log, assembling the report from health
documents and a dry run, exit status, the platform probe and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wheelfleet.fleetfile import load_fleet
from wheelfleet.health.records import checks_from_answer, host_level
from wheelfleet.pyinfra_run import RunResult
from wheelfleet.report import validate_report, write_reports
from wheelfleet.verify import cli, onboard
from wheelfleet.verify.assemble import (
    Outcome,
    build_report,
    exit_status,
    host_result,
    planned_cells,
)
from wheelfleet.verify.logscan import connection_errors, host_errors, progress_lines
from wheelfleet.verify.probe import ProbeError, parse_probe, platform_of

# Captured from pyinfra 3.10 (colour codes as a terminal-less run may still carry them).
LOG = """--> Loading config...
--> Loading inventory...
--> Connecting to hosts...
    \x1b[1m[tf4]\x1b[0m \x1b[31mCould not connect ([Errno None] Unable to connect to port 22 \
on 127.0.0.34)\x1b[0m
    [tf1] Connected
    [tf2] Connected
    [tf5] Authentication error (username=root, key=/k/id_ed25519)
    [tf6] SSH host key error (Host key for 127.0.0.36 does not match.)

--> Beginning operation run...
    [tf2] Error: wheelfleet: image manylinux_2_36_x86_64 pull failed
--> Disconnecting from hosts...
"""

INVENTORY = '''linux = ([
    ("tf1", {"ssh_hostname": "127.0.0.31"}),
    ("tf2", {"ssh_hostname": "127.0.0.32"}),
    ("tf4", {"ssh_hostname": "127.0.0.34"}),
], {"pythons": ["3.11"], "arches": ["x86_64"], "image_policies": ["manylinux_2_28"]})
windows = ([("w1", {"ssh_hostname": "127.0.0.35"})], {"pythons": ["3.12"], "arches": ["x64"]})
'''


@pytest.fixture()
def sels(tmp_path: Path):
    inventory = tmp_path / "inv.py"
    inventory.write_text(INVENTORY)
    return {s.host: s for s in load_fleet(inventory)}


def passed(cell: dict) -> dict:
    return {**cell, "status": "passed", "step": None, "plat": "ignored by the report",
            "versions": {"python": "3.11.2", "maxunicode": 1114111,
                         "build_flags": {"Py_GIL_DISABLED": 0, "SOABI": "cpython-311"}}}


CELLS = [{"image": "manylinux_2_28_x86_64", "python": "cp311-cp311", "arch": "x86_64",
          "variant": v} for v in ("default", "abi3")]


def doc(host: str, records: list[dict]) -> dict:
    """The health document deploys/health.py writes for a node whose agent printed ``records``."""
    checks = checks_from_answer({"state": "ok", "records": records}, CELLS, host)
    return {"host": host, "platform": "linux", "checks": checks, "error": None,
            "tools": {"podman": "4.3.1", "auditwheel (manylinux_2_28_x86_64)": "6.1.0"}}


def dry_run(changes: dict[str, list[str]], log: str = LOG) -> Outcome:
    return Outcome(result=RunResult(returncode=0, dry=True, changes=changes, log=log,
                                    raw={"plan": [], "results": None}))


def test_connection_error_is_the_hosts_own_line_cleaned():
    errors = connection_errors(LOG)
    assert errors["tf4"] == "Could not connect ([Errno None] Unable to connect to port 22 on " \
        "127.0.0.34)"
    assert errors["tf5"].startswith("Authentication error")
    assert errors["tf6"].startswith("SSH host key error")
    assert "tf1" not in errors and "tf2" not in errors  # connected; tf2's error is no connect
    assert host_errors(LOG, "tf2") == ["Error: wheelfleet: image manylinux_2_36_x86_64 pull "
                                       "failed"]
    assert "[tf1] Connected" in progress_lines(LOG)


def test_report_from_docs_and_drift(sels, tmp_path: Path):
    failed = {**CELLS[0], "status": "failed", "step": "build", "exit_code": 1,
              "output_tail": ["gcc: not found\r", "line two\nline three"],
              "diagnosis": "compiler missing in the image: gcc not found"}
    health = Outcome(result=RunResult(returncode=1, dry=False, log=LOG))
    connect_only = "".join(line for line in LOG.splitlines(True) if "Error:" not in line)
    # w1: a Windows host never converged: the dry run lists what converge would do there,
    # and its checks are not-run (no agent yet).
    dry = dry_run({"tf1": ["linux_builder | Engine settings (runtime, cgroups, ulimits)"],
                   "w1": ["windows_health | Health agent"]}, connect_only)
    hosts = [
        host_result(sels["tf1"], doc("tf1", [passed(c) for c in CELLS]), health, dry),
        host_result(sels["tf2"], doc("tf2", [failed, passed(CELLS[1])]), health, dry),
        host_result(sels["tf4"], None, health, dry),
        host_result(sels["w1"], {"host": "w1", "platform": "windows", "error": None,
                                 "tools": {}, "checks": host_level(
                                     planned_cells(sels["w1"]), "w1", "health agent not "
                                     "installed", status="not-run")},
                    health, dry),
    ]
    report = build_report("inv.py", "2026-11-27T02:00:00Z", hosts, 12.34)
    validate_report(report)
    by = {h["host"]: h for h in report["hosts"]}
    assert by["tf1"]["status"] == "failed" and by["tf1"]["drift"]["changes"] == [
        "linux_builder | Engine settings (runtime, cgroups, ulimits)"]
    assert by["tf1"]["checks"][0]["versions"]["maxunicode"] == "1114111"
    assert "plat" not in by["tf1"]["checks"][0]
    assert by["tf2"]["status"] == "failed" and by["tf2"]["drift"]["changes"] == []
    assert by["tf2"]["checks"][0]["output_tail"] == ["gcc: not found", "line two", "line three"]
    # An error pyinfra logged for the host during the dry run: drift unknown, said why.
    errored = host_result(sels["tf2"], doc("tf2", [passed(c) for c in CELLS]), health,
                          dry_run({}, LOG))
    assert errored["drift"] == {"checked": False, "error": "Error: wheelfleet: image "
                                "manylinux_2_36_x86_64 pull failed"}
    assert by["tf4"]["status"] == "unreachable" and "127.0.0.34" in by["tf4"]["error"]
    assert {c["reason"] for c in by["tf4"]["checks"]} == {"host unreachable"}
    assert by["w1"]["drift"]["changes"] == ["windows_health | Health agent"]
    assert by["w1"]["checks"][0]["status"] == "not-run"
    assert by["w1"]["status"] == "failed" and by["w1"]["checks"][0]["image"] == "windows"
    assert report["verdict"] == "failed" and exit_status(report) == 1
    paths = write_reports(report, tmp_path / "night")
    assert json.loads(paths["json"].read_text())["duration_s"] == 12.3


def test_exit_status_zero_only_when_every_host_passed(sels):
    health = Outcome(result=RunResult(returncode=0, dry=False, log=""))
    clean = dry_run({}, log="    [tf1] Connected\n")
    good = host_result(sels["tf1"], doc("tf1", [passed(c) for c in CELLS]), health, clean)
    assert good["status"] == "passed"
    assert exit_status(build_report("inv.py", "2026-11-27T02:00:00Z", [good])) == 0
    assert exit_status(build_report("inv.py", "2026-11-27T02:00:00Z", [])) == 1  # empty fleet
    drifted = host_result(sels["tf1"], doc("tf1", [passed(c) for c in CELLS]), health,
                          dry_run({"tf1": ["Install build essentials (apt.packages)"]}, ""))
    assert exit_status(build_report("inv.py", "2026-11-27T02:00:00Z", [good, drifted])) == 1
    timed_out = host_result(sels["tf1"], doc("tf1", [passed(c) for c in CELLS]), health,
                            Outcome(failure="drift check timed out after 60s"))
    assert timed_out["status"] == "failed"
    assert timed_out["drift"] == {"checked": False, "error": "drift check timed out after 60s"}


def test_reached_host_without_records_is_failed_not_unreachable(sels):
    health = Outcome(result=RunResult(returncode=1, dry=False,
                                      log="    [tf1] Connected\n    [tf1] Error: agent crashed\n"))
    host = host_result(sels["tf1"], None, health, dry_run({}, ""))
    assert host["error"] is None and host["status"] == "failed"
    assert {c["reason"] for c in host["checks"]} == {"Error: agent crashed"}


def test_node_record_keeps_schema_keys_and_sets_host():
    record, _ = checks_from_answer({"state": "ok", "records": [
        {**CELLS[0], "status": "not-run", "host": "other", "digest": "x"}]}, CELLS, "tf1")
    assert record["host"] == "tf1" and "digest" not in record
    assert record["reason"] == "the node did not say why"


def test_probe_reads_the_kernel_and_maps_platforms():
    out = json.dumps({"server.Kernel": {"tf3": "Linux"}})
    assert parse_probe("tf3", out, "    [tf3] Connected\n", 0).platform == "linux"
    assert [platform_of(k) for k in ("Linux", "Darwin", "MINGW64_NT-10.0", "Plan9", None)] == \
        ["linux", "macos", "windows", None, None]
    with pytest.raises(ProbeError, match=r"^tf4 is unreachable: Could not connect"):
        parse_probe("tf4", "", LOG, 1)
    with pytest.raises(ProbeError, match=r"fact run failed \(exit 1\)"):
        parse_probe("tf1", "{}", "    [tf1] Connected\n", 1)


@pytest.mark.parametrize("main", [cli.main, lambda a: onboard.main([*a, "tf1"])])
def test_bad_input_is_one_line_and_status_2(main, tmp_path: Path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text('linux = ([("tf1", {})], {"pythons": ["3.99"], "arches": ["x86_64"], '
                   '"image_policies": ["manylinux_2_28"]})\n')
    assert main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"wheelfleet: {bad}: tf1.pythons[0]: ")
    assert main([str(tmp_path / "missing.py")]) == 2
    assert "inventory file does not exist" in capsys.readouterr().err


def test_usage_errors_and_unknown_host_are_one_line(tmp_path: Path, capsys):
    assert cli.main(["--nope"]) == 2
    assert capsys.readouterr().err.startswith("wheelfleet: wheelfleet verify: ")
    inventory = tmp_path / "inv.py"
    inventory.write_text(INVENTORY)
    assert onboard.main([str(inventory), "tf9"]) == 2
    assert capsys.readouterr().err == f"wheelfleet: {inventory}: tf9: no such host in the " \
        "inventory\n"
