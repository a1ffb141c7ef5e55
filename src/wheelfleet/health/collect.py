"""Controller side of the health check: read the node's answer and store it as JSON.

Runs inside the health deploy for each host.  Nothing a node does (no agent, a crash, a
timeout, output that is not records) may raise here: an exception while pyinfra loads a
deploy file would abort every host's run.  Every outcome becomes that host's own records.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wheelfleet.errors import InputError
from wheelfleet.facts.containers import ContainerEngine
from wheelfleet.facts.health import WheelHealthRecords, WheelHealthSalvage
from wheelfleet.health.plan import AGENT, PLAN
from wheelfleet.health.records import checks_from_answer, host_level, salvaged_answer
from wheelfleet.platforms import platform
from wheelfleet.report.schema import Check
from wheelfleet.report.text import one_line
from wheelfleet.selection import Selection
from wheelfleet.verify.deadline import (
    Deadline,
    HostTimedOut,
    deadline_override,
    log_timeout,
    step_timeout,
)

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


@dataclass
class HostRun:
    """What ``collect_for_current_host`` knows about the host's run, for ``agent_checks``
    (which the platform calls with cells and a budget only): the run id the agent labels its
    records and containers with, where they are, and the host's deadline."""

    run: str
    work_dir: str
    engine: str
    deadline: Deadline
    answer: dict[str, Any] | None = None  # the agent's answer, once read
    cells: list[dict[str, str]] = field(default_factory=list)  # the platform's planned cells


_RUNS: dict[str, HostRun] = {}  # host name -> its run, while collect_for_current_host runs


def reserve_seconds(cells: int) -> int:
    """Time a host needs after its agent's read: the salvage or the engine's version, and one
    wheel fetch per check, each bounded by the step timeout."""
    return step_timeout() * (2 + cells)


def read_agent(host: Any, run: HostRun | None, budget: int) -> tuple[Any, str | None]:
    """The agent's answer, or (None, why) when the read failed; after a timeout, what the run
    wrote so far (``WheelHealthSalvage``) as an ``ok`` answer."""
    started = time.monotonic()
    if run:
        run.deadline.step = "health agent"
    try:
        # _ignore_errors: a timeout must not fail the host inside pyinfra (with one host left,
        # pyinfra would abort the run); what happened becomes this host's records instead.
        answer = host.get_fact(WheelHealthRecords, agent=AGENT, plan=PLAN,
                               run=run.run if run else "", _timeout=budget,
                               _ignore_errors=True)
    except Exception as err:  # noqa: BLE001 - a timeout or lost connection is this host's
        text = str(err) or type(err).__name__
        return None, (f"health agent did not answer within {budget}s" if "timeout" in
                      f"{type(err).__name__} {text}".lower() else
                      f"reading the health agent's answer failed: {type(err).__name__}: {text}")
    if answer is not None:
        return answer, None
    timed_out = time.monotonic() - started >= budget - 1
    if run is None or not timed_out:
        # pyinfra logs a fact command that timed out or lost its connection and hands back
        # the fact's default: no answer at all.
        return None, ("the health agent gave no answer: it timed out (limit "
                      f"{budget}s) or the connection failed")
    cause = f"timed out after {budget} s at health agent"
    run.deadline.step = "reading the records written so far"
    try:
        salvage = host.get_fact(WheelHealthSalvage, work_dir=run.work_dir, run=run.run,
                                engine=run.engine, _timeout=step_timeout(),
                                _ignore_errors=True)
    except Exception:  # noqa: BLE001 - then nothing could be read back: said below
        salvage = None
    return salvaged_answer(salvage, run.cells, run.run, cause), None


def agent_checks(host: Any, cells: list[dict[str, str]], budget: int
                 ) -> tuple[list[Check], dict[str, str | None]]:
    """Run the node's health agent over its plan: its records (one per cell) and the tool
    versions they report.  ``budget`` bounds the agent's read (the platform knows its
    batches); the host's deadline is that plus time for the salvage and the wheel fetches.

    Never raises for anything the node does: no agent, a crash, a timeout or output that is not
    records all become this host's own records saying what happened.  A timeout keeps every
    check the agent finished before it (the agent writes each as it completes).
    """
    run = _RUNS.get(host.name)
    if run:
        run.cells = cells
        run.deadline.limit_to(budget + reserve_seconds(len(cells)))
    answer, failure = read_agent(host, run, budget)
    if failure is not None:
        return host_level(cells, host.name, cause=failure), {}
    if not isinstance(answer, dict):
        answer = {"state": "garbled", "output_tail": [repr(answer)[:200]]}
    if run:
        run.answer = answer
    for raw in answer.get("records") or []:
        if isinstance(raw, dict):
            if run:
                run.deadline.step = f"fetching the repaired wheel {raw.get('wheel_path')}"
            validate_with_wheelcheck(host, raw)
    checks = checks_from_answer(answer, cells, host.name)
    tools: dict[str, str | None] = {}
    for record in checks:
        for key in ("auditwheel", "patchelf", "gcc", "delocate", "clang", "macos"):
            value = record["versions"].get(key)
            if value:
                tools.setdefault(f"{key} ({record['image']})", value)
    return checks, tools


def after_deadline(run: HostRun, cells: list[dict[str, str]], host: str,
                   timed_out: HostTimedOut) -> list[Check]:
    """The host's checks when its deadline passed: what the agent answered, if it had, with
    every wheel not yet judged by wheelcheck failing at validate; else every cell failed."""
    if run.answer is None or run.answer.get("state") != "ok":
        return host_level(cells, host, cause=str(timed_out))
    for raw in run.answer.get("records") or []:
        if isinstance(raw, dict) and raw.get("status") == "passed" and "wheelcheck" not in raw:
            raw.pop("wheel_path", None)
            raw.update(status="failed", step="validate", exit_code=None, output_tail=[],
                       diagnosis=f"{timed_out}: wheelcheck could not judge this wheel")
    return checks_from_answer(run.answer, cells, host)


def engine_version(host: Any, engine: str) -> dict[str, str]:
    """``{engine: version}`` for the report's tools, or nothing (decoration, never a failure)."""
    run = _RUNS.get(host.name)
    if run:
        run.deadline.step = "reading the engine's version"
    try:
        found = host.get_fact(ContainerEngine, engine=engine, _timeout=step_timeout(),
                              _ignore_errors=True)
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
        run = HostRun(run=uuid.uuid4().hex[:16], work_dir=selection.settings.work_dir,
                      engine=str(getattr(selection.settings, "container_engine", "") or ""),
                      deadline=Deadline(deadline_override()))
        _RUNS[host.name] = run
        result: dict[str, Any] = {}

        def work() -> None:
            result["checks"], result["tools"] = plat.collect(host, selection)

        try:
            timed_out = run.deadline.run(work)
            if timed_out is None:
                doc["checks"], doc["tools"] = result["checks"], result["tools"]
            else:
                log_timeout(host, timed_out)
                doc["checks"] = after_deadline(run, plat.planned_cells(selection), host.name,
                                               timed_out)
        except Exception as err:  # noqa: BLE001 - a bug here must not cost the other hosts
            doc["checks"] = host_level(plat.planned_cells(selection), host.name,
                                       cause="collecting the health records failed on the "
                                       f"controller: {type(err).__name__}: {err}")
        finally:
            _RUNS.pop(host.name, None)
    path = out_dir() / f"{host.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))
    return doc
