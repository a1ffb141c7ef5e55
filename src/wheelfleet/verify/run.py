"""``run_verify``: drift check and health check side by side, one report at the end.

Both checks are pyinfra subprocesses (``wheelfleet.pyinfra_run.run_deploy``), so one host that
is down or failing only removes that host from pyinfra's run; the others carry on.  The main
thread only watches and prints, which keeps all output in one thread and in order.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from wheelfleet.fleetfile import load_fleet
from wheelfleet.health.collect import OUT_ENV
from wheelfleet.pyinfra_run import repo_file, run_deploy
from wheelfleet.report import Report, normalize_report, run_stamp, summary_table, write_reports
from wheelfleet.selection import Selection
from wheelfleet.verify.assemble import Outcome, build_report, exit_status, host_result, utc_now
from wheelfleet.verify.deadline import (
    DEADLINE_ENV,
    DEFAULT_DRIFT_DEADLINE,
    DEFAULT_STEP_TIMEOUT,
    FLEET_DEPLOY_ENV,
    STEP_TIMEOUT_ENV,
)
from wheelfleet.verify.logscan import progress_lines
from wheelfleet.verify.progress import Echo, HealthWatcher, plan_lines, record_line

HEARTBEAT_S = 30.0
POLL_S = 1.0
# The dry run's deploy file: deploys/fleet.py per host, under the host's deadline.
DRIFT_DEPLOY = Path(__file__).with_name("drift_deploy.py")


def _run(what: str, inventory: str | Path, deploy: Path, timeout: int, **kwargs: Any) -> Outcome:
    """One pyinfra run; a timeout or a missing executable becomes a one-line failure."""
    try:
        return Outcome(result=run_deploy(inventory, deploy, timeout=timeout, **kwargs))
    except subprocess.TimeoutExpired:
        return Outcome(failure=f"{what} timed out after {timeout}s")
    except OSError as err:
        return Outcome(failure=f"{what} could not start pyinfra: {err}")


def _drift_lines(sels: Sequence[Selection], dry: Outcome) -> list[str]:
    if dry.failure or dry.result is None:
        return [f"drift check failed: {dry.failure}"]
    lines = []
    for sel in sels:
        pending = dry.result.changes.get(sel.host, [])
        if pending:
            lines.append(f"  {sel.host}: {len(pending)} pending change(s): {'; '.join(pending)}")
    return lines or ["  no pending changes on any reachable host"]


def _watch(sels: Sequence[Selection], dry_f: Future[Outcome], health_f: Future[Outcome],
           watcher: HealthWatcher, echo: Echo, started: float) -> None:
    """Print each host's records as they land, each run's notable lines as it ends."""
    announced: set[str] = set()
    last_beat = time.monotonic()
    while True:
        for doc in watcher.poll():
            echo(f"{doc.get('host')}: health records ({len(doc.get('checks') or [])})")
            for check in doc.get("checks") or []:
                echo(record_line({"host": doc.get("host"), **check}))
        for name, fut in (("drift check", dry_f), ("health check", health_f)):
            if fut.done() and name not in announced:
                announced.add(name)
                outcome = fut.result()
                echo(f"{name} finished after {time.monotonic() - started:.0f}s")
                for line in progress_lines(outcome.log):
                    echo(f"  pyinfra: {line}")
                if name == "drift check":
                    for line in _drift_lines(sels, outcome):
                        echo(line)
                elif outcome.failure:
                    echo(f"  {outcome.failure}")
        if len(announced) == 2:
            watcher.poll()  # documents written in the last instant
            return
        if time.monotonic() - last_beat >= HEARTBEAT_S:
            last_beat = time.monotonic()
            waiting = [s.host for s in sels if s.host not in watcher.seen]
            running = [n for n, f in (("drift check", dry_f), ("health", health_f))
                       if not f.done()]
            echo(f"... {time.monotonic() - started:.0f}s: running {', '.join(running)}; "
                 f"no health records yet from {', '.join(waiting) or 'none'}")
        time.sleep(POLL_S)


def run_verify(inventory: str | Path, *, limit: list[str] | None = None,
               out: str | Path | None = None, reports_root: str | Path = "reports",
               echo: Echo = print, timeout: int = 7200,
               step_timeout: int = DEFAULT_STEP_TIMEOUT,
               drift_timeout: int = DEFAULT_DRIFT_DEADLINE) -> tuple[int, Report, dict[str, Path]]:
    """Verify a fleet: ``(exit status, report dict, {"json", "junit", "html": Path})``.

    ``timeout`` bounds each of the two pyinfra runs as a whole; ``step_timeout`` every single
    remote step, ``drift_timeout`` each host's dry run (a host's health check is bounded by its
    own ``health_timeout`` budget plus time for its steps after the agent).  A host that passes
    a limit fails alone: ``timed out after N s at STEP``.

    Raises ``InputError`` (one line) for a bad inventory before anything connects.  Reports go
    to ``out`` or ``<reports_root>/<UTC timestamp>/``; the trend reads sibling directories.

    >>> code, report, paths = run_verify(".testfleet/inventory.py")   # doctest: +SKIP
    >>> code, report["verdict"], paths["junit"].name                  # doctest: +SKIP
    (0, 'passed', 'junit.xml')
    """
    generated_at = utc_now()
    started = time.monotonic()
    sels = load_fleet(inventory, limit)
    echo(f"wheelfleet verify: {len(sels)} host(s) from {inventory}")
    for sel in sels:
        for line in plan_lines(sel):
            echo(f"  {line}")
    docs: dict[str, dict[str, Any]] = {}
    dry = health = Outcome(failure="not run: no hosts")
    if sels:
        with tempfile.TemporaryDirectory(prefix="wheelfleet-verify-") as tmp, \
                ThreadPoolExecutor(max_workers=2) as pool:
            echo("running the drift check (dry run of deploys/fleet.py) and the health check "
                 "(deploys/health.py) ...")
            # Each remote step has a timeout (pyinfra's _timeout, as host data for every fact
            # of the dry run) and each host a deadline (verify.deadline): a hung host fails
            # alone, and the other hosts' results come in as usual.
            steps = {STEP_TIMEOUT_ENV: str(step_timeout)}
            dry_f = pool.submit(_run, "drift check", inventory, DRIFT_DEPLOY, timeout,
                                dry=True, limit=limit, extra=["--data", f"_timeout={step_timeout}"],
                                env={**steps, DEADLINE_ENV: str(drift_timeout),
                                     FLEET_DEPLOY_ENV: str(repo_file("deploys/fleet.py"))})
            health_f = pool.submit(_run, "health check", inventory,
                                   repo_file("deploys/health.py"), timeout, limit=limit,
                                   env={OUT_ENV: tmp, **steps})
            watcher = HealthWatcher(Path(tmp))
            _watch(sels, dry_f, health_f, watcher, echo, started)
            dry, health, docs = dry_f.result(), health_f.result(), dict(watcher.seen)
    hosts = [host_result(sel, docs.get(sel.host), health, dry) for sel in sels]
    # Normalised once: report.json, JUnit, HTML and the summary all take this one copy.
    report = normalize_report(build_report(str(inventory), generated_at, hosts,
                                           time.monotonic() - started))
    out_dir = Path(out) if out else Path(reports_root) / run_stamp(generated_at)
    paths = write_reports(report, out_dir, reports_root=None if out else reports_root)
    echo("")
    echo(summary_table(report))
    echo(f"report: {paths['json'].parent} (report.json, junit.xml, index.html)")
    return exit_status(report), report, paths
