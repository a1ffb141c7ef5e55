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
from wheelfleet.health.plan import build_plan
from wheelfleet.pyinfra_run import RunResult
from wheelfleet.report import SCHEMA_ID, compute_verdict, derive_host_status
from wheelfleet.report.schema import Check
from wheelfleet.selection import Selection
from wheelfleet.verify.logscan import connection_errors, host_errors, last_line, one_line

CHECK_KEYS = tuple(Check.__annotations__)  # the schema rejects any other key in a check
_ONE_LINE_KEYS = ("image", "python", "arch", "diagnosis", "reason", "wheel", "answer")


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


def planned_checks(sel: Selection) -> list[dict[str, str]]:
    """The matrix cells a host is checked on: image, python, arch and variant of each check."""
    if sel.platform == "linux":
        # The agent's own plan, so "planned" and "ran" can never disagree.
        return [{"image": c["image"], "python": c["python"], "arch": c["arch"],
                 "variant": c["variant"]} for c in build_plan(sel)["checks"]]
    # No images off Linux: the platform stands in for the image in the check's name.
    return [{"image": sel.platform, "python": p.id, "arch": a, "variant": "default"}
            for p in sel.pythons for a in sel.arches]


def not_run(sel: Selection, reason: str) -> list[dict[str, Any]]:
    """Every planned check of ``sel`` as ``not-run`` with the same one-line reason."""
    return [{**cell, "host": sel.host, "status": "not-run", "reason": one_line(reason)}
            for cell in planned_checks(sel)]


def check_record(raw: Mapping[str, Any], sel: Selection) -> dict[str, Any]:
    """A health record as the schema wants it: known keys only, one-line texts, host set."""
    record = {key: raw[key] for key in CHECK_KEYS if key in raw}
    record["host"] = sel.host
    if not record.get("image"):
        record["image"] = sel.platform  # non-Linux not-run records carry no image
    record.setdefault("variant", "default")
    for key in _ONE_LINE_KEYS:
        if isinstance(record.get(key), str):
            record[key] = one_line(record[key], limit=500)
    if "output_tail" in record:
        record["output_tail"] = [str(line).replace("\r", "") for tail in record["output_tail"]
                                 for line in str(tail).split("\n")]
    if isinstance(record.get("versions"), dict):
        record["versions"] = versions_record(record["versions"])
    if record.get("status") == "not-run" and not record.get("reason"):
        record["reason"] = "the node did not say why"
    return record


def versions_record(versions: Mapping[str, Any]) -> dict[str, Any]:
    """Tool versions as the schema types them: strings or null; build_flags int/str/null.

    The node reports some values as numbers (``maxunicode``: 1114111); the schema keeps
    versions textual so that a report renders the same whatever the node's Python produced.
    """
    def flag(value: Any) -> int | str | None:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        return int(value) if isinstance(value, bool) else str(value)

    typed: dict[str, Any] = {}
    for key, value in versions.items():
        if key == "build_flags" and isinstance(value, dict):
            typed[key] = {str(k): flag(v) for k, v in value.items()}
        elif value is None or (isinstance(value, str) and value.strip()):
            typed[str(key)] = value
        elif isinstance(value, str):
            typed[str(key)] = None  # an empty answer is "unknown", not a version
        else:
            typed[str(key)] = str(value)
    return typed


def drift_of(sel: Selection, dry: Outcome) -> dict[str, Any]:
    """The host's drift: pending changes from the dry run, or why they are not known."""
    if sel.platform != "linux":
        # deploys/fleet.py has no roles off Linux: its only "change" would be the refusal.
        return {"checked": False}
    if dry.failure:
        return {"checked": False, "error": one_line(dry.failure)}
    assert dry.result is not None
    connect = connection_errors(dry.log).get(sel.host)
    if connect:
        return {"checked": False, "error": f"dry run could not connect: {connect}"}
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


def host_result(sel: Selection, doc: Mapping[str, Any] | None, health: Outcome,
                dry: Outcome) -> dict[str, Any]:
    """One host of the report, its status derived by the schema's own rule."""
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
    else:
        host["tools"] = {str(k): (None if v is None else str(v))
                         for k, v in (doc.get("tools") or {}).items()}
        host["checks"] = [check_record(raw, sel) for raw in doc.get("checks") or []]
        if doc.get("error") and not host["checks"]:
            host["checks"] = not_run(sel, str(doc["error"]))
        host["drift"] = drift_of(sel, dry)
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
