"""The Windows health check: its plan, the agent's Windows host mode, the fact's PowerShell.

There is no Windows host here.  Proof levels, per test docstring:

- **unit**: the code runs for real on real inputs (the real matrix, this machine's Python, pip
  and gcc, real wheels), with cmd.exe, vcvarsall.bat, vswhere and delvewheel replaced by
  labelled stand-ins where a test needs them to run at all;
- **spec**: generated text (PowerShell) is parsed by tree-sitter-powershell; nothing runs.

Nothing here proves that Windows builds, repairs or imports the canary (tests/windows proves
the canary's PE shape with real cross-built modules).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from wheelfleet.canary import expected_digest, project_dir
from wheelfleet.facts.windows_health import WindowsHealthRecords
from wheelfleet.health import agent, windows_agent
from wheelfleet.health.records import from_node
from wheelfleet.health.windows_plan import build_plan, planned_cells, tools_python
from wheelfleet.matrix import load_matrix
from wheelfleet.matrix.query import canary_build_requirements
from wheelfleet.selection import select_for_host


def win(data: dict):
    return select_for_host("win-1", ["windows"], data, "fleet.py")


def test_one_check_per_python_and_arch_with_its_family_environment_and_openssl():
    """unit: the plan from the real matrix: the family's environment (VC9 vcvarsall, SDK 7.1
    SetEnv, VC14 through vswhere with the arch's components), the OpenSSL archive of that
    family and arch, the pythonXY.dll and tag wheelcheck will hold the wheel to."""
    sel = win({"pythons": ["2.7", "3.4", "3.12", "3.13t"], "arches": ["x86", "x64", "arm64"][:2]})
    plan = build_plan(sel)
    got = {(c["python"], c["arch"]): c for c in plan["checks"]}
    assert len(got) == 8 and plan["kind"] == "host" and plan["os"] == "windows"
    assert got[("2.7", "x64")]["environment"]["args"] == ["amd64"]
    assert got[("2.7", "x64")]["openssl"]["dll"] == "libcrypto-1_1-x64.dll"
    assert got[("2.7", "x64")]["install"] == "target"
    assert got[("3.4", "x86")]["environment"]["args"] == ["/x86", "/release"]
    assert got[("3.4", "x86")]["environment"]["script"].endswith("SetEnv.cmd")
    vc14 = got[("3.12", "x64")]
    assert vc14["environment"]["kind"] == "vcvarsall" and vc14["family"] == "vc14"
    assert "Microsoft.VisualStudio.Component.VC.Tools.x86.x64" in vc14["environment"]["requires"]
    assert vc14["wheel_tag"] == "cp312-cp312-win_amd64" and vc14["python_dll"] == "python312.dll"
    assert got[("3.13t", "x86")]["python_dll"] == "python313t.dll"
    assert got[("3.13t", "x86")]["wheel_tag"] == "cp313-cp313t-win32"
    assert planned_cells(sel)[0] == {"image": "windows", "python": "2.7", "arch": "x86",
                                     "variant": "default"}
    assert tools_python(sel) is not None and "3.12-x64" in tools_python(sel)
    assert json.loads(json.dumps(plan)) == plan


def test_the_checks_build_offline_from_the_wheelhouse_the_lock_and_the_role_fill():
    """unit: the plan names the wheelhouse the role downloads into; the agent's build step
    installs the check's pins from it with ``--no-index --find-links``; ``wheelfleet lock``
    locks a canary set per checked Python for exactly the platforms its checks build, and the
    shipped matrix holds those sets for the current pins."""
    from wheelfleet.health.windows_plan import wheelhouse_dir
    from wheelfleet.lock.needs import canary_sets, locked, package_sets

    sel = win({"pythons": ["2.7", "3.12", "3.13t"], "arches": ["x86", "x64"]})
    plan = build_plan(sel)
    assert plan["wheelhouse"] == wheelhouse_dir(sel.settings)  # type: ignore[arg-type]
    assert plan["wheelhouse"] == "C:\\wheelfleet\\cache\\wheelhouse"
    check = next(c for c in plan["checks"] if c["python"] == "2.7")
    deps, wheel = windows_agent.build_commands(plan, check, "C:\\w\\1", pip_version="20.3.4")
    at = deps.index("--find-links")
    assert deps[at + 1] == plan["wheelhouse"] and "--no-index" in deps and "--no-index" in wheel
    assert deps[-len(check["build_requirements"]):] == canary_build_requirements(
        load_matrix(), "2.7")
    sets = {s.key: s.targets for s in package_sets(sel) if s.key.startswith("canary/")}
    built = {}
    for c in plan["checks"]:
        minor = sel.matrix.pythons[c["python"]].minor
        built.setdefault(f"canary/{c['python']}", set()).add(f"{minor} {c['plat']}")
    assert sets == built and sets["canary/2.7"] == {"2.7 win32", "2.7 win_amd64"}
    hashes, unlocked = locked(sel.matrix, canary_sets(sel))
    assert unlocked is None and "setuptools==44.1.1" in hashes and "wheel==0.45.1" in hashes


def test_the_health_fact_is_valid_powershell():
    """spec: the fact's command parses with tree-sitter-powershell, paths quoted literally."""
    import tree_sitter
    import tree_sitter_powershell

    text = WindowsHealthRecords().command("C:\\wf\\health\\agent.py", "C:\\wf\\it's\\plan.json",
                                          run="r1;x", python="C:\\wf\\py\\python.exe"
                                          ).get_raw_value()
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(text.encode())
    assert not tree.root_node.has_error, text
    assert "'C:\\wf\\it''s\\plan.json'" in text and "'r1x'" in text


