"""The PowerShell the connector generates: parsed by tree-sitter-powershell (syntax only, no
PowerShell runs here), round-tripped through the encoder, and CLIXML decoded from a real
Windows capture. Also: host data -> settings, and error lines that never carry a secret."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import tree_sitter_powershell
import winrm
from pyinfra.api.exceptions import ConnectError
from tree_sitter import Language, Node, Parser

from wheelfleet.connectors import powershell
from wheelfleet.connectors.winrm import describe_error, resolve_settings

PARSER = Parser(Language(tree_sitter_powershell.language()))

NASTY = [
    "C:\\plain\\file.txt",
    "C:\\it's here\\o'brien.txt",
    "C:\\\u2018curly\u2019 \u201ahigh\u201b\\x",
    "C:\\$env:TEMP\\`n\\$(calc)",
    'C:\\quote"double\\;&|<>',
    "C:\\ünïcödé\\日本\\file",
]


def parse(script: str) -> Node:
    tree = PARSER.parse(script.encode("utf-8"))
    return tree.root_node


def verbatim_strings(node: Node) -> list[str]:
    found = []
    if node.type == "verbatim_string_characters":
        found.append(node.text.decode("utf-8"))  # type: ignore[union-attr]
    for child in node.children:
        found.extend(verbatim_strings(child))
    return found


def assert_parses(script: str) -> Node:
    root = parse(script)
    assert not root.has_error, f"tree-sitter-powershell rejects:\n{script}"
    return root


def decode_command_line(line: str) -> str:
    match = re.fullmatch(r"powershell\.exe -NoProfile -NonInteractive -EncodedCommand (\S+)", line)
    assert match, line
    return base64.b64decode(match.group(1)).decode("utf-16-le")


def every_script() -> list[tuple[str, str, list[str]]]:
    """(label, script, values that must each appear as one whole single-quoted literal)."""
    scripts = []
    for path in NASTY:
        scripts.append((f"put {path}", powershell.put_script(path, path + ".part"), [path]))
        scripts.append((f"get {path}", powershell.get_script(path, 49152), [path]))
        scripts.append((f"sha256 {path}", powershell.sha256_script(path), [path]))
        env = {"WF_VALUE": path, "Path2": "a'b\u2019c"}
        scripts.append(
            (
                f"command in {path}",
                powershell.wrap_powershell("Write-Output $env:WF_VALUE", env, path),
                [path, "a'b\u2019c"],
            )
        )
    return scripts


@pytest.mark.parametrize(("label", "script", "values"), every_script(), ids=lambda v: str(v)[:40])
def test_generated_scripts_parse_and_keep_every_value_whole(
    label: str, script: str, values: list[str]
) -> None:
    root = assert_parses(script)
    literals = verbatim_strings(root)
    for value in values:
        assert powershell.quote(value) in literals, f"{label}: {value!r} not one literal"
    # The encoder round-trips: what Windows decodes is exactly the script.
    assert decode_command_line(powershell.powershell_command_line(script)) == script


def test_the_parser_check_can_fail() -> None:
    """The checks above mean something: unquoted or badly quoted text is an error."""
    assert parse("if ($x -ne deadbeef) { exit 1 }").has_error
    broken = "$dest = '" + "C:\\it's" + "'\n$x = 'y'"
    root = parse(broken)
    assert root.has_error or powershell.quote("C:\\it's") not in verbatim_strings(root)


def test_quote_doubles_every_single_quote_powershell_knows() -> None:
    for char in "'\u2018\u2019\u201a\u201b":
        value = f"a{char}b"
        root = assert_parses(f"$x = {powershell.quote(value)}")
        assert verbatim_strings(root) == [f"'a{char}{char}b'"]
    with pytest.raises(powershell.ScriptError):
        powershell.quote("nul\x00byte")


def test_refusals_are_script_errors() -> None:
    with pytest.raises(powershell.ScriptError, match="not a plain identifier"):
        powershell.wrap_powershell("x", {"BAD-NAME": "v"}, None)
    with pytest.raises(powershell.ScriptError, match="too long"):
        powershell.powershell_command_line("Write-Output 'x'\n" * 400)
    with pytest.raises(powershell.ScriptError, match="quote or newline"):
        powershell.wrap_cmd("echo", {"A": 'x"y'}, None)
    assert (
        powershell.wrap_cmd("echo %A%", {"A": "1"}, "C:\\w")
        == 'set "A=1" && cd /d "C:\\w" && echo %A%'
    )


def real_windows_stderr() -> bytes:
    """The stderr of ``Write-Error "Error"`` as a real Windows host sent it (a capture shipped
    in the pywinrm wheel's tests)."""
    capture = Path(winrm.__file__).with_name("tests") / "conftest.py"
    text = capture.read_text()
    response = text.split("get_ps_output_response = ")[1].split('"""')[1]
    streams = re.findall(r'<rsp:Stream[^>]*Name="stderr"[^>]*>([^<]+)</rsp:Stream>', response)
    assert len(streams) == 2
    return b"".join(base64.b64decode(s) for s in streams)


def test_clixml_from_a_real_windows_capture() -> None:
    text = powershell.clixml_to_text(real_windows_stderr())
    assert text is not None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[0] == 'Write-Error "Error" : Error'
    assert any("FullyQualifiedErrorId" in line for line in lines)
    assert "_x000D_" not in text


def test_clixml_escapes_progress_and_plain_text() -> None:
    doc = (
        '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        '<Obj S="progress" RefId="0"><MS><PR N="Record"><AV>Preparing modules</AV></PR></MS></Obj>'
        '<S S="Error">snake_x005F_case _xD83D__xDE00_ done_x000D__x000A_</S></Objs>'
    )
    assert powershell.clixml_to_text(doc.encode()) == "snake_case \U0001f600 done\r\n"
    assert powershell.clixml_to_text(b"plain error text\r\n") is None


DATA = {"winrm_user": "WINTEST\\builder", "winrm_password_env": "WF_TEST_PW"}
ENV = {"WF_TEST_PW": "Pw-secret-value"}


def test_settings_are_secure_by_default() -> None:
    s = resolve_settings("win1", dict(DATA), ENV)
    assert (s.endpoint, s.transport, s.encryption) == ("https://win1:5986/wsman", "ntlm", "auto")
    s = resolve_settings("win1", {**DATA, "winrm_scheme": "http", "winrm_port": 6000}, ENV)
    assert (s.endpoint, s.encryption, s.unencrypted) == ("http://win1:6000/wsman", "always", False)
    s = resolve_settings("::1", {**DATA, "winrm_path": "custom"}, ENV)
    assert s.endpoint == "https://[::1]:5986/custom"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"winrm_scheme": "http", "winrm_transport": "basic"}, "cannot encrypt"),
        ({"winrm_scheme": "http", "winrm_transport": "certificate"}, "needs https"),
        ({"winrm_password": "x"}, "winrm_password in inventory data is not read"),
        ({"winrm_password_env": "WF_UNSET"}, "WF_UNSET .* is not set"),
        ({"winrm_password_file": "/nonexistent/pw"}, "cannot read"),
        ({"winrm_transport": "telnet"}, "winrm_transport must be"),
        ({"winrm_operation_timeout": 40}, "must exceed"),
        ({"winrm_transport": "certificate"}, "winrm_cert_pem"),
    ],
)
def test_bad_settings_are_one_line(data: dict, error: str) -> None:
    with pytest.raises(ConnectError) as info:
        resolve_settings("win1", {**DATA, **data}, ENV)
    message = info.value.args[0]
    assert re.search(error, message) and "\n" not in message
    assert "Pw-secret-value" not in message


def test_basic_over_http_only_when_the_inventory_says_so(tmp_path: Path) -> None:
    data = {**DATA, "winrm_scheme": "http", "winrm_transport": "basic"}
    s = resolve_settings("w", {**data, "winrm_allow_unencrypted": True}, ENV)
    assert (s.encryption, s.unencrypted) == ("never", True)
    pw = tmp_path / "pw"
    pw.write_text("from-a-file\n")
    assert resolve_settings("w", {**DATA, "winrm_password_file": str(pw)}, {}).password == (
        "from-a-file"
    )


def test_error_lines_never_carry_the_password() -> None:
    s = resolve_settings("w", dict(DATA), ENV)
    line = describe_error(RuntimeError("oops Pw-secret-value\nsecond line"), s)
    assert line == "RuntimeError: oops *** second line"


def test_the_readme_listener_setup_parses() -> None:
    """The PowerShell README asks an administrator to run (syntax only: not run here)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Reaching Windows hosts", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```powershell\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1 and "New-Item -Path WSMan:" in blocks[0]
    assert_parses(blocks[0])
