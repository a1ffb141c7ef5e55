"""Controller side of the health check: read the node's answer and store it as JSON.

Runs inside the health deploy for each host.  Nothing a node does (no agent, a crash, a
timeout, output that is not records) may raise here: an exception while pyinfra loads a
deploy file would abort every host's run.  Every outcome becomes that host's own records.
"""

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
from wheelfleet.health.records import checks_from_answer, host_level
from wheelfleet.platforms import platform
from wheelfleet.report.schema import Check
from wheelfleet.report.text import one_line
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
        local = Path(tmp) / Path(str(record["wheel"])).name
        try:
            fetched = host.get_file(remote, str(local))
            report = check_wheel(local) if fetched else None
        except Exception as err:  # noqa: BLE001 - a hostile wheel fails its own check only
            record.update(status="failed", step="validate", exit_code=None, output_tail=[],
                          diagnosis=one_line(f"wheelcheck could not judge {remote}: "
                                             f"{type(err).__name__}: {err}"))
            return
        if report is None:
            record.update(status="failed", step="validate", exit_code=None,
                          diagnosis=f"could not fetch the repaired wheel {remote} for wheelcheck",
                          output_tail=[])
            return
    record["wheelcheck"] = [f"{p.code}: {p.file}: {p.message}" for p in report.problems]
    if not report.ok:
        first = report.problems[0]
        record.update(status="failed", step="validate", exit_code=None,
                      diagnosis=f"wheelcheck: {first.code} in {first.file}",
                      output_tail=record["wheelcheck"][-25:])


def agent_checks(host: Any, cells: list[dict[str, str]], budget: int
                 ) -> tuple[list[Check], dict[str, str | None]]:
    """Run the node's health agent over its plan: its records (one per cell) and the tool
    versions they report.  ``budget`` bounds the whole read (the platform knows its batches).

    Never raises for anything the node does: no agent, a crash, a timeout or output that is not
    records all become this host's own records saying what happened.
    """
    try:
        answer = host.get_fact(WheelHealthRecords, agent=AGENT, plan=PLAN, _timeout=budget)
    except Exception as err:  # noqa: BLE001 - a timeout or lost connection is this host's
        text = str(err) or type(err).__name__
        cause = (f"health agent did not answer within {budget}s" if "timeout" in
                 f"{type(err).__name__} {text}".lower() else
                 f"reading the health agent's answer failed: {type(err).__name__}: {text}")
        return host_level(cells, host.name, cause=cause), {}
    if answer is None:
        # pyinfra logs a fact command that timed out or lost its connection, fails the host
        # and hands back the fact's default: no answer at all.
        return host_level(cells, host.name, cause="the health agent gave no answer: it timed "
                          f"out (limit {budget}s) or the connection failed"), {}
    if not isinstance(answer, dict):
        answer = {"state": "garbled", "output_tail": [repr(answer)[:200]]}
    for raw in answer.get("records") or []:
        if isinstance(raw, dict):
            validate_with_wheelcheck(host, raw)
    checks = checks_from_answer(answer, cells, host.name)
    tools: dict[str, str | None] = {}
    for record in checks:
        for key in ("auditwheel", "patchelf", "gcc", "delocate", "clang", "macos"):
            value = record["versions"].get(key)
            if value:
                tools.setdefault(f"{key} ({record['image']})", value)
    return checks, tools


def engine_version(host: Any, engine: str) -> dict[str, str]:
    """``{engine: version}`` for the report's tools, or nothing (decoration, never a failure)."""
    try:
        found = host.get_fact(ContainerEngine, engine=engine)
    except Exception:  # noqa: BLE001
        return {}
    return {found["engine"]: found["version"]} if found else {}


def collect_for_current_host(host: Any, selection: Selection | InputError) -> dict[str, Any]:
    """Run the check on ``host`` (inside a pyinfra deploy) and write ``<out>/<host>.json``.

    The document's checks are schema-valid ``Check`` records, one per planned cell; how they
    are gathered is the host's platform's business (``wheelfleet.platforms``).
    """
    doc: dict[str, Any] = {"host": host.name, "platform": None, "checks": [], "tools": {},
                           "error": None}
    if isinstance(selection, InputError):
        doc["error"] = f"invalid selection: {selection}"
    else:
        plat = platform(selection.platform)
        doc["platform"] = plat.name
        try:
            doc["checks"], doc["tools"] = plat.collect(host, selection)
        except Exception as err:  # noqa: BLE001 - a bug here must not cost the other hosts
            doc["checks"] = host_level(plat.planned_cells(selection), host.name,
                                       cause="collecting the health records failed on the "
                                       f"controller: {type(err).__name__}: {err}")
    path = out_dir() / f"{host.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))
    return doc
