"""Every PowerShell script the Windows roles generate parses (tree-sitter-powershell).

Level: syntax only (no PowerShell runs here).  The scripts are the facts' commands and the
operations' commands as the spec cases record them (tests/spec/*/windows.* and
tests/spec/*/windows_health.*), plus the scripts the installer, reboot and interpreter-check
callbacks build, with awkward values in them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Parser

from wheelfleet.facts import windows as facts
from wheelfleet.operations import windows as ops

PARSER = Parser(Language(tree_sitter_powershell.language()))
SPEC = Path(__file__).resolve().parents[1] / "spec"
AWKWARD = "C:\\Program Files (x86)\\it's \u2019here\\$env:TEMP\\`n"


def spec_scripts() -> list[tuple[str, str]]:
    found = []
    for path in sorted([*SPEC.glob("facts/windows.*/*.json"),
                        *SPEC.glob("facts/windows_health.*/*.json")]):
        found.append((f"{path.parent.name}/{path.stem}", json.loads(path.read_text())["command"]))
    for path in sorted([*SPEC.glob("operations/windows.*/*.json"),
                        *SPEC.glob("operations/windows_health.*/*.json")]):
        for i, command in enumerate(json.loads(path.read_text())["commands"]):
            if isinstance(command, str):
                found.append((f"{path.parent.name}/{path.stem}#{i}", command))
    return found


def built_scripts() -> list[tuple[str, str]]:
    return [
        ("installer", ops.installer_script(AWKWARD + "\\setup.exe",
                                           ["/quiet", f"TargetDir={AWKWARD}", "--add", "X"], 60)),
        ("reboot", ops.reboot_script()),
        ("interpreter", facts.interpreter_script(AWKWARD + "\\python.exe")),
        ("boot-time", facts.BOOT_TIME_SCRIPT),
        ("download", ops.download_script("http://127.0.0.1/x'y", "ab" * 32, AWKWARD, 10)),
        ("nuget", ops.nuget_extract_script(AWKWARD + "\\p.nupkg", AWKWARD)),
        ("mkdir", ops.directory_script(AWKWARD)),
    ]


@pytest.mark.parametrize(("label", "script"), spec_scripts() + built_scripts(),
                         ids=lambda v: str(v)[:60])
def test_script_parses(label: str, script: str) -> None:
    root = PARSER.parse(script.encode("utf-8")).root_node
    assert not root.has_error, f"tree-sitter-powershell rejects {label}:\n{script}"
    assert script.startswith("# wheelfleet: ")


def test_the_parser_rejects_a_broken_script() -> None:
    """The control: a script with an unterminated block does not parse."""
    broken = ops.installer_script("C:\\x.exe", [], 5).replace("exit 0\n}", "exit 0\n")
    assert PARSER.parse(broken.encode()).root_node.has_error


def test_installer_arguments_quote_values_with_spaces() -> None:
    quoted = ops.quote_argument("TargetDir=C:\\Program Files\\Py")
    assert quoted == 'TargetDir="C:\\Program Files\\Py"'
    assert ops.quote_argument("C:\\Program Files\\x.msi") == '"C:\\Program Files\\x.msi"'
    assert ops.quote_argument("/qn") == "/qn"
    with pytest.raises(ValueError):
        ops.quote_argument('a"b')
