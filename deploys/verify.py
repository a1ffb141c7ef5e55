"""Health-check every node, pyinfra-natively: ``pyinfra -y INVENTORY deploys/verify.py``.

For each host this runs the same canary collection as deploys/health.py (records written to
``$WHEELFLEET_HEALTH_OUT``, default ``reports/health/<host>.json``), prints one summary line per
host, and fails the host — so pyinfra exits non-zero — when any check did not pass.

It does not check drift and writes no report: a deploy cannot dry-run another deploy against the
same hosts.  ``wheelfleet verify INVENTORY`` is the full nightly run: it validates the inventory,
runs a dry run of deploys/fleet.py (drift) beside this health collection, and writes
report.json, junit.xml and index.html (see docs/nightly.md).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyinfra import host, logger  # noqa: E402

from wheelfleet.deploying import current_selection, let_inspect_cache  # noqa: E402
from wheelfleet.health.collect import collect_for_current_host  # noqa: E402
from wheelfleet.operations.fleet import refuse  # noqa: E402

let_inspect_cache(__file__)  # pyinfra inspects the stack per operation: cheap lookups

doc = collect_for_current_host(host, current_selection())
statuses = [check["status"] for check in doc["checks"]]
failed = [c for c in doc["checks"] if c["status"] == "failed"]
logger.info(f"{host.print_prefix}health: {statuses.count('passed')} passed, {len(failed)} "
            f"failed, {statuses.count('not-run')} not run")

if doc["error"] or failed or not statuses or set(statuses) != {"passed"}:
    first = failed[0] if failed else None
    why = doc["error"] or (f"{first['python']} {first['variant']} on {first['image']} failed "
                           f"at {first['step']}: {first.get('diagnosis')}" if first else
                           "not every check ran (see the records)")
    refuse(name="Canary checks", reason=f"health check did not pass: {why}")
