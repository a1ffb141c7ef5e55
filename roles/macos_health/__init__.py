"""macos_health: what a Mac needs to run the health check on itself.

The agent (host mode), the canary source, the host's macOS check plan, an offline wheelhouse of
the canary's pinned build requirements and a tools venv holding delocate at the matrix's pin.
Converging it twice changes nothing the second time; *running* the check is a read
(``wheelfleet.facts.health.WheelHealthRecords``), done by ``wheelfleet health`` / verify.
Everything it writes is root's (``_sudo``), like the other macOS roles; the agent only reads it.
macOS has no GNU ``timeout``: long steps are bounded by pyinfra's ``_timeout``.

Proof level: spec (tests/spec/operations/wheelhouse.wheelhouse: the wheelhouse operation as
this role calls it) and unit (tests/test_macos_health.py: the plan it uploads).  No Mac has
been converged with it: there is none here.
"""

from __future__ import annotations

import json
from io import StringIO

from pyinfra.api import deploy
from pyinfra.operations import files

from wheelfleet.canary import project_dir
from wheelfleet.health.macos_plan import (
    TOOLS_VENV,
    build_plan,
    tools_python,
    wheelhouse_dir,
    wheelhouse_pythons,
)
from wheelfleet.health.plan import AGENT, CANARY_DIR, HEALTH_DIR, PLAN, packaged
from wheelfleet.lock.needs import canary_sets, locked, tool_requirements, tools_key
from wheelfleet.operations.fleet import refuse
from wheelfleet.operations.hashed_pip import hashed_packages
from wheelfleet.operations.wheelhouse import wheelhouse
from wheelfleet.platforms.macos import MacosSettings
from wheelfleet.selection import Selection


@deploy("macos_health")
def macos_health(selection: Selection) -> None:
    """
    Install the health agent, the canary source, the host's macOS check plan, a wheelhouse of
    the canary's pinned build requirements and delocate (pinned) in a tools venv.

    + selection: the host's validated matrix selection (a macOS host)

    **Example:**

    .. code:: python

        macos_health(selection=current_selection())
    """
    settings = selection.settings
    assert isinstance(settings, MacosSettings), "macos_health converges macOS hosts only"
    python = tools_python(selection)

    files.directory(name="Health check directory", path=HEALTH_DIR, _sudo=True)
    files.put(name="Health agent", src=packaged("health/agent.py"), dest=AGENT, mode="755",
              _sudo=True)
    root = project_dir()
    for src in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = src.relative_to(root).as_posix()
        files.put(name=f"Canary source {rel}", src=str(src), dest=f"{CANARY_DIR}/{rel}",
                  create_remote_dir=True, _sudo=True)
    plan = json.dumps(build_plan(selection), indent=1, sort_keys=True) + "\n"
    files.put(name="Health check plan (checks on the Mac itself)", src=StringIO(plan), dest=PLAN,
              _sudo=True)

    # Each selected Python's own pins (2.7 and 3.3-3.8 need older setuptools and wheel),
    # downloaded for that Python so pip checks their tags and Requires-Python against it.
    # Downloads are only of the files `wheelfleet lock` hashed (pip --require-hashes); an
    # unlocked set fails this host with one line, the others go on.
    hashes, unlocked = locked(selection.matrix, canary_sets(selection))
    if unlocked:
        refuse(name="Wheelhouse of canary build requirements", reason=unlocked)
    else:
        wheelhouse(name="Wheelhouse of canary build requirements",
                   path=wheelhouse_dir(settings),
                   requirements=selection.matrix.canary_build_requirements, python=python,
                   python_versions=wheelhouse_pythons(selection), download_timeout=None,
                   hashes=hashes, _sudo=True, _timeout=900)

    tools = tool_requirements(selection.matrix, "macos")
    key = tools_key("macos")
    tool_hashes, unlocked = locked(selection.matrix, [(key, tools)])
    if unlocked:
        refuse(name=f"Pinned repair tools ({', '.join(tools)})", reason=unlocked)
    else:
        hashed_packages(name=f"Pinned repair tools ({', '.join(tools)})", venv=TOOLS_VENV,
                        packages=tool_hashes, lock_key=f"python_locks.{key}",
                        create_with=python, _sudo=True, _timeout=900)
