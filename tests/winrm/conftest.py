"""Fixtures for the WinRM tests: a test PKI and WS-Management peers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from peer_fixture import CertificateAuthority, Credentials, Peer, make_credentials
from pyinfra.api import Config, Inventory, State
from pyinfra.api.host import Host


@pytest.fixture(scope="session")
def winrm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("winrm")


@pytest.fixture(scope="session")
def credentials(winrm_dir: Path) -> Credentials:
    return make_credentials(winrm_dir)


@pytest.fixture(scope="session")
def trusted_ca(winrm_dir: Path) -> CertificateAuthority:
    return CertificateAuthority(winrm_dir / "pki", "wheelfleet-test-ca")


@pytest.fixture(scope="session")
def untrusted_ca(winrm_dir: Path) -> CertificateAuthority:
    return CertificateAuthority(winrm_dir / "pki-other", "someone-elses-ca")


@pytest.fixture(scope="session")
def start_peer(winrm_dir: Path, credentials: Credentials) -> Iterator[Callable[..., Peer]]:
    """Start a peer with the given config; every peer is stopped at the end of the session."""
    peers: list[Peer] = []

    def start(name: str, **config: object) -> Peer:
        peer = Peer(winrm_dir / "peers" / f"{name}-{len(peers)}", credentials, **config)
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        peer.stop()


@pytest.fixture(scope="session")
def https_peer(start_peer: Callable[..., Peer], trusted_ca: CertificateAuthority) -> Peer:
    cert, key = trusted_ca.issue("peer-https")
    return start_peer("https", cert=cert, key=key, max_envelope_kb=500)


@pytest.fixture(scope="session")
def http_peer(start_peer: Callable[..., Peer]) -> Peer:
    return start_peer("http")


@pytest.fixture(scope="session")
def password_file(winrm_dir: Path, credentials: Credentials) -> Path:
    path = winrm_dir / "password"
    path.write_text(credentials.password + "\n")
    return path


@pytest.fixture
def connect(
    credentials: Credentials, password_file: Path, trusted_ca: CertificateAuthority
) -> Iterator[Callable[..., Host]]:
    """A pyinfra host on the @winrm connector, connected to ``peer`` (in this process)."""
    hosts: list[Host] = []

    def make(peer: Peer, user: str | None = None, **data: object) -> Host:
        host_data = {
            "winrm_hostname": "127.0.0.1",
            "winrm_port": peer.port,
            "winrm_scheme": peer.scheme,
            "winrm_user": user or credentials.user,
            "winrm_password_file": str(password_file),
            "winrm_ca_trust_path": str(trusted_ca.path),
            **data,
        }
        inventory = Inventory(([("@winrm/win", host_data)], {}))
        State(inventory, Config())
        host = inventory.get_host("@winrm/win")
        host.connect(raise_exceptions=True)
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        if host.connected:
            host.disconnect()
