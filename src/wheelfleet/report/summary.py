"""The plain-text table printed at the end of ``wheelfleet verify``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .schema import normalize_report
from .text import clean_line, diagnosis_or_fallback

_HEADER = ("HOST", "STATUS", "PASSED", "FAILED", "NOT-RUN", "DRIFT", "FIRST DIAGNOSIS")
_DIAGNOSIS_WIDTH = 60  # keeps a row on one 120-column terminal line


def _drift_cell(host: Mapping[str, Any]) -> str:
    drift = host["drift"]
    if drift["error"] is not None:
        return "error"
    if not drift["checked"]:
        return "-"
    return str(len(drift["changes"]))


def _first_diagnosis(host: Mapping[str, Any]) -> str:
    """What to read first: the connection error, a failed check, or a drift-check error."""
    if host["error"] is not None:
        return clean_line(host["error"])
    for check in host["checks"]:
        if check["status"] == "failed":
            return f"{check['python']} {check['step']}: {diagnosis_or_fallback(check)}"
    if host["drift"]["error"] is not None:
        return f"drift: {clean_line(host['drift']['error'])}"
    if host["drift"]["changes"]:
        return f"drift: {clean_line(host['drift']['changes'][0])}"
    return ""


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _row(host: Mapping[str, Any]) -> tuple[str, ...]:
    statuses = [check["status"] for check in host["checks"]]
    if host["status"] == "unreachable":
        # Whatever verify listed for it never ran, whatever status it was given.
        statuses = ["not-run"] * len(statuses)
    return (
        clean_line(host["host"]),
        host["status"],
        str(statuses.count("passed")),
        str(statuses.count("failed")),
        str(statuses.count("not-run")),
        _drift_cell(host),
        _shorten(_first_diagnosis(host), _DIAGNOSIS_WIDTH),
    )


def summary_table(report: Mapping[str, Any]) -> str:
    """A fixed-width table, one row per host, ending with the verdict line."""
    normalized = normalize_report(report)
    rows = [_HEADER, *(_row(host) for host in normalized["hosts"])]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    numeric = {2, 3, 4, 5}  # right-align counts so they line up by digit
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    hosts, when = len(normalized["hosts"]), normalized["generated_at"]
    lines.append("")
    lines.append(f"verdict: {normalized['verdict'].upper()} ({hosts} hosts, {when})")
    return "\n".join(lines)
