"""The process a wheel is checked in: ``serve`` answers requests until its input ends.

Requests are JSON lines ``{"path": ..., "budgets": {...}}``; each answer is the wheel's report
as one JSON line. The worker first caps its own heap (RLIMIT_DATA). ``pool.check_wheels``
starts workers by forking (when that is safe) or as
``python -m wheelfleet.wheelcheck.worker MEMORY_BYTES``, so that a wheel that still managed to
stall or exhaust a worker costs that worker, never the batch or the caller.
"""

from __future__ import annotations

import json
import resource
import sys
from typing import BinaryIO

from .budgets import Budgets
from .checker import check_wheel


def serve(requests: BinaryIO, replies: BinaryIO, memory_bytes: int) -> int:
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    except (ValueError, OSError):
        pass  # a lower hard limit is already in place: keep it
    for line in requests:
        request = json.loads(line)
        report = check_wheel(request["path"], Budgets.from_json(request["budgets"]))
        replies.write(json.dumps(report.to_json()).encode() + b"\n")
        replies.flush()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.stdin.buffer, sys.stdout.buffer, int(sys.argv[1])))
