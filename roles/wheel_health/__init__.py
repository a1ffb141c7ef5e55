"""wheel_health: put the health agent, the canary and its offline build requirements on a node.

Converging this role changes nothing when rerun; *running* the check is a read
(``wheelfleet.facts.health.WheelHealthRecords``), done by ``wheelfleet health`` / verify.
"""

from __future__ import annotations

import json
from io import StringIO

from pyinfra.api import deploy
from pyinfra.operations import files

from wheelfleet.canary import project_dir
from wheelfleet.health.plan import (
    AGENT,
    CANARY_DIR,
    HEALTH_DIR,
    PLAN,
    RUNNER,
    WHEELHOUSE,
    build_plan,
    packaged,
)
from wheelfleet.operations.wheelhouse import wheelhouse
from wheelfleet.selection import Selection


@deploy("wheel_health")
def wheel_health(selection: Selection) -> None:
    """
    Install the health agent, its in-container runner, the canary source, the host's check
    plan and a wheelhouse of the canary's pinned build requirements.

    + selection: the host's validated matrix selection

    **Example:**

    .. code:: python

        wheel_health(selection=current_selection())
    """
    files.directory(name="Health check directory", path=HEALTH_DIR)
    files.put(name="Health agent", src=packaged("health/agent.py"), dest=AGENT, mode="755")
    files.put(name="Health runner", src=packaged("health/runner.sh"), dest=RUNNER, mode="755")
    root = project_dir()
    for src in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = src.relative_to(root).as_posix()
        files.put(name=f"Canary source {rel}", src=str(src), dest=f"{CANARY_DIR}/{rel}",
                  create_remote_dir=True)
    plan = json.dumps(build_plan(selection), indent=1, sort_keys=True) + "\n"
    files.put(name="Health check plan", src=StringIO(plan), dest=PLAN)
    wheelhouse(name="Wheelhouse of canary build requirements", path=WHEELHOUSE,
               requirements=selection.matrix.canary_build_requirements)

