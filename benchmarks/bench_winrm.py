"""Benchmark the ``@winrm`` connector against pywinrm's one-shell-per-command ``run_ps``.

    .venv/bin/python benchmarks/bench_winrm.py [--commands 60] [--baseline-seconds 20]

Starts the tests' WS-Management peer (``tests/winrm/wsman_peer.py``: real NTLM, TLS and
message encryption on 127.0.0.1; what commands do is scripted) over HTTPS
(MaxEnvelopeSizekb 500) and over HTTP with encryption (150), and measures, in this one run:

* commands per second: the connector (one shell per host, reused) vs ``Session.run_ps``
  (a shell opened and deleted around every command);
* upload MB/s for 1 MB and 100 MB: the connector's ``put_file`` (one PowerShell process,
  chunks sized from MaxEnvelopeSize, SHA-256 checked) vs ``run_ps`` appending a base64 chunk
  per command (~2 kB: what fits in one cmd.exe command line). The 100 MB baseline would take
  far too long; it runs for ``--baseline-seconds`` and its rate is reported as measured.

Prints the figures and the ratios connector/baseline. The peer is stopped at the end.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "winrm"))

import winrm  # noqa: E402
from peer_fixture import CertificateAuthority, Credentials, Peer, make_credentials  # noqa: E402
from pyinfra.api import Config, Inventory, State, StringCommand  # noqa: E402
from pyinfra.api.host import Host  # noqa: E402

MB = 1_000_000
# One cmd.exe command line holds ~8000 characters: base64 of UTF-16 of the script.
BASELINE_CHUNK = 2048


def connector_host(peer: Peer, credentials: Credentials, password_file: Path, ca: Path) -> Host:
    data = {
        "winrm_hostname": "127.0.0.1",
        "winrm_port": peer.port,
        "winrm_scheme": peer.scheme,
        "winrm_user": credentials.admin,  # may read MaxEnvelopeSizekb from the host
        "winrm_password_file": str(password_file),
        "winrm_ca_trust_path": str(ca),
    }
    inventory = Inventory(([("@winrm/bench", data)], {}))
    State(inventory, Config())
    host = inventory.get_host("@winrm/bench")
    host.connect(raise_exceptions=True)
    return host


def baseline_session(peer: Peer, credentials: Credentials, ca: Path) -> winrm.Session:
    return winrm.Session(
        peer.url,
        auth=(credentials.admin, credentials.password),
        transport="ntlm",
        ca_trust_path=str(ca),
        proxy=None,
    )


def commands_per_second(host: Host, session: winrm.Session, count: int) -> tuple[float, float]:
    started = time.monotonic()
    for i in range(count):
        ok, _ = host.run_shell_command(StringCommand(f"Write-Output 'n{i}'"))
        assert ok
    ours = count / (time.monotonic() - started)
    started = time.monotonic()
    for i in range(count):
        assert session.run_ps(f"Write-Output 'n{i}'").status_code == 0
    theirs = count / (time.monotonic() - started)
    return ours, theirs


def upload_rate(host: Host, data: bytes, dest: str) -> float:
    started = time.monotonic()
    if not host.put_file(io.BytesIO(data), dest):
        raise SystemExit(f"upload to {dest} failed")
    return len(data) / MB / (time.monotonic() - started)


def baseline_upload_rate(
    session: winrm.Session, data: bytes, dest: str, budget: float
) -> tuple[float, int]:
    """run_ps per 2 kB chunk; stops after ``budget`` seconds. (MB/s, bytes sent)."""
    started = time.monotonic()
    sent = 0
    while sent < len(data) and time.monotonic() - started < budget:
        chunk = base64.b64encode(data[sent : sent + BASELINE_CHUNK]).decode()
        script = (
            f"Add-Content -LiteralPath '{dest}' -Encoding Byte "
            f"-Value ([Convert]::FromBase64String('{chunk}'))"
        )
        if session.run_ps(script).status_code != 0:
            raise SystemExit("baseline upload failed")
        sent += len(data[sent : sent + BASELINE_CHUNK])
    return sent / MB / (time.monotonic() - started), sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=60)
    parser.add_argument("--baseline-seconds", type=float, default=20.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-winrm-"))
    credentials = make_credentials(work)
    password_file = work / "password"
    password_file.write_text(credentials.password)
    ca = CertificateAuthority(work / "pki", "bench-ca")
    cert, key = ca.issue("bench-peer")
    peers = {
        "https": Peer(
            work / "https", credentials, record=False, cert=cert, key=key, max_envelope_kb=500
        ),
        "http+encryption": Peer(work / "http", credentials, record=False),
    }
    try:
        print(f"{'transport':<16} {'measure':<22} {'@winrm':>10} {'run_ps':>10} {'ratio':>7}")
        for label, peer in peers.items():
            host = connector_host(peer, credentials, password_file, ca.path)
            session = baseline_session(peer, credentials, ca.path)
            ours, theirs = commands_per_second(host, session, args.commands)
            ratio = ours / theirs
            print(f"{label:<16} {'commands/s':<22} {ours:>10.1f} {theirs:>10.1f} {ratio:>6.1f}x")
            for size in (1 * MB, 100 * MB):
                data = os.urandom(size)
                ours = upload_rate(host, data, f"C:\\Users\\admin\\ours-{size}.bin")
                theirs, sent = baseline_upload_rate(
                    session, data, f"C:\\Users\\admin\\base-{size}.bin", args.baseline_seconds
                )
                note = (
                    "" if sent == size else f" ({sent / MB:.1f} MB in {args.baseline_seconds:.0f}s)"
                )
                measure = f"upload {size // MB} MB, MB/s"
                print(
                    f"{label:<16} {measure:<22} {ours:>10.2f} {theirs:>10.3f} "
                    f"{ours / theirs:>6.0f}x{note}"
                )
                for leftover in (peer.root / "C" / "Users" / "admin").glob("*.bin"):
                    leftover.unlink()
            host.disconnect()
        print(
            f"connector chunk: {host.connector.upload_chunk_size()} B on the last host; "  # type: ignore[attr-defined]
            f"baseline chunk: {BASELINE_CHUNK} B per command"
        )
    finally:
        for peer in peers.values():
            peer.stop()


if __name__ == "__main__":
    main()
