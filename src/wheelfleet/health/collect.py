"""Controller side of the health check: read the node's records and store them as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from wheelfleet.errors import InputError
from wheelfleet.facts.containers import ContainerEngine
from wheelfleet.facts.health import WheelHealthRecords
from wheelfleet.health.plan import AGENT, PLAN
from wheelfleet.selection import Selection

OUT_ENV = "WHEELFLEET_HEALTH_OUT"


def out_dir() -> Path:
    return Path(os.environ.get(OUT_ENV, "reports/health"))


def collect_for_current_host(host: Any, selection: Selection | InputError) -> dict[str, Any]:
    """Run the check on ``host`` (inside a pyinfra deploy) and write ``<out>/<host>.json``."""
    doc: dict[str, Any] = {"host": host.name, "platform": None, "checks": [], "tools": {},
                           "error": None}
    if isinstance(selection, InputError):
        doc["error"] = f"invalid selection: {selection}"
    elif selection.platform != "linux":
        doc["platform"] = selection.platform
        doc["checks"] = [{"status": "not-run", "python": p.id, "arch": a, "image": None,
                          "variant": "default", "reason": f"{selection.platform} health checks "
                          "are not yet supported by wheelfleet"}
                         for p in selection.pythons for a in selection.arches]
    else:
        doc["platform"] = "linux"
        engine = selection.data.get("container_engine", "podman")
        timeout = int(selection.data.get("health_timeout", 900))
        # The agent runs checks in parallel; bound the whole read by the slowest batch.
        checks = host.get_fact(WheelHealthRecords, agent=AGENT, plan=PLAN,
                               _timeout=timeout * max(1, len(selection.images) * 4))
        for record in checks:
            record["host"] = host.name
        doc["checks"] = checks
        found = host.get_fact(ContainerEngine, engine=engine)
        if found:
            doc["tools"][found["engine"]] = found["version"]
        for record in checks:
            for key in ("auditwheel", "patchelf", "gcc"):
                value = (record.get("versions") or {}).get(key)
                if value:
                    doc["tools"].setdefault(f"{key} ({record['image']})", value)
    path = out_dir() / f"{host.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))
    return doc
