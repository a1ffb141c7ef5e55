"""Test-only helpers: a test PKI, the WS-Management peer as a subprocess, its logs.

Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
import select
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PEER_SCRIPT = Path(__file__).with_name("wsman_peer.py")
DOMAIN = "WINTEST"
USER = "builder"
ADMIN = "admin"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@dataclass
class CertificateAuthority:
    """A CA made by the tests, able to sign server certificates for 127.0.0.1."""

    directory: Path
    name: str
    key: ec.EllipticCurvePrivateKey = field(init=False)
    cert: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(self.name))
            .issuer_name(_name(self.name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        self.path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    @property
    def path(self) -> Path:
        return self.directory / f"{self.name}.pem"

    def issue(self, label: str, client: bool = False) -> tuple[Path, Path]:
        """(certificate, key) signed by this CA: a server certificate for 127.0.0.1 and
        localhost, or (``client``) a client certificate whose common name is ``label``."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usage = x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH if client else None
        usage = usage or x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(label))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        cert_path = self.directory / f"{label}.pem"
        key_path = self.directory / f"{label}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key_path, key)
        return cert_path, key_path


@dataclass
class Credentials:
    password: str
    users_file: Path

    @property
    def user(self) -> str:
        return f"{DOMAIN}\\{USER}"

    @property
    def admin(self) -> str:
        return f"{DOMAIN}\\{ADMIN}"


def make_credentials(directory: Path) -> Credentials:
    # A marker no library would print by accident: the tests grep every output for it.
    password = "Pw-" + secrets.token_hex(12)
    users = directory / "ntlm-users"
    users.write_text(f"{DOMAIN}:{USER}:{password}\n{DOMAIN}:{ADMIN}:{password}\n")
    return Credentials(password, users)


def read_log(path: Path) -> list[bytes]:
    """Records the peer appended (4-byte length, then the bytes)."""
    if not path.exists():
        return []
    data, records, offset = path.read_bytes(), [], 0
    while offset + 4 <= len(data):
        (length,) = struct.unpack("<I", data[offset : offset + 4])
        records.append(data[offset + 4 : offset + 4 + length])
        offset += 4 + length
    return records


class Peer:
    """One wsman_peer.py subprocess on 127.0.0.1 and the logs it writes."""

    def __init__(
        self, directory: Path, credentials: Credentials, record: bool = True, **config: object
    ):
        """``record``: keep the wire and decrypted logs (off for bulk transfers)."""
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.root = directory / "fs"
        self.wire_log = directory / "wire.log"
        self.plain_log = directory / "plain.log"
        self.events_log = directory / "events.log"
        self.config = {
            "host": "127.0.0.1",
            "port": 0,
            "root": str(self.root),
            "users_file": str(credentials.users_file),
            "admins": [ADMIN],
            "wire_log": str(self.wire_log) if record else None,
            "plain_log": str(self.plain_log) if record else None,
            "events_log": str(self.events_log),
            **{k: str(v) if isinstance(v, Path) else v for k, v in config.items()},
        }
        self.tls = bool(self.config.get("cert"))
        config_path = directory / "peer.json"
        config_path.write_text(json.dumps(self.config))
        self.process = subprocess.Popen(
            [sys.executable, str(PEER_SCRIPT), str(config_path)],
            stdout=subprocess.PIPE,
            stderr=open(directory / "peer.stderr", "wb"),  # noqa: SIM115 - lives with the process
            text=True,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 20)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(
                f"WS-Management peer did not start: {(directory / 'peer.stderr').read_text()}"
            )
        self.port = int(line.split()[1])

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/wsman"

    def events(self) -> list[str]:
        return [record.decode() for record in read_log(self.events_log)]

    def wire(self) -> list[bytes]:
        return read_log(self.wire_log)

    def plain(self) -> list[bytes]:
        return read_log(self.plain_log)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process.stdout:
            self.process.stdout.close()


class TLSRelay:
    """A man in the middle on 127.0.0.1: terminates TLS with its own (trusted) certificate
    and opens a new TLS connection to the peer. Channel binding must make NTLM fail."""

    def __init__(self, cert: Path, key: Path, target_port: int, ca: Path):
        self.server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_context.load_cert_chain(cert, key)
        self.client_context = ssl.create_default_context(cafile=str(ca))
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            inbound = self.server_context.wrap_socket(client, server_side=True)
            raw = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            outbound = self.client_context.wrap_socket(raw, server_hostname="127.0.0.1")
        except OSError:
            client.close()
            return
        # One thread per connection, both directions: an SSL socket must not be read and
        # written from two threads at once.
        sockets = [inbound, outbound]
        for sock in sockets:
            sock.setblocking(False)
        try:
            while not self.stopped:
                ready = [s for s in sockets if s.pending()]
                ready = ready or select.select(sockets, [], [], 1.0)[0]
                for source in ready:
                    try:
                        data = source.recv(65536)
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        continue
                    if not data:
                        return
                    _send_all(outbound if source is inbound else inbound, data)
        except OSError:
            pass
        finally:
            for sock in sockets:
                sock.close()

    def close(self) -> None:
        self.stopped = True
        self.listener.close()


def _send_all(sock: ssl.SSLSocket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            select.select([sock], [sock], [], 1.0)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return False


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a pyinfra subprocess: no proxies, no inherited CA bundle."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        and key not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NTLM_USER_FILE")
    }
    env.update(extra)
    return env
