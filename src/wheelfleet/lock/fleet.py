"""The hosts ``wheelfleet lock`` locks for, validated like every command's, grouped by overlay.

A selection is validated exactly as ``check-inventory`` does, with one difference: a macOS
Python whose installer has no sha256 yet is accepted here — finding those is what lock is for
(everywhere else it is refused before anything connects).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wheelfleet.errors import InputError
from wheelfleet.matrix import Matrix, load_matrix
from wheelfleet.selection import Selection, select_for_host

# Stands in for a missing installer hash only while the selection is validated; the
# selection handed on carries the real matrix (see unlocked_allowed).
_VALIDATING_ONLY = "0" * 64


@dataclasses.dataclass(frozen=True)
class RawHost:
    name: str
    groups: list[str]
    data: dict[str, Any]


@contextmanager
def _guard_off() -> Iterator[None]:
    # An inventory that calls fleetfile.guard() would refuse the unlocked installers while it
    # is being loaded; its own documented switch turns that off for this load only.
    old = os.environ.get("WHEELFLEET_SKIP_GUARD")
    os.environ["WHEELFLEET_SKIP_GUARD"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("WHEELFLEET_SKIP_GUARD", None)
        else:
            os.environ["WHEELFLEET_SKIP_GUARD"] = old


def raw_hosts(inventory: str, limit: list[str] | None) -> list[RawHost]:
    """Every host of the inventory as pyinfra loads it (name, groups, merged data)."""
    from pyinfra.api import State
    from pyinfra.context import ctx_state
    from pyinfra_cli.inventory import make_inventory

    path = Path(inventory)
    if not path.is_file():
        raise InputError(inventory, "<file>", "inventory file does not exist")
    try:
        with _guard_off(), ctx_state.use(State()):
            inv = make_inventory(str(path), cwd=str(path.resolve().parent))
    except InputError:
        raise
    except Exception as err:  # a user's Python inventory can raise anything
        raise InputError(inventory, "<load>", f"cannot load inventory: {err}") from None
    hosts = [RawHost(h.name, [g.name if hasattr(g, "name") else str(g) for g in h.groups],
                     h.data.dict()) for h in inv if not limit or h.name in limit]
    missing = sorted(set(limit or ()) - {h.name for h in hosts})
    if missing:
        raise InputError(inventory, missing[0], "no such host in the inventory")
    return hosts


def overlay_of(host: RawHost, inventory: str, given: str | None) -> Path:
    """Where this host's locks are recorded: ``--overlay``, else its ``matrix_overlay``."""
    if given:
        return Path(given)
    value = host.data.get("matrix_overlay")
    if not value:
        raise InputError(inventory, f"{host.name}.matrix_overlay", "not set: there is no "
                         "overlay to record the locks in; set it or pass --overlay FILE")
    if not isinstance(value, str):
        raise InputError(inventory, f"{host.name}.matrix_overlay",
                         f"expected a path string, got {value!r}")
    path = Path(value)
    return path if path.is_absolute() else Path(inventory).resolve().parent / path


def unlocked_allowed(matrix: Matrix) -> Matrix:
    """The matrix with every missing macOS hash (installers, the pyenv/2.7/OpenSSL tarballs)
    filled, for validation only."""
    pythons = {}
    for pid, py in matrix.pythons.items():
        if py.macos is not None and py.macos.source != "pyenv_ucs4" and not py.macos.sha256:
            py = dataclasses.replace(py, macos=dataclasses.replace(py.macos,
                                                                   sha256=_VALIDATING_ONLY))
        pythons[pid] = py
    macos: dict[str, object] = {}
    for name, value in matrix.macos.items():
        if isinstance(value, dict):
            value = {k: (_VALIDATING_ONLY if k in ("sha256", "source_sha256") and not v else v)
                     for k, v in value.items()}
        macos[name] = value
    return dataclasses.replace(matrix, pythons=pythons, macos=macos)


def selections(hosts: list[RawHost], inventory: str, matrix: Matrix) -> list[Selection]:
    """Each host validated against ``matrix`` (its overlay's), unlocked installers allowed."""
    view = unlocked_allowed(matrix)
    found = []
    for host in hosts:
        sel = select_for_host(host.name, host.groups, host.data, inventory, matrix=view)
        sel.matrix = matrix
        sel.pythons = [matrix.pythons[py.id] for py in sel.pythons]
        found.append(sel)
    return found


def overlay_matrix(path: Path) -> Matrix:
    """The matrix with the overlay at ``path`` (the shipped one alone while it does not exist)."""
    return load_matrix(path if path.exists() else None)
