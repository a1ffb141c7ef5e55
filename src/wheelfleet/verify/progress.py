"""What ``wheelfleet verify`` prints while it runs: the plan, each host's records, a heartbeat.

The two pyinfra runs are subprocesses whose output is only parsed at the end; the health run,
however, writes one JSON document per host *as that host finishes* (deploys/health.py), so
watching that directory shows each host's results as soon as they are known.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wheelfleet.platforms import platform
from wheelfleet.selection import Selection

Echo = Callable[[str], Any]


def plan_lines(sel: Selection) -> list[str]:
    """One line per group of checks (Linux: per image): which Pythons will be checked."""
    plat = platform(sel.platform)
    by_image: dict[str, list[str]] = {}
    for cell in plat.planned_cells(sel):
        label = f"{cell['python']}" + (" (abi3)" if cell["variant"] == "abi3" else "")
        by_image.setdefault(plat.plan_group(cell), []).append(label)
    if not by_image:
        return [f"{sel.host} [{sel.platform}]: nothing selected to check"]
    suffix = "" if plat.supported else " (not yet supported: will be not-run)"
    return [f"{sel.host} [{sel.platform}]: {image}: {', '.join(pys)}{suffix}"
            for image, pys in by_image.items()]


def record_line(check: dict[str, Any]) -> str:
    """One health record as a progress line, e.g. ``tf2 manylinux_2_36_x86_64 cp311-cp311 ...``."""
    what = check.get("diagnosis") or check.get("reason") or ""
    step = f" at {check['step']}" if check.get("step") else ""
    tail = f": {what}" if what else ""
    return (f"  {check.get('host', '?')} {check.get('image') or '-'} {check.get('python', '-')} "
            f"{check.get('variant', 'default')}: {check.get('status', '?')}{step}{tail}")


class HealthWatcher:
    """Yields each host's health document once, as soon as the health run has written it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.seen: dict[str, dict[str, Any]] = {}

    def poll(self) -> list[dict[str, Any]]:
        new = []
        # A host named "@winrm/NAME" writes its document to "@winrm/NAME.json": one level
        # down, and keyed by the relative path without ".json" (the host's name).
        for path in sorted(self.directory.rglob("*.json")):
            name = path.relative_to(self.directory).with_suffix("").as_posix()
            if name in self.seen:
                continue
            try:
                doc = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # still being written: the next poll reads it whole
            self.seen[name] = doc
            new.append(doc)
        return new
