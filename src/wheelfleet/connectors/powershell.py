"""PowerShell text the WinRM connector sends, and what it reads back.

Everything here is pure: it builds scripts and command lines, or decodes output. The
connector (``winrm.py``) moves the bytes. Every script built here is parsed by
tree-sitter-powershell in the tests (syntax only: no PowerShell runs on these machines).
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

# cmd.exe runs every WinRS command line; its limit is 8191 characters.
MAX_COMMAND_LINE = 8000

POWERSHELL = "powershell.exe -NoProfile -NonInteractive -EncodedCommand"

# PowerShell treats these four as single quotes too: each must be doubled inside '...'.
_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CLIXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")

# The last line of a transfer: "end <sha256 hex>".
END_MARK = "end "


class ScriptError(ValueError):
    """A command or argument that cannot be turned into a safe Windows command line."""


def quote(value: str) -> str:
    """A PowerShell single-quoted string literal: no expansion, quotes doubled."""
    if "\x00" in value:
        raise ScriptError("a NUL character cannot be passed to PowerShell")
    return "'" + "".join(c + c if c in _SINGLE_QUOTES else c for c in value) + "'"


def encode(script: str) -> str:
    """What ``-EncodedCommand`` takes: base64 of the UTF-16LE script."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def powershell_command_line(script: str) -> str:
    line = f"{POWERSHELL} {encode(script)}"
    if len(line) > MAX_COMMAND_LINE:
        raise ScriptError(
            f"command too long for a WinRS command line ({len(line)} > {MAX_COMMAND_LINE} "
            "characters once encoded); upload a script with put_file and run that instead"
        )
    return line


def wrap_powershell(command: str, env: Mapping[str, str], chdir: str | None) -> str:
    """The script that runs ``command`` with ``env`` and ``chdir``, keeping its exit code.

    ``powershell -EncodedCommand`` exits 1 for any failure, losing a native program's
    code; the trailer exits with ``$LASTEXITCODE`` when a native command set one.
    """
    lines = ["$ProgressPreference = 'SilentlyContinue'"]
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise ScriptError(f"environment variable name {name!r} is not a plain identifier")
        lines.append(f"$env:{name} = {quote(value)}")
    if chdir:
        lines.append(f"Set-Location -LiteralPath {quote(chdir)} -ErrorAction Stop")
    lines.append(command)
    lines.extend(
        [
            "$wfOk = $?",
            "if ($LASTEXITCODE) { exit $LASTEXITCODE }",
            "if (-not $wfOk) { exit 1 }",
        ]
    )
    return "\n".join(lines)


def wrap_cmd(command: str, env: Mapping[str, str], chdir: str | None) -> str:
    """A cmd.exe command line that sets ``env`` and ``chdir`` first."""
    parts = []
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise ScriptError(f"environment variable name {name!r} is not a plain identifier")
        if any(c in value for c in '"\r\n'):
            raise ScriptError(
                f"environment variable {name} holds a quote or newline; use PowerShell"
            )
        parts.append(f'set "{name}={value}"')
    if chdir:
        if any(c in chdir for c in '"\r\n'):
            raise ScriptError("a directory with a quote or newline cannot be entered from cmd")
        parts.append(f'cd /d "{chdir}"')
    parts.append(command)
    line = " && ".join(parts)
    if len(line) > MAX_COMMAND_LINE:
        raise ScriptError(f"command too long for cmd.exe ({len(line)} > {MAX_COMMAND_LINE})")
    return line


