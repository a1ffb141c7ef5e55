"""Load a fleet inventory the way pyinfra does and validate every host before connecting."""

from __future__ import annotations

import contextvars
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wheelfleet.errors import InputError
from wheelfleet.selection import Selection, select_for_host
from wheelfleet.settings import one_line, redact, shown

_LOADING = contextvars.ContextVar("wheelfleet_loading_inventory", default=False)

# pyinfra's SSH connectors' values of ssh_strict_host_key_checking (paramiko policies): "yes"
# refuses a key not in known_hosts; unset means "accept-new", which records a new host's key
# unseen (trust on first use); "no"/"off" accept any key, a changed one too; "ask" prompts,
# which an unattended run cannot answer.
STRICT = "yes"
FIRST_USE = (None, "accept-new")
UNVERIFIED = ("no", "off")
KEY = "ssh_strict_host_key_checking"


@dataclass(frozen=True)
class SshTarget:
    """Where a host's SSH connection goes and which known_hosts file pins its key."""

    host: str
    address: str
    port: int
    known_hosts: Path  # the file pyinfra reads (ssh_known_hosts_file, else ~/.ssh/known_hosts)
    strict: Any  # ssh_strict_host_key_checking as the inventory sets it (None: not set)


def _inventory(path: Path) -> Any:
    from pyinfra.api import State
    from pyinfra.context import ctx_state
    from pyinfra_cli.inventory import make_inventory

    if not path.is_file():
        raise InputError(str(path), "<file>", "inventory file does not exist")
    token = _LOADING.set(True)
    try:
        # pyinfra's file loader records the file on the current State; give it a scratch one
        # so that loading never touches a real run's state.
        with ctx_state.use(State()):
            return make_inventory(str(path), cwd=str(path.resolve().parent))
    except InputError:
        raise
    except Exception as err:  # a user's Python inventory can raise anything
        raise InputError(str(path), "<load>", f"cannot load inventory: {redact(str(err))}"
                         ) from None
    finally:
        _LOADING.reset(token)


def uses_ssh(connector: Any) -> bool:
    """Whether pyinfra reaches the host over SSH (``@ssh``, and ``@dockerssh``/``@podmanssh``
    whose containers sit on an SSH host)."""
    from pyinfra.connectors.dockerssh import DockerSSHConnector
    from pyinfra.connectors.ssh import SSHConnector

    return isinstance(connector, type) and issubclass(connector, SSHConnector
                                                      | DockerSSHConnector)


def host_key_problem(host: str, data: dict[str, Any], trust: str) -> str | None:
    """Why an SSH host would connect without a verified host key (None: it would not).

    >>> host_key_problem("b1", {}, "pinned")[:60]
    'b1 would trust whatever host key it is shown first (ssh_stri'
    >>> host_key_problem("b1", {"ssh_strict_host_key_checking": "yes"}, "pinned") is None
    True
    """
    value = data.get(KEY)
    if value == STRICT:
        return None
    pin = (f'set {KEY}: "yes" and pin its key in known_hosts (wheelfleet onboard INVENTORY '
           f"{host} --host-key SHA256:...)")
    if value in FIRST_USE:
        if trust in ("first-use", "unverified"):
            return None
        return (f"{host} would trust whatever host key it is shown first ({KEY} is "
                f"{'not set: pyinfra then accepts new keys' if value is None else shown(value)}"
                f"); {pin}, or opt out with host_key_trust: \"first-use\"")
    if value in UNVERIFIED:
        if trust == "unverified":
            return None
        return (f"{host} would accept any host key, a changed one too ({KEY} is "
                f"{shown(value)}); {pin}, or opt out with host_key_trust: \"unverified\"")
    if value == "ask":
        return (f"{host}: {KEY} 'ask' prompts on the terminal, which wheelfleet's unattended "
                f"runs cannot answer; {pin}")
    return f"{host}: {KEY} is {shown(value)}; expected \"yes\" ({pin})"


def load_fleet(inventory: str | Path, limit: list[str] | None = None, *,
               host_keys: bool = False) -> list[Selection]:
    """Every host of ``inventory`` with its validated selection (raises InputError).

    With ``host_keys`` an SSH host that would connect without a verified host key is refused
    too, unless its ``host_key_trust`` opts out (:func:`host_key_problem`): what every command
    that connects checks first.

    >>> sels = load_fleet("inventory/example.py", host_keys=True)   # doctest: +SKIP
    >>> sorted({s.platform for s in sels})                           # doctest: +SKIP
    ['linux', 'macos', 'windows']
    """
    inv = _inventory(Path(inventory))
    selections = []
    for host in inv:
        if limit and host.name not in limit:
            continue
        groups = [g.name if hasattr(g, "name") else str(g) for g in host.groups]
        data = host.data.dict()
        sel = select_for_host(host.name, groups, data, str(inventory))
        if host_keys and uses_ssh(host.connector_cls):
            problem = host_key_problem(host.name, data, sel.settings.host_key_trust)
            if problem:
                raise InputError(str(inventory), f"{host.name}.{KEY}", problem)
        selections.append(sel)
    if limit:
        missing = sorted(set(limit) - {s.host for s in selections})
        if missing:
            raise InputError(str(inventory), missing[0], "no such host in the inventory")
    return selections


def ssh_target(inventory: str | Path, host: str) -> SshTarget | None:
    """How ``host`` of ``inventory`` is reached over SSH; None when not over SSH."""
    for found in _inventory(Path(inventory)):
        if found.name != host:
            continue
        if not uses_ssh(found.connector_cls):
            return None
        data = found.data.dict()
        port = data.get("ssh_port") or 22
        known = data.get("ssh_known_hosts_file") or "~/.ssh/known_hosts"
        return SshTarget(host=host, address=str(data.get("ssh_hostname") or host),
                         port=int(port), known_hosts=Path(os.path.expanduser(str(known))),
                         strict=data.get(KEY))
    raise InputError(str(inventory), host, "no such host in the inventory")


def guard(inventory_file: str) -> None:
    """Call at the bottom of an inventory file: refuse bad selections before pyinfra connects.

    pyinfra imports the inventory before it connects to anything, so an invalid fleet, or a
    host that would connect without a verified host key, stops here with one line (file, key,
    what was expected) and exit status 2 — no traceback, no host touched.  Loading the same
    file again from inside the check is a no-op.
    """
    if _LOADING.get() or os.environ.get("WHEELFLEET_SKIP_GUARD"):
        return
    try:
        load_fleet(inventory_file, host_keys=True)
    except InputError as err:
        print(f"wheelfleet: {one_line(str(err))}", file=sys.stderr)
        raise SystemExit(2) from None
