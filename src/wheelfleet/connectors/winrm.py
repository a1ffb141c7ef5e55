"""``@winrm``: a pyinfra 3 connector for Windows hosts, built on pywinrm.

Inventory names read ``@winrm/build-win-01`` (or any host with ``winrm_hostname``). One
WinRS shell is opened per host connection and reused for every command; commands run in
PowerShell (``-EncodedCommand``) unless ``_shell_executable="cmd"``. HTTPS with certificate
validation is the default; over plain HTTP every message is encrypted (NTLM, Kerberos or
CredSSP), and a transport that cannot encrypt is refused unless the inventory sets
``winrm_allow_unencrypted``. The password is read from an environment variable or a file
named in host data, never from host data itself, and never printed.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import secrets
import socket
import ssl
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from io import IOBase
from typing import TYPE_CHECKING, Any

from pyinfra import logger
from pyinfra.api.exceptions import ConnectError, InventoryError
from pyinfra.api.output import echo, format_text
from pyinfra.api.util import get_file_io
from pyinfra.connectors.base import BaseConnector, DataMeta
from pyinfra.connectors.util import CommandOutput, OutputLine
from typing_extensions import TypedDict, Unpack, override

from . import powershell

if TYPE_CHECKING:
    from pyinfra.api.arguments import ConnectorArguments
    from pyinfra.api.command import StringCommand
    from winrm.protocol import Protocol

SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
CMD_RESOURCE = f"{SHELL_URI}/cmd"
CONFIG_RESOURCE = "http://schemas.microsoft.com/wbem/wsman/1/config"
TRANSFER_GET = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": SHELL_URI,
    "cfg": CONFIG_RESOURCE,
}
TRANSPORTS = ("ntlm", "kerberos", "credssp", "certificate", "basic")
# Transports whose messages pywinrm can encrypt on plain HTTP.
ENCRYPTING = ("ntlm", "kerberos", "credssp")
DEFAULT_PASSWORD_ENV = "WINRM_PASSWORD"
# What pywinrm announces and Windows Server 2008 R2 allows; newer hosts allow 500 kB.
DEFAULT_MAX_ENVELOPE = 153600
# Room for the SOAP header, the Send element and the encryption wrapper.
ENVELOPE_OVERHEAD = 4096
GET_CHUNK = 49152
REFUSED_ARGUMENTS = ("_sudo", "_su_user", "_doas", "_dzdo")


class WinRMConnectorData(TypedDict, total=False):
    winrm_hostname: str
    winrm_port: int
    winrm_scheme: str
    winrm_path: str
    winrm_user: str
    winrm_password_env: str
    winrm_password_file: str
    winrm_transport: str
    winrm_ca_trust_path: str
    winrm_cert_pem: str
    winrm_cert_key_pem: str
    winrm_allow_unencrypted: bool
    winrm_operation_timeout: int
    winrm_read_timeout: int
    winrm_max_envelope_size: int
    winrm_codepage: int
    winrm_kerberos_hostname_override: str


DATA_META: dict[str, DataMeta] = {
    "winrm_hostname": DataMeta("Address to connect to (default: the inventory name)"),
    "winrm_port": DataMeta("Port (default 5986 for https, 5985 for http)"),
    "winrm_scheme": DataMeta("https (default) or http", "https"),
    "winrm_path": DataMeta("URL path of the WS-Management endpoint", "/wsman"),
    "winrm_user": DataMeta("User name (DOMAIN\\user, user@REALM or a local user)"),
    "winrm_password_env": DataMeta(
        "Environment variable holding the password", DEFAULT_PASSWORD_ENV
    ),
    "winrm_password_file": DataMeta("File holding the password (first line)"),
    "winrm_transport": DataMeta("ntlm (default), kerberos, credssp, certificate, basic", "ntlm"),
    "winrm_ca_trust_path": DataMeta("CA bundle that signs the host's certificate"),
    "winrm_cert_pem": DataMeta("Client certificate (certificate transport)"),
    "winrm_cert_key_pem": DataMeta("Client certificate key (certificate transport)"),
    "winrm_allow_unencrypted": DataMeta(
        "Allow a transport that cannot encrypt over plain HTTP (warned about)", False
    ),
    "winrm_operation_timeout": DataMeta("Seconds one WS-Management call may block", 20),
    "winrm_read_timeout": DataMeta("Seconds to wait for any HTTP answer", 30),
    "winrm_max_envelope_size": DataMeta(
        "Bytes per request (default: the host's MaxEnvelopeSizekb, else 153600)"
    ),
    "winrm_codepage": DataMeta("Console code page of the shell", 65001),
    "winrm_kerberos_hostname_override": DataMeta("Host name for the Kerberos SPN"),
}


@dataclass
class Settings:
    endpoint: str
    transport: str
    user: str | None
    password: str | None
    encryption: str
    unencrypted: bool
    ca_trust_path: str | None
    cert_pem: str | None
    cert_key_pem: str | None
    operation_timeout: int
    read_timeout: int
    max_envelope: int | None
    codepage: int
    kerberos_hostname_override: str | None


def resolve_settings(name: str, data: dict[str, Any], environ: dict[str, str]) -> Settings:
    """Host data -> validated settings. Raises ConnectError with one line naming the key."""

    def fail(message: str) -> ConnectError:
        return ConnectError(f"winrm: {message}")

    if data.get("winrm_password") is not None:
        raise fail(
            "winrm_password in inventory data is not read (inventories are printed); name an "
            "environment variable in winrm_password_env or a file in winrm_password_file"
        )
    scheme = str(data.get("winrm_scheme") or "https").lower()
    if scheme not in ("https", "http"):
        raise fail(f"winrm_scheme must be https or http, not {scheme!r}")
    transport = str(data.get("winrm_transport") or "ntlm").lower()
    if transport not in TRANSPORTS:
        raise fail(f"winrm_transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")
    hostname = data.get("winrm_hostname") or name
    port = data.get("winrm_port") or (5986 if scheme == "https" else 5985)
    path = "/" + str(data.get("winrm_path") or "/wsman").lstrip("/")
    host_part = f"[{hostname}]" if ":" in hostname else hostname
    endpoint = f"{scheme}://{host_part}:{int(port)}{path}"

    unencrypted = False
    if scheme == "https":
        encryption = "auto"  # TLS protects the messages; pywinrm adds none on https
    elif transport in ENCRYPTING:
        encryption = "always"
    elif transport == "certificate":
        raise fail("certificate authentication needs https (the certificate is sent in TLS)")
    elif data.get("winrm_allow_unencrypted"):
        encryption = "never"
        unencrypted = True
    else:
        raise fail(
            f"{transport} over http cannot encrypt messages: use https, or ntlm/kerberos/credssp, "
            "or set winrm_allow_unencrypted: True to accept plaintext"
        )

    user = data.get("winrm_user")
    password: str | None = None
    if transport in ("ntlm", "credssp", "basic"):
        if not user:
            raise fail(f"winrm_user is required for {transport}")
        password_file = data.get("winrm_password_file")
        if password_file:
            try:
                with open(password_file, encoding="utf-8") as handle:
                    password = handle.readline().rstrip("\r\n")
            except OSError as exc:
                raise fail(
                    f"winrm_password_file {password_file}: cannot read ({exc.strerror})"
                ) from None
        else:
            variable = data.get("winrm_password_env") or DEFAULT_PASSWORD_ENV
            password = environ.get(variable)
            if password is None:
                raise fail(
                    f"environment variable {variable} (winrm_password_env) is not set; "
                    "it must hold the password"
                )
    if transport == "certificate" and not (
        data.get("winrm_cert_pem") and data.get("winrm_cert_key_pem")
    ):
        raise fail("certificate transport needs winrm_cert_pem and winrm_cert_key_pem")

    operation_timeout = int(data.get("winrm_operation_timeout") or 20)
    read_timeout = int(data.get("winrm_read_timeout") or 30)
    if not 1 <= operation_timeout < read_timeout:
        raise fail("winrm_read_timeout must exceed winrm_operation_timeout (both >= 1 s)")
    max_envelope = data.get("winrm_max_envelope_size")
    if max_envelope is not None and int(max_envelope) < 8192:
        raise fail("winrm_max_envelope_size must be at least 8192 bytes")
    return Settings(
        endpoint=endpoint,
        transport=transport,
        user=user,
        password=password,
        encryption=encryption,
        unencrypted=unencrypted,
        ca_trust_path=data.get("winrm_ca_trust_path"),
        cert_pem=data.get("winrm_cert_pem"),
        cert_key_pem=data.get("winrm_cert_key_pem"),
        operation_timeout=operation_timeout,
        read_timeout=read_timeout,
        max_envelope=int(max_envelope) if max_envelope is not None else None,
        codepage=int(data.get("winrm_codepage") or 65001),
        kerberos_hostname_override=data.get("winrm_kerberos_hostname_override"),
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (requests -> urllib3 -> ssl/socket)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nested in (getattr(current, "reason", None), current.__cause__, current.__context__):
            if isinstance(nested, BaseException):
                todo.append(nested)
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))


def describe_error(exc: BaseException, settings: Settings | None = None) -> str:
    """One line saying what went wrong, without a traceback and without any secret."""
    # pywinrm and requests are imported when first needed: pyinfra imports every registered
    # connector on every run, and a fleet without Windows hosts should not pay for them.
    import requests
    from winrm.exceptions import (
        InvalidCredentialsError,
        WinRMError,
        WinRMTransportError,
        WSManFaultError,
    )

    causes = list(_chain(exc))
    message: str
    verify = next((c for c in causes if isinstance(c, ssl.SSLCertVerificationError)), None)
    if verify is not None:
        message = (
            "TLS certificate not trusted "
            f"({verify.verify_message or 'verification failed'}); "
            "set winrm_ca_trust_path to the CA that signed it"
        )
    elif any(isinstance(c, ssl.SSLError) for c in causes):
        tls = next(c for c in causes if isinstance(c, ssl.SSLError))
        message = f"TLS handshake failed ({getattr(tls, 'reason', None) or tls.__class__.__name__})"
        if settings is not None and settings.transport == "certificate":
            message += "; the host may not accept the client certificate (winrm_cert_pem)"
    elif any(isinstance(c, ConnectionRefusedError) for c in causes):
        message = "connection refused (is WinRM listening on this port?)"
    elif any(isinstance(c, requests.Timeout | socket.timeout | TimeoutError) for c in causes):
        timeout = settings.read_timeout if settings else "?"
        message = f"no answer within {timeout}s"
    elif any(isinstance(c, ConnectionResetError | BrokenPipeError) for c in causes):
        message = "connection reset by the host"
    elif isinstance(exc, requests.ConnectionError):
        message = "connection lost (the host closed it or went away)"
    elif isinstance(exc, InvalidCredentialsError):
        message = "credentials rejected (HTTP 401)"
        if settings is not None and settings.unencrypted:
            message += (
                "; the host may also refuse unencrypted messages (AllowUnencrypted=false): "
                "use https or an encrypting transport"
            )
    elif isinstance(exc, WSManFaultError):
        code = f" {exc.wsman_fault_code}" if exc.wsman_fault_code else ""
        subcode = f" {exc.fault_subcode}" if exc.fault_subcode else ""
        message = f"WS-Management fault{code}{subcode}: {' '.join(exc.reason.split())}"
    elif isinstance(exc, WinRMTransportError):
        message = f"HTTP {exc.code} from the host"
    elif isinstance(exc, WinRMError):
        message = " ".join(str(exc).split())
        if "is not installed" in message and settings is not None:
            message += f"; pip install 'wheelfleet[winrm-{settings.transport}]'"
    else:
        message = f"{exc.__class__.__name__}: {' '.join(str(exc).split())}"
    if settings is not None and settings.password:
        message = message.replace(settings.password, "***")
    return message


@dataclass
class _Lines:
    """Bytes in, whole lines out (CRLF or LF), decoded as the shell's code page."""

    encoding: str
    pending: bytes = b""
    lines: list[str] = field(default_factory=list)

    def feed(self, data: bytes) -> list[str]:
        self.pending += data
        *complete, self.pending = self.pending.split(b"\n")
        return [line.rstrip(b"\r").decode(self.encoding, "replace") for line in complete]

    def close(self) -> list[str]:
        rest, self.pending = self.pending, b""
        return [rest.rstrip(b"\r").decode(self.encoding, "replace")] if rest else []