def test_interpreter_verdicts_on_a_real_interpreter():
    """unit: this machine's Python probed by the agent's own probe: not a Windows interpreter
    and not built by MSVC — both named; MSC strings map to their families."""
    code, out = agent.run([sys.executable, "-c", windows_agent.PROBE], 60)
    info = agent.probe_info(out)
    assert code == 0 and info is not None
    check = {"platform": "win-amd64", "bits": 64, "family": "vc14", "msc_ver": 1900}
    assert "another arch's Python" in windows_agent.interpreter_problem(check, info)
    same = dict(check, platform=info["platform"], bits=info["bits"])
    assert "not VC14 (_MSC_VER 1900)" in windows_agent.interpreter_problem(same, info)
    assert windows_agent.family_of("MSC v.1500 32 bit (Intel)") == "vc9"
    assert windows_agent.family_of("MSC v.1600 64 bit (AMD64)") == "vc10"
    assert windows_agent.family_of("MSC v.1942 64 bit (ARM64)") == "vc14"
    assert windows_agent.vcvars_arch("x64", "arm64") == "x64_arm64"
    assert windows_agent.vcvars_arch("arm64", "arm64") == "arm64"


def canary_wheelhouse() -> Path:
    """This Python's pinned canary build requirements, downloaded once by pip into the user's
    cache (what the wheelhouse operation does on a node)."""
    reqs = canary_build_requirements(load_matrix(), f"{sys.version_info[0]}."
                                     f"{sys.version_info[1]}")
    cache = Path.home() / ".cache/wheelfleet/canary-wheelhouse"
    cache.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                           "--only-binary=:all:", "--disable-pip-version-check", "-q", "-d",
                           str(cache), *reqs], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return cache


def stand_in(path: Path, body: str, shebang: str = "/bin/sh") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{shebang}\n# test stand-in for a Windows tool\n" + body)
    path.chmod(0o755)
    return str(path)


# cmd.exe stand-in: runs the .cmd file's `call "script" args` with sh, then prints the marker
# and the environment as `set` would.
CMD = """\
line=$(grep '^call ' "$5" | tr -d '\\r')
script=$(echo "$line" | sed 's/^call "\\([^"]*\\)".*/\\1/')
args=$(echo "$line" | sed 's/^call "[^"]*" *//')
set -- $args
. "$script" || exit $?
echo ===wheelfleet-environment===
env
"""
# The Windows 11 SDK the stand-in reports: SDK versions are 10.0.<build>.0.
SDK_BUILD = 22621
SDK_VERSION = f"10.0.{SDK_BUILD}.0"
VCVARSALL = """\
echo "$@" >> "$(dirname "$0")/vcvarsall.log"
export VCToolsVersion=14.44.35207 WindowsSDKVersion='""" + SDK_VERSION + """\\'
"""
# delvewheel stand-in: copies the wheel into -w and adds the libcrypto DLL it would bundle.
DELVEWHEEL = """\
import os, shutil, sys, zipfile
args = sys.argv[1:]
out, wheel = args[args.index("-w") + 1], args[-1]
os.makedirs(out, exist_ok=True)
target = os.path.join(out, os.path.basename(wheel))
shutil.copy(wheel, target)
with zipfile.ZipFile(target, "a") as z:
    z.writestr("wheelfleet_canary-1.0.0.data/platlib/libcrypto-3-x64-0123.dll", b"MZ")
"""


