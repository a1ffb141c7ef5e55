"""Issue 14, item 4: one hung host never holds the others.

Every remote step has a timeout and every host a deadline, in the drift check and in the health
check; a hung host ends ``failed`` with ``timed out after N s at STEP`` and the others are
reported as usual.

* real pyinfra on ``@local`` (fast, no root): the drift check's deploy wrapper stops a host at
  its deadline and names the fact it was loading; a step timeout (``--data _timeout``) is read
  back from pyinfra's log with the fact it hit; both become that host's drift error;
* real hosts (``fleet``): tf1 healthy; tf4 whose ``podman`` is a labelled stand-in that sleeps
  (an engine that hangs); tf5 whose sshd processes are stopped (SIGSTOP) while its health agent
  runs (a connection that was accepted and then stops answering).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from wheelfleet.pyinfra_run import RunResult, pyinfra_executable
from wheelfleet.verify.deadline import DEADLINE_ENV, FLEET_DEPLOY_ENV
from wheelfleet.verify.logscan import timeouts

ROOT = Path(__file__).resolve().parents[2]
DRIFT_DEPLOY = ROOT / "src/wheelfleet/verify/drift_deploy.py"

SLOW_DEPLOY = '''from pyinfra import host
from pyinfra.facts.server import Command

host.get_fact(Command, "echo fast")
host.get_fact(Command, "sleep 30")
'''


def dry_run_on_local(tmp_path: Path, *, deadline: int, extra: list[str] = ()) -> tuple[str, int,
                                                                                       float]:
    (tmp_path / "slow.py").write_text(SLOW_DEPLOY)
    env = {**os.environ, FLEET_DEPLOY_ENV: str(tmp_path / "slow.py"),
           DEADLINE_ENV: str(deadline)}
    started = time.monotonic()
    proc = subprocess.run([pyinfra_executable(), "--json", "--dry", *extra, "@local",
                           str(DRIFT_DEPLOY)], capture_output=True, text=True, timeout=120,
                          env=env, cwd=tmp_path, stdin=subprocess.DEVNULL)
    return proc.stderr, proc.returncode, time.monotonic() - started


def test_a_host_past_its_deadline_stops_at_the_fact_it_was_loading(tmp_path):
    """real host (@local, real pyinfra): a fact that sleeps 30 s under a 3 s host deadline.
    Without the deadline the run would wait the full 30 s."""
    log, _code, took = dry_run_on_local(tmp_path, deadline=3)
    assert timeouts(log) == {"@local": "timed out after 3 s at fact server.Command "
                                       "(command=sleep 30)"}, log
    assert took < 25, f"the deadline did not stop the host: {took:.1f}s\n{log}"


def test_a_step_timeout_is_named_by_the_fact_it_hit_and_becomes_the_drift_error(tmp_path):
    """real host (@local, real pyinfra): ``--data _timeout=2`` bounds each fact; pyinfra's own
    two log lines (timeout, then the fact) become one drift error, even though pyinfra, with
    its only host failed, printed no plan."""
    from wheelfleet.fleetfile import load_fleet
    from wheelfleet.verify.assemble import Outcome, drift_of

    log, code, took = dry_run_on_local(tmp_path, deadline=60, extra=["--data", "_timeout=2"])
    assert timeouts(log) == {"@local": "timed out after 2 s at fact server.Command "
                                       "command=sleep 30"}, log
    assert took < 25, log
    inventory = tmp_path / "inv.py"
    inventory.write_text('linux = (["@local"], {"pythons": ["3.12"], "arches": ["x86_64"], '
                         '"image_policies": ["manylinux_2_28"]})\n')
    [sel] = load_fleet(inventory)
    drift = drift_of(sel, Outcome(result=RunResult(returncode=code, dry=True, log=log)))
    assert drift == {"checked": False, "error": "drift check timed out after 2 s at fact "
                                                "server.Command command=sleep 30"}


# --- real hosts --------------------------------------------------------------------------------

# Short limits (the test's time is the hung hosts' limits), long enough that the healthy host's
# steps never meet them on this loaded 2-core machine (its slowest step: a few seconds).
STEP_TIMEOUT = 15
DRIFT_TIMEOUT = 90  # the whole dry run; tf5 (sshd stopped) meets it, tf1 needs seconds
TF5_HEALTH_TIMEOUT = 10  # its agent's read: 10 s x 1 image x 4 = 40 s
TF4_HEALTH_TIMEOUT = 20  # its hung engine is given this, not the agent's 120 s cap
# Labelled stand-in for an engine that hangs: every podman command sleeps (bounded, so that
# nothing it leaves behind outlives the test by much).
HANGING_PODMAN = ("#!/bin/sh\n# wheelfleet test stand-in: a container engine that hangs\n"
                  "exec sleep 600\n")


def host_processes(rec, *, named: str) -> list[int]:
    """Pids living in host ``rec``'s root whose command line contains ``named``."""
    from wheelfleet.lab import processes

    root = os.fspath(rec.root)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        where = processes.link(pid, "root")
        if where and (where == root or where.startswith(root + "/")) and \
                any(named in arg for arg in processes.cmdline(pid)):
            found.append(pid)
    return found


