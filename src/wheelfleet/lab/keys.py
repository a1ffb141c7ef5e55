"""The fleet's client key pair and its ``known_hosts`` file."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def ensure_client_key(path: Path) -> str:
    """Create an unencrypted ed25519 key at *path* (and ``.pub``) if missing; return the pub.

    Generated in-process (cryptography ships with paramiko) so the controller needs no
    ``ssh-keygen``. The key only opens the fleet's own loopback test hosts.
    """
    pub_path = path.with_name(path.name + ".pub")
    if path.is_file() and pub_path.is_file():
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
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private)
    pub_path.write_text(public + "\n")
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