CLIXML_MARK = b"#< CLIXML"


class _Stderr:
    """Stderr lines: streamed as they come, unless PowerShell sent CLIXML (decoded at the end)."""

    def __init__(self, encoding: str) -> None:
        self.lines = _Lines(encoding)
        self.head = b""
        self.mode: str | None = None  # None until the first bytes say: "clixml" or "text"

    def feed(self, data: bytes) -> list[str]:
        if self.mode == "text":
            return self.lines.feed(data)
        self.head += data
        if self.mode is None:
            if self.head.startswith(CLIXML_MARK):
                self.mode = "clixml"
            elif not CLIXML_MARK.startswith(self.head):
                self.mode = "text"
                head, self.head = self.head, b""
                return self.lines.feed(head)
        return []

    def close(self) -> list[str]:
        head, self.head = self.head, b""
        if self.mode == "clixml":
            text = powershell.clixml_to_text(head)
            if text is not None:
                return [line.rstrip("\r") for line in text.splitlines()]
        return self.lines.feed(head) + self.lines.close()


@dataclass
class _Receive:
    stdout: bytes
    stderr: bytes
    done: bool
    exit_code: int | None


def _encoding(codepage: int) -> str:
    return "utf-8" if codepage == 65001 else f"cp{codepage}"


def _raw(value: Any) -> str:
    unmask = getattr(value, "unmask", None)
    return unmask() if callable(unmask) else str(value)


