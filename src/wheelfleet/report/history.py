"""Previous nights' reports, for the HTML trend section.

Nightly runs write ``reports/<UTC timestamp>/report.json``; the siblings of tonight's directory
are the history.  A broken or foreign file must never break tonight's report, so anything that
does not load is skipped with a logged warning.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from .schema import Report, normalize_report, parse_timestamp, validate_report

log = logging.getLogger(__name__)

DEFAULT_HISTORY_LIMIT = 14


def find_history(
    reports_root: str | Path,
    exclude_dir: str | Path | None = None,
    limit: int = DEFAULT_HISTORY_LIMIT,
) -> list[Report]:
    """Valid ``<reports_root>/*/report.json`` reports, newest first, at most *limit* of them.

    *exclude_dir* is tonight's own directory (it may already hold tonight's report.json).
    Reports are ordered by their ``generated_at``, not the directory name, so a renamed or
    hand-copied directory still lands in the right place.
    """
    root = Path(reports_root)
    if not root.is_dir() or limit <= 0:
        return []
    excluded = Path(exclude_dir).resolve() if exclude_dir is not None else None
    # Parse every candidate (cheap) to order it by its own timestamp, then validate and
    # normalise only as many as are shown: a year of nightly reports must not be validated
    # to draw fourteen bars.
    dated: list[tuple[datetime, Path, Any]] = []
    for path in sorted(root.glob("*/report.json")):
        if excluded is not None and path.parent.resolve() == excluded:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as err:
            log.warning("skipping unreadable report: %s: cannot read: %s", path, err)
            continue
        except json.JSONDecodeError as err:
            log.warning("skipping unreadable report: %s: not valid JSON: %s", path, err)
            continue
        try:
            when = parse_timestamp(data["generated_at"])
        except (ValueError, TypeError, KeyError, AttributeError):
            # Say what is wrong the way the schema says it (a future schema is named first).
            try:
                validate_report(data)
                why = "no valid generated_at"
            except ValueError as err:
                why = str(err)
            log.warning("skipping unreadable report: %s: %s", path, why)
            continue
        dated.append((when, path, data))
    dated.sort(key=lambda item: item[0], reverse=True)
    reports: list[Report] = []
    for _, path, data in dated:
        try:
            reports.append(normalize_report(data))
        except ValueError as err:
            log.warning("skipping unreadable report: %s: %s", path, err)
            continue
        if len(reports) == limit:
            break
    return reports
