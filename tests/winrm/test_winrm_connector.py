"""The ``@winrm`` connector against the WS-Management peer, driven through pyinfra's API.

Level: protocol peer. Transport behaviour (NTLM, encryption, TLS, one shell, Send/Receive,
exit codes, timeouts, chunked transfer, hash checks, envelope limits) is real; what each
command does on "Windows" (Write-Output, Start-Sleep, Set-Location, the transfer scripts'
file I/O) is the peer's scripted stand-in.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from peer_fixture import CertificateAuthority, Credentials, Peer
from pyinfra.api import StringCommand
from pyinfra.api.exceptions import ConnectError
from pyinfra.api.host import Host

import wheelfleet.connectors.winrm as connector_module


def run(host: Host, command: str, **arguments: object) -> tuple[bool, list[str], list[str]]:
    ok, output = host.run_shell_command(StringCommand(command), **arguments)
    return ok, output.stdout_lines, output.stderr_lines


def count(peer: Peer, action: str) -> int:
    return sum(event.startswith(action + " by") for event in peer.events())


def test_one_shell_per_connection_reused_for_every_command(
    connect: Callable[..., Host], http_peer: Peer
) -> None:
    """Protocol peer: Write-Output is scripted; Create/Command/Delete counts are real."""
    creates, commands, deletes = (count(http_peer, a) for a in ("Create", "Command", "Delete"))
    host = connect(http_peer)
    for i in range(10):
        assert run(host, f"Write-Output 'n{i}'") == (True, [f"n{i}"], [])
    host.disconnect()
    assert count(http_peer, "Create") - creates == 1
    assert count(http_peer, "Command") - commands == 10
    assert count(http_peer, "Delete") - deletes == 1


def test_exit_codes_stderr_env_chdir_and_stdin(
    connect: Callable[..., Host], https_peer: Peer
) -> None:
    """Protocol peer: the statements are scripted; exit codes, CLIXML on stderr, env and
    working directory travel in the generated PowerShell, stdin through WS-Man Send."""
    host = connect(https_peer)
    assert run(host, "exit 3")[0] is False
    assert run(host, "exit 3", _success_exit_codes=[0, 3])[0] is True
    assert run(host, "cmd /c exit 5", _success_exit_codes=[5])[0] is True  # native code kept
    assert run(host, "Write-Error 'it broke'") == (False, [], ["it broke"])
    assert run(host, "nosuchtool --flag")[2][0].startswith("nosuchtool : The term 'nosuchtool'")
    value = "it's \u2019quoted\u2019 $env:HOME `n"
    assert run(host, "Write-Output $env:WF_X", _env={"WF_X": value}) == (True, [value], [])
    (https_peer.root / "C" / "o'dir").mkdir(exist_ok=True)
    assert run(host, "(Get-Location).Path", _chdir="C:\\o'dir") == (True, ["C:\\o'dir"], [])
    ok, _, err = run(host, "Write-Output 'never'", _chdir="C:\\missing")
    assert not ok and "Cannot find path 'C:\\missing'" in err[0]
    stdin = ["first line", "second line"]
    echo = "[Console]::Out.Write([Console]::In.ReadToEnd())"
    assert run(host, echo, _stdin=stdin) == (True, stdin, [])
    assert run(host, "echo %WF_Y%", _shell_executable="cmd", _env={"WF_Y": "via-cmd"})[1] == [
        "via-cmd"
    ]


def test_refusals_are_one_line_and_run_nothing(
    connect: Callable[..., Host], http_peer: Peer
) -> None:
    """Arguments Windows cannot honour fail the command in one line before anything runs."""
    host = connect(http_peer)
    before = count(http_peer, "Command")
    for arguments, cause in (
        ({"_sudo": True}, "_sudo is not available on Windows"),
        ({"_shell_executable": "bash"}, "'bash' is not a Windows shell"),
        ({"_env": {"BAD-NAME": "x"}}, "not a plain identifier"),
    ):
        ok, out, err = run(host, "Write-Output 'x'", **arguments)
        assert (ok, out) == (False, []) and len(err) == 1 and cause in err[0]
    assert count(http_peer, "Command") == before


def test_output_is_streamed_line_by_line(
    connect: Callable[..., Host], http_peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Protocol peer: the loop with Start-Sleep is scripted; each line reaches pyinfra's
    output as its Receive returns, not at the end."""
    seen: list[tuple[float, str]] = []
    monkeypatch.setattr(
        connector_module, "echo", lambda text, **_: seen.append((time.monotonic(), text))
    )
    host = connect(http_peer)
    loop = '1..4 | ForEach-Object { Write-Output "line $_"; Start-Sleep -Milliseconds 400 }'
    ok, out = host.run_shell_command(StringCommand(loop), print_output=True)
    assert ok and out.stdout_lines == ["line 1", "line 2", "line 3", "line 4"]
    assert [text.endswith(f"line {i}") for i, (_, text) in enumerate(seen, 1)] == [True] * 4
    assert seen[-1][0] - seen[0][0] > 1.0  # spread over the run


