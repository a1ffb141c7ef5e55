"""The WS-Management test peer, proven with two independent clients: pywinrm and pypsrp.

Level: protocol peer. Auth (NTLM via pyspnego's acceptor), message encryption, TLS, channel
binding, faults and size limits are real and checked here; what a command *does* is the
peer's scripted stand-in for Windows (``echo``, ``Write-Output``, ``Start-Sleep``...).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests
import winrm
from peer_fixture import CertificateAuthority, Credentials, Peer, TLSRelay
from pypsrp.exceptions import AuthenticationError
from pypsrp.exceptions import WSManFaultError as PsrpFault
from pypsrp.shell import Process, SignalCode, WinRS
from pypsrp.wsman import WSMan
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError

TERMINATE = SignalCode.TERMINATE


def pywinrm_session(peer: Peer, user: str, password: str, **kwargs: object) -> winrm.Session:
    kwargs.setdefault("ca_trust_path", None)  # never the environment's CA bundle
    return winrm.Session(peer.url, auth=(user, password), transport="ntlm", proxy=None, **kwargs)


def psrp(
    peer: Peer, credentials: Credentials, ca: CertificateAuthority | None = None, **kw: object
) -> WSMan:
    return WSMan(
        "127.0.0.1",
        port=peer.port,
        username=credentials.user,
        password=credentials.password,
        auth="ntlm",
        ssl=peer.tls,
        cert_validation=str(ca.path) if ca else True,
        no_proxy=True,
        **kw,  # type: ignore[arg-type]
    )


def psrp_run(wsman: WSMan, executable: str, arguments: list[str]) -> Process:
    with WinRS(wsman) as shell:
        process = Process(shell, executable, arguments)
        process.invoke()
        process.signal(TERMINATE)
    return process


def test_both_clients_run_commands_over_http_with_encryption(
    http_peer: Peer, credentials: Credentials
) -> None:
    """pywinrm and pypsrp authenticate with NTLM and talk encrypted over plain http.
    Protocol peer: the echo and Write-Output are the peer's scripted stand-ins."""
    session = pywinrm_session(http_peer, credentials.user, credentials.password)
    result = session.run_cmd("echo", ["from-pywinrm"])
    assert (result.status_code, result.std_out) == (0, b"from-pywinrm\r\n")
    result = session.run_ps("Write-Output 'ps-line'\nWrite-Error 'ps-failure'")
    assert (result.status_code, result.std_out, result.std_err) == (
        1,
        b"ps-line\r\n",
        b"ps-failure",
    )
    process = psrp_run(psrp(http_peer, credentials), "cmd.exe", ["/c", "echo", "from-pypsrp"])
    assert (process.rc, process.stdout) == (0, b"from-pypsrp\r\n")

    # Every SOAP request after authentication was sealed on the wire.
    bodies = [record.split(b"\r\n\r\n", 1)[1] for record in http_peer.wire()]
    sealed = [b for b in bodies if b.startswith(b"--Encrypted Boundary")]
    assert len(sealed) >= 10
    assert not [b for b in bodies if b"Envelope" in b]
    assert any(b"from-pywinrm" in p for p in http_peer.plain())  # what the peer decrypted


def test_both_clients_over_https_with_channel_binding(
    https_peer: Peer, credentials: Credentials, trusted_ca: CertificateAuthority
) -> None:
    """TLS with a certificate from the tests' CA; NTLM carries the channel binding token.
    Protocol peer: the commands are scripted stand-ins."""
    session = pywinrm_session(
        https_peer, credentials.user, credentials.password, ca_trust_path=str(trusted_ca.path)
    )
    assert session.run_cmd("echo", ["tls"]).std_out == b"tls\r\n"
    wsman = psrp(https_peer, credentials, trusted_ca)
    with WinRS(wsman) as shell:
        assert shell.owner == "builder"  # pypsrp read the Create reply's rsp:Shell
        process = Process(shell, "cmd.exe", ["/c", "hostname"])
        process.invoke()
        process.signal(TERMINATE)
    assert process.stdout == b"WIN-PEER\r\n"


def test_a_relay_in_the_middle_breaks_channel_binding(
    start_peer: Callable[..., Peer], credentials: Credentials, trusted_ca: CertificateAuthority
) -> None:
    """A man in the middle with a certificate the client trusts: NTLM's channel binding (the
    hash of the certificate the client saw) no longer matches the peer's, so login fails.
    The same relay in front of a peer that does not check bindings works (the control)."""
    cert, key = trusted_ca.issue("peer-cbt")
    checking = start_peer("cbt-strict", cert=cert, key=key)
    ignoring = start_peer("cbt-off", cert=cert, key=key, check_channel_binding=False)
    relay_cert, relay_key = trusted_ca.issue("relay")
    for peer, works in ((checking, False), (ignoring, True)):
        relay = TLSRelay(relay_cert, relay_key, peer.port, trusted_ca.path)
        try:
            session = winrm.Session(
                f"https://127.0.0.1:{relay.port}/wsman",
                auth=(credentials.user, credentials.password),
                transport="ntlm",
                ca_trust_path=str(trusted_ca.path),
                proxy=None,
                read_timeout_sec=10,
                operation_timeout_sec=5,
            )
            if works:
                assert session.run_cmd("echo", ["relayed"]).std_out == b"relayed\r\n"
            else:
                with pytest.raises(InvalidCredentialsError):
                    session.run_cmd("echo", ["relayed"])
                assert any("BadBindings" in event for event in peer.events())
        finally:
            relay.close()


