"""Health-check every Linux node: ``pyinfra -y INVENTORY deploys/health.py``.

Each node builds, repairs, validates, installs and imports the canary for every selected image x
Python (see roles/wheel_health).  Records are written on the controller, one JSON file per host,
into ``$WHEELFLEET_HEALTH_OUT`` (default ``reports/health``); ``wheelfleet health`` and
``wheelfleet verify`` read them.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyinfra import host  # noqa: E402

from wheelfleet.deploying import current_selection, let_inspect_cache  # noqa: E402
from wheelfleet.health.collect import collect_for_current_host  # noqa: E402

let_inspect_cache(__file__)  # pyinfra inspects the stack per operation: cheap lookups

collect_for_current_host(host, current_selection())