def test_timeout_signals_the_command_and_keeps_the_shell(
    connect: Callable[..., Host], http_peer: Peer
) -> None:
    """pywinrm would retry OperationTimeout faults forever; the connector's own deadline
    signals the command and gives up within _timeout + a little. Start-Sleep is scripted."""
    host = connect(http_peer, winrm_operation_timeout=20)
    signals = count(http_peer, "Signal")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        host.run_shell_command(StringCommand("Start-Sleep -Seconds 60"), _timeout=2)
    assert 1.9 < time.monotonic() - started < 4
    assert count(http_peer, "Signal") == signals + 1
    assert run(host, "Write-Output 'still here'") == (True, ["still here"], [])


def test_files_round_trip_with_hash_checks(
    connect: Callable[..., Host], http_peer: Peer, tmp_path: Path
) -> None:
    """Upload and download through one PowerShell process each, sealed over http; the
    transfer scripts' file I/O is the peer's stand-in, the chunking and hashes are real."""
    host = connect(http_peer)
    data = os.urandom(1_000_000 + 7)
    assert host.put_file(io.BytesIO(data), "C:\\Users\\builder\\one.bin")
    on_disk = http_peer.root / "C" / "Users" / "builder" / "one.bin"
    assert on_disk.read_bytes() == data
    assert not list(on_disk.parent.glob("one.bin.wfpart-*"))  # the temporary name is gone
    back = io.BytesIO()
    assert host.get_file("C:\\Users\\builder\\one.bin", back)
    assert back.getvalue() == data
    local = tmp_path / "one.bin"
    assert host.get_file("C:\\Users\\builder\\one.bin", str(local))
    assert local.read_bytes() == data and [p.name for p in tmp_path.iterdir()] == ["one.bin"]
    sends = [p for p in http_peer.plain() if b"/shell/Send<" in p]
    assert max(len(p) for p in sends) <= host.connector.max_envelope  # type: ignore[attr-defined]


def test_a_100_mb_upload(
    connect: Callable[..., Host],
    start_peer: Callable[..., Peer],
    trusted_ca: CertificateAuthority,
    tmp_path: Path,
) -> None:
    """100 MB over HTTPS in chunks sized from the peer's MaxEnvelopeSizekb (500), read by
    the connector from the config resource (the user is an administrator)."""
    source = tmp_path / "big.bin"
    with open(source, "wb") as handle:
        for _ in range(100):
            handle.write(os.urandom(1_000_000))
    cert, key = trusted_ca.issue("peer-bulk")
    bulk = start_peer("bulk", record=False, cert=cert, key=key, max_envelope_kb=500)
    host = connect(bulk, user="WINTEST\\admin")
    assert host.connector.max_envelope == 500 * 1024  # type: ignore[attr-defined]
    started = time.monotonic()
    assert host.put_file(str(source), "C:\\Users\\admin\\big.bin")
    elapsed = time.monotonic() - started
    written = bulk.root / "C" / "Users" / "admin" / "big.bin"
    with open(written, "rb") as a, open(source, "rb") as b:
        assert (
            hashlib.file_digest(a, "sha256").digest() == hashlib.file_digest(b, "sha256").digest()
        )
    written.unlink()
    print(f"100 MB upload: {elapsed:.1f}s, {100 / elapsed:.1f} MB/s")


