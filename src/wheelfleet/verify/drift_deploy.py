"""The drift check's deploy file: ``deploys/fleet.py`` for the current host, under a deadline.

``wheelfleet verify`` runs ``pyinfra --dry INVENTORY <this file>``; each host's greenlet
executes the fleet's own ``deploys/fleet.py`` (path in ``WHEELFLEET_FLEET_DEPLOY``) exactly as
pyinfra would, so the plan and its operation names are the fleet deploy's.  A host that is still
loading when its deadline passes (``WHEELFLEET_HOST_DEADLINE``, default 1800 s) stops there
with one line, ``[host] wheelfleet: timed out after N s at STEP``; the other hosts' dry runs go
on untouched.  Not for converging: a dry run only reads facts.
"""

import os

from pyinfra import host
from pyinfra_cli.util import exec_file

from wheelfleet.deploying import let_inspect_cache
from wheelfleet.verify.deadline import (
    DEFAULT_DRIFT_DEADLINE,
    FLEET_DEPLOY_ENV,
    Deadline,
    deadline_override,
    log_timeout,
)

let_inspect_cache(__file__)  # and the fleet deploy registers itself: see let_inspect_cache
_timed_out = Deadline(deadline_override() or DEFAULT_DRIFT_DEADLINE).run(
    lambda: exec_file(os.environ[FLEET_DEPLOY_ENV]))
if _timed_out is not None:
    log_timeout(host, _timed_out)
