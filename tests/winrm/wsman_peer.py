"""A WS-Management shell endpoint for the tests: a protocol peer, not Windows.

Real (what pywinrm, pypsrp and the connector meet as they would on a Windows host):
HTTP/1.1 keep-alive on 127.0.0.1, HTTPS with a certificate from a CA the tests make, NTLM
through pyspnego's acceptor (one security context per TCP connection, users from an
``NTLM_USER_FILE``), optional Basic, channel binding (``tls-server-end-point``) checked by
the acceptor, WinRM message encryption (``multipart/encrypted``, HTTP-SPNEGO-session-
encrypted) and refusal of plaintext on http, the shell resource (Create, Command, Send,
Receive, Signal, Delete) with the reply shapes Windows sends, OperationTimeout faults, the
request size limit (MaxEnvelopeSizekb) and the client's reply size limit (MaxEnvelopeSize),
the config resource (MaxEnvelopeSizekb, administrators only).

Scripted (a stand-in for what Windows would do with a command): ``ScriptedProcess`` reads
the command line, decodes ``powershell -EncodedCommand`` and runs a small, fixed vocabulary
of statements against a sandbox directory that plays ``C:\\``. It is no PowerShell: tests
that depend on it say so.

Run: ``python wsman_peer.py CONFIG.json``; prints ``READY <port>`` when listening.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import re
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import spnego
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from spnego.channel_bindings import GssChannelBindings

SOAP = "http://www.w3.org/2003/05/soap-envelope"
ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
CMD_URI = SHELL + "/cmd"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
CONFIG_URI = "http://schemas.microsoft.com/wbem/wsman/1/config"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
NS = {"s": SOAP, "a": ADDRESSING, "w": WSMAN, "rsp": SHELL}
ENCRYPTED = "application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = b"--Encrypted Boundary"
ENVELOPE_NS = (
    f'xmlns:s="{SOAP}" xmlns:a="{ADDRESSING}" xmlns:x="{TRANSFER}" xmlns:w="{WSMAN}" '
    f'xmlns:rsp="{SHELL}" xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"'
)
TIMED_OUT = 2150858793
BAD_COMMAND = 2150858843
MACHINE = "WIN-PEER"
CERT_PROFILE = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"


class Fault(Exception):
    def __init__(
        self, status: int, code: str, subcode: str, reason: str, wsman_code: int | None = None
    ):
        super().__init__(reason)
        self.status, self.code, self.subcode, self.reason = status, code, subcode, reason
        self.wsman_code = wsman_code


def timed_out() -> Fault:
    text = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout."  # noqa: E501
    return Fault(500, "s:Receiver", "w:TimedOut", text, TIMED_OUT)


def no_such_command() -> Fault:
    return Fault(
        500,
        "s:Sender",
        "w:InvalidSelectors",
        "The Windows Remote Shell received a request to perform an operation on a command "
        "identifier that does not exist. Either the command has completed execution or the "
        "client specified an invalid command identifier.",
        BAD_COMMAND,
    )


# --- the scripted Windows: a sandbox C:\ and a tiny PowerShell/cmd vocabulary -------------

QUOTES = "'\u2018\u2019\u201a\u201b"
LITERAL = rf"[{QUOTES}](?:[^{QUOTES}]|[{QUOTES}]{{2}})*[{QUOTES}]"


def unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(rf"([{QUOTES}])[{QUOTES}]", r"\1", body)


def clixml(errors: list[str]) -> bytes:
    """Error strings as PowerShell serialises them on a redirected stderr (with the usual
    "Preparing modules for first use." progress record in front)."""

    def esc(text: str) -> str:
        out = escape(text).replace("_x", "_x005F_x")
        return out.replace("\r", "_x000D_").replace("\n", "_x000A_")

    progress = (
        '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject'
        '</T><T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>'
        "Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC>"
        "<T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>"
    )
    body = "".join(f'<S S="Error">{esc(line)}\r\n</S>' for line in errors)
    return (
        '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        f"{progress}{body}</Objs>"
    ).encode()


class Stop(Exception):
    def __init__(self, code: int):
        self.code = code


class ScriptedProcess:
    """One command of a shell. Stand-in for Windows: see the module docstring."""

    def __init__(self, peer: Peer, shell: Shell, command_line: str):
        self.peer, self.shell, self.command_line = peer, shell, command_line
        self.id = str(uuid.uuid4()).upper()
        self.lock = threading.Condition()
        self.stdin = bytearray()
        self.stdin_closed = False
        self.output: list[tuple[str, bytes]] = []
        self.exit_code: int | None = None
        self.terminated = False
        self.errors: list[str] = []
        self.env = dict(shell.env)
        self.cwd = shell.cwd
        self.last_exit: int | None = None
        self.ok = True
        threading.Thread(target=self._main, daemon=True).start()

    # I/O between the WS-Management side and the script
    def feed(self, data: bytes, end: bool) -> None:
        with self.lock:
            self.stdin += data
            self.stdin_closed = self.stdin_closed or end
            self.lock.notify_all()

    def read_line(self) -> str | None:
        with self.lock:
            while b"\n" not in self.stdin and not self.stdin_closed and not self.terminated:
                self.lock.wait(0.5)
            if self.terminated:
                raise Stop(-1)
            if b"\n" in self.stdin:
                index = self.stdin.index(b"\n")
                line = bytes(self.stdin[:index])
                del self.stdin[: index + 1]
                return line.rstrip(b"\r").decode("utf-8")
            if self.stdin:
                line = bytes(self.stdin)
                self.stdin.clear()
                return line.decode("utf-8")
            return None

    def read_all(self) -> bytes:
        chunks = []
        while (line := self.read_line()) is not None:
            chunks.append(line + "\n")
        return "".join(chunks).encode()

    def write(self, stream: str, data: bytes) -> None:
        with self.lock:
            self.output.append((stream, data))
            self.lock.notify_all()

    def out(self, text: str) -> None:
        self.write("stdout", (text + "\r\n").encode("utf-8"))

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        with self.lock:
            while not self.terminated and time.monotonic() < end:
                self.lock.wait(min(0.2, end - time.monotonic()))
            if self.terminated:
                raise Stop(-1)

    def terminate(self) -> None:
        with self.lock:
            self.terminated = True
            self.lock.notify_all()

    def _main(self) -> None:
        code = 0
        try:
            code = self._run()
        except Stop as stop:
            code = stop.code
        except Exception as exc:  # a bug in the stand-in shows as the command's stderr
            self.write("stderr", f"peer stand-in error: {exc!r}\r\n".encode())
            code = 99
        if self.errors:
            self.write("stderr", clixml(self.errors))
        with self.lock:
            self.exit_code = code
            self.lock.notify_all()

    # paths: C:\ is the sandbox root
    def path(self, windows_path: str) -> Path:
        text = windows_path.replace("/", "\\")
        if not re.match(r"^[A-Za-z]:\\", text):
            text = self.cwd.rstrip("\\") + "\\" + text
        drive, rest = text[0].upper(), text[3:]
        parts = [p for p in rest.split("\\") if p not in ("", ".")]
        return self.peer.root.joinpath(drive, *parts)

    def _run(self) -> int:
        line = self.command_line.strip()
        encoded = re.match(
            r"^powershell(?:\.exe)?\s+(?:-\w+\s+)*?-(?:encodedcommand|enc|e)\s+([A-Za-z0-9+/=]+)\s*$",
            line,
            flags=re.IGNORECASE,
        )
        if encoded:
            script = base64.b64decode(encoded.group(1)).decode("utf-16-le")
            return self.powershell(script)
        if re.match(r"^powershell", line, re.IGNORECASE):
            self.write("stderr", b"peer stand-in: only -EncodedCommand is scripted\r\n")
            return 1
        line = re.sub(r"^cmd(?:\.exe)?\s+/c\s+", "", line, flags=re.IGNORECASE)
        return self.cmd(line)

    # cmd.exe stand-in
    def cmd(self, line: str) -> int:
        code = 0
        for part in line.split(" && "):
            part = re.sub(r"%(\w+)%", lambda m: self.env.get(m.group(1), m.group(0)), part)
            if m := re.match(r'^set "(\w+)=(.*)"$', part):
                self.env[m.group(1)] = m.group(2)
            elif m := re.match(r'^cd /d "(.*)"$', part):
                if not self.path(m.group(1)).is_dir():
                    self.write("stderr", b"The system cannot find the path specified.\r\n")
                    return 1
                self.cwd = m.group(1)
            elif m := re.match(r"^echo (.*)$", part, re.IGNORECASE):
                self.out(m.group(1))
            elif m := re.match(r"^exit /b (\d+)$", part, re.IGNORECASE):
                return int(m.group(1))
            elif part.lower() == "hostname":
                self.out(MACHINE)
            else:
                word = part.split()[0] if part.split() else part
                self.write(
                    "stderr",
                    f"'{word}' is not recognized as an internal or external command,\r\n"
                    "operable program or batch file.\r\n".encode(),
                )
                return 9009
        return code

    # PowerShell stand-in
    def powershell(self, script: str) -> int:
        marks = set(re.findall(r"^# wheelfleet: ([\w-]+)$", script, re.MULTILINE))
        if self.peer.stand_ins is not None:
            # A test's scripted Windows (registry, installers, vswhere ...): it answers the
            # scripts it knows, by their marks, and returns None for the rest.
            try:
                handled = self.peer.stand_ins.handle(self, script, marks)
            except Stop as stop:
                return stop.code
            if handled is not None:
                return int(handled)
        if "put-file" in marks:
            return self.put_file(script)
        if "get-file" in marks:
            return self.get_file(script)
        if "sha256" in marks:
            return self.sha256(script)
        try:
            for raw in script.split("\n"):
                self.statement(raw.strip())
        except Stop as stop:
            return stop.code
        return 0 if self.ok else 1

    def variable(self, script: str, name: str) -> str:
        m = re.search(rf"^\${name} = ({LITERAL})$", script, re.MULTILINE)
        if not m:
            raise ValueError(f"${name} not found")
        return unquote(m.group(1))

    def fatal(self, message: str) -> Stop:
        self.errors.append(message)
        return Stop(1)

    def put_file(self, script: str) -> int:
        dest, temp = (
            self.path(self.variable(script, "dest")),
            self.path(self.variable(script, "temp")),
        )
        if not temp.parent.is_dir():
            raise self.fatal(
                'Exception calling "Create" with "1" argument(s): "Could not find a part of the '
                f"path '{self.variable(script, 'temp')}'.\""
            )
        digest = hashlib.sha256()
        expected = None
        with open(temp, "wb") as out:
            while (line := self.read_line()) is not None:
                if line.startswith("end "):
                    expected = line[4:]
                    break
                data = base64.b64decode(line)
                if self.peer.config.get("corrupt_uploads") and data:
                    data = bytes([data[0] ^ 1]) + data[1:]  # bytes damaged on their way in
                digest.update(data)  # as the script does: hash what arrived, then write it
                out.write(data)
        actual = digest.hexdigest()
        if expected is None:
            temp.unlink()
            self.write("stderr", b"upload incomplete: input ended before its hash\r\n")
            return 3
        if actual != expected:
            temp.unlink()
            self.write("stderr", f"sha256 mismatch: sent {expected}, wrote {actual}\r\n".encode())
            return 2
        os.replace(temp, dest)
        self.out(f"ok {actual}")
        return 0

    def get_file(self, script: str) -> int:
        src_text = self.variable(script, "src")
        chunk = int(re.search(r"New-Object byte\[\] (\d+)", script).group(1))  # type: ignore[union-attr]
        src = self.path(src_text)
        if not src.is_file():
            raise self.fatal(
                'Exception calling "OpenRead" with "1" argument(s): "Could not find file '
                f"'{src_text}'.\""
            )
        digest = hashlib.sha256()
        with open(src, "rb") as handle:
            while data := handle.read(chunk):
                digest.update(data)
                self.out(base64.b64encode(data).decode())
        self.out("end " + digest.hexdigest())
        return 0

    def sha256(self, script: str) -> int:
        path = self.path(self.variable(script, "p"))
        if path.is_dir():
            self.out("directory")
        elif not path.is_file():
            self.out("missing")
        else:
            self.out("sha256 " + hashlib.sha256(path.read_bytes()).hexdigest())
        return 0

    def expand(self, text: str) -> str:
        """A double-quoted PowerShell string: $env:NAME expands."""
        return re.sub(r"\$env:(\w+)", lambda m: self.env.get(m.group(1), ""), text)

    def not_recognized(self, word: str) -> None:
        self.errors.append(
            f"{word} : The term '{word}' is not recognized as the name of a cmdlet, function, "
            "script file, or operable program. Check the spelling of the name, or if a path was "
            "included, verify that the path is correct and try again."
        )
        self.ok = False

    def statement(self, text: str) -> None:
        if not text or text.startswith("#") or text.startswith("$ProgressPreference"):
            return
        if m := re.match(rf"^\$env:(\w+) = ({LITERAL})$", text):
            self.env[m.group(1)] = unquote(m.group(2))
        elif m := re.match(rf"^Set-Location -LiteralPath ({LITERAL}) -ErrorAction Stop$", text):
            target = unquote(m.group(1))
            if not self.path(target).is_dir():
                raise self.fatal(
                    f"Set-Location : Cannot find path '{target}' because it does not exist."
                )
            self.cwd = target
        elif text == "$wfOk = $?":
            pass  # self.ok already holds $? of the last user statement
        elif text == "if ($LASTEXITCODE) { exit $LASTEXITCODE }":
            if self.last_exit:
                raise Stop(self.last_exit)
        elif text == "if (-not $wfOk) { exit 1 }":
            if not self.ok:
                raise Stop(1)
        elif m := re.match(r"^exit (\d+)$", text):
            raise Stop(int(m.group(1)))
        elif m := re.match(rf"^(?:Write-Output|echo) ({LITERAL})$", text):
            self.out(unquote(m.group(1)))
            self.ok = True
        elif m := re.match(r'^(?:Write-Output|echo) "(.*)"$', text):
            self.out(self.expand(m.group(1)))
            self.ok = True
        elif m := re.match(r"^(?:Write-Output|echo) \$env:(\w+)$", text):
            self.out(self.env.get(m.group(1), ""))
            self.ok = True
        elif m := re.match(r"^Write-Output \('(.)' \* (\d+)\)$", text):
            self.out(m.group(1) * int(m.group(2)))
            self.ok = True
        elif m := re.match(
            r"^1\.\.(\d+) \| ForEach-Object \{ Write-Output \"line \$_\"; "
            r"Start-Sleep -Milliseconds (\d+) \}$",
            text,
        ):
            for i in range(1, int(m.group(1)) + 1):
                self.out(f"line {i}")
                self.sleep(int(m.group(2)) / 1000)
            self.ok = True
        elif m := re.match(rf"^Write-Error ({LITERAL})$", text):
            self.errors.append(unquote(m.group(1)))
            self.ok = False
        elif m := re.match(rf"^\[Console\]::Error\.WriteLine\(({LITERAL})\)$", text):
            self.write("stderr", (unquote(m.group(1)) + "\r\n").encode())
            self.ok = True
        elif m := re.match(r"^Start-Sleep(?: -Seconds)? (\d+)$", text):
            self.sleep(int(m.group(1)))
            self.ok = True
        elif m := re.match(r"^cmd /c exit (\d+)$", text):
            self.last_exit = int(m.group(1))
            self.ok = self.last_exit == 0
        elif text in ("Get-Location", "(Get-Location).Path"):
            self.out(self.cwd)
            self.ok = True
        elif text == "[Console]::Out.Write([Console]::In.ReadToEnd())":
            self.write("stdout", self.read_all())
            self.ok = True
        elif m := re.match(
            rf"^Add-Content -LiteralPath ({LITERAL}) -Encoding Byte "
            r"-Value \(\[Convert\]::FromBase64String\('([A-Za-z0-9+/=]*)'\)\)$",
            text,
        ):
            with open(self.path(unquote(m.group(1))), "ab") as handle:
                handle.write(base64.b64decode(m.group(2)))
            self.ok = True
        elif text == "hostname":
            self.out(MACHINE)
            self.last_exit, self.ok = 0, True
        else:
            self.not_recognized(text.split()[0])


class Shell:
    def __init__(self, owner: str, env: dict[str, str], cwd: str | None):
        self.id = str(uuid.uuid4()).upper()
        self.owner = owner
        self.env = env
        self.cwd = cwd or "C:\\Users\\" + owner.split("\\")[-1]
        self.commands: dict[str, ScriptedProcess] = {}


# --- the WS-Management endpoint ------------------------------------------------------------


class Peer:
    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.root = Path(config["root"])
        self.users = self._load_users(config["users_file"])
        self.admins = {name.lower() for name in config.get("admins", [])}
        self.max_envelope = int(config.get("max_envelope_kb", 150)) * 1024
        self.max_timeout = int(config.get("max_timeout_ms", 60000)) / 1000
        self.allow_unencrypted = bool(config.get("allow_unencrypted", False))
        self.basic = bool(config.get("basic", False))
        self.shells: dict[str, Shell] = {}
        self.lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.bindings: GssChannelBindings | None = None
        # Restarts (a scripted Windows may ask for one): while down, every request's
        # connection is closed unanswered, as a rebooting host's would be.
        self.down_until = 0.0
        self.boot_time = time.time()
        self.stand_ins: Any = None
        if config.get("stand_ins"):
            self.stand_ins = self._load_stand_ins(config["stand_ins"])
        if config.get("cert") and config.get("check_channel_binding", True):
            self.bindings = self._channel_bindings(config["cert"])
        for user in self.users:
            (self.root / "C" / "Users" / user[1]).mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _load_stand_ins(path: str) -> Any:
        import importlib.util

        spec = importlib.util.spec_from_file_location("peer_stand_ins", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def restart(self, after: float, down: float) -> None:
        """Go down ``after`` seconds from now for ``down`` seconds: every shell and command is
        gone, then the host answers again with a new boot time."""

        def go_down() -> None:
            with self.lock:
                shells, self.shells = list(self.shells.values()), {}
                self.down_until = time.monotonic() + down
                self.boot_time = time.time() + down
            for shell in shells:
                for command in shell.commands.values():
                    command.terminate()
            self.event(f"restarting: down for {down}s")

        threading.Timer(after, go_down).start()

    def is_down(self) -> bool:
        return time.monotonic() < self.down_until

    @staticmethod
    def _load_users(path: str) -> dict[tuple[str, str], str]:
        users = {}
        for line in Path(path).read_text().splitlines():
            if line.strip():
                domain, user, password = line.split(":", 2)
                users[(domain.lower(), user.lower())] = password
        return users

    @staticmethod
    def _channel_bindings(cert_path: str) -> GssChannelBindings:
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        algorithm = cert.signature_hash_algorithm
        if algorithm is None or isinstance(algorithm, hashes.MD5 | hashes.SHA1):
            algorithm = hashes.SHA256()
        digest = hashes.Hash(algorithm)
        digest.update(cert.public_bytes(serialization.Encoding.DER))
        return GssChannelBindings(application_data=b"tls-server-end-point:" + digest.finalize())

    def log(self, name: str, data: bytes) -> None:
        path = self.config.get(name)
        if path:
            with self.log_lock, open(path, "ab") as handle:
                handle.write(struct.pack("<I", len(data)) + data)

    def event(self, text: str) -> None:
        self.log("events_log", text.encode())

    # SOAP dispatch
    def handle(self, user: str, soap: bytes) -> tuple[int, str]:
        try:
            return 200, self._dispatch(user, soap)
        except Fault as fault:
            return fault.status, self._fault_envelope(soap, fault)

    def _fault_envelope(self, soap: bytes, fault: Fault) -> str:
        try:
            relates = ET.fromstring(soap).findtext("s:Header/a:MessageID", "", NS)
        except ET.ParseError:
            relates = ""
        detail = ""
        if fault.wsman_code is not None:
            detail = (
                '<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
                f'Code="{fault.wsman_code}" Machine="{MACHINE}"><f:Message>{escape(fault.reason)} '
                "</f:Message></f:WSManFault>"
            )
        body = (
            f"<s:Fault><s:Code><s:Value>{fault.code}</s:Value><s:Subcode><s:Value>{fault.subcode}"
            f'</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">'
            f"{escape(fault.reason)} </s:Text></s:Reason><s:Detail>{detail}</s:Detail></s:Fault>"
        )
        return self._envelope(FAULT_ACTION, relates, body)

    @staticmethod
    def _envelope(action: str, relates: str, body: str) -> str:
        return (
            f'<s:Envelope xml:lang="en-US" {ENVELOPE_NS}><s:Header><a:Action>{action}</a:Action>'
            f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID><a:To>{ANONYMOUS}</a:To>"
            f"<a:RelatesTo>{relates}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
        )

    def _dispatch(self, user: str, soap: bytes) -> str:
        if len(soap) > self.max_envelope:
            self.event(f"envelope too large: {len(soap)} > {self.max_envelope}")
            raise Fault(
                400 if self.config.get("oversize_status_400") else 500,
                "s:Sender",
                "w:EncodingLimit",
                "The WS-Management service cannot process the request because the request "
                f"packet ({len(soap)} bytes) is larger than MaxEnvelopeSizekb "
                f"({self.max_envelope // 1024} kb).",
            )
        root = ET.fromstring(soap)
        header = root.find("s:Header", NS)
        body = root.find("s:Body", NS)
        if header is None or body is None:
            raise Fault(400, "s:Sender", "w:SchemaValidationError", "No SOAP header or body.")
        action = header.findtext("a:Action", "", NS)
        relates = header.findtext("a:MessageID", "", NS)
        resource = header.findtext("w:ResourceURI", "", NS)
        shell_id = header.findtext("w:SelectorSet/w:Selector[@Name='ShellId']", None, NS)
        timeout_text = header.findtext("w:OperationTimeout", "PT60S", NS)
        m = re.match(r"^PT([\d.]+)S$", timeout_text)
        timeout = min(float(m.group(1)) if m else 60.0, self.max_timeout)
        reply_limit = int(header.findtext("w:MaxEnvelopeSize", str(self.max_envelope), NS))
        self.event(f"{action.rsplit('/', 1)[-1]} by {user}")

        if resource == CONFIG_URI and action == f"{TRANSFER}/Get":
            if user.split("\\")[-1].lower() not in self.admins:
                raise Fault(500, "s:Sender", "w:AccessDenied", "Access is denied.", 5)
            return self._envelope(f"{TRANSFER}/GetResponse", relates, self._config_body())
        if resource != CMD_URI:
            raise Fault(500, "s:Sender", "w:DestinationUnreachable", f"No resource {resource}.")
        if action == f"{TRANSFER}/Create":
            return self._create(user, relates, body)
        shell = self._shell(user, shell_id)
        if action == f"{TRANSFER}/Delete":
            with self.lock:
                self.shells.pop(shell.id, None)
            for command in shell.commands.values():
                command.terminate()
            return self._envelope(f"{TRANSFER}/DeleteResponse", relates, "")
        if action == f"{SHELL}/Command":
            line = body.find("rsp:CommandLine", NS)
            if line is None:
                raise Fault(500, "s:Sender", "w:SchemaValidationError", "No CommandLine.")
            parts = [line.findtext("rsp:Command", "", NS) or ""]
            parts += [arg.text or "" for arg in line.findall("rsp:Arguments", NS)]
            process = ScriptedProcess(self, shell, " ".join(parts).strip())
            shell.commands[process.id] = process
            return self._envelope(
                f"{SHELL}/CommandResponse",
                relates,
                f"<rsp:CommandResponse><rsp:CommandId>{process.id}</rsp:CommandId></rsp:CommandResponse>",
            )
        if action == f"{SHELL}/Send":
            stream = body.find("rsp:Send/rsp:Stream", NS)
            if stream is None:
                raise Fault(500, "s:Sender", "w:SchemaValidationError", "No Stream.")
            process = self._command(shell, stream.get("CommandId"))
            process.feed(
                base64.b64decode(stream.text or ""), (stream.get("End") or "").lower() == "true"
            )
            return self._envelope(f"{SHELL}/SendResponse", relates, "<rsp:SendResponse/>")
        if action == f"{SHELL}/Receive":
            desired = body.find("rsp:Receive/rsp:DesiredStream", NS)
            process = self._command(
                shell, desired.get("CommandId") if desired is not None else None
            )
            return self._envelope(
                f"{SHELL}/ReceiveResponse", relates, self._receive(process, timeout, reply_limit)
            )
        if action == f"{SHELL}/Signal":
            signal = body.find("rsp:Signal", NS)
            command_id = signal.get("CommandId") if signal is not None else None
            process = shell.commands.pop(command_id or "", None)
            if process is not None:
                process.terminate()
            return self._envelope(f"{SHELL}/SignalResponse", relates, "<rsp:SignalResponse/>")
        raise Fault(500, "s:Sender", "a:ActionNotSupported", f"Action {action} is not supported.")

    def _config_body(self) -> str:
        return (
            f'<cfg:Config xmlns:cfg="{CONFIG_URI}"><cfg:MaxEnvelopeSizekb>'
            f"{self.max_envelope // 1024}</cfg:MaxEnvelopeSizekb><cfg:MaxTimeoutms>"
            f"{int(self.max_timeout * 1000)}</cfg:MaxTimeoutms>"
            "<cfg:MaxBatchItems>32000</cfg:MaxBatchItems><cfg:Service><cfg:AllowUnencrypted>"
            f"{str(self.allow_unencrypted).lower()}</cfg:AllowUnencrypted></cfg:Service></cfg:Config>"
        )

    def _create(self, user: str, relates: str, body: ET.Element) -> str:
        env = {
            var.get("Name", ""): var.text or ""
            for var in body.findall("rsp:Shell/rsp:Environment/rsp:Variable", NS)
        }
        shell = Shell(user, env, body.findtext("rsp:Shell/rsp:WorkingDirectory", None, NS))
        with self.lock:
            self.shells[shell.id] = shell
        user_name = user.split("\\")[-1]
        return self._envelope(
            f"{TRANSFER}/CreateResponse",
            relates,
            f"<x:ResourceCreated><a:Address>{self.config.get('address', '')}</a:Address>"
            f"<a:ReferenceParameters><w:ResourceURI>{CMD_URI}</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{shell.id}</w:Selector></w:SelectorSet>'
            f"</a:ReferenceParameters></x:ResourceCreated><rsp:Shell><rsp:ShellId>{shell.id}"
            f"</rsp:ShellId><rsp:ResourceUri>{CMD_URI}</rsp:ResourceUri><rsp:Owner>{user_name}"
            "</rsp:Owner><rsp:ClientIP>127.0.0.1</rsp:ClientIP><rsp:IdleTimeOut>PT7200.000S"
            "</rsp:IdleTimeOut><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>"
            "stdout stderr</rsp:OutputStreams><rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>"
            "<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>",
        )

    def _shell(self, user: str, shell_id: str | None) -> Shell:
        with self.lock:
            shell = self.shells.get(shell_id or "")
        if shell is None or shell.owner != user:
            raise Fault(
                500,
                "s:Sender",
                "w:InvalidSelectors",
                "The WS-Management service cannot process the request because the request "
                "contained invalid selectors for the resource.",
                2150858843,
            )
        return shell

    @staticmethod
    def _command(shell: Shell, command_id: str | None) -> ScriptedProcess:
        process = shell.commands.get(command_id or "")
        if process is None:
            raise no_such_command()
        return process

    def _receive(self, process: ScriptedProcess, timeout: float, reply_limit: int) -> str:
        budget = (reply_limit - 2048) * 3 // 4  # raw bytes that fit as base64
        deadline = time.monotonic() + timeout
        with process.lock:
            while not process.output and process.exit_code is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise timed_out()
                process.lock.wait(left)
            streams = []
            while process.output and budget > 0:
                name, data = process.output[0]
                take = data[:budget]
                if len(take) < len(data):
                    process.output[0] = (name, data[len(take) :])
                else:
                    process.output.pop(0)
                budget -= len(take)
                streams.append(
                    f'<rsp:Stream Name="{name}" CommandId="{process.id}">'
                    f"{base64.b64encode(take).decode()}</rsp:Stream>"
                )
            done = process.exit_code is not None and not process.output
            if done:
                streams.append(
                    f'<rsp:Stream Name="stdout" CommandId="{process.id}" End="true"></rsp:Stream>'
                )
                streams.append(
                    f'<rsp:Stream Name="stderr" CommandId="{process.id}" End="true"></rsp:Stream>'
                )
                state = (
                    f'<rsp:CommandState CommandId="{process.id}" State="{SHELL}/CommandState/Done">'
                    f"<rsp:ExitCode>{process.exit_code}</rsp:ExitCode></rsp:CommandState>"
                )
            else:
                state = (
                    f'<rsp:CommandState CommandId="{process.id}" '
                    f'State="{SHELL}/CommandState/Running"/>'
                )
        return f"<rsp:ReceiveResponse>{''.join(streams)}{state}</rsp:ReceiveResponse>"


# --- HTTP: authentication and message encryption per TCP connection ------------------------


def unseal(context: Any, body: bytes) -> bytes:
    """Decrypt a multipart/encrypted WinRM body (one part: header + sealed SOAP)."""
    length = re.search(rb"Length=(\d+)", body)
    marker = b"Content-Type: application/octet-stream\r\n"
    start = body.index(marker) + len(marker)
    end = body.rindex(BOUNDARY + b"--")
    payload = body[start:end]
    (header_length,) = struct.unpack("<I", payload[:4])
    plain = context.unwrap_winrm(payload[4 : 4 + header_length], payload[4 + header_length :])
    if length is None or int(length.group(1)) != len(plain):
        raise ValueError("sealed length does not match")
    return plain


def seal(context: Any, plain: bytes) -> bytes:
    wrapped = context.wrap_winrm(plain)
    return (
        BOUNDARY + b"\r\n\tContent-Type: " + ENCRYPTED.encode() + b"\r\n"
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
        + str(len(plain)).encode()
        + b"\r\n"
        + BOUNDARY
        + b"\r\n\tContent-Type: application/octet-stream\r\n"
        + struct.pack("<I", len(wrapped.header))
        + wrapped.header
        + wrapped.data
        + BOUNDARY
        + b"--\r\n"
    )


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def setup(self) -> None:
        super().setup()
        self.context: Any = None
        self.user: str | None = None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def send_all(self, status: int, headers: list[tuple[str, str]], body: bytes = b"") -> None:
        """Status line, headers and body in one write: no Nagle/delayed-ACK stall per reply."""
        lines = [f"{self.protocol_version} {status} {self.responses[status][0]}"]
        lines += [f"{key}: {value}" for key, value in headers]
        lines.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_all(status, list((headers or {}).items()), body)

    def challenge(self, token: str | None = None, close: bool = False) -> None:
        offers = [f"Negotiate {token}" if token else "Negotiate"]
        if self.server.peer.basic and not token:
            offers.append('Basic realm="WSMAN"')
        self.close_connection = self.close_connection or close
        self.send_all(401, [("WWW-Authenticate", offer) for offer in offers])

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        peer = self.server.peer
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if peer.is_down():
            self.close_connection = True  # a restarting host answers nothing
            return
        fields = "".join(f"{key}: {value}\r\n" for key, value in self.headers.items())
        head = f"{self.requestline}\r\n{fields}\r\n".encode("latin-1")
        peer.log("wire_log", head + body)
        if self.path.rstrip("/").lower() != "/wsman":
            self.reply(404)
            return
        authorization = self.headers.get("Authorization")
        final_token = None
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() in ("negotiate", "ntlm"):
                if self.context is None or self.user is not None:
                    self.context = spnego.server(
                        protocol="negotiate", channel_bindings=peer.bindings
                    )
                    self.user = None
                try:
                    out = self.context.step(base64.b64decode(token))
                except Exception as exc:  # wrong password, bad channel binding, bad token
                    peer.event(f"authentication failed: {exc.__class__.__name__}: {exc}")
                    self.context = None
                    self.challenge(close=True)
                    return
                if not self.context.complete:
                    self.challenge(base64.b64encode(out or b"").decode())
                    return
                self.user = self.context.client_principal
                final_token = base64.b64encode(out).decode() if out else None
                peer.event(f"authenticated {self.user} with {self.context.negotiated_protocol}")
            elif authorization == CERT_PROFILE and self.server.tls is not None:
                # Client certificate (TLS already verified it against client_ca): its common
                # name is the user, the way a WSMan ClientCertificate mapping names one.
                subject = dict(
                    x[0] for x in (self.connection.getpeercert() or {}).get("subject", ())
                )
                name = subject.get("commonName", "")
                known = [key for key in peer.users if key[1] == name.lower()]
                if not known:
                    peer.event(f"authentication failed: certificate {name!r} maps to no user")
                    self.challenge(close=True)
                    return
                self.context, self.user = None, f"{known[0][0].upper()}\\{name}"
                peer.event(f"authenticated {self.user} with a client certificate")
            elif scheme.lower() == "basic" and peer.basic:
                user, _, password = base64.b64decode(token).decode().partition(":")
                domain, _, name = user.rpartition("\\")
                if peer.users.get((domain.lower(), name.lower())) != password:
                    peer.event("authentication failed: basic")
                    self.challenge(close=True)
                    return
                self.context, self.user = None, user
            else:
                self.challenge(close=True)
                return
        if self.user is None:
            self.challenge()
            return
        extra = {"WWW-Authenticate": f"Negotiate {final_token}"} if final_token else {}
        if not body:
            self.reply(200, b"", extra)  # pywinrm's empty request that sets up encryption
            return
        content_type = self.headers.get("Content-Type", "")
        encrypted = content_type.startswith("multipart/encrypted")
        if encrypted:
            if self.context is None:
                self.reply(400)
                return
            try:
                soap = unseal(self.context, body)
            except Exception as exc:
                peer.event(f"decryption failed: {exc}")
                self.reply(400)
                return
        elif not self.server.tls and not peer.allow_unencrypted:
            peer.event("refused unencrypted message")
            self.challenge(close=True)
            return
        else:
            soap = body
        peer.log("plain_log", soap)
        status, reply_text = peer.handle(self.user, soap)
        reply = reply_text.encode()
        if encrypted:
            extra["Content-Type"] = (
                f'multipart/encrypted;protocol="{ENCRYPTED}";boundary="Encrypted Boundary"'
            )
            reply = seal(self.context, reply)
        else:
            extra["Content-Type"] = "application/soap+xml;charset=UTF-8"
        self.reply(status, reply, extra)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, peer: Peer, address: tuple[str, int], tls: ssl.SSLContext | None):
        self.peer = peer
        self.tls = tls
        super().__init__(address, Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            # The handshake happens on the handler's first read, in its own thread.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up or fails TLS is not the peer's error


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    os.environ["NTLM_USER_FILE"] = config["users_file"]
    tls = None
    if config.get("cert"):
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(config["cert"], config["key"])
        if config.get("client_ca"):
            tls.verify_mode = ssl.CERT_OPTIONAL
            tls.load_verify_locations(config["client_ca"])
    peer = Peer(config)
    server = Server(peer, (config.get("host", "127.0.0.1"), int(config.get("port", 0))), tls)
    scheme = "https" if tls else "http"
    peer.config["address"] = (
        f"{scheme}://{server.server_address[0]}:{server.server_address[1]}/wsman"
    )
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