class CommandFailed(Exception):
    """A WinRS command could not be completed (transport broke or the host faulted)."""


class WinRMConnector(BaseConnector):
    """Run pyinfra operations on Windows hosts over WinRM (see module docstring)."""

    handles_execution = True
    data_cls = WinRMConnectorData
    data_meta = DATA_META

    settings: Settings | None = None
    protocol: Protocol | None = None
    shell_id: str | None = None
    max_envelope: int = DEFAULT_MAX_ENVELOPE

    @override
    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict, list[str]]]:
        if not name:
            raise InventoryError("@winrm needs a host name: @winrm/HOSTNAME")
        yield f"@winrm/{name}", {}, []

    # Connection
    #

    def _name(self) -> str:
        name = self.host.name
        return name.split("/", 1)[1] if name.startswith("@winrm/") else name

    @override
    def connect(self) -> None:
        from winrm.protocol import Protocol

        settings = resolve_settings(self._name(), dict(self.data), dict(os.environ))
        self.settings = settings
        if settings.unencrypted:
            logger.warning(
                f"{self.host.print_prefix}winrm: {settings.transport} over http sends the "
                "password and every command unencrypted (winrm_allow_unencrypted is set)"
            )
        try:
            self.protocol = Protocol(
                settings.endpoint,
                transport=settings.transport,  # type: ignore[arg-type]
                username=settings.user,
                password=settings.password,
                ca_trust_path=settings.ca_trust_path,  # type: ignore[arg-type]
                cert_pem=settings.cert_pem,
                cert_key_pem=settings.cert_key_pem,
                server_cert_validation="validate",
                read_timeout_sec=settings.read_timeout,
                operation_timeout_sec=settings.operation_timeout,
                kerberos_hostname_override=settings.kerberos_hostname_override,
                message_encryption=settings.encryption,  # type: ignore[arg-type]
                send_cbt=True,
                proxy=None,
            )
            self.max_envelope = settings.max_envelope or self._discover_max_envelope()
            self.shell_id = self.protocol.open_shell(codepage=settings.codepage, noprofile=True)
        except Exception as exc:  # every failure is one line naming the endpoint and cause
            self._close_transport()
            raise ConnectError(
                f"winrm: {settings.endpoint}: {describe_error(exc, settings)}"
            ) from None
        logger.debug(
            "winrm: %s shell %s open, max envelope %d bytes",
            settings.endpoint,
            self.shell_id,
            self.max_envelope,
        )

    def _discover_max_envelope(self) -> int:
        """The host's MaxEnvelopeSizekb (readable by administrators only), else the default."""
        import xmltodict
        from winrm.exceptions import WSManFaultError

        assert self.protocol is not None
        request = {
            "env:Envelope": self.protocol.build_wsman_header(
                action=TRANSFER_GET, resource_uri=CONFIG_RESOURCE
            )
        }
        request["env:Envelope"]["env:Body"] = {}
        try:
            reply = self.protocol.send_message(xmltodict.unparse(request))
        except WSManFaultError as exc:
            logger.debug(
                "winrm: cannot read the host's config (%s); envelope size default", exc.reason
            )
            return DEFAULT_MAX_ENVELOPE
        node = ET.fromstring(reply).find(".//cfg:Config/cfg:MaxEnvelopeSizekb", NS)
        if node is None or not (node.text or "").strip().isdigit():
            return DEFAULT_MAX_ENVELOPE
        return int((node.text or "").strip()) * 1024

    def _close_transport(self) -> None:
        if self.protocol is not None:
            self.protocol.transport.close_session()

    @override
    def disconnect(self) -> None:
        if self.protocol is not None and self.shell_id is not None:
            try:
                self.protocol.close_shell(self.shell_id, close_session=False)
            except Exception as exc:  # the host may be gone already; nothing left to do
                logger.debug("winrm: closing shell failed: %s", describe_error(exc, self.settings))
        self.shell_id = None
        self._close_transport()
        self.protocol = None

    # Commands
    #

    def upload_chunk_size(self) -> int:
        """Raw bytes per Send: base64 twice (our line, then WinRS's stream) must fit."""
        room = self.max_envelope - ENVELOPE_OVERHEAD
        return max(3, (room * 9 // 16) // 3 * 3)

    def _require_shell(self) -> tuple[Protocol, str]:
        if self.protocol is None or self.shell_id is None:
            raise CommandFailed("not connected (the WinRS shell was lost)")
        return self.protocol, self.shell_id

    def _start(self, command_line: str) -> str:
        protocol, shell_id = self._require_shell()
        return protocol.run_command(shell_id, command_line)

    def _send(self, command_id: str, data: bytes, end: bool) -> None:
        protocol, shell_id = self._require_shell()
        protocol.send_command_input(shell_id, command_id, data, end=end)

    def _receive(self, command_id: str, operation_timeout: int) -> _Receive:
        """One Receive, blocking on the host at most ``operation_timeout`` seconds."""
        protocol, shell_id = self._require_shell()
        header = protocol.build_wsman_header(
            action=f"{SHELL_URI}/Receive", resource_uri=CMD_RESOURCE, shell_id=shell_id
        )
        header["env:Header"]["w:OperationTimeout"] = f"PT{operation_timeout}S"
        header["env:Body"] = {
            "rsp:Receive": {
                "rsp:DesiredStream": {"@CommandId": command_id, "#text": "stdout stderr"}
            }
        }
        import xmltodict

        root = ET.fromstring(protocol.send_message(xmltodict.unparse({"env:Envelope": header})))
        out: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        for stream in root.iterfind(".//rsp:Stream", NS):
            if stream.text and stream.get("Name") in out:
                out[stream.get("Name", "")].append(base64.b64decode(stream.text))
        state = root.find(".//rsp:CommandState", NS)
        done = state is not None and state.get("State", "").endswith("CommandState/Done")
        exit_code = None
        if done and state is not None:
            code = state.find("rsp:ExitCode", NS)
            exit_code = int(code.text) if code is not None and code.text else None
        return _Receive(b"".join(out["stdout"]), b"".join(out["stderr"]), done, exit_code)

    def _signal_terminate(self, command_id: str) -> None:
        protocol, shell_id = self._require_shell()
        try:
            protocol.cleanup_command(shell_id, command_id)
        except Exception as exc:  # the command may be gone; the shell stays usable
            logger.debug("winrm: terminate signal failed: %s", describe_error(exc, self.settings))

    def _run(
        self,
        command_line: str,
        stdin: Iterable[bytes] = (),
        timeout: float | None = None,
        on_stdout: Any = None,
        on_stderr: Any = None,
    ) -> int:
        """Run one command in the shell; stream its output to the callbacks; its exit code.

        Raises TimeoutError after signalling the command when ``timeout`` passes, and
        CommandFailed when the transport breaks or the host faults.
        """
        import requests
        from winrm.exceptions import WinRMOperationTimeoutError

        assert self.settings is not None
        deadline = time.monotonic() + timeout if timeout else None
        try:
            command_id = self._start(command_line)
        except CommandFailed:
            raise
        except Exception as exc:
            raise CommandFailed(describe_error(exc, self.settings)) from None
        try:
            pending = iter(stdin)
            chunk = next(pending, None)
            while chunk is not None:
                following = next(pending, None)
                self._send(command_id, chunk, end=following is None)
                chunk = following
                if deadline is not None and time.monotonic() > deadline:
                    break
            while True:
                wait = self.settings.operation_timeout
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self._signal_terminate(command_id)
                        raise TimeoutError(f"command still running after {timeout}s")
                    wait = max(1, min(wait, math.ceil(remaining)))
                try:
                    received = self._receive(command_id, wait)
                except WinRMOperationTimeoutError:
                    continue  # no output within the operation timeout: ask again
                if received.stdout and on_stdout:
                    on_stdout(received.stdout)
                if received.stderr and on_stderr:
                    on_stderr(received.stderr)
                if received.done:
                    break
        except TimeoutError:
            raise
        except Exception as exc:  # the transport broke, the host faulted, or stdin failed
            cause = (
                str(exc) if isinstance(exc, CommandFailed) else describe_error(exc, self.settings)
            )
            if not isinstance(exc, requests.ConnectionError):
                self._signal_terminate(command_id)  # do not leave the command running
            raise CommandFailed(cause) from None
        self._signal_terminate(command_id)
        return received.exit_code if received.exit_code is not None else -1

    def _stdin_chunks(self, stdin: Any) -> Iterator[bytes]:
        """pyinfra's ``_stdin`` (a string, lines or a file) as Send-sized byte chunks."""
        if stdin is None:
            return
        if hasattr(stdin, "readlines"):
            stdin = stdin.readlines()
        if isinstance(stdin, str | bytes):
            stdin = [stdin]
        room = (self.max_envelope - ENVELOPE_OVERHEAD) * 3 // 4
        buffer = b""
        for line in stdin:
            data = line.encode() if isinstance(line, str) else line
            buffer += data if data.endswith(b"\n") else data + b"\n"
            while len(buffer) >= room:
                yield buffer[:room]
                buffer = buffer[room:]
        if buffer:
            yield buffer

    def _command_line(self, command: StringCommand, arguments: dict[str, Any]) -> tuple[str, str]:
        """(command line to run, text to show) for a pyinfra command and its arguments."""
        for name in REFUSED_ARGUMENTS:
            if arguments.get(name):
                raise powershell.ScriptError(
                    f"{name} is not available on Windows (WinRM runs as the connecting user)"
                )
        shell = str(arguments.get("_shell_executable") or "powershell").lower()
        env_values = arguments.get("_env") or {}
        env = {str(key): _raw(value) for key, value in env_values.items()}
        shown_env = {str(key): str(value) for key, value in env_values.items()}
        chdir = arguments.get("_chdir")
        raw, masked = command.get_raw_value(), command.get_masked_value()
        if shell in ("sh", "powershell", "powershell.exe"):
            script = powershell.wrap_powershell(raw, env, chdir)
            return (
                powershell.powershell_command_line(script),
                powershell.wrap_powershell(masked, shown_env, chdir),
            )
        if shell in ("cmd", "cmd.exe"):
            return powershell.wrap_cmd(raw, env, chdir), powershell.wrap_cmd(
                masked, shown_env, chdir
            )
        raise powershell.ScriptError(
            f"_shell_executable {shell!r} is not a Windows shell (use powershell or cmd)"
        )

    @override
    def run_shell_command(
        self,
        command: StringCommand,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> tuple[bool, CommandOutput]:
        args: dict[str, Any] = dict(arguments)
        timeout = args.pop("_timeout", None)
        stdin = args.pop("_stdin", None)
        success_codes = args.pop("_success_exit_codes", None) or [0]
        args.pop("_get_pty", None)
        prefix = self.host.print_prefix
        combined: list[OutputLine] = []

        def emit(buffer: str, lines: list[str]) -> None:
            for line in lines:
                combined.append(OutputLine(buffer, line))
                if print_output:
                    text = format_text(line, "red") if buffer == "stderr" else line
                    echo(f"{prefix}{text}", err=True)

        def fail(message: str) -> tuple[bool, CommandOutput]:
            emit("stderr", [f"winrm: {message}"])
            return False, CommandOutput(combined)

        try:
            command_line, shown = self._command_line(command, args)
        except powershell.ScriptError as exc:
            return fail(str(exc))
        logger.debug("--> Running command on %s: %s", self.host.name, shown)
        if print_input:
            echo(f"{prefix}>>> {shown}", err=True)

        encoding = _encoding(self.settings.codepage if self.settings else 65001)
        stdout, stderr = _Lines(encoding), _Stderr(encoding)
        try:
            exit_code = self._run(
                command_line,
                stdin=self._stdin_chunks(stdin),
                timeout=timeout,
                on_stdout=lambda data: emit("stdout", stdout.feed(data)),
                on_stderr=lambda data: emit("stderr", stderr.feed(data)),
            )
        except CommandFailed as exc:
            emit("stdout", stdout.close())
            emit("stderr", stderr.close())
            return fail(str(exc))
        emit("stdout", stdout.close())
        emit("stderr", stderr.close())
        logger.debug("--> Command exit status: %i", exit_code)
        return exit_code in success_codes, CommandOutput(combined)

    # Files
    #

    def _log_error(self, message: str) -> None:
        logger.error(f"{self.host.print_prefix}{format_text('winrm: ' + message, 'red')}")

    @override
    def put_file(
        self,
        filename_or_io: str | IOBase,
        remote_filename: str,
        remote_temp_filename: str | None = None,  # POSIX temp dirs mean nothing here
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        """Stream a file through one PowerShell process; SHA-256 checked before it is moved in."""
        temp = f"{remote_filename}.wfpart-{secrets.token_hex(4)}"
        try:
            command_line = powershell.powershell_command_line(
                powershell.put_script(remote_filename, temp)
            )
        except powershell.ScriptError as exc:
            self._log_error(f"upload to {remote_filename}: {exc}")
            return False
        if print_input:
            echo(f"{self.host.print_prefix}>>> upload {remote_filename}", err=True)
        digest = hashlib.sha256()
        size = self.upload_chunk_size()

        def chunks() -> Iterator[bytes]:
            with get_file_io(filename_or_io) as handle:  # type: ignore[arg-type]
                while True:
                    data = handle.read(size)
                    if isinstance(data, str):
                        data = data.encode()
                    if not data:
                        break
                    digest.update(data)
                    yield base64.b64encode(data) + b"\n"
            yield f"{powershell.END_MARK}{digest.hexdigest()}\n".encode()

        out: list[bytes] = []
        err: list[bytes] = []
        try:
            exit_code = self._run(
                command_line,
                stdin=chunks(),
                timeout=arguments.get("_timeout"),
                on_stdout=out.append,
                on_stderr=err.append,
            )
        except CommandFailed as exc:
            self._log_error(f"upload to {remote_filename} failed: {exc}")
            return False
        expected = f"ok {digest.hexdigest()}"
        if exit_code != 0 or expected not in b"".join(out).decode("ascii", "replace"):
            cause = _error_text(b"".join(err)) or "no confirmation from the host"
            self._log_error(f"upload to {remote_filename} failed (exit {exit_code}): {cause}")
            return False
        return True

    @override
    def get_file(
        self,
        remote_filename: str,
        filename_or_io: str | IOBase,
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        """Read a file as base64 lines from one PowerShell process; SHA-256 checked."""
        command_line = powershell.powershell_command_line(
            powershell.get_script(remote_filename, GET_CHUNK)
        )
        if print_input:
            echo(f"{self.host.print_prefix}>>> download {remote_filename}", err=True)
        lines = _Lines("ascii")
        digest = hashlib.sha256()
        sent_hash: list[str] = []
        err: list[bytes] = []
        with tempfile.NamedTemporaryFile(
            dir=os.path.dirname(filename_or_io) if isinstance(filename_or_io, str) else None,
            prefix=".wfpart-",
            delete=False,
        ) as spool:

            def on_stdout(data: bytes) -> None:
                for line in lines.feed(data):
                    if line.startswith(powershell.END_MARK):
                        sent_hash.append(line[len(powershell.END_MARK) :].strip())
                    elif line:
                        chunk = base64.b64decode(line)
                        digest.update(chunk)
                        spool.write(chunk)

            try:
                exit_code = self._run(
                    command_line,
                    timeout=arguments.get("_timeout"),
                    on_stdout=on_stdout,
                    on_stderr=err.append,
                )
                on_stdout(b"\n")
            except CommandFailed as exc:
                exit_code, err = -1, [str(exc).encode()]
            except Exception:
                os.unlink(spool.name)
                raise
        ok = exit_code == 0 and sent_hash == [digest.hexdigest()]
        if not ok:
            os.unlink(spool.name)
            cause = _error_text(b"".join(err)) or (
                f"sha256 mismatch: host sent {sent_hash[-1] if sent_hash else 'no hash'}, "
                f"received {digest.hexdigest()}"
            )
            self._log_error(f"download of {remote_filename} failed (exit {exit_code}): {cause}")
            return False
        if isinstance(filename_or_io, str):
            os.replace(spool.name, filename_or_io)
        else:
            with open(spool.name, "rb") as handle:
                while data := handle.read(1 << 20):
                    filename_or_io.write(data)
            os.unlink(spool.name)
        return True


def _error_text(data: bytes) -> str:
    text = powershell.clixml_to_text(data)
    if text is None:
        text = data.decode("utf-8", "replace")
    return " ".join(text.split())
