"""wheel_health: put the health agent, the canary and its offline build requirements on a node.

Converging this role changes nothing when rerun; *running* the check is a read
(``wheelfleet.facts.health.WheelHealthRecords``), done by ``wheelfleet health`` / verify.
"""

from __future__ import annotations

import json

from pyinfra.api import deploy

from wheelfleet.canary import project_dir
from wheelfleet.facts.health import WheelhouseFiles
from wheelfleet.facts.once import prefetch, prefetch_files
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
from wheelfleet.lock.needs import canary_sets, locked
from wheelfleet.operations.files import managed_directory, managed_file
from wheelfleet.operations.fleet import refuse
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
    root = project_dir()
    canary = {f"{CANARY_DIR}/{src.relative_to(root).as_posix()}": src
              for src in sorted(root.rglob("*"))
              if src.is_file() and "__pycache__" not in src.parts}
    # One read of every file below answers all of this role's file operations.
    prefetch_files([HEALTH_DIR, AGENT, RUNNER, PLAN, *canary])
    managed_directory(name="Health check directory", path=HEALTH_DIR)
    managed_file(name="Health agent", src=packaged("health/agent.py"), dest=AGENT, mode="755")
    managed_file(name="Health runner", src=packaged("health/runner.sh"), dest=RUNNER,
                 mode="755")
    for dest, src in canary.items():
        managed_file(name=f"Canary source {dest.removeprefix(CANARY_DIR + '/')}", src=str(src),
                     dest=dest)
    plan = json.dumps(build_plan(selection), indent=1, sort_keys=True) + "\n"
    managed_file(name="Health check plan", content=plan, dest=PLAN)
    # Only the files `wheelfleet lock` hashed, for every Python this host checks; with none
    # checked here (no selected image carries them) there is nothing to build offline.
    sets = canary_sets(selection)
    hashes, unlocked = locked(selection.matrix, sets)
    if unlocked:
        refuse(name="Wheelhouse of canary build requirements", reason=unlocked)
    else:
        prefetch(WheelhouseFiles, path=WHEELHOUSE)
        wheelhouse(name="Wheelhouse of canary build requirements", path=WHEELHOUSE,
                   requirements=selection.matrix.canary_build_requirements if sets else [],
                   hashes=hashes)

