"""Pin a host's SSH key before anything runs on it: what ``wheelfleet onboard`` does first.

Onboarding is usually the first connection to a host, the one a man in the middle would
answer.  The key the host presents is read with a bare SSH handshake (paramiko's
``Transport``: key exchange only, no authentication, no command), once per host-key type, and
compared with what the operator expects (``--host-key SHA256:...``, read on the host's console
with ``ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub``) or, with ``--trust-on-first-use``,
recorded as shown and its fingerprint printed.  The key goes into the known_hosts file the
inventory names for the host, which every later (strict) connection checks.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass

import paramiko
from paramiko.ssh_exception import IncompatiblePeer

from wheelfleet.errors import UsageError
from wheelfleet.fleetfile import SshTarget
from wheelfleet.lab.keys import PUBLIC_MODE, known_hosts_name
from wheelfleet.verify.probe import ProbeError

FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}=?")
# What a handshake may ask the server for, most preferred first; RSA keys are one key
# whichever signature algorithm shows them.
KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")
HANDSHAKE_TIMEOUT = 20.0
# paramiko logs a refused key type as an ERROR with a traceback; asking for each type in turn
# expects those refusals, so the handshakes log to a channel nobody prints.
LOG_CHANNEL = "wheelfleet.hostkeys.handshake"
logging.getLogger(LOG_CHANNEL).addHandler(logging.NullHandler())
logging.getLogger(LOG_CHANNEL).propagate = False


class HostKeyError(Exception):
    """The host's key is not the one expected or pinned, or nothing says how to trust it; str
    is one line.  (A host that cannot be reached raises ``ProbeError``.)"""


@dataclass(frozen=True)
class HostKey:
    """One public key a host presents."""

    name: str  # "ssh-ed25519", "ssh-rsa" ... as known_hosts writes it
    blob: str  # base64 of the key
    fingerprint: str  # SHA256:... as ssh-keygen -l prints it

    @classmethod
    def of(cls, key: paramiko.PKey) -> HostKey:
        return cls(key.get_name(), key.get_base64(), fingerprint(key.asbytes()))

    def __str__(self) -> str:
        return f"{self.name} {self.fingerprint}"


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob (unpadded base64)."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode()
    return "SHA256:" + digest.rstrip("=")


def expected_fingerprint(value: str) -> str:
    """``--host-key`` as given, checked (UsageError) and without base64 padding."""
    if not FINGERPRINT.fullmatch(value):
        raise UsageError(f"--host-key: expected SHA256: and 43 base64 characters, as "
                         f"'ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub' prints it, got "
                         f"{value!r}")
    return value.rstrip("=")


def _one_key(address: str, port: int, key_type: str, timeout: float) -> HostKey | None:
    """The host's key of ``key_type`` (None when it has none): key exchange only."""
    sock = socket.create_connection((address, port), timeout=timeout)
    transport = paramiko.Transport(sock)
    transport.set_log_channel(LOG_CHANNEL)
    try:
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        transport.get_security_options().key_types = (key_type,)
        try:
            transport.start_client(timeout=timeout)
        except IncompatiblePeer:
            return None  # the host has no key of this type
        return HostKey.of(transport.get_remote_server_key())
    finally:
        transport.close()
        sock.close()


def offered_keys(address: str, port: int, timeout: float = HANDSHAKE_TIMEOUT) -> list[HostKey]:
    """Every host key ``address:port`` presents, one handshake per type (no login)."""
    found: list[HostKey] = []
    for key_type in KEY_TYPES:
        if key_type.startswith(("rsa-", "ssh-rsa")) and any(k.name == "ssh-rsa" for k in found):
            continue
        try:
            key = _one_key(address, port, key_type, timeout)
        except (OSError, paramiko.SSHException, EOFError) as err:
            raise ProbeError(f"{address}:{port} is unreachable: cannot read its host key: "
                             f"{err or type(err).__name__}") from None
        if key is not None and key not in found:
            found.append(key)
    if not found:
        raise ProbeError(f"{address}:{port} presented no host key wheelfleet can read")
    return found


def pinned_keys(target: SshTarget) -> list[HostKey]:
    """The keys the target's known_hosts file pins for it (hashed names too)."""
    if not target.known_hosts.is_file():
        return []
    keys = paramiko.HostKeys()
    try:
        keys.load(str(target.known_hosts))
    except (OSError, paramiko.SSHException) as err:
        raise HostKeyError(f"cannot read {target.known_hosts}: {err}") from None
    found = keys.lookup(known_hosts_name(target.address, target.port))
    return [HostKey.of(key) for key in found.values()] if found else []


def record(target: SshTarget, key: HostKey) -> None:
    """Append ``key`` for the target to its known_hosts (created 0644, its directory 0700)."""
    path = target.known_hosts
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = f"{known_hosts_name(target.address, target.port)} {key.name} {key.blob}\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PUBLIC_MODE)
    try:
        if os.fstat(fd).st_size == 0:
            os.fchmod(fd, PUBLIC_MODE)  # a new file: 0644 whatever the umask
        elif not path.read_bytes().endswith(b"\n"):
            line = "\n" + line
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def pin_host_key(target: SshTarget, expected: str | None, trust_first_use: bool,
                 echo: Callable[[str], None],
                 offered: Callable[[str, int], list[HostKey]] = offered_keys) -> str:
    """Make sure ``target``'s key is pinned before anything runs; return one line saying how.

    Raises HostKeyError (one line) when the host presents another key than expected or than
    known_hosts pins, or when nothing pins it and neither ``expected`` nor
    ``trust_first_use`` says how to trust it.
    """
    where = f"{target.address}:{target.port}"
    pinned = pinned_keys(target)
    if expected is None and not trust_first_use:
        if pinned:
            return (f"host key pinned in {target.known_hosts} "
                    f"({', '.join(str(k) for k in pinned)}); the connection checks it")
        if target.strict != "yes":
            return "host key not pinned: the inventory opts out (host_key_trust)"
        raise HostKeyError(
            f"no key for {known_hosts_name(target.address, target.port)} in "
            f"{target.known_hosts}; pass --host-key SHA256:... (on the host: ssh-keygen -lf "
            "/etc/ssh/ssh_host_ed25519_key.pub) or --trust-on-first-use")
    shown = offered(target.address, target.port)
    echo(f"{target.host} presents at {where}: {', '.join(str(k) for k in shown)}")
    if pinned and not any(k in pinned for k in shown):
        raise HostKeyError(
            f"{where} presents {', '.join(str(k) for k in shown)} but {target.known_hosts} "
            f"pins {', '.join(str(k) for k in pinned)}: the host key changed or someone else "
            "answers; remove the stale line only once you know which")
    if expected is not None:
        match = [k for k in shown if k.fingerprint == expected]
        if not match:
            raise HostKeyError(
                f"{where} presents {', '.join(str(k) for k in shown)}, not the expected "
                f"{expected}: someone else may be answering; nothing was sent to the host")
        key = match[0]
        how = "matches --host-key"
    else:
        key = next((k for k in shown if k in pinned), shown[0])
        how = "trusted on first use: compare it with the host's console"
    if key in pinned:
        return f"host key {key} {how}; already pinned in {target.known_hosts}"
    record(target, key)
    return f"host key {key} {how}; recorded in {target.known_hosts}"
