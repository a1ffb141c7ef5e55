"""deploys/fleet.py on macOS hosts through the real pyinfra CLI, against scripted Macs.

Level: spec — pyinfra's ``@fake`` connector answers each fact command with output in the
format the Mac tools print (see tests/spec/facts/macos.*); nothing runs on a Mac.  What this
proves: the platform seam dispatches macOS hosts to their roles in order, every role loads and
plans its operations from the selection, and a host that cannot get the Command Line Tools fails
alone with one line while the other Mac's plan goes on.
"""

from __future__ import annotations

import re
from pathlib import Path

from wheelfleet.pyinfra_run import run_deploy

ROOT = Path(__file__).resolve().parents[1]

BARE_APPLE_SILICON = {
    "sw_vers": ["ProductName:\t\tmacOS", "ProductVersion:\t\t14.5", "BuildVersion:\t\t23F79",
                "Arch: arm64"],
    "softwareupdate --list": ["Software Update Tool", "",
                              "* Label: Command Line Tools for Xcode-15.3",
                              "\tTitle: Command Line Tools for Xcode, Version: 15.3, "
                              "Size: 707501KiB, Recommended: YES, "],
    "/usr/bin/arch -x86_64": ["no"],
}
NO_CLT_OFFERED = {**BARE_APPLE_SILICON,
                  "softwareupdate --list": ["Software Update Tool", "",
                                            "No new software available."]}


def test_bare_macs_get_their_roles_in_order(tmp_path: Path):
    inventory = tmp_path / "macs.py"
    inventory.write_text(
        "macos = ([\n"
        f"    ('@fake/mac-bare', {{'fake_responses': {BARE_APPLE_SILICON!r}, 'fake_delay': 0}}),\n"
        f"    ('@fake/mac-no-clt', {{'fake_responses': {NO_CLT_OFFERED!r}, 'fake_delay': 0}}),\n"
        "], {'pythons': ['2.7', '3.12', '3.14t'], 'arches': ['x86_64']})\n")
    # 2.7 needs its pyenv tarball locked: the fleet's overlay does that.
    overlay = tmp_path / "lock.yaml"
    overlay.write_text("macos:\n  pyenv: {sha256: " + "ab" * 32 + "}\n")
    text = inventory.read_text().replace("'arches': ['x86_64']}",
                                         f"'arches': ['x86_64'], 'matrix_overlay': "
                                         f"{str(overlay)!r}}}")
    inventory.write_text(text)
    result = run_deploy(inventory, ROOT / "deploys" / "fleet.py", dry=True, timeout=300)
    assert "Traceback" not in result.log, result.log[-3000:]
    changes = result.changes.get("@fake/mac-bare", [])
    roles = [c.split(" | ")[0] for c in changes]
    # Each role's first planned change comes in the platform's role order.
    order = [r for i, r in enumerate(roles) if r not in roles[:i]]
    assert order == ["macos_base", "macos_pythons", "macos_pyenv_ucs4", "macos_openssl",
                     "macos_health"], changes
    assert "macos_base | Xcode Command Line Tools" in changes
    assert "macos_base | Rosetta 2 (for x86_64 checks on Apple silicon)" in changes
    assert any(re.fullmatch(r"macos_pythons \| Python 3\.14t \(3\.14\.10, "
                            r"org\.python\.Python\.PythonTFramework-3\.14\)", c)
               for c in changes), changes
    assert "macos_openssl | Universal OpenSSL 3.0.22" in changes

    # Run it (the scripted Macs accept every command): the Mac that softwareupdate offers no
    # CLT to fails alone, saying what to do; the other one converges.
    result = run_deploy(inventory, ROOT / "deploys" / "fleet.py", timeout=300)
    assert "Traceback" not in result.log, result.log[-3000:]
    assert result.failed_hosts == ["@fake/mac-no-clt"], result.log[-3000:]
    assert "run `xcode-select --install` in the Mac's GUI session" in result.log, \
        result.log[-3000:]
    assert not result.errors.get("@fake/mac-bare"), result.errors
    assert "macos_openssl | Universal OpenSSL 3.0.22" in result.changes["@fake/mac-bare"]