def test_wrong_password_and_untrusted_certificate(
    https_peer: Peer,
    credentials: Credentials,
    trusted_ca: CertificateAuthority,
    untrusted_ca: CertificateAuthority,
) -> None:
    """Real NTLM rejects a wrong password; real TLS rejects a certificate from another CA."""
    bad = pywinrm_session(
        https_peer, credentials.user, "not-the-password", ca_trust_path=str(trusted_ca.path)
    )
    with pytest.raises(InvalidCredentialsError):
        bad.run_cmd("echo", ["x"])
    with pytest.raises(AuthenticationError):
        psrp_run(
            WSMan(
                "127.0.0.1",
                port=https_peer.port,
                username=credentials.user,
                password="not-the-password",
                auth="ntlm",
                cert_validation=str(trusted_ca.path),
                no_proxy=True,
            ),
            "cmd.exe",
            ["/c", "echo"],
        )
    untrusting = pywinrm_session(
        https_peer, credentials.user, credentials.password, ca_trust_path=str(untrusted_ca.path)
    )
    with pytest.raises(requests.exceptions.SSLError):
        untrusting.run_cmd("echo", ["x"])
    with pytest.raises(requests.exceptions.SSLError):
        psrp_run(psrp(https_peer, credentials, untrusted_ca), "cmd.exe", ["/c", "echo"])


def test_plaintext_is_refused_on_http(http_peer: Peer, credentials: Credentials) -> None:
    """Like a host with AllowUnencrypted=false: an unsealed SOAP message over http gets 401."""
    session = pywinrm_session(
        http_peer, credentials.user, credentials.password, message_encryption="never"
    )
    with pytest.raises(InvalidCredentialsError):
        session.run_cmd("echo", ["plain"])
    assert "refused unencrypted message" in http_peer.events()


def test_operation_timeout_faults(http_peer: Peer, credentials: Credentials) -> None:
    """A Receive with nothing to say ends in the OperationTimeout fault (2150858793), which
    both clients treat as "ask again". Protocol peer: Start-Sleep is scripted."""
    protocol = winrm.Protocol(
        http_peer.url,
        transport="ntlm",
        username=credentials.user,
        password=credentials.password,
        operation_timeout_sec=1,
        read_timeout_sec=5,
        ca_trust_path=None,  # type: ignore[arg-type]
        proxy=None,
    )
    shell = protocol.open_shell()
    command = protocol.run_command(shell, "cmd", ["/c", "echo", "later"])
    sleeper = protocol.run_command(
        shell, "powershell -encodedcommand " + _encode("Start-Sleep -Seconds 3")
    )
    with pytest.raises(WinRMOperationTimeoutError):
        protocol.get_command_output_raw(shell, sleeper)
    started = time.monotonic()
    assert protocol.get_command_output(shell, sleeper)[2] == 0  # retried until done
    assert 0.5 < time.monotonic() - started < 4
    assert protocol.get_command_output(shell, command)[0] == b"later\r\n"
    protocol.cleanup_command(shell, sleeper)
    protocol.close_shell(shell)

    wsman = psrp(http_peer, credentials, operation_timeout=1, read_timeout=5)
    with WinRS(wsman) as winrs:
        process = Process(winrs, "powershell", ["-EncodedCommand", _encode("Start-Sleep 2")])
        process.invoke()  # pypsrp ignores the fault and polls again
        process.signal(TERMINATE)
    assert process.rc == 0


def _encode(script: str) -> str:
    import base64

    return base64.b64encode(script.encode("utf-16-le")).decode()


def test_envelope_limits(
    start_peer: Callable[..., Peer], http_peer: Peer, credentials: Credentials
) -> None:
    """MaxEnvelopeSizekb bounds what the peer accepts (EncodingLimit fault); the client's
    MaxEnvelopeSize bounds each reply, so large output takes several Receives. The config
    resource tells administrators the limit (pypsrp reads it), and nobody else."""
    small = start_peer("small-envelope", max_envelope_kb=64)
    protocol = winrm.Protocol(
        small.url, transport="ntlm", username=credentials.user, password=credentials.password,
        proxy=None, ca_trust_path=None,  # type: ignore[arg-type]
    )  # fmt: skip
    shell = protocol.open_shell()
    command = protocol.run_command(shell, "cmd", ["/c", "echo", "x"])
    with pytest.raises(WSManFaultError) as fault:
        protocol.send_command_input(shell, command, b"y" * 60000)
    assert fault.value.fault_subcode == "w:EncodingLimit"
    protocol.send_command_input(shell, command, b"y" * 30000, end=True)  # fits: accepted

    big = "powershell -encodedcommand " + _encode("Write-Output ('x' * 400000)")
    before = sum("Receive" in e for e in http_peer.events())
    session = pywinrm_session(http_peer, credentials.user, credentials.password)
    out = session.run_cmd(big)
    assert out.std_out == b"x" * 400000 + b"\r\n"
    assert sum("Receive" in e for e in http_peer.events()) - before >= 3  # 153600-byte replies

    admin = WSMan(
        "127.0.0.1", port=small.port, username=credentials.admin, password=credentials.password,
        auth="ntlm", ssl=False, no_proxy=True,
    )  # fmt: skip
    admin.update_max_payload_size()
    assert admin.max_envelope_size == 64 * 1024
    with pytest.raises(PsrpFault) as denied:
        psrp(small, credentials).update_max_payload_size()
    assert denied.value.code == 5