def test_transfer_failures_are_one_line(
    connect: Callable[..., Host],
    start_peer: Callable[..., Peer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Damaged bytes (the peer flips a bit as data arrives), a missing directory, a missing
    file, a request over MaxEnvelopeSizekb: each fails the transfer with one line and leaves
    nothing behind. The file I/O is scripted; the hash check and the fault are real."""
    damaged = start_peer("corrupt", corrupt_uploads=True)
    small = start_peer("small", max_envelope_kb=64)
    caplog.set_level(logging.ERROR, logger="pyinfra")
    host = connect(damaged)
    assert not host.put_file(io.BytesIO(b"payload" * 1000), "C:\\Users\\builder\\bad.bin")
    assert not host.put_file(io.BytesIO(b"x"), "C:\\nowhere\\f.bin")
    assert not host.get_file("C:\\Users\\builder\\absent.bin", io.BytesIO())
    assert not list((damaged.root / "C" / "Users" / "builder").iterdir())
    # The host's limit is 64 kB but this inventory claims 150 kB: the peer refuses the Send.
    liar = connect(small, winrm_max_envelope_size=153600)
    assert not liar.put_file(io.BytesIO(os.urandom(200_000)), "C:\\Users\\builder\\big.bin")
    # Told the truth (the administrator reads it from the host), the same upload works.
    admin = connect(small, user="WINTEST\\admin")
    assert admin.put_file(io.BytesIO(os.urandom(200_000)), "C:\\Users\\admin\\big.bin")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4 and all("\n" not in line for line in lines)
    assert "sha256 mismatch" in lines[0]
    assert "Could not find a part of the path 'C:\\nowhere\\f.bin.wfpart-" in lines[1]
    assert "Could not find file 'C:\\Users\\builder\\absent.bin'" in lines[2]
    assert "w:EncodingLimit" in lines[3] and "MaxEnvelopeSizekb" in lines[3]
    assert all(line.startswith("[@winrm/win] winrm: ") for line in lines)


def test_connect_failures_are_one_line_without_secrets(
    connect: Callable[..., Host],
    credentials: Credentials,
    https_peer: Peer,
    http_peer: Peer,
    tmp_path: Path,
) -> None:
    """Real NTLM and TLS failures (no scripted behaviour involved): one line naming the
    endpoint and the cause, without the password, in bounded time."""
    wrong = tmp_path / "wrong"
    wrong.write_text("wrong-password\n")
    untrusted = CertificateAuthority(tmp_path / "ca", "elsewhere").path
    cases = [
        (https_peer, {"winrm_password_file": str(wrong)}, "credentials rejected (HTTP 401)"),
        (https_peer, {"winrm_ca_trust_path": str(untrusted)}, "TLS certificate not trusted"),
        (http_peer, {"winrm_port": 1}, "connection refused"),
    ]
    for peer, data, cause in cases:
        started = time.monotonic()
        with pytest.raises(ConnectError) as info:
            connect(peer, **data)
        message = info.value.args[0]
        assert cause in message and "\n" not in message, message
        assert message.startswith(f"winrm: {peer.scheme}://127.0.0.1:")
        assert credentials.password not in message
        assert time.monotonic() - started < 5


def test_client_certificate_login(
    connect: Callable[..., Host],
    start_peer: Callable[..., Peer],
    trusted_ca: CertificateAuthority,
    untrusted_ca: CertificateAuthority,
) -> None:
    """The certificate transport: TLS client authentication, the peer mapping the
    certificate's common name to a user (as a WSMan ClientCertificate mapping would). A
    certificate from another CA fails the TLS handshake; one for an unknown user gets 401.
    Protocol peer: Write-Output is scripted."""
    cert, key = trusted_ca.issue("peer-mutual")
    peer = start_peer("mutual", cert=cert, key=key, client_ca=trusted_ca.path)

    def login(ca: CertificateAuthority, name: str) -> Host:
        client_cert, client_key = ca.issue(name, client=True)
        return connect(
            peer,
            winrm_transport="certificate",
            winrm_cert_pem=str(client_cert),
            winrm_cert_key_pem=str(client_key),
        )

    host = login(trusted_ca, "builder")
    assert run(host, "Write-Output 'mutual'") == (True, ["mutual"], [])
    assert "authenticated WINTEST\\builder with a client certificate" in peer.events()
    for ca, name, cause in (
        (untrusted_ca, "builder", "TLS"),
        (trusted_ca, "nobody", "credentials rejected (HTTP 401)"),
    ):
        with pytest.raises(ConnectError) as info:
            login(ca, name)
        print(info.value.args[0])
        assert cause in info.value.args[0] and "\n" not in info.value.args[0], info.value.args[0]
