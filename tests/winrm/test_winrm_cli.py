"""``pyinfra`` itself (the CLI, in a subprocess) reaching Windows hosts through ``@winrm``.

Level: protocol peer. The connector is found through its entry point, authenticates with
real NTLM over HTTPS and over HTTP with message encryption, and meets real faults; what the
commands do on "Windows" is the peer's scripted stand-in.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from peer_fixture import CertificateAuthority, Credentials, Peer, clean_env, wait_until

from wheelfleet.pyinfra_run import run_deploy

PYINFRA = str(Path(sys.executable).parent / "pyinfra")


def host_entry(name: str, peer: Peer, ca: CertificateAuthority, **data: object) -> str:
    values = {
        "winrm_hostname": "127.0.0.1",
        "winrm_port": peer.port,
        "winrm_scheme": peer.scheme,
        "winrm_user": "WINTEST\\builder",
        "winrm_ca_trust_path": str(ca.path),
        **data,
    }
    return f"    ({f'@winrm/{name}'!r}, {values!r}),\n"


def write_inventory(path: Path, entries: list[str]) -> Path:
    path.write_text("windows = (\n    [\n" + "".join(entries) + "    ],\n    {},\n)\n")
    return path


def secret_forms(password: str) -> list[bytes]:
    raw = password.encode()
    basic = base64.b64encode(b"WINTEST\\builder:" + raw)  # what Basic auth would send
    return [raw, password.encode("utf-16-le"), base64.b64encode(raw), basic]


def assert_no_secret(text: str | bytes, password: str) -> None:
    data = text.encode() if isinstance(text, str) else text
    for form in secret_forms(password):
        assert form not in data


@pytest.fixture
def two_hosts(
    tmp_path: Path, https_peer: Peer, http_peer: Peer, trusted_ca: CertificateAuthority
) -> Path:
    """An inventory with ``@winrm/tls`` (HTTPS) and ``@winrm/sealed`` (HTTP, encrypted)."""
    return write_inventory(
        tmp_path / "inventory.py",
        [host_entry("tls", https_peer, trusted_ca), host_entry("sealed", http_peer, trusted_ca)],
    )


def test_exec_over_https_and_encrypted_http(
    tmp_path: Path, two_hosts: Path, http_peer: Peer, credentials: Credentials
) -> None:
    """``pyinfra -y INVENTORY exec -- COMMAND`` on two @winrm hosts. On the http host's wire
    (recorded at the peer's socket) no request carries the command in any form; the peer's
    decrypted view does (the control that shows the search works). The password appears in
    no output, even with --debug. Write-Output is the peer's scripted stand-in."""
    inventory = two_hosts
    marker = "WF-MARKER-" + base64.b32encode(tmp_path.name.encode()).decode().strip("=")[:12]
    wire_before, plain_before = len(http_peer.wire()), len(http_peer.plain())
    result = subprocess.run(
        [PYINFRA, "-y", "--debug", str(inventory), "exec", "--", f"Write-Output '{marker}'"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=clean_env(WINRM_PASSWORD=credentials.password),
        cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for name in ("tls", "sealed"):
        assert re.search(rf"\[@winrm/{name}\]\s+{marker}$", output, re.MULTILINE), output
    assert_no_secret(output, credentials.password)

    decrypted = b"".join(http_peer.plain()[plain_before:])
    encoded = re.findall(rb"-EncodedCommand ([A-Za-z0-9+/=]+)", decrypted)
    scripts = [base64.b64decode(e).decode("utf-16-le") for e in encoded]
    carried = [e for e, s in zip(encoded, scripts, strict=True) if marker in s]
    assert carried, "the control failed: the peer never saw the command"
    wire = b"".join(http_peer.wire()[wire_before:])
    assert wire.count(b"multipart/encrypted") >= 3
    for form in [marker.encode(), marker.encode("utf-16-le"), *carried]:
        assert form not in wire
    assert_no_secret(wire, credentials.password)


def test_deploy_uploads_once_then_changes_nothing(
    tmp_path: Path, two_hosts: Path, https_peer: Peer, http_peer: Peer, credentials: Credentials
) -> None:
    """A deploy with ``windows_files.put`` run twice through the CLI: the first run uploads
    to both hosts, the second finds the same SHA-256 and changes nothing. The hash fact and
    the transfer scripts' file I/O are the peer's scripted stand-ins."""
    inventory = two_hosts
    (tmp_path / "files").mkdir()
    payload = b"[build]\njobs = 4\n" * 5000
    (tmp_path / "files" / "build.cfg").write_bytes(payload)
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from wheelfleet.connectors import windows_files\n\n"
        "windows_files.put(\n"
        "    name='Build configuration',\n"
        f"    src={str(tmp_path / 'files' / 'build.cfg')!r},\n"
        "    dest='C:\\\\Users\\\\builder\\\\build.cfg',\n"
        ")\n"
    )
    env = {"WINRM_PASSWORD": credentials.password}
    first = run_deploy(inventory, deploy, env=env, timeout=120)
    assert first.returncode == 0, first.log
    assert set(first.changes) == {"@winrm/tls", "@winrm/sealed"}
    for peer in (https_peer, http_peer):
        assert (peer.root / "C" / "Users" / "builder" / "build.cfg").read_bytes() == payload
    second = run_deploy(inventory, deploy, env=env, timeout=120)
    assert second.returncode == 0, second.log
    assert second.total_changes == 0 and second.unchanged == {"@winrm/tls": 1, "@winrm/sealed": 1}
    assert_no_secret(first.log + second.log, credentials.password)


def test_each_failure_is_one_line_and_spares_the_other_hosts(
    tmp_path: Path,
    start_peer: Callable[..., Peer],
    https_peer: Peer,
    http_peer: Peer,
    trusted_ca: CertificateAuthority,
    untrusted_ca: CertificateAuthority,
    credentials: Credentials,
) -> None:
    """One CLI run, seven hosts: a wrong password, an untrusted certificate, Basic in
    plaintext against a peer that requires encryption, a command that outlives _timeout, a
    peer killed mid-command and a port nobody listens on each fail with one line naming the
    host and the cause, within bounded time; the good host's operation succeeds. Start-Sleep
    and Write-Output are the peer's scripted stand-ins."""
    basic_peer = start_peer("basic", basic=True)
    doomed = start_peer("doomed")
    inventory = write_inventory(
        tmp_path / "inventory.py",
        [
            host_entry("good", https_peer, trusted_ca),
            host_entry("wrong-password", https_peer, trusted_ca, winrm_password_env="WF_WRONG"),
            host_entry("untrusted", https_peer, untrusted_ca),
            host_entry(
                "plaintext",
                basic_peer,
                trusted_ca,
                winrm_transport="basic",
                winrm_allow_unencrypted=True,
            ),
            host_entry("slow", http_peer, trusted_ca, cmd="Start-Sleep -Seconds 60"),
            host_entry("killed", doomed, trusted_ca, cmd="Start-Sleep -Seconds 60", timeout=60),
            host_entry("refused", http_peer, trusted_ca, winrm_port=1),
        ],
    )
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from pyinfra import host\n"
        "from pyinfra.operations import server\n\n"
        "server.shell(\n"
        "    name='Work',\n"
        "    commands=[host.data.get('cmd', \"Write-Output 'fine'\")],\n"
        "    _timeout=host.data.get('timeout', 3),\n"
        ")\n"
    )
    killed_at: list[float] = []

    def kill_when_running() -> None:
        if wait_until(lambda: any(e.startswith("Command by") for e in doomed.events()), 60):
            time.sleep(0.5)
            doomed.kill()
            killed_at.append(time.monotonic())

    killer = threading.Thread(target=kill_when_running, daemon=True)
    killer.start()
    started = time.monotonic()
    env = {"WINRM_PASSWORD": credentials.password, "WF_WRONG": "not-" + credentials.password}
    result = run_deploy(inventory, deploy, env=env, extra=["--debug"], timeout=120)
    finished = time.monotonic()
    killer.join(5)
    log = result.log
    assert result.returncode != 0
    assert result.changes.get("@winrm/good") == ["Work"], log
    assert "@winrm/good" not in result.failed_hosts
    expected = {
        "wrong-password": r"winrm: https://127\.0\.0\.1:\d+/wsman: credentials rejected",
        "untrusted": r"TLS certificate not trusted \(unable to get local issuer certificate\)",
        "plaintext": r"credentials rejected \(HTTP 401\); the host may also refuse unencrypted",
        "slow": r"Command timed out after 3s",
        "killed": r"winrm: connection (reset by the host|lost)",
        "refused": r"connection refused",
    }
    print("\n".join(line for line in log.splitlines() if "[@winrm/" in line))
    for name, pattern in expected.items():
        lines = [line for line in log.splitlines() if f"[@winrm/{name}]" in line]
        assert any(re.search(pattern, line) for line in lines), f"{name}: {lines}\n{log}"
    assert set(result.failed_hosts) == {f"@winrm/{name}" for name in expected}
    assert "Traceback" not in log
    assert "sends the password and every command unencrypted" in log  # the warning
    assert killed_at and finished - killed_at[0] < 10
    assert finished - started < 60
    assert_no_secret(log, credentials.password)
    # The control: Basic over plain http really did put the password on the wire (which is
    # why the connector refuses it unless the inventory insists), and the search finds it.
    assert secret_forms(credentials.password)[-1] in b"".join(basic_peer.wire())