def put_script(dest: str, temp: str) -> str:
    """Read base64 lines from stdin into ``temp``, check the SHA-256 sent last, move to ``dest``.

    Stdin carries one base64 line per chunk and then ``end <sha256>``. A hash that does
    not match, or stdin that ends without the ``end`` line, leaves ``dest`` untouched.
    """
    return "\n".join(
        [
            "# wheelfleet: put-file",
            "$ErrorActionPreference = 'Stop'",
            "$ProgressPreference = 'SilentlyContinue'",
            f"$dest = {quote(dest)}",
            f"$temp = {quote(temp)}",
            "$sha = [System.Security.Cryptography.SHA256]::Create()",
            "$expected = $null",
            "$out = [System.IO.File]::Create($temp)",
            "try {",
            "    while ($null -ne ($line = [Console]::In.ReadLine())) {",
            f"        if ($line.StartsWith({quote(END_MARK)})) {{",
            f"            $expected = $line.Substring({len(END_MARK)})",
            "            break",
            "        }",
            "        $bytes = [Convert]::FromBase64String($line)",
            "        [void]$sha.TransformBlock($bytes, 0, $bytes.Length, $null, 0)",
            "        $out.Write($bytes, 0, $bytes.Length)",
            "    }",
            "} finally {",
            "    $out.Dispose()",
            "}",
            "[void]$sha.TransformFinalBlock((New-Object byte[] 0), 0, 0)",
            "$actual = [BitConverter]::ToString($sha.Hash).Replace('-', '').ToLowerInvariant()",
            "if ($null -eq $expected) {",
            "    Remove-Item -LiteralPath $temp -Force",
            "    [Console]::Error.WriteLine('upload incomplete: input ended before its hash')",
            "    exit 3",
            "}",
            "if ($actual -ne $expected) {",
            "    Remove-Item -LiteralPath $temp -Force",
            '    [Console]::Error.WriteLine("sha256 mismatch: sent $expected, wrote $actual")',
            "    exit 2",
            "}",
            "Move-Item -LiteralPath $temp -Destination $dest -Force",
            "Write-Output ('ok ' + $actual)",
        ]
    )


def get_script(src: str, chunk: int) -> str:
    """Print ``src`` as base64 lines of ``chunk`` bytes each, then ``end <sha256>``."""
    return "\n".join(
        [
            "# wheelfleet: get-file",
            "$ErrorActionPreference = 'Stop'",
            "$ProgressPreference = 'SilentlyContinue'",
            f"$src = {quote(src)}",
            "$sha = [System.Security.Cryptography.SHA256]::Create()",
            f"$buffer = New-Object byte[] {int(chunk)}",
            "$in = [System.IO.File]::OpenRead($src)",
            "try {",
            "    while (($n = $in.Read($buffer, 0, $buffer.Length)) -gt 0) {",
            "        [void]$sha.TransformBlock($buffer, 0, $n, $null, 0)",
            "        [Console]::Out.WriteLine([Convert]::ToBase64String($buffer, 0, $n))",
            "    }",
            "} finally {",
            "    $in.Dispose()",
            "}",
            "[void]$sha.TransformFinalBlock((New-Object byte[] 0), 0, 0)",
            "$hex = [BitConverter]::ToString($sha.Hash).Replace('-', '').ToLowerInvariant()",
            f"[Console]::Out.WriteLine({quote(END_MARK)} + $hex)",
        ]
    )


def sha256_script(path: str) -> str:
    """Print ``missing``, ``directory`` or ``sha256 <hex>`` for ``path``."""
    return "\n".join(
        [
            "# wheelfleet: sha256",
            "$ProgressPreference = 'SilentlyContinue'",
            f"$p = {quote(path)}",
            "if (Test-Path -LiteralPath $p -PathType Container) {",
            "    Write-Output 'directory'",
            "} elseif (-not (Test-Path -LiteralPath $p -PathType Leaf)) {",
            "    Write-Output 'missing'",
            "} else {",
            "    $h = (Get-FileHash -Algorithm SHA256 -LiteralPath $p).Hash.ToLowerInvariant()",
            "    Write-Output ('sha256 ' + $h)",
            "}",
        ]
    )


def _unescape_clixml(text: str) -> str:
    def utf16_unit(match: re.Match[str]) -> str:
        return chr(int(match.group(1), 16))

    # Escapes are UTF-16 code units: rejoin surrogate pairs.
    units = _CLIXML_ESCAPE.sub(utf16_unit, text)
    return units.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def clixml_to_text(data: bytes) -> str | None:
    """The text of the error strings in PowerShell's CLIXML stderr, or None if it is not CLIXML.

    PowerShell with redirected stderr writes ``#< CLIXML`` and then ``<Objs>`` documents;
    error lines are ``<S S="Error">`` with CR/LF escaped as ``_x000D__x000A_``. Progress
    records and other objects carry no text for a person and are dropped.
    """
    text = data.decode("utf-8", "replace")
    if not text.startswith("#< CLIXML"):
        return None
    pieces: list[str] = []
    for document in re.findall(r"<Objs\b.*?</Objs>", text, flags=re.DOTALL):
        try:
            root = ET.fromstring(document)
        except ET.ParseError:
            return None
        for element in root:
            if element.tag.rsplit("}", 1)[-1] == "S" and element.get("S") in ("Error", "Warning"):
                pieces.append(_unescape_clixml(element.text or ""))
    return "".join(pieces)
