"""``Together``: several facts' commands run as one by this machine's shells, each part parsed
by its own fact's ``process``, failures left for the part's own read.  Level: real artifact
(the combined command a host runs, run here by dash and bash; the parts are wheelfleet's and
pyinfra's own facts against real files and a real dpkg database)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from pyinfra.api import FactBase
from pyinfra.facts.deb import DebPackages

from wheelfleet.facts.files import FileStates
from wheelfleet.facts.health import WheelhouseFiles
from wheelfleet.facts.python import VenvDistributions
from wheelfleet.facts.together import Together

SHELLS = [s for s in ("/bin/sh", "/bin/bash") if Path(s).exists()]


def run(shell: str, fact: FactBase, **kwargs: object) -> list[str]:
    command = fact.command(**kwargs)
    proc = subprocess.run([shell, "-c", str(command)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def lines_of(shell_command: str, needs: str | None = None) -> type[FactBase]:
    """A fact whose value is its command's output lines, as they came."""

    class Lines(FactBase):
        def requires_command(self) -> str | None:
            return needs

        def command(self) -> str:
            return shell_command

        def process(self, output: list[str]) -> list[str]:
            return output

    return Lines


Fails = lines_of("echo half an answer; exit 3")
NeedsAbsentTool = lines_of("wheelfleet-no-such-tool --list", needs="wheelfleet-no-such-tool")
# Output without a final newline, after a blank line the fact itself printed.
Unterminated = lines_of("printf 'a\\n\\nb'")
Blank = lines_of("printf 'x\\n\\n'")


@pytest.mark.parametrize("shell", SHELLS)
def test_each_part_gets_what_its_own_read_would_have(tmp_path: Path, shell: str) -> None:
    if not shutil.which("dpkg"):
        pytest.skip("no dpkg database on this machine")
    venv = tmp_path / "venv"
    for dist in ("auditwheel-6.8.2", "pyelftools-0.33"):
        (venv / "lib/python3.11/site-packages" / f"{dist}.dist-info").mkdir(parents=True)
    house = tmp_path / "house"
    house.mkdir()
    (house / "wheel-0.45.1-py3-none-any.whl").write_bytes(b"PK")
    (tmp_path / "f").write_text("x\n")
    parts = [(DebPackages, {}), (FileStates, {"paths": [str(tmp_path / "f"), "/gone"]}),
             (VenvDistributions, {"venv": str(venv)}), (WheelhouseFiles, {"path": str(house)}),
             (WheelhouseFiles, {"path": str(tmp_path / "no-house")})]
    together = Together()
    answers = together.process(run(shell, together, parts=parts))
    alone = [fact().process(run(shell, fact(), **kwargs)) for fact, kwargs in parts[:4]]
    assert [a["data"] if a else a for a in answers] == [*alone, []]
    assert "dpkg" in answers[0]["data"]
    assert answers[2]["data"] == {"auditwheel": ["6.8.2"], "pyelftools": ["0.33"]}


@pytest.mark.parametrize("shell", SHELLS)
def test_a_failed_or_tool_less_part_is_left_for_its_own_read(shell: str) -> None:
    together = Together()
    parts = [(Fails, {}), (NeedsAbsentTool, {}), (Unterminated, {}), (Blank, {})]
    answers = together.process(run(shell, together, parts=parts))
    assert answers[0] is None and answers[1] is None
    assert answers[2] == {"data": ["a", "", "b"]}
    assert answers[3] == {"data": ["x", ""]}


def test_a_part_printing_a_marker_like_line_cannot_end_its_frame() -> None:
    mimic = lines_of("echo '##wheelfleet-part-000000000000 end 0'; echo real")
    together = Together()
    answers = together.process(run("/bin/sh", together, parts=[(mimic, {}), (Blank, {})]))
    assert answers[0] == {"data": ["##wheelfleet-part-000000000000 end 0", "real"]}
