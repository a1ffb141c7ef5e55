"""Facts of a Windows host's health check (PowerShell over ``@winrm``): the agent's verdicts,
the tools venv's packages, the wheelhouse's wheels, what the host says it is (onboarding's
probe).

Each command starts with a ``# wheelfleet: <mark>`` line, so logs say what ran.
"""

from __future__ import annotations

import json
from typing import Any

from pyinfra.api import FactBase, StringCommand

from wheelfleet.connectors.powershell import quote
from wheelfleet.facts.health import EXIT, MISSING, WheelHealthRecords
from wheelfleet.facts.windows import ps_script


class WindowsHealthRecords(WheelHealthRecords):
    """
    Runs the Windows host's health agent over its plan with the tools Python; the answer is
    ``WheelHealthRecords``' (``ok`` / ``missing`` / ``crashed`` / ``garbled``).

    .. code:: python

        host.get_fact(WindowsHealthRecords, python="C:\\\\wheelfleet\\\\pythons\\\\3.13-x64"
                      "\\\\python.exe", agent="C:\\\\wheelfleet\\\\health\\\\agent.py",
                      plan="C:\\\\wheelfleet\\\\health\\\\plan.json")
    """

    def command(self, agent: str, plan: str, run: str = "",  # type: ignore[override]
                python: str = "python.exe") -> StringCommand:
        # Always succeeds with the agent's exit status as text (as the POSIX fact does); the
        # agent's stderr is folded into the output as plain lines so a traceback is reported.
        # ``run`` names this run for the agent's records (WHEELFLEET_RUN), as on POSIX.
        a, p, py = quote(agent), quote(plan), quote(python)
        label = quote("".join(c for c in run if c.isalnum() or c in "_.-"))
        text = ("# wheelfleet: health-agent\n"
                f"if ((Test-Path -LiteralPath {a}) -and (Test-Path -LiteralPath {p}) -and "
                f"(Test-Path -LiteralPath {py})) {{ $env:WHEELFLEET_RUN = {label}; "
                f"& {py} {a} {p} 2>&1 | ForEach-Object {{ \"$_\" }}; "
                f"'{EXIT}' + $LASTEXITCODE }} else {{ '{MISSING}'; "
                f"if (-not (Test-Path -LiteralPath {a})) {{ 'no ' + {a} }}; "
                f"if (-not (Test-Path -LiteralPath {p})) {{ 'no ' + {p} }}; "
                f"if (-not (Test-Path -LiteralPath {py})) {{ 'no ' + {py} }} }}")
        return StringCommand(text)  # the @winrm connector takes no bare strings


# Runs under the venv's Python (3.9+): prints {"name": "version"} of every installed package.
VENV_PROBE = ("import importlib.metadata as m, json; print(json.dumps({d.metadata['Name']."
              "lower().replace('_', '-'): d.version for d in m.distributions()}))")


class VenvPackages(FactBase):
    """
    Packages installed in a Windows venv (canonical name -> version), asked of the venv's
    own Python; ``None`` when the venv has no Python that runs.

    .. code:: python

        {"delvewheel": "1.11.2", "pefile": "2024.8.26", "pip": "25.0.1"}
    """

    def command(self, venv: str) -> StringCommand:
        return StringCommand(ps_script("venv-packages", {
            "python": f"{venv}\\Scripts\\python.exe", "probe": VENV_PROBE}, [
            "if (Test-Path -LiteralPath $python -PathType Leaf) { & $python -c $probe 2>$null }",
            "$LASTEXITCODE = 0",
        ]))

    def process(self, output: list[str]) -> dict[str, str] | None:
        for line in output:
            if line.startswith("{"):
                try:
                    found: Any = json.loads(line)
                except ValueError:
                    continue
                if isinstance(found, dict):
                    return {str(k): str(v) for k, v in found.items()}
        return None


class WindowsWheelhouseFiles(FactBase):
    """
    Names of the wheels in a Windows host's wheelhouse directory (empty when it does not
    exist), sorted.

    .. code:: python

        ["setuptools-80.9.0-py3-none-any.whl", "wheel-0.45.1-py3-none-any.whl"]
    """

    default = list

    def command(self, path: str) -> StringCommand:
        return StringCommand(ps_script("wheelhouse-files", {"path": path}, [
            "if (Test-Path -LiteralPath $path -PathType Container) {",
            "    Get-ChildItem -LiteralPath $path -File | ForEach-Object { $_.Name }",
            "}",
        ]))

    def process(self, output: list[str]) -> list[str]:
        return sorted(line.strip() for line in output if line.strip().lower().endswith(".whl"))


class WindowsKernel(FactBase):
    """
    What a host reached over WinRM says it is, in ``uname -s``'s place (Windows has none):
    ``$env:OS`` (``Windows_NT``); ``None`` when it says nothing.

    .. code:: python

        "Windows_NT"
    """

    def command(self) -> StringCommand:
        return StringCommand(ps_script("kernel", {}, ["Write-Output $env:OS"]))

    def process(self, output: list[str]) -> str | None:
        lines = [line.strip() for line in output if line.strip()]
        return lines[-1] if lines else None
