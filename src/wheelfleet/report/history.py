"""Previous nights' reports, for the HTML trend section.

Nightly runs write ``reports/<UTC timestamp>/report.json``; the siblings of tonight's directory
are the history.  A broken or foreign file must never break tonight's report, so anything that
does not load is skipped with a logged warning.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .schema import Report, load_report, parse_timestamp

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
    if not root.is_dir():
        return []
    excluded = Path(exclude_dir).resolve() if exclude_dir is not None else None
    reports: list[Report] = []
    for path in sorted(root.glob("*/report.json")):
        if excluded is not None and path.parent.resolve() == excluded:
            continue
        try:
            reports.append(load_report(path))
        except ValueError as err:
            log.warning("skipping unreadable report: %s", err)
    reports.sort(key=lambda report: parse_timestamp(report["generated_at"]), reverse=True)
    return reports[: max(limit, 0)]
