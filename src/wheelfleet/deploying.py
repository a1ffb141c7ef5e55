"""Glue between pyinfra's per-host deploy context and the validated matrix selection."""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import types

from pyinfra import host, state

from wheelfleet.errors import InputError
from wheelfleet.fleetfile import KEY as HOST_KEY
from wheelfleet.fleetfile import host_key_problem, uses_ssh
from wheelfleet.operations.fleet import refuse
from wheelfleet.platforms import platform
from wheelfleet.selection import Selection, select_for_host


def inventory_name() -> str:
    """The inventory file this run loaded, for error messages."""
    inv = getattr(state, "inventory", None)
    return str(getattr(inv, "filename", None) or getattr(state, "cwd", None) or "inventory")


def current_selection() -> Selection | InputError:
    """The current host's selection, or the one-line error that says why it has none.

    Returned rather than raised: an exception while pyinfra loads a deploy file for one host
    aborts the whole run, whereas a bad host should fail alone.
    """
    groups = [str(g) for g in host.groups]
    data = host.data.dict()
    try:
        selection = select_for_host(host.name, groups, data, inventory_name())
    except InputError as err:
        return err
    # pyinfra has connected by now (it loads deploy files after connecting), so only the
    # inventory's guard() can stop the connection; this at least changes nothing on a host
    # whose key was never verified.
    if uses_ssh(host.connector_cls):
        problem = host_key_problem(host.name, data, selection.settings.host_key_trust)
        if problem:
            return InputError(inventory_name(), f"{host.name}.{HOST_KEY}", problem)
    return selection


def converge(selection: Selection | InputError) -> None:
    """Converge the current host: its platform's roles in order, or one line saying why not.

    A role is the package ``roles/<name>`` of the fleet repository exporting ``<name>``, a
    pyinfra ``@deploy`` that takes the host's selection (deploys/ puts the repository on
    ``sys.path``).
    """
    if isinstance(selection, InputError):
        refuse(name="Validate host selection", reason=f"invalid selection: {selection}")
        return
    plat = platform(selection.platform)
    if not plat.roles:
        refuse(name=f"{plat.name} roles", reason=plat.refusal())
        return
    for name in plat.roles:
        role = getattr(importlib.import_module(f"roles.{name}"), name)
        role(selection=selection)


def let_inspect_cache(deploy_file: str) -> None:
    """Name a deploy file as a module so that ``inspect`` caches its frames.

    pyinfra's CLI orders operations by the call stack: for every operation of every host it
    runs ``inspect.getframeinfo`` on each frame, and for a frame whose file belongs to no
    module ``inspect.getmodule`` walks all of ``sys.modules`` — three walks per operation for a
    deploy file pyinfra ``exec``s.  That was a third of a 32-host no-op converge.  Registered
    under a module name, the file is found in inspect's cache; frames, line numbers and the
    operation order are unchanged.

    **Example** (first lines of a deploy file):

    .. code:: python

        let_inspect_cache(__file__)
    """
    path = os.path.abspath(deploy_file)
    name = "wheelfleet._deploy_files." + hashlib.sha256(path.encode()).hexdigest()[:16]
    if name not in sys.modules:
        module = types.ModuleType(name, f"The deploy file {path}, as inspect sees it.")
        module.__file__ = path
        sys.modules[name] = module
