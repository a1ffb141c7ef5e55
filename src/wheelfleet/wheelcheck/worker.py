"""``python -m wheelfleet.wheelcheck.worker MEMORY_BYTES``: the process a wheel is checked in.

It caps its own heap (RLIMIT_DATA) at MEMORY_BYTES, then reads requests from stdin, one JSON
object per line (``{"path": ..., "budgets": {...}}``), and answers each with the wheel's report
as one JSON line. ``pool.check_wheels`` runs these, so that a wheel that still managed to
stall or exhaust a worker costs that worker, never the batch or the caller.
"""

from __future__ import annotations

import json
import resource
import sys

from .budgets import Budgets
from .checker import check_wheel


def main(argv: list[str]) -> int:
    if argv:
        limit = int(argv[0])
        try:
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        except (ValueError, OSError):
            pass  # a lower hard limit is already in place: keep it
    for line in sys.stdin:
        request = json.loads(line)
        report = check_wheel(request["path"], Budgets.from_json(request["budgets"]))
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
