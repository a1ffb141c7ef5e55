"""`wheelfleet check-inventory` on macOS selections the matrix cannot serve: one line each,
naming the file, the key and why, before anything connects.

Level: unit, through the real CLI (tests/test_bad_input.py has universal2 for 2.7 and 3.8 and
an unlocked installer; these are the per-arch cases of issue 10's acceptance list).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CASES = [
    (["3.8"], ["arm64"], "m1.arches[0]", "Python 3.8 has no arm64 build on macOS; it has x86_64"),
    (["2.7"], ["arm64"], "m1.arches[0]", "Python 2.7 has no arm64 build on macOS; it has x86_64"),
    (["3.12", "3.6"], ["universal2"], "m1.arches[0]", "Python 3.6 has no universal2 build"),
]


@pytest.mark.parametrize("pythons,arches,key,words", CASES)
def test_an_impossible_macos_selection_is_one_line(tmp_path: Path, pythons, arches, key, words):
    inventory = tmp_path / "fleet.py"
    inventory.write_text(f"macos = (['m1'], {{'pythons': {pythons!r}, 'arches': {arches!r}}})\n")
    out = subprocess.run([sys.executable, "-m", "wheelfleet.cli", "check-inventory",
                          str(inventory)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert "fleet.py" in line and key in line and words in line, line