@pytest.mark.slow
def test_a_check_runs_every_step_with_stand_ins_for_the_windows_tools(tmp_path, monkeypatch):
    """unit: one check through the agent's Windows host mode, in process: a real probe, the
    environment opened through stand-ins for vswhere, cmd.exe and vcvarsall.bat (the agent's
    own .cmd file is what the cmd stand-in reads), a real offline pip build of the real canary
    by this machine's Python and gcc, a delvewheel stand-in, a real venv, install, import and
    call.  Stand-in verdict: this GCC-built Python is taken as VC14 (family_of patched) — the
    real verdict on it is tested above.  Says nothing about MSVC or Windows."""
    vs = tmp_path / "vs"
    stand_in(vs / "VC/Auxiliary/Build/vcvarsall.bat", VCVARSALL)
    tools = {"vswhere": stand_in(tmp_path / "bin/vswhere", f"echo {vs}\n"),
             "cmd": stand_in(tmp_path / "bin/cmd", CMD),
             "delvewheel": stand_in(tmp_path / "bin/delvewheel", DELVEWHEEL, sys.executable)}
    monkeypatch.setattr(windows_agent, "family_of", lambda compiler: "vc14")
    sel = win({"pythons": ["3.12"], "arches": ["x64"]})
    plan = build_plan(sel)
    (check,) = plan["checks"]
    cp = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    check.update(interpreter=sys.executable, platform=sysconfig.get_platform(), bits=64,
                 wheel_tag=f"{cp}-{cp}-{plat}",
                 openssl=dict(check["openssl"], dir=str(tmp_path / "ssl")))
    check["environment"]["vcvarsall"] = "VC\\Auxiliary\\Build\\vcvarsall.bat"
    plan.update(tools=tools, work_dir=str(tmp_path / "work"), keep_dir=str(tmp_path / "kept"),
                canary_dir=str(project_dir()), wheelhouse=str(canary_wheelhouse()),
                tools_venv=str(tmp_path / "tools"), delvewheel_version=None, timeout=600)
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    check["build_requirements"] = canary_build_requirements(load_matrix(), here)
    node = {"arch": "x64", "windows": "stand-in", "delvewheel": None}
    record = agent.check_one(plan, check, node=node)
    assert record["status"] == "passed", record
    assert record["answer"] == expected_digest()
    assert record["versions"]["msvc"] == "14.44.35207"
    assert record["versions"]["windows_sdk"] == SDK_VERSION
    assert record["bundled_libs"] == [
        "wheelfleet_canary-1.0.0.data/platlib/libcrypto-3-x64-0123.dll"]
    # sourced by the cmd stand-in: its $0 is the stand-in, so the log lands beside it
    assert (tmp_path / "bin/vcvarsall.log").read_text().split() == ["x64"]
    with zipfile.ZipFile(record["wheel_path"]) as kept:
        assert any(n.endswith(".dll") for n in kept.namelist())
    from_node(record, "win-1")

    # An arm64 check on this x64 node never starts; a missing vcvarsall is named.
    arm = dict(check, arch="arm64", plat="win_arm64")
    assert agent.check_one(plan, arm, node=node)["reason"] == (
        "arm64 Python not executable on this x64 node: win_arm64 wheels need a native arm64 "
        "node")
    os.remove(vs / "VC/Auxiliary/Build/vcvarsall.bat")
    broken = agent.check_one(plan, check, node=node)
    assert broken["status"] == "failed" and broken["step"] == "build", broken
    assert "vcvarsall.bat is missing" in broken["diagnosis"]


