"""The pyinfra inventory file a fleet writes (``inventory.py`` in the fleet dir).

Format (a pyinfra inventory is Python; a module-level tuple is a group with data)::

    linux = (
        [
            ("tf1", {"ssh_hostname": "127.0.0.11", "ssh_port": 22, "ssh_user": "root",
                     "ssh_key": "/abs/.testfleet/id_ed25519",
                     "ssh_known_hosts_file": "/abs/.testfleet/known_hosts",
                     "ssh_strict_host_key_checking": "yes", "ssh_allow_agent": False,
                     "ssh_config_file": "/abs/.testfleet/ssh_config.absent"}),
            ...
        ],
        {...group data given to up()...},
    )
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from .errors import LabError
from .keys import PUBLIC_MODE, write_file

GROUP = "linux"


def host_data(
    address: str, port: int, client_key: Path, known_hosts: Path, fleet_dir: Path
) -> dict[str, Any]:
    """pyinfra SSH host data for one test host: strict keys, no agent, no ~/.ssh/config.

    Strict checking against the fleet's own known_hosts (written from each host's keys by
    ``up``) is what ``wheelfleet check-inventory`` requires of every SSH host.
    """
    return {
        "ssh_hostname": address,
        "ssh_port": port,
        "ssh_user": "root",
        "ssh_key": str(client_key),
        "ssh_known_hosts_file": str(known_hosts),
        "ssh_strict_host_key_checking": "yes",
        "ssh_allow_agent": False,
        # A path that never exists: pyinfra then reads no ssh config at all, so a user's
        # ~/.ssh/config (aliases, ProxyJump, other keys) cannot change how tests connect.
        "ssh_config_file": str(fleet_dir / "ssh_config.absent"),
    }


def _block(data: dict[str, Any], indent: str) -> str:
    """A dict literal with one key per line (readable diffs, easy to eyeball)."""
    inner = "".join(f"{indent}    {key!r}: {value!r},\n" for key, value in data.items())
    return "{\n" + inner + indent + "}" if data else "{}"


def render(hosts: list[tuple[str, dict[str, Any]]], group_data: dict[str, Any]) -> str:
    """Python source of the inventory; *group_data* must be plain literals."""
    try:
        if ast.literal_eval(repr(group_data)) != group_data:
            raise ValueError
    except (ValueError, SyntaxError):
        raise LabError(
            "group_data must contain only Python literals (str, int, float, bool, None, "
            "list, tuple, dict)"
        ) from None
    lines = [
        '"""pyinfra inventory of the wheelfleet test fleet (written by `testfleet up`)."""',
        "# Regenerated on every `up`; edits are lost.",
        "",
        f"{GROUP} = (",
        "    [",
    ]
    lines += [f"        ({name!r}, {_block(data, '        ')})," for name, data in hosts]
    lines += ["    ],", f"    {_block(group_data, '    ')},", ")", ""]
    return "\n".join(lines)


def write(path: Path, hosts: list[tuple[str, dict[str, Any]]], group_data: dict[str, Any]) -> None:
    """Write the inventory atomically (a pyinfra run may be reading the old one), 0644: it is
    Python that pyinfra runs, so nobody else may write it whatever the umask."""
    write_file(path, render(hosts, group_data).encode(), PUBLIC_MODE)
