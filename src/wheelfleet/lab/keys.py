"""The fleet's client key pair and its ``known_hosts`` file.

Modes are set explicitly (``fchmod``), never left to the umask: the private key is 0600 and
the public key and known_hosts are 0644 whatever umask the controller runs under (a umask of
0 would otherwise leave known_hosts writable by anyone, who could then pin their own key).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644


def write_file(path: Path, data: bytes, mode: int) -> None:
    """Write ``path`` atomically (a reader sees the old or the new file) with exactly ``mode``."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # O_CREAT's mode is masked by the umask, and ignored if tmp existed
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)


def ensure_client_key(path: Path) -> str:
    """Create an unencrypted ed25519 key at *path* (and ``.pub``) if missing; return the pub.

    Generated in-process (cryptography ships with paramiko) so the controller needs no
    ``ssh-keygen``. The key only opens the fleet's own loopback test hosts.
    """
    pub_path = path.with_name(path.name + ".pub")
    if path.is_file() and pub_path.is_file():
        # Keys made by an older version (or under another umask) get their modes fixed.
        os.chmod(path, PRIVATE_MODE)
        os.chmod(pub_path, PUBLIC_MODE)
        return pub_path.read_text().strip()
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode() + " wheelfleet-testfleet"
    write_file(path, private, PRIVATE_MODE)
    write_file(pub_path, (public + "\n").encode(), PUBLIC_MODE)
    return public


def known_hosts_name(address: str, port: int) -> str:
    """How OpenSSH and paramiko name a host in known_hosts (``[addr]:port`` off port 22)."""
    return address if port == 22 else f"[{address}]:{port}"


def render_known_hosts(entries: list[tuple[str, int, list[str]]]) -> str:
    """``known_hosts`` text for ``(address, port, ["type base64", ...])`` entries."""
    lines = []
    for address, port, keys in entries:
        name = known_hosts_name(address, port)
        lines += [f"{name} {key}" for key in keys]
    return "\n".join(lines) + "\n"


def write_known_hosts(path: Path, entries: list[tuple[str, int, list[str]]]) -> None:
    """The fleet's known_hosts, 0644, replaced atomically (pyinfra may be reading it)."""
    write_file(path, render_known_hosts(entries).encode(), PUBLIC_MODE)
