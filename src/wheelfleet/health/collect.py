"""Controller side of the health check: read the node's records and store them as JSON."""

from __future__ import annotations

import json
import os
import tempfile
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


def validate_with_wheelcheck(host: Any, record: dict[str, Any]) -> None:
    """Judge the node's repaired wheel with wheelcheck on the controller.

    A wheel that imported can still lie in its tags (symbols too new, a library left out that
    happened to be on the node): such a check fails at ``validate`` with wheelcheck's findings.
    """
    from wheelfleet.wheelcheck import check_wheel

    remote = record.pop("wheel_path", None)
    if record.get("status") != "passed":
        return
    if not remote or not record.get("wheel"):
        # Never "passed" with the validator skipped: say why it could not run.
        why = (record.get("versions") or {}).get("kept_wheel_error") or "no wheel was kept"
        record.update(status="failed", step="validate", exit_code=None, output_tail=[why],
                      diagnosis="the repaired wheel was not kept on the node; wheelcheck "
                      "could not run")
        return
    with tempfile.TemporaryDirectory(prefix="wheelfleet-wheel-") as tmp:
        local = Path(tmp) / str(record["wheel"])
        if not host.get_file(remote, str(local)):
            record.update(status="failed", step="validate", exit_code=None,
                          diagnosis=f"could not fetch the repaired wheel {remote} for wheelcheck",
                          output_tail=[])
            return
        report = check_wheel(local)
    record["wheelcheck"] = [f"{p.code}: {p.file}: {p.message}" for p in report.problems]
    if not report.ok:
        first = report.problems[0]
        record.update(status="failed", step="validate", exit_code=None,
                      diagnosis=f"wheelcheck: {first.code} in {first.file}",
                      output_tail=record["wheelcheck"][-25:])


def collect_for_current_host(host: Any, selection: Selection | InputError) -> dict[str, Any]:
    """Run the check on ``host`` (inside a pyinfra deploy) and write ``<out>/<host>.json``."""
    doc: dict[str, Any] = {"host": host.name, "platform": None, "checks": [], "tools": {},
                           "error": None}
    if isinstance(selection, InputError):
        doc["error"] = f"invalid selection: {selection}"
    elif selection.platform != "linux":
        doc["platform"] = selection.platform
        doc["checks"] = [{"host": host.name, "status": "not-run", "python": p.id, "arch": a,
                          "image": selection.platform, "variant": "default",
                          "reason": f"{selection.platform} health checks are not yet "
                          "supported by wheelfleet"}
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
            validate_with_wheelcheck(host, record)
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
