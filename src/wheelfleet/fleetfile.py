"""Load a fleet inventory the way pyinfra does and validate every host before connecting."""

from __future__ import annotations

import contextvars
import os
import sys
from pathlib import Path

from wheelfleet.errors import InputError
from wheelfleet.selection import Selection, select_for_host

_LOADING = contextvars.ContextVar("wheelfleet_loading_inventory", default=False)


def load_fleet(inventory: str | Path, limit: list[str] | None = None) -> list[Selection]:
    """Every host of ``inventory`` with its validated selection (raises InputError).

    >>> sels = load_fleet("inventory/example.py")          # doctest: +SKIP
    >>> sorted({s.platform for s in sels})                  # doctest: +SKIP
    ['linux', 'macos', 'windows']
    """
    from pyinfra.api import State
    from pyinfra.context import ctx_state
    from pyinfra_cli.inventory import make_inventory

    path = Path(inventory)
    if not path.is_file():
        raise InputError(str(inventory), "<file>", "inventory file does not exist")
    token = _LOADING.set(True)
    try:
        # pyinfra's file loader records the file on the current State; give it a scratch one
        # so that loading never touches a real run's state.
        with ctx_state.use(State()):
            inv = make_inventory(str(path), cwd=str(path.resolve().parent))
    except InputError:
        raise
    except Exception as err:  # a user's Python inventory can raise anything
        raise InputError(str(inventory), "<load>", f"cannot load inventory: {err}") from None
    finally:
        _LOADING.reset(token)
    selections = []
    for host in inv:
        if limit and host.name not in limit:
            continue
        groups = [g.name if hasattr(g, "name") else str(g) for g in host.groups]
        selections.append(select_for_host(host.name, groups, host.data.dict(), str(inventory)))
    if limit:
        missing = sorted(set(limit) - {s.host for s in selections})
        if missing:
            raise InputError(str(inventory), missing[0], "no such host in the inventory")
    return selections


def guard(inventory_file: str) -> None:
    """Call at the bottom of an inventory file: refuse bad selections before pyinfra connects.

    pyinfra imports the inventory before it connects to anything, so an invalid fleet stops
    here with one line (file, key, what was expected) and exit status 2 — no traceback, no host
    touched.  Loading the same file again from inside the check is a no-op.
    """
    if _LOADING.get() or os.environ.get("WHEELFLEET_SKIP_GUARD"):
        return
    try:
        load_fleet(inventory_file)
    except InputError as err:
        print(f"wheelfleet: {err}", file=sys.stderr)
        raise SystemExit(2) from None
