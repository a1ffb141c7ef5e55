"""Facts about a Windows build host reached with ``@winrm`` (every command is PowerShell).

Read-only: each fact asks the tool that owns the answer — ``vswhere`` for Visual Studio,
``reg.exe query`` for PEP 514 and SDK registrations, the interpreter itself for its version,
pointer size and platform, an installer's own log for its exit line.  Parsers are tested on
those tools' output formats (tests/spec/facts/windows.*; each sample names where its format
comes from).  Every script starts with a ``# wheelfleet: <mark>`` line and assigns its inputs
as single-quoted literals, so logs say what ran and nothing is expanded by PowerShell.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pyinfra.api import FactBase, StringCommand
from typing_extensions import override

from wheelfleet.connectors.powershell import quote, sha256_script

__all__ = ["BOOT_TIME_SCRIPT", "BootTime", "FileSha256", "InstallerLog", "InterpreterAnswer",
           "Pep514", "RegistryKey", "VisualStudioInstances", "exit_meaning", "ps_script"]

# What installers' exit codes mean (Windows Installer error codes; the VS installer's own
# codes from Microsoft's "Use command-line parameters to install Visual Studio").
EXIT_CODES = {
    0: "success",
    740: "elevation required: the WinRM user must be an administrator",
    1001: "another Visual Studio installer is running",
    1003: "Visual Studio is in use",
    1602: "cancelled",
    1603: "fatal error during installation",
    1618: "another installation is in progress",
    1619: "the installation package could not be opened",
    1638: "another version of this product is already installed",
    1641: "success, the installer started a restart",
    3010: "success, a restart is required",
    5003: "the bootstrapper failed to download the installer",
    5004: "cancelled",
    5005: "the bootstrapper's command line did not parse",
    5007: "blocked (the machine does not meet the requirements)",
    8001: "ARM machine check failure",
    8002: "background download precheck failure",
    8003: "out-of-support selectable component",
    8004: "target directory failure",
    8005: "verifying source payloads failed",
    8006: "Visual Studio processes are running",
    8010: "operating system not supported",
    -1073720687: "connectivity failure",
    -1073741510: "terminated",
}


def exit_meaning(code: int) -> str:
    """``exit_meaning(3010)`` -> "success, a restart is required"."""
    return EXIT_CODES.get(code, "unknown exit code")


def ps_script(mark: str, values: dict[str, str | int], body: list[str]) -> str:
    """A script: its mark, its inputs as ``$name = '<literal>'`` lines, then ``body``."""
    lines = [f"# wheelfleet: {mark}", "$ProgressPreference = 'SilentlyContinue'"]
    for name, value in values.items():
        lines.append(f"${name} = {value}" if isinstance(value, int) else
                     f"${name} = {quote(value)}")
    return "\n".join(lines + body)


class FileSha256(FactBase[str | bool | None]):
    """SHA-256 (hex) of a file on a Windows host; None if missing, False if a directory.

    .. code:: python

        "5b5b…5b"
    """

    @override
    def command(self, path: str) -> StringCommand:
        return StringCommand(sha256_script(path))

    @override
    def process(self, output: list[str]) -> str | bool | None:
        answer = output[-1].strip() if output else ""
        if answer == "directory":
            return False
        if answer.startswith("sha256 "):
            return answer.split(" ", 1)[1]
        return None


def _json_after(output: list[str], opener: str) -> Any:
    """The JSON document in ``output`` starting at the first line that starts with ``opener``."""
    for index, line in enumerate(output):
        if line.lstrip().startswith(opener):
            try:
                return json.loads("\n".join(output[index:]))
            except ValueError:
                return None
    return None


class VisualStudioInstances(FactBase):
    """
    Visual Studio instances ``vswhere -all -products * -prerelease -format json`` reports
    (``-all``: incomplete ones and those waiting for a restart too), only those with every
    component in ``requires`` (space-separated ids) when given; ``[]`` when vswhere (the VS
    Installer) is absent.

    .. code:: python

        [{"id": "9f2b1c3e",
          "path": "C:\\\\Program Files (x86)\\\\Microsoft Visual Studio\\\\2022\\\\BuildTools",
          "version": "17.9.34607.119", "product": "Microsoft.VisualStudio.Product.BuildTools",
          "name": "Visual Studio Build Tools 2022", "complete": True, "reboot_required": False,
          "vcvarsall": "C:\\\\…\\\\BuildTools\\\\VC\\\\Auxiliary\\\\Build\\\\vcvarsall.bat"}]
    """

    @staticmethod
    def default() -> list[dict[str, Any]]:
        return []

    def command(self, requires: str = "") -> StringCommand:
        return StringCommand(ps_script("vswhere", {"requires": requires}, [
            "$vswhere = Join-Path ${env:ProgramFiles(x86)} "
            "'Microsoft Visual Studio\\Installer\\vswhere.exe'",
            "if (-not (Test-Path -LiteralPath $vswhere -PathType Leaf)) { Write-Output '[]'; "
            "exit 0 }",
            "$wfArgs = @('-all', '-products', '*', '-prerelease', '-format', 'json', '-utf8')",
            "if ($requires) { $wfArgs += @('-requires') + $requires.Split(' ') }",
            "& $vswhere @wfArgs",
        ]))

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        found = _json_after(output, "[")
        if not isinstance(found, list):
            return []
        instances = []
        for item in found:
            if not isinstance(item, dict) or not item.get("installationPath"):
                continue
            path = str(item["installationPath"]).rstrip("\\")
            instances.append({
                "id": item.get("instanceId"), "path": path,
                "version": item.get("installationVersion"), "product": item.get("productId"),
                "name": item.get("displayName"),
                # Older vswhere (before isComplete existed) lists only complete instances.
                "complete": bool(item.get("isComplete", True)),
                "reboot_required": bool(item.get("isRebootRequired", False)),
                "vcvarsall": f"{path}\\VC\\Auxiliary\\Build\\vcvarsall.bat"})
        return instances


REG_VALUE = re.compile(r"^ {4}(.+?) {4}(REG_[A-Z_0-9]+)(?: {4}(.*))?$")


def parse_reg_query(output: list[str]) -> dict[str, dict[str, str]] | None:
    """``reg query KEY /s`` output -> {key path: {value name: data}}; None when it found none.
    The unnamed value is shown as ``(Default)``; an empty key has no value lines."""
    keys: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in output:
        line = line.rstrip("\r")
        if line.startswith("HKEY_"):
            current = keys.setdefault(line.strip(), {})
        elif current is not None and (m := REG_VALUE.match(line)):
            current[m.group(1)] = (m.group(3) or "").rstrip()
    return keys or None


class RegistryKey(FactBase):
    """
    A registry key and its subkeys as ``reg.exe query KEY /s`` lists them, in the 32- or
    64-bit registry view; ``None`` when the key does not exist.

    .. code:: python

        {"HKEY_LOCAL_MACHINE\\\\SOFTWARE\\\\Microsoft\\\\DevDiv\\\\VCForPython\\\\9.0":
            {"installdir": "C:\\\\Program Files (x86)\\\\Common Files\\\\…\\\\9.0\\\\"}}
    """

    def command(self, key: str, view: int = 64) -> StringCommand:
        # reg.exe exits 1 for a missing key: that is an answer ("none"), not a failure.
        return StringCommand(ps_script("reg-query", {"key": key, "view": f"/reg:{int(view)}"}, [
            "& reg.exe query $key /s $view 2>$null",
            "$LASTEXITCODE = 0",
        ]))

    def process(self, output: list[str]) -> dict[str, dict[str, str]] | None:
        return parse_reg_query(output)


PYTHONCORE = "HKLM\\SOFTWARE\\Python\\PythonCore"


class Pep514(RegistryKey):
    """
    A Python's PEP 514 registration (``PythonCore\\<tag>``) in HKLM, in the registry view its
    installer writes (32-bit Pythons in the 32-bit view); ``None`` when not registered.

    .. code:: python

        {"tag": "3.12", "version": "3.12.10", "sys_version": "3.12", "sys_architecture": "64bit",
         "install_path": "C:\\\\wheelfleet\\\\pythons\\\\3.12-x64",
         "executable": "C:\\\\wheelfleet\\\\pythons\\\\3.12-x64\\\\python.exe"}

    Pythons before 3.5 register no Version/SysArchitecture (PEP 514's backwards-compatibility
    rules): those are ``None``.
    """

    def command(self, tag: str, view: int = 64) -> StringCommand:  # type: ignore[override]
        return super().command(key=f"{PYTHONCORE}\\{tag}", view=view)

    def process(self, output: list[str]) -> dict[str, Any] | None:  # type: ignore[override]
        keys = parse_reg_query(output)
        if not keys:
            return None
        root = min(keys, key=len)  # the tag's own key comes first and is the shortest
        tag = root.rsplit("\\", 1)[-1]
        values = keys[root]
        install = keys.get(f"{root}\\InstallPath", {})
        path = install.get("(Default)")
        return {"tag": tag, "version": values.get("Version"),
                "sys_version": values.get("SysVersion"),
                "sys_architecture": values.get("SysArchitecture"),
                "install_path": path.rstrip("\\") if path else None,
                "executable": install.get("ExecutablePath")}


# Python 2.7 … 3.15 alike; no double quote, which Windows PowerShell 5.1 would mangle on a
# native command line.
PROBE = ("import json, struct, sys, sysconfig; print(json.dumps({"
         "'version': '%d.%d.%d' % tuple(sys.version_info[:3]), "
         "'bits': struct.calcsize('P') * 8, 'platform': sysconfig.get_platform(), "
         "'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')), "
         "'executable': sys.executable}))")
MACHINES = {"win32": "x86", "win-amd64": "x64", "win-arm64": "arm64"}


def parse_interpreter_answer(output: list[str]) -> dict[str, Any] | None:
    for line in output:
        if line.startswith("{"):
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            if isinstance(answer, dict) and "version" in answer:
                answer["machine"] = MACHINES.get(str(answer.get("platform")))
                return answer
    return None


def interpreter_script(path: str) -> str:
    return ps_script("interpreter", {"exe": path, "probe": PROBE}, [
        "if (Test-Path -LiteralPath $exe -PathType Leaf) { & $exe -c $probe 2>$null }",
        "$LASTEXITCODE = 0",
    ])


class InterpreterAnswer(FactBase):
    """
    What an interpreter says about itself: version, pointer size, build platform (and the
    arch it means), free-threading, its own path; ``None`` when absent or not runnable.

    .. code:: python

        {"version": "3.12.10", "bits": 64, "platform": "win-amd64", "machine": "x64",
         "free_threaded": False,
         "executable": "C:\\\\wheelfleet\\\\pythons\\\\3.12-x64\\\\python.exe"}
    """

    def command(self, path: str) -> StringCommand:
        return StringCommand(interpreter_script(path))

    def process(self, output: list[str]) -> dict[str, Any] | None:
        return parse_interpreter_answer(output)


BURN_EXIT = re.compile(r"\]i007: Exit code: (0x[0-9A-Fa-f]+|-?\d+), restarting: (Yes|No)")
MSI_STATUS = re.compile(r"Installation success or error status: (-?\d+)")
MSI_PRODUCT = re.compile(r"Product: (.+?) -- (.+?)\.?$")


def parse_installer_log(output: list[str]) -> dict[str, Any] | None:
    """The verdict of a WiX Burn bundle log (python.org .exe) or a verbose MSI log."""
    found: dict[str, Any] = {}
    for line in output:
        if m := BURN_EXIT.search(line):
            found = {"format": "burn", "exit_code": int(m.group(1), 0),
                     "restarting": m.group(2) == "Yes", "product": found.get("product")}
        elif m := MSI_STATUS.search(line):
            found.update({"format": "msi", "exit_code": int(m.group(1))})
            found.setdefault("restarting", None)
        elif "MSI (" in line and (m := MSI_PRODUCT.search(line)):
            found["product"] = m.group(1)
            found["message"] = m.group(2)
    return found or None


class InstallerLog(FactBase):
    """
    The verdict an installer wrote at the end of its log: ``None`` when the log is absent or
    has no exit line.

    .. code:: python

        {"format": "burn", "exit_code": 1618, "restarting": False, "product": None}
    """

    def command(self, path: str) -> StringCommand:
        return StringCommand(ps_script("installer-log", {"log": path}, [
            "if (Test-Path -LiteralPath $log -PathType Leaf) { "
            "Get-Content -LiteralPath $log -Tail 400 }",
        ]))

    def process(self, output: list[str]) -> dict[str, Any] | None:
        return parse_installer_log(output)


BOOT_TIME_SCRIPT = ps_script("boot-time", {}, [
    "$os = Get-CimInstance -ClassName Win32_OperatingSystem",
    "Write-Output ('boot ' + $os.LastBootUpTime.ToUniversalTime().ToString('o'))",
])


class BootTime(FactBase):
    """
    When Windows last booted (UTC, ISO 8601): a reboot is confirmed when it changes.

    .. code:: python

        "2026-11-27T09:14:03.5000000Z"
    """

    def command(self) -> StringCommand:
        return StringCommand(BOOT_TIME_SCRIPT)

    def process(self, output: list[str]) -> str | None:
        for line in output:
            if line.startswith("boot "):
                return line[5:].strip()
        return None