def test_the_agent_runs_its_windows_paths_without_posix_only_os_functions(tmp_path, monkeypatch,
                                                                           capsys):
    """unit: ``agent.main`` on a Windows host plan (``<install_root>\\work`` style work dir
    under tmp) with what Windows' ``os`` lacks removed — ``geteuid``, ``getpgid``,
    ``O_NOFOLLOW``, ``statvfs`` — so the work-dir check, the record log and its pidfile, and
    the disk-full probe of a failed check take their Windows branches.  ``shutil.disk_usage``
    is a labelled stand-in (Windows' own reads the drive; this machine's would call the
    removed ``statvfs``).  The check's interpreter is this machine's Python: the agent's real
    verdict is that it is not the plan's win-amd64 Python."""
    import shutil
    from collections import namedtuple

    statvfs = os.statvfs
    usage = namedtuple("usage", "total used free")

    def disk_usage(path: str):  # stand-in for nt._getdiskusage
        st = statvfs(path)
        return usage(st.f_blocks * st.f_frsize, 0, st.f_bavail * st.f_frsize)

    plan = build_plan(win({"pythons": ["3.12"], "arches": ["x64", "arm64"]}))
    for check in plan["checks"]:
        check["interpreter"] = sys.executable
    work = tmp_path / "wheelfleet" / "work"
    plan.update(work_dir=str(work), keep_dir=str(work / "kept-wheels"),
                tools_venv=str(tmp_path / "no-tools"))
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    for name in ("geteuid", "getpgid", "O_NOFOLLOW", "statvfs"):
        monkeypatch.delattr(os, name)
    monkeypatch.setattr(shutil, "disk_usage", disk_usage)
    monkeypatch.setenv(agent.RUN_ENV, "night-1")
    assert agent.main(["agent.py", str(tmp_path / "plan.json")]) == 0
    records = {r["arch"]: r for r in json.loads(capsys.readouterr().out)}
    assert records["x64"]["status"] == "failed" and records["x64"]["step"] == "interpreter"
    assert "the check needs win-amd64 (64-bit)" in records["x64"]["diagnosis"]
    assert records["arm64"]["status"] == "not-run"
    assert "not executable on this" in records["arm64"]["reason"]
    pid = (work / agent.PIDFILE).read_text().split()
    assert pid == [str(os.getpid()), str(os.getpid()), "night-1"]
    logged = [json.loads(line) for line in (work / agent.RECORDS).read_text().splitlines()]
    assert [e["event"] for e in logged].count("record") == 2


def test_the_health_roles_scripts_are_valid_powershell():
    """spec: every PowerShell script roles/windows_health and its facts generate parses with
    tree-sitter-powershell, with awkward values (quotes, spaces, ``$``, newlines in the
    requirement lines); the control, a broken one, does not."""
    import tree_sitter
    import tree_sitter_powershell

    from wheelfleet.facts.windows_health import (
        VenvPackages,
        WindowsKernel,
        WindowsWheelhouseFiles,
    )
    from wheelfleet.operations import windows_health as ops

    awkward = "C:\\Program Files (x86)\\it's \u2019here\\$env:TEMP"
    scripts = [
        ops.unpack_script(awkward + "\\o.zip", "ab" * 32, awkward),
        ops.tools_venv_script(awkward + "\\python.exe", awkward,
                              ["delvewheel==1.11.2 --hash=sha256:" + "0e" * 32, "x==1 '$y'"]),
        VenvPackages().command(venv=awkward).get_raw_value(),
        WindowsKernel().command().get_raw_value(),
        ops.wheelhouse_script(awkward + "\\python.exe", awkward, "2.7", ["win32", "win_amd64"],
                              ["setuptools==44.1.1 --hash=sha256:" + "27" * 32, "x==1 '$y'"]),
        WindowsWheelhouseFiles().command(path=awkward).get_raw_value(),
    ]
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    for script in scripts:
        assert script.startswith("# wheelfleet: ")
        assert not parser.parse(script.encode()).root_node.has_error, script
    broken = scripts[1].replace("\n}\n", "\n", 1)
    assert parser.parse(broken.encode()).root_node.has_error
    house = scripts[4].replace("@('--platform', $platform) }", "@('--platform', $platform)", 1)
    assert parser.parse(house.encode()).root_node.has_error
