"""windows_health: what a Windows host needs to run the health check on itself.

The agent (``agent.py`` with its Windows host mode ``windows_agent.py`` beside it), the canary
source, the host's check plan, the OpenSSL archive of every compiler family × arch it checks
(from the fleet's artifact mirror, sha256-verified before use; an unlocked one is refused with
nothing downloaded), a wheelhouse of the canary's pinned build requirements for every Python
it checks (downloaded by the host's pip with ``--require-hashes``; the agent builds from it
with ``--no-index``) and a tools venv holding delvewheel at the matrix's pin (installed from
``wheelfleet lock``'s hashed files only).  Converging it twice changes nothing the second
time; *running* the check is a read (``facts.windows_health.WindowsHealthRecords``), done by
``wheelfleet health`` / verify.

Proof level: protocol peer with labelled stand-ins (tests/windows_converge: converged twice
over the real ``@winrm`` connector) and spec (tests/spec/operations/windows_health.*).  No
Windows host has been converged with it: there is none here.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import PureWindowsPath

from pyinfra.api import deploy

from wheelfleet.canary import project_dir
from wheelfleet.connectors import windows_files
from wheelfleet.health.plan import packaged
from wheelfleet.health.windows_plan import (
    agent_path,
    build_plan,
    canary_dir,
    health_dir,
    openssl_archive,
    plan_path,
    tools_python,
    tools_venv,
    wheelhouse_dir,
    windows_agent_path,
)
from wheelfleet.lock.needs import canary_sets, locked, tool_requirements, tools_key
from wheelfleet.operations.fleet import refuse
from wheelfleet.operations.windows import directory
from wheelfleet.operations.windows_health import openssl_archive as openssl_op
from wheelfleet.operations.windows_health import tools_venv as tools_venv_op
from wheelfleet.operations.windows_health import wheelhouse
from wheelfleet.platforms.windows import WindowsSettings
from wheelfleet.selection import Selection


@deploy("windows_health")
def windows_health(selection: Selection) -> None:
    """
    Install the health agent and its Windows host mode, the canary source, the host's check
    plan, the OpenSSL archives its checks build against, a wheelhouse of the canary's pinned
    build requirements and delvewheel (pinned) in a tools venv.

    + selection: the host's validated matrix selection (a Windows host)

    **Example:**

    .. code:: python

        windows_health(selection=current_selection())
    """
    settings = selection.settings
    assert isinstance(settings, WindowsSettings), "windows_health converges Windows hosts only"
    plan = build_plan(selection)

    directory(name="Health check directory", path=health_dir(settings))
    windows_files.put(name="Health agent", src=packaged("health/agent.py"),
                      dest=agent_path(settings))
    windows_files.put(name="Health agent, Windows host mode",
                      src=packaged("health/windows_agent.py"), dest=windows_agent_path(settings))
    root = project_dir()
    sources = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    folders = sorted({p.parent.relative_to(root) for p in sources} - {root.relative_to(root)},
                     key=lambda p: len(p.parts))
    directory(name="Canary source", path=canary_dir(settings))
    for folder in folders:
        directory(name=f"Canary source {folder.as_posix()}/",
                  path=f"{canary_dir(settings)}\\{PureWindowsPath(folder)}")
    for src in sources:
        rel = src.relative_to(root)
        windows_files.put(name=f"Canary source {rel.as_posix()}", src=str(src),
                          dest=f"{canary_dir(settings)}\\{PureWindowsPath(rel)}")
    windows_files.put(name="Health check plan (checks on the Windows host itself)",
                      src=StringIO(json.dumps(plan, indent=1, sort_keys=True) + "\n"),
                      dest=plan_path(settings))

    # One archive per compiler family × arch the checks build against.
    for family, arch in sorted({(c["family"], c["arch"]) for c in plan["checks"]}):
        archive = openssl_archive(selection.matrix, settings, family, arch)
        if archive is None:
            continue  # the matrix has none: that check fails saying so (windows_openssl)
        what = f"OpenSSL {archive.version} ({family}, {arch})"
        openssl_op(name=what, what=what,
                   lock_key=f"windows_openssl.builds.{family}.sha256.{arch}",
                   url=archive.url, sha256=archive.sha256,
                   archive=f"{settings.cache_dir}\\{archive.cache_name}", target=archive.target)

    python = tools_python(selection)
    tools = tool_requirements(selection.matrix, "windows")
    label = f"Pinned repair tools ({', '.join(tools)})"
    if python is None:
        refuse(name=label, reason="the health check's tools venv needs a selected Python 3.9 "
               "or newer (with the GIL): select one in this host's pythons")
        return

    # Each checked Python's own pins (2.7 and 3.3-3.8 need older setuptools and wheel), for
    # the platforms its checks build: only the files `wheelfleet lock` hashed; an unlocked
    # set fails this host alone in one line, before anything is fetched.
    targets: dict[str, set[str]] = {}
    for check in plan["checks"]:
        minor = selection.matrix.pythons[check["python"]].minor
        targets.setdefault(minor, set()).add(check["plat"])
    if targets:
        house = "Wheelhouse of canary build requirements"
        hashes, unlocked = locked(selection.matrix, canary_sets(selection))
        if unlocked:
            refuse(name=house, reason=unlocked)
        else:
            wheelhouse(name=house, python=python, path=wheelhouse_dir(settings),
                       requirements=selection.matrix.canary_build_requirements,
                       targets={v: sorted(p) for v, p in targets.items()}, hashes=hashes,
                       lock_key="python_locks.canary/<python>", _timeout=900)

    key = tools_key("windows")
    hashes, unlocked = locked(selection.matrix, [(key, tools)])
    if unlocked:
        refuse(name=label, reason=unlocked)
    else:
        tools_venv_op(name=label, python=python, venv=tools_venv(settings), packages=hashes,
                      lock_key=f"python_locks.{key}", _timeout=900)
