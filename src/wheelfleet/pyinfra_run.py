"""Run pyinfra deploys as a user would (the ``pyinfra`` CLI) and read pyinfra's own results.

The CLI's ``--json`` output lists, per operation, the hosts where it changed something
(``success``), changed nothing (``no_change``) or failed (``error``); a dry run lists per
operation the hosts that *would* change.  Running the CLI in a subprocess keeps gevent's
monkey-patching out of the caller's process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunResult:
    """Per-host outcome of one pyinfra run."""

    returncode: int
    dry: bool
    changes: dict[str, list[str]] = field(default_factory=dict)  # host -> op names (would) change
    errors: dict[str, list[str]] = field(default_factory=dict)  # host -> op names that failed
    unchanged: dict[str, int] = field(default_factory=dict)
    failed_hosts: list[str] = field(default_factory=list)
    log: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    def change_count(self, host: str) -> int:
        return len(self.changes.get(host, []))

    @property
    def total_changes(self) -> int:
        return sum(len(v) for v in self.changes.values())


def pyinfra_executable() -> str:
    return str(Path(sys.executable).parent / "pyinfra")


def run_deploy(inventory: str | Path, deploy: str | Path, *, dry: bool = False,
               limit: list[str] | None = None, parallel: int | None = None,
               timeout: int = 3600, extra: list[str] | None = None,
               echo: bool = False, env: dict[str, str] | None = None) -> RunResult:
    """Run ``pyinfra -y --json INVENTORY DEPLOY`` (``--dry`` for drift) and parse the result.

    >>> r = run_deploy(".testfleet/inventory.py", "deploys/fleet.py")   # doctest: +SKIP
    >>> r.change_count("tf1"), r.failed_hosts                          # doctest: +SKIP
    (0, [])
    """
    # A dry run must not pass -y: with -y pyinfra skips change detection, and the plan would
    # list no changes at all.  --dry exits before anything would prompt.
    cmd = [pyinfra_executable(), "--json", "--dry" if dry else "-y"]
    for host in limit or []:
        cmd += ["--limit", host]
    if parallel:
        cmd += ["--parallel", str(parallel)]
    cmd += list(extra or []) + [str(inventory), str(deploy)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL,
                              env={**os.environ, **env} if env else None)
    except subprocess.TimeoutExpired as err:
        log = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else ""
        return RunResult(returncode=124, dry=dry,
                         log=log + f"\npyinfra run timed out after {timeout}s\n")
    if echo:
        sys.stderr.write(proc.stderr)
    result = RunResult(returncode=proc.returncode, dry=dry, log=proc.stderr)
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except json.JSONDecodeError:
        data = {}
    result.raw = data
    if dry:
        for op in data.get("plan") or []:
            for host in op.get("hosts_with_change", []):
                result.changes.setdefault(host, []).append(op.get("name", "?"))
    results = data.get("results") or {}
    for op in results.get("operations", []):
        for host in op.get("success", []):
            result.changes.setdefault(host, []).append(op.get("name", "?"))
        for host in op.get("error", []):
            result.errors.setdefault(host, []).append(op.get("name", "?"))
        for host in op.get("no_change", []):
            result.unchanged[host] = result.unchanged.get(host, 0) + 1
    result.failed_hosts = sorted(results.get("failed_hosts") or [])
    return result


def repo_file(relative: str) -> Path:
    """A file of the fleet repository (``deploys/…``): the current directory's, else the one
    this package was installed from (an editable install of the repository)."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = base / relative
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{relative} not found in {Path.cwd()} or beside the package")
