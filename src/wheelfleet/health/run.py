"""Run the health check over a fleet and gather the per-host documents."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from wheelfleet.health.collect import OUT_ENV
from wheelfleet.pyinfra_run import RunResult, repo_file, run_deploy


def run_health(inventory: str | Path, *, limit: list[str] | None = None,
               timeout: int = 7200) -> tuple[dict[str, dict[str, Any]], RunResult]:
    """``pyinfra INVENTORY deploys/health.py`` and the per-host documents it wrote.

    >>> docs, run = run_health(".testfleet/inventory.py")          # doctest: +SKIP
    >>> {c["status"] for c in docs["tf1"]["checks"]}              # doctest: +SKIP
    {'passed'}
    """
    with tempfile.TemporaryDirectory(prefix="wheelfleet-health-") as out:
        result = run_deploy(inventory, repo_file("deploys/health.py"), limit=limit,
                            timeout=timeout, env={OUT_ENV: out})
        # A host named "@winrm/NAME" writes "@winrm/NAME.json", one folder down.
        docs = {p.relative_to(out).with_suffix("").as_posix(): json.loads(p.read_text())
                for p in Path(out).rglob("*.json")}
    return docs, result
