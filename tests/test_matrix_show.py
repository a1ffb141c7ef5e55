"""`wheelfleet matrix show` answers a release engineer's questions from the shipped matrix."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from wheelfleet.matrix import load_matrix
from wheelfleet.matrix.query import describe


def show(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "wheelfleet.cli", "matrix", "show", *args,
                          "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_python34_windows_x86_needs_vc10_and_the_msi():
    info = show("--python", "3.4", "--platform", "windows", "--arch", "x86")
    assert info["compiler"]["family"] == "VC10"
    assert info["compiler"]["msc_ver"] == 1600
    assert [a["wheel_tag"] for a in info["arches"]] == ["cp34-cp34m-win32"]
    assert info["arches"][0]["interpreter_source"]["url"].endswith("/3.4.4/python-3.4.4.msi")
    assert any("64-bit" in c for c in info["caveats"])


def test_python27_windows_is_vc9_narrow():
    info = show("--python", "2.7", "--platform", "windows")
    assert info["compiler"]["family"] == "VC9"
    assert {a["wheel_tag"] for a in info["arches"]} == {"cp27-cp27m-win32",
                                                        "cp27-cp27m-win_amd64"}


def test_python27_macos_is_pyenv_wide_unicode():
    info = show("--python", "2.7", "--platform", "macos")
    assert info["abi_tag"] == "cp27mu"
    assert info["install"]["kind"] == "pyenv"
    assert "--enable-unicode=ucs4" in info["install"]["command"]
    assert info["arches"][0]["wheel_tag"] == "cp27-cp27mu-macosx_10_9_x86_64"


def test_python312_everywhere():
    win = show("--python", "3.12", "--platform", "windows", "--arch", "arm64")
    assert win["compiler"]["family"] == "VC14"
    assert "v143" in win["compiler"]["acceptable_toolsets"]
    assert win["arches"][0]["interpreter_source"]["package"] == "pythonarm64"
    assert "Microsoft.VisualStudio.Component.VC.Tools.ARM64" in win["arches"][0]["vs_components"]
    mac = show("--python", "3.12", "--platform", "macos", "--arch", "universal2")
    assert mac["install"]["sha256"].startswith("8373e58d")
    assert mac["arches"][0]["wheel_tag"] == "cp312-cp312-macosx_10_13_universal2"
    lin = show("--python", "3.12", "--platform", "linux", "--arch", "x86_64")
    assert {i["policy"] for i in lin["images"]} >= {"manylinux2014", "manylinux_2_28"}
    assert all("@sha256:" in i["ref"] for i in lin["images"])


def test_python314t_free_threaded():
    mac = show("--python", "3.14t", "--platform", "macos")
    assert mac["free_threaded"] is True
    assert mac["install"]["choice_identifier"] == "org.python.Python.PythonTFramework-3.14"
    assert mac["install"]["interpreter"].endswith("PythonT.framework/Versions/3.14/bin/python3.14t")
    win = show("--python", "3.14t", "--platform", "windows", "--arch", "x64")
    assert win["arches"][0]["interpreter_source"]["package"] == "python-freethreaded"
    lin = show("--python", "3.14t", "--platform", "linux")
    assert lin["images"] and all(
        i["interpreters"] == ["/opt/python/cp314-cp314t/bin/python"] for i in lin["images"])


def test_unlocked_installer_is_flagged_not_invented():
    mac = show("--python", "3.11", "--platform", "macos")
    assert mac["install"]["sha256"].startswith("NOT LOCKED")


@pytest.mark.parametrize("python,platform,arch,expected", [
    ("3.10", "windows", "arm64", "no windows arm64 interpreter"),
    ("3.8", "macos", "arm64", "no macos arm64 interpreter"),
    ("3.99", "linux", None, "unknown Python '3.99'"),
])
def test_impossible_questions_get_one_line(python, platform, arch, expected):
    args = [sys.executable, "-m", "wheelfleet.cli", "matrix", "show", "--python", python,
            "--platform", platform] + (["--arch", arch] if arch else [])
    out = subprocess.run(args, capture_output=True, text=True)
    assert out.returncode == 2
    assert expected in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_every_python_describes_on_every_platform_it_has():
    m = load_matrix()
    for py in m.pythons.values():
        for platform in ("linux", "macos", "windows"):
            if getattr(py, platform) is not None:
                assert describe(m, py.id, platform)["version"] == py.version
