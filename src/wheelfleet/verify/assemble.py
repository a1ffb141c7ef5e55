"""Turn what the two pyinfra runs produced into one ``wheelfleet.report/1`` report.

Pure functions over plain data (selections, health documents, a dry run's result), so the rules
— who is unreachable, what counts as drift, which exit status a night earns — are unit-tested
without any host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wheelfleet import __version__
from wheelfleet.health.records import host_level
from wheelfleet.platforms import platform
from wheelfleet.pyinfra_run import RunResult
from wheelfleet.report import SCHEMA_ID, compute_verdict, derive_host_status
from wheelfleet.report.schema import Check, validate_host
from wheelfleet.selection import Selection
from wheelfleet.verify.logscan import (
    connection_errors,
    host_errors,
    last_line,
    one_line,
    timeouts,
)


@dataclass
class Outcome:
    """One pyinfra subprocess: its parsed result, or why there is none (timeout, crash)."""

    result: RunResult | None = None
    failure: str | None = None

    @property
    def log(self) -> str:
        return self.result.log if self.result else ""


def utc_now() -> str:
    """The schema's timestamp form, whole seconds: it also names the report directory."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def drift_of(sel: Selection, dry: Outcome) -> dict[str, Any]:
    """The host's drift: pending changes from the dry run, or why they are not known."""
    if not platform(sel.platform).drift_applies:
        return {"checked": False}
    if dry.failure:
        return {"checked": False, "error": one_line(dry.failure)}
    assert dry.result is not None
    connect = connection_errors(dry.log).get(sel.host)
    if connect:
        return {"checked": False, "error": f"dry run could not connect: {connect}"}
    timed_out = timeouts(dry.log).get(sel.host)
    if timed_out:
        # Before the plan: a hung host alone can leave pyinfra without one ("No hosts
        # remaining!" when it was the only host), and the cause is the timeout, not that.
        return {"checked": False, "error": f"drift check {timed_out}"}
    if "plan" not in dry.result.raw:
        return {"checked": False, "error": f"dry run exited {dry.result.returncode} without "
                f"a plan: {last_line(dry.log)}"}
    errors = host_errors(dry.log, sel.host)
    if errors:
        return {"checked": False, "error": errors[0]}
    return {"checked": True, "changes": [one_line(c) for c in dry.result.changes.get(sel.host, [])]}


def unreachable_error(host: str, health: Outcome, dry: Outcome) -> str | None:
    """The connection error pyinfra logged for ``host`` (health run first), if any."""
    return connection_errors(health.log).get(host) or connection_errors(dry.log).get(host)


def planned_cells(sel: Selection) -> list[dict[str, str]]:
    return platform(sel.platform).planned_cells(sel)


def not_run(sel: Selection, reason: str) -> list[Check]:
    """Every planned check of ``sel`` as ``not-run`` with the same one-line reason."""
    return host_level(planned_cells(sel), sel.host, reason, status="not-run")


def host_result(sel: Selection, doc: Any, health: Outcome, dry: Outcome) -> dict[str, Any]:
    """One host of the report, its status derived by the schema's own rule.

    Whatever the health run left for this host, the result is schema-valid: data that is not
    becomes this host's ``failed`` checks saying why, and never stops the other hosts' report.
    """
    host: dict[str, Any] = {"host": sel.host, "platform": sel.platform, "error": None,
                            "drift": {"checked": False}, "tools": {}, "checks": []}
    if doc is None:
        error = unreachable_error(sel.host, health, dry)
        if error:
            host["error"] = error
            host["checks"] = not_run(sel, "host unreachable")
        else:
            # Reached but no records: say what the health run said about this host.
            said = host_errors(health.log, sel.host)
            reason = health.failure or (said[0] if said else
                                        f"health run wrote no records: {last_line(health.log)}")
            host["checks"] = not_run(sel, reason)
            host["drift"] = drift_of(sel, dry)
        host["status"] = derive_host_status(host)
        return host
    host["drift"] = drift_of(sel, dry)
    try:
        host["tools"] = {str(k): (None if v is None else str(v))
                         for k, v in (doc.get("tools") or {}).items()}
        host["checks"] = list(doc.get("checks") or [])
        if doc.get("error") and not host["checks"]:
            host["checks"] = not_run(sel, str(doc["error"]))
        host["status"] = derive_host_status(host)
        validate_host(host, "$")
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        cause = err if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
        host.update(tools={}, checks=host_level(
            planned_cells(sel), sel.host, f"this host's health data is not valid: {cause}"))
        host["status"] = derive_host_status(host)
    return host


def build_report(inventory: str, generated_at: str, hosts: Sequence[Mapping[str, Any]],
                 duration_s: float | None = None) -> dict[str, Any]:
    """The whole night; the verdict follows the schema's rule (every host passed)."""
    return {"schema": SCHEMA_ID, "generated_at": generated_at, "inventory": one_line(inventory),
            "verdict": compute_verdict(hosts), "hosts": list(hosts),
            "wheelfleet_version": __version__,
            "duration_s": None if duration_s is None else round(duration_s, 1)}


def exit_status(report: Mapping[str, Any]) -> int:
    """0 only when every host is reachable, drift-free and passed every check; else 1."""
    return 0 if report["verdict"] == "passed" else 1