@pytest.mark.fleet
@pytest.mark.slow
def test_hung_hosts_fail_alone_with_the_step_named(verify_fleet):
    """real hosts: tf1 healthy, tf4 with a hanging engine (stand-in), tf5 whose sshd is stopped
    mid-run.  The healthy host passes, its records arrive before the hung hosts' limits; the
    hung ones are failed with ``timed out after N s at STEP`` (or, for the engine, the agent's
    own ``podman info``, bounded by the host's health timeout); the report is written for all
    three."""
    from wheelfleet.health.plan import AGENT
    from wheelfleet.lab import processes
    from wheelfleet.pyinfra_run import run_deploy
    from wheelfleet.report import load_report

    vf = verify_fleet
    inventory = vf.inventory("deadlines.py", {"linux": ([
        ("tf1", vf.host("tf1")),
        ("tf4", {**vf.host("tf4"), "health_timeout": TF4_HEALTH_TIMEOUT}),
        ("tf5", {**vf.host("tf5"), "health_timeout": TF5_HEALTH_TIMEOUT}),
    ], vf.group_data)})
    # Converges install pinned Python packages by hash only (issue 14, item 3): lock what the
    # session's overlay does not pin yet (pip, through its ordinary index; nothing if locked).
    lock = vf.wheelfleet("lock", str(inventory), "--limit", "tf1", timeout=1800)
    assert lock.returncode == 0, lock.stdout + lock.stderr
    result = run_deploy(inventory, ROOT / "deploys" / "fleet.py", timeout=1800)
    assert result.returncode == 0 and not result.errors, result.log[-3000:]
    tf4 = next(h for h in vf.fleet.hosts if h.name == "tf4")
    tf5 = next(h for h in vf.fleet.hosts if h.name == "tf5")
    assert vf.ssh("tf4", "mv /usr/bin/podman /usr/bin/podman.hidden-by-test && printf '%s' "
                  f"'{HANGING_PODMAN}' > /usr/bin/podman && chmod 755 /usr/bin/podman"
                  ).returncode == 0

    stopped: list[int] = []
    stop_at: list[float] = []

    def stop_tf5_sshd_when_its_agent_runs(started: float) -> None:
        while time.monotonic() - started < 300:
            if host_processes(tf5, named=AGENT):
                for pid in host_processes(tf5, named="sshd"):
                    os.kill(pid, signal.SIGSTOP)
                    stopped.append(pid)
                stop_at.append(time.monotonic() - started)
                return
            time.sleep(0.5)

    root = vf.work / "deadline-reports"
    lines: list[tuple[float, str]] = []
    started = time.monotonic()
    stopper = threading.Thread(target=stop_tf5_sshd_when_its_agent_runs, args=(started,),
                               daemon=True)
    stopper.start()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "wheelfleet"), "verify", str(inventory),
         "--reports-root", str(root), "--step-timeout", str(STEP_TIMEOUT),
         "--drift-timeout", str(DRIFT_TIMEOUT), "--timeout", "900"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.monotonic() - started, line.rstrip()))
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        stopper.join(timeout=5)
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        vf.ssh("tf4", "mv /usr/bin/podman.hidden-by-test /usr/bin/podman")
        for pid in host_processes(tf4, named="sleep"):  # the stand-in's, left by timeouts
            if processes.cmdline(pid) == ["sleep", "600"]:
                os.kill(pid, signal.SIGKILL)
    took = time.monotonic() - started
    output = "\n".join(f"{t:6.1f}s {text}" for t, text in lines)
    print(f"verify with two hung hosts: {took:.1f}s; tf5's sshd stopped at "
          f"{stop_at[0] if stop_at else None}s\n{output}")
    assert stopped, "tf5's agent never ran: the sshd stop was not injected"
    assert code == 1, output  # the fleet failed verification; verify itself ran
    assert "Traceback" not in output
    night = next(p for p in root.iterdir() if p.is_dir())
    report = load_report(night / "report.json")
    hosts = {h["host"]: h for h in report["hosts"]}

    tf1r = hosts["tf1"]
    assert tf1r["status"] == "passed", tf1r
    tf5_deadline = TF5_HEALTH_TIMEOUT * 4 + STEP_TIMEOUT * (2 + 2)
    arrived = {host: next(t for t, text in lines if text.startswith(f"{host}: health records"))
               for host in ("tf1", "tf5")}
    assert arrived["tf1"] < arrived["tf5"] - 30, f"tf1's records waited for tf5: {arrived}"

    tf4r = hosts["tf4"]
    assert tf4r["status"] == "failed" and tf4r["error"] is None, tf4r
    # The first fact that runs podman and hangs (pyinfra names facts by their module path).
    assert tf4r["drift"]["error"].startswith(
        f"drift check timed out after {STEP_TIMEOUT} s at fact wheelfleet.facts.containers."), \
        tf4r["drift"]
    for check in tf4r["checks"]:
        assert (check["status"], check["step"]) == ("failed", "engine"), check
        assert check["diagnosis"] == ("container engine not runnable: podman info did not "
                                      f"answer within {TF4_HEALTH_TIMEOUT}s"), check

    tf5r = hosts["tf5"]
    assert tf5r["status"] == "failed" and tf5r["error"] is None, tf5r
    for check in tf5r["checks"]:
        assert (check["status"], check["step"]) == ("failed", "agent"), check
        assert check["diagnosis"] == (f"timed out after {tf5_deadline} s at reading the "
                                      "records written so far"), check
    # The whole night took the hung hosts' limits, not the 7200 s of a run with none.
    assert took < max(DRIFT_TIMEOUT, stop_at[0] + tf5_deadline) + 180, took
