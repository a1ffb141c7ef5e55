"""The nightly verification report: ``report.json``, ``junit.xml``, ``index.html`` and a summary.

``wheelfleet verify`` builds one report dict (schema in SCHEMA.md) and calls
:func:`write_reports`; :func:`summary_table` is what it prints at the end.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .files import atomic_write
from .history import find_history
from .html import render_html, write_html
from .junit import build_junit, write_junit
from .schema import (
    SCHEMA_ID,
    Report,
    compute_verdict,
    derive_host_status,
    load_report,
    normalize_report,
    parse_timestamp,
    validate_report,
)
from .summary import summary_table

__all__ = [
    "SCHEMA_ID",
    "Report",
    "build_junit",
    "compute_verdict",
    "default_out_dir",
    "derive_host_status",
    "find_history",
    "load_report",
    "normalize_report",
    "render_html",
    "summary_table",
    "validate_report",
    "write_html",
    "write_junit",
    "write_reports",
]

DEFAULT_REPORTS_ROOT = Path("reports")


def run_stamp(generated_at: str) -> str:
    """``2026-11-27T02:00:00Z`` -> ``20261127T020000Z``: sortable and safe as a directory name."""
    return parse_timestamp(generated_at).strftime("%Y%m%dT%H%M%SZ")


def default_out_dir(
    report: Mapping[str, Any], reports_root: str | Path = DEFAULT_REPORTS_ROOT
) -> Path:
    """Where a night's files go by convention: ``<reports_root>/<UTC timestamp>/``."""
    validate_report(report)
    return Path(reports_root) / run_stamp(report["generated_at"])


def write_reports(
    report: Mapping[str, Any],
    out_dir: str | Path | None = None,
    reports_root: str | Path | None = None,
) -> dict[str, Path]:
    """Validate *report*, then write ``report.json``, ``junit.xml`` and ``index.html``.

    *out_dir* defaults to ``reports/<UTC timestamp>/``.  The trend section reads earlier nights
    from *reports_root* (default: *out_dir*'s parent, i.e. its sibling directories).  Raises
    ``ValueError`` (one line, naming the JSON path) before writing anything if *report* is
    malformed.  Returns ``{"json": ..., "junit": ..., "html": ...}``.
    """
    normalized = normalize_report(report)
    out = Path(out_dir) if out_dir is not None else default_out_dir(normalized)
    root = Path(reports_root) if reports_root is not None else out.parent
    out.mkdir(parents=True, exist_ok=True)
    history = find_history(root, exclude_dir=out)
    text = json.dumps(normalized, indent=2, ensure_ascii=False) + "\n"
    paths = {
        "json": atomic_write(out / "report.json", text.encode("utf-8")),
        "junit": write_junit(normalized, out / "junit.xml"),
        "html": write_html(normalized, out / "index.html", history),
    }
    return paths
