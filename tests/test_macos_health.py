"""The macOS health check: its plan, the agent's host mode, the controller's side.

There is no Mac here.  Every test says its proof level in its docstring:

- **unit**: the code runs for real here on real inputs (the real matrix, real interpreters,
  real zip files, real Mach-O files made with clang-14/ld64.lld-14/llvm-lipo-14, real pip and
  gcc builds), with the Mac-only tools (``/usr/bin/arch``, ``lipo``, ``sysctl``, delocate)
  replaced by labelled stand-ins where a test needs them to run at all;
- **spec**: commands and arguments are compared with what they must be; nothing runs.

Nothing here proves that a Mac builds, repairs or imports the canary.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from wheelfleet.canary import CANARY_INPUT, expected_digest, project_dir
from wheelfleet.health import agent
from wheelfleet.health.macos_plan import (
    TOOLS_VENV,
    build_plan,
    planned_cells,
    tools_python,
)
from wheelfleet.health.records import from_node
from wheelfleet.matrix import load_matrix
from wheelfleet.matrix.query import build_requirements_for, describe
from wheelfleet.platforms import platform
from wheelfleet.platforms.base import Platform
from wheelfleet.report.schema import validate_check
from wheelfleet.selection import Selection, select_for_host

sys.path.insert(0, str(Path(__file__).parent / "wheelcheck"))

from wheelcheck_builders import Toolchain, ToolMissing, make_wheel  # noqa: E402

AGENT = Path(agent.__file__)
FRAMEWORK = "/Library/Frameworks/Python.framework/Versions"


def mac(data: dict, overlay: str | None = None, tmp_path: Path | None = None) -> Selection:
    matrix = None
    if overlay is not None:
        assert tmp_path is not None
        path = tmp_path / "overlay.yaml"
        path.write_text(textwrap.dedent(overlay))
        matrix = load_matrix(path)
    return select_for_host("mac-1", ["macos"], data, "fleet.py", matrix=matrix)


# --- the plan -------------------------------------------------------------------------------


def test_one_check_per_python_and_arch_with_the_matrix_targets_and_tags():
    """unit: the plan built from the real matrix; its tags agree with `wheelfleet matrix show`
    wherever the OpenSSL floor is not the higher one (3.12: 10.13 > 10.12; 3.14: 10.15)."""
    sel = mac({"pythons": ["3.12", "3.14"], "arches": ["x86_64", "arm64", "universal2"]})
    plan = build_plan(sel)
    got = {(c["python"], c["arch"]): c for c in plan["checks"]}
    assert list(got) == [("3.12", "x86_64"), ("3.12", "arm64"), ("3.12", "universal2"),
                         ("3.14", "x86_64"), ("3.14", "arm64"), ("3.14", "universal2")]
    u2 = got[("3.12", "universal2")]
    assert u2 == {"image": "macos", "digest": None, "python": "3.12", "arch": "universal2",
                  "variant": "default", "interpreter": f"{FRAMEWORK}/3.12/bin/python3.12",
                  "archs": ["x86_64", "arm64"], "deployment_target": "10.13",
                  "plat": "macosx_10_13_universal2", "abi_tag": "cp312",
                  "wheel_tag": "cp312-cp312-macosx_10_13_universal2", "install": "venv",
                  "maxunicode": None,
                  "build_requirements": ["setuptools==80.9.0", "wheel==0.45.1"]}
    assert got[("3.12", "arm64")]["plat"] == "macosx_11_0_arm64"
    assert got[("3.12", "arm64")]["deployment_target"] == "11.0"
    assert got[("3.14", "x86_64")]["plat"] == "macosx_10_15_x86_64"
    for (py, arch), check in got.items():
        shown = describe(sel.matrix, py, "macos", arch)["arches"][0]["wheel_tag"]
        assert check["wheel_tag"] == shown
    assert json.loads(json.dumps(plan)) == plan  # what the role uploads


def test_planned_cells_have_the_shape_every_platform_plans():
    """unit: the cells are the plan's own checks, in the shape base.Platform plans today."""
    sel = mac({"pythons": ["3.13", "3.13t"], "arches": ["arm64", "universal2"]})
    assert planned_cells(sel) == Platform.planned_cells(platform("macos"), sel)
    assert planned_cells(sel)[0] == {"image": "macos", "python": "3.13", "arch": "arm64",
                                     "variant": "default"}
    free = [c for c in build_plan(sel)["checks"] if c["python"] == "3.13t"]
    assert {c["interpreter"] for c in free} == {
        "/Library/Frameworks/PythonT.framework/Versions/3.13/bin/python3.13t"}
    assert {c["wheel_tag"].rsplit("-", 1)[0] for c in free} == {"cp313-cp313t"}


def test_the_wide_2_7_comes_from_pyenv_and_is_checked_wide():
    """unit: the pyenv 2.7 check: its interpreter under the host's pyenv_root, the wide
    build demanded (maxunicode 1114111, cp27mu), no venv module so a --target install, and
    a deployment target raised to the universal OpenSSL's x86_64 floor (10.12 > 2.7's 10.9)."""
    sel = mac({"pythons": ["2.7"], "arches": ["x86_64"], "pyenv_root": "/opt/custom/pyenv"})
    (check,) = build_plan(sel)["checks"]
    assert check["interpreter"] == "/opt/custom/pyenv/versions/2.7.18/bin/python"
    assert check["maxunicode"] == 1114111 and check["install"] == "target"
    assert check["deployment_target"] == "10.12"
    assert check["wheel_tag"] == "cp27-cp27mu-macosx_10_12_x86_64"


def test_a_higher_openssl_floor_raises_the_target_and_the_tag(tmp_path):
    """unit: a matrix overlay whose OpenSSL is built for 10.15 on x86_64: the wheel must not
    claim an older macOS than its statically linked libcrypto (arm64 stays at 11.0)."""
    sel = mac({"pythons": ["3.12"], "arches": ["x86_64", "arm64", "universal2"]},
              overlay="""
              macos:
                openssl:
                  min_macos: {x86_64: "10.15", arm64: "11.0"}
              """, tmp_path=tmp_path)
    tags = [c["plat"] for c in build_plan(sel)["checks"]]
    assert tags == ["macosx_10_15_x86_64", "macosx_11_0_arm64", "macosx_10_15_universal2"]


def test_settings_and_pins_flow_into_the_plan(tmp_path):
    """unit: typed settings (timeouts, parallelism, directories) and the matrix's delocate pin
    and canary build requirements, as the agent will read them."""
    sel = mac({"pythons": ["3.12"], "arches": ["arm64"], "health_timeout": 300,
               "health_parallel": 3, "work_dir": "/private/var/tmp/wf",
               "openssl_root": "/opt/ssl", "cache_dir": "/Library/Caches/wf"},
              overlay="""
              tools:
                delocate: {version: "0.12.0", platform: macos}
              """, tmp_path=tmp_path)
    plan = build_plan(sel)
    assert plan["kind"] == "host" and plan["tools_venv"] == TOOLS_VENV
    assert plan["delocate_version"] == "0.12.0"
    assert plan["openssl_prefix"] == "/opt/ssl/current"
    assert plan["wheelhouse"] == "/Library/Caches/wf/wheelhouse"
    assert plan["work_dir"] == "/private/var/tmp/wf"
    assert plan["keep_dir"] == "/private/var/tmp/wf/kept-wheels"
    assert plan["checks"][0]["build_requirements"] == ["setuptools==80.9.0", "wheel==0.45.1"]
    assert plan["parallel"] == 3 and plan["timeout"] == 300
    assert plan["timeouts"] == {"interpreter": 120, "build": 300, "repair": 300,
                                "install": 300, "import": 300}
    assert plan["input"] == CANARY_INPUT.decode() and plan["expected"] == expected_digest()


@pytest.mark.parametrize("pythons,expected", [
    (["3.12", "3.14", "3.13t"], f"{FRAMEWORK}/3.14/bin/python3.14"),
    (["2.7", "3.13t"], "/usr/bin/python3"),  # no python.org Python with the GIL selected
])
def test_the_tools_venv_python(pythons, expected):
    """unit: the newest selected python.org Python with the GIL runs delocate, else the
    Command Line Tools' /usr/bin/python3."""
    assert tools_python(mac({"pythons": pythons, "arches": ["x86_64"]})) == expected


# --- the agent's host mode: commands ----------------------------------------------------------


def host_plan(tmp_path: Path, **overrides: object) -> dict:
    plan = {"kind": "host", "work_dir": str(tmp_path / "work"), "keep_dir": str(tmp_path / "kept"),
            "canary_dir": str(project_dir()), "wheelhouse": "/Library/Caches/wheelfleet/wheelhouse",
            "openssl_prefix": "/opt/wheelfleet/openssl/current", "tools_venv": TOOLS_VENV,
            "delocate_version": "0.13.0", "input": CANARY_INPUT.decode(),
            "expected": expected_digest(), "parallel": 2, "timeout": 600, "checks": []}
    plan.update(overrides)
    return plan


def plan_check(python: str = "3.12", arch: str = "universal2") -> dict:
    sel = mac({"pythons": [python], "arches": [arch]})
    return build_plan(sel)["checks"][0]


def test_universal2_build_repair_install_and_import_commands(tmp_path):
    """spec: what the agent runs for a universal2 check (nothing runs)."""
    plan, check, out = host_plan(tmp_path), plan_check(), "/w/c"
    py = f"{FRAMEWORK}/3.12/bin/python3.12"
    assert agent.build_commands(plan, check, out) == [
        [py, "-m", "pip", "install", "--no-index", "--find-links",
         "/Library/Caches/wheelfleet/wheelhouse", "--target", "/w/c/bdeps",
         "setuptools==80.9.0", "wheel==0.45.1"],
        [py, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation", "--no-index", "-w",
         "/w/c/dist", "/w/c/src"]]
    env = agent.build_env(plan, check, "/w/c/bdeps")
    assert {k: env[k] for k in ("ARCHFLAGS", "MACOSX_DEPLOYMENT_TARGET", "_PYTHON_HOST_PLATFORM",
                                "CFLAGS", "LDFLAGS", "PYTHONPATH", "PIP_NO_INDEX")} == {
        "ARCHFLAGS": "-arch x86_64 -arch arm64", "MACOSX_DEPLOYMENT_TARGET": "10.13",
        "_PYTHON_HOST_PLATFORM": "macosx-10.13-universal2",
        "CFLAGS": "-I/opt/wheelfleet/openssl/current/include",
        "LDFLAGS": "-L/opt/wheelfleet/openssl/current/lib", "PYTHONPATH": "/w/c/bdeps",
        "PIP_NO_INDEX": "1"}
    assert agent.repair_command(plan, check, "/w/c/dist/c.whl", out) == [
        f"{TOOLS_VENV}/bin/delocate-wheel", "--require-archs", "x86_64,arm64", "-w",
        "/w/c/wheelhouse", "-v", "/w/c/dist/c.whl"]
    assert agent.install_commands(plan, check, "/w/c/wheelhouse/c.whl", out) == [
        [py, "-m", "venv", "/w/c/venv"],
        ["/w/c/venv/bin/python", "-m", "pip", "install", "--no-index", "--no-deps",
         "/w/c/wheelhouse/c.whl"]]
    assert agent.import_command(plan, check, "x86_64", out) == [
        "/usr/bin/arch", "-x86_64", "/w/c/venv/bin/python", "-c", agent.IMPORT,
        CANARY_INPUT.decode()]


def test_a_one_arch_check_runs_every_step_as_that_arch(tmp_path):
    """spec: an x86_64 check runs its interpreter under `arch -x86_64` (Rosetta on an arm64
    Mac) and builds one slice for 10.13."""
    plan, check = host_plan(tmp_path), plan_check(arch="x86_64")
    build = agent.build_commands(plan, check, "/w/c")
    assert all(cmd[:2] == ["/usr/bin/arch", "-x86_64"] for cmd in build)
    assert agent.install_commands(plan, check, "/w/c/x.whl", "/w/c")[0][:2] == [
        "/usr/bin/arch", "-x86_64"]
    env = agent.build_env(plan, check, "/w/c/bdeps")
    assert env["ARCHFLAGS"] == "-arch x86_64"
    assert env["_PYTHON_HOST_PLATFORM"] == "macosx-10.13-x86_64"
    assert agent.repair_command(plan, check, "w.whl", "/w/c")[1:3] == ["--require-archs",
                                                                      "x86_64"]


def test_the_2_7_install_goes_into_a_fresh_target_dir(tmp_path):
    """spec: CPython 2.7 has no venv module: install with --target, import with -s and that
    directory on PYTHONPATH."""
    plan, check = host_plan(tmp_path), plan_check("2.7", "x86_64")
    py = "/opt/wheelfleet/pyenv/versions/2.7.18/bin/python"
    assert agent.install_commands(plan, check, "/w/c/x.whl", "/w/c") == [
        ["/usr/bin/arch", "-x86_64", py, "-m", "pip", "install", "--no-index", "--no-deps",
         "--target", "/w/c/site", "/w/c/x.whl"]]
    assert agent.installed_python(check, "/w/c") == ([py, "-s"], {"PYTHONPATH": "/w/c/site"})


def test_host_commands_inherit_nothing_that_changes_a_build(monkeypatch):
    """unit: a stray DYLD_*, PYTHON* or CFLAGS in the agent's environment never reaches a step."""
    for key in ("DYLD_LIBRARY_PATH", "PYTHONPATH", "CFLAGS", "ARCHFLAGS", "PIP_INDEX_URL"):
        monkeypatch.setenv(key, "/evil")
    env = agent.host_env()
    assert not {"DYLD_LIBRARY_PATH", "PYTHONPATH", "CFLAGS", "ARCHFLAGS",
                "PIP_INDEX_URL"} & set(env)
    assert env["PIP_NO_INDEX"] == "1" and env["PATH"]


# --- the agent's host mode: interpreter, validate, diagnoses ----------------------------------


def local_pythons() -> list[str]:
    """This machine's Python, and a real CPython 2.7 binary if one is installed (pyenv's
    shims need pyenv's own environment: the binary itself is taken)."""
    candidates = [str(p) for p in sorted(Path.home().glob(".pyenv/versions/2.7*/bin/python2.7"))]
    candidates += [p for p in (shutil.which("python2.7"),) if p and "/shims/" not in p]
    return [sys.executable] + candidates[:1]


@pytest.mark.parametrize("python", local_pythons())
def test_the_probe_runs_under_real_interpreters(python):
    """unit: the probe the agent hands a check's interpreter, run by this machine's Python and
    (where one is installed here) a CPython 2.7: it must parse under both."""
    code, out = agent.run([python, "-c", agent.PROBE], 60, env=agent.host_env())
    assert code == 0, out
    info = agent.probe_info(out)
    assert info is not None and info["maxunicode"] == 1114111
    assert info["python"].count(".") == 2 and info["platform"] and "SOABI" in info["build_flags"]


def test_a_narrow_interpreter_or_a_missing_slice_fails_the_interpreter_step():
    """unit: the interpreter verdicts, on probe answers in the agent's own format."""
    check = plan_check("2.7", "x86_64")
    narrow = {"maxunicode": 65535, "pip": "20.3.4"}
    assert agent.interpreter_problem(check, narrow, 0, "x86_64\n") == (
        "interpreter is narrow (UCS-2): sys.maxunicode 65535, expected 1114111 for cp27mu")
    u2 = plan_check()
    wide = {"maxunicode": 1114111, "pip": "25.0"}
    assert agent.interpreter_problem(u2, wide, 0, "x86_64\n") == (
        "interpreter has no arm64 slice (lipo -archs: x86_64)")
    assert agent.interpreter_problem(u2, wide, 1, "fatal error: lipo: can't open file") == (
        "lipo -archs could not read the interpreter (exit 1): fatal error: lipo: can't open file")
    assert agent.interpreter_problem(u2, {"maxunicode": 1114111, "pip": None}, 0,
                                     "x86_64 arm64") == (
        "the interpreter has no pip: the build and install steps need it")
    assert agent.interpreter_problem(u2, wide, 0, "x86_64 arm64\n") is None


def test_interpreter_slices_are_read_with_a_real_lipo_from_real_mach_o(tmp_path):
    """unit: real Mach-O binaries (clang-14 + ld64.lld-14, fused by llvm-lipo-14) read by the
    agent through a real lipo (llvm-lipo-14 stands in for Apple's, same -archs output)."""
    chain = Toolchain(tmp_path)
    try:
        thin = chain.macho_ext("x86_64", "10.13")
        fat = chain.lipo("fat", thin, chain.macho_ext("arm64", "11.0"))
    except ToolMissing as err:
        pytest.skip(f"{err} is not installed here")
    wide = {"maxunicode": 1114111, "pip": "25.0"}
    for binary, problem in ((fat, None),
                            (thin, "interpreter has no arm64 slice (lipo -archs: x86_64)")):
        code, out = agent.run(["llvm-lipo-14", "-archs", str(binary)], 30)
        assert agent.interpreter_problem(plan_check(), wide, code, out) == problem, out


def write_wheel(directory: Path, name: str, members: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


CANARY_WHEEL = "wheelfleet_canary-1.0.0-cp312-cp312-{}.whl"
MEMBERS = {"wheelfleet_canary.cpython-312-darwin.so": b"\xcf\xfa\xed\xfe",
           "wheelfleet_canary.dylibs/libz.1.dylib": b"\xcf\xfa\xed\xfe",
           "wheelfleet_canary-1.0.0.dist-info/WHEEL": b"Wheel-Version: 1.0\n"}


@pytest.mark.parametrize("plat,problem", [
    ("macosx_10_13_universal2", None),
    ("macosx_11_0_universal2", "repaired wheel {} is tagged macosx_11_0_universal2, not "
     "macosx_10_13_universal2: a binary in it needs another macOS than the deployment target"),
    ("macosx_10_13_x86_64", "repaired wheel {} is not tagged macosx_10_13_universal2"),
])
def test_validate_reads_the_repaired_wheel(tmp_path, plat, problem):
    """unit: real wheel files (zip) in the repaired-wheel directory, against the plan's tag;
    delocate renaming the wheel for a newer macOS is named as such."""
    name = CANARY_WHEEL.format(plat)
    write_wheel(tmp_path, name, MEMBERS)
    info, found = agent.validate_repaired(str(tmp_path), plan_check()["wheel_tag"])
    assert info == {"wheel": name, "bundled_libs": ["wheelfleet_canary.dylibs/libz.1.dylib"]}
    assert found == (problem.format(name) if problem else None)


def test_validate_refuses_another_abi_none_several_and_unreadable_wheels(tmp_path):
    """unit: the other ways a repaired-wheel directory can be wrong, on real files."""
    tag = plan_check()["wheel_tag"]
    write_wheel(tmp_path / "abi", "c-1.0-cp312-abi3-macosx_10_13_universal2.whl", MEMBERS)
    assert agent.validate_repaired(str(tmp_path / "abi"), tag)[1] == (
        "repaired wheel c-1.0-cp312-abi3-macosx_10_13_universal2.whl is not tagged "
        "cp312-cp312 (the interpreter built another ABI)")
    (tmp_path / "none").mkdir()
    assert agent.validate_repaired(str(tmp_path / "none"), tag)[1] == (
        "expected one repaired wheel, found 0")
    assert agent.validate_repaired(str(tmp_path / "absent"), tag)[1] == (
        "no repaired wheel: No such file or directory")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / CANARY_WHEEL.format("macosx_10_13_universal2")).write_bytes(b"PK\x03\x04 cut")
    assert agent.validate_repaired(str(bad), tag)[1].startswith(
        f"repaired wheel {CANARY_WHEEL.format('macosx_10_13_universal2')} is unreadable")


@pytest.mark.parametrize("step,output,code,expected", [
    # /usr/bin/arch on an arm64 Mac without Rosetta 2 (its posix_spawnp error text).
    ("interpreter", "arch: posix_spawnp: /Library/Frameworks/Python.framework/Versions/3.12/"
     "bin/python3.12: Bad CPU type in executable", 1,
     "cannot execute x86_64 code on this arm64 Mac: Rosetta 2 is not installed (converge the "
     "host: macos_base)"),
    ("build", "xcrun: error: invalid active developer path (/Library/Developer/CommandLineTools),"
     " missing xcrun at: /Library/Developer/CommandLineTools/usr/bin/xcrun", 1,
     "Xcode Command Line Tools missing: no compiler (converge the host: macos_base)"),
    ("build", "src/canary.c:6:10: fatal error: 'openssl/crypto.h' file not found", 1,
     "OpenSSL headers missing from the universal OpenSSL (converge the host: macos_openssl)"),
    ("build", "ld: library not found for -lcrypto\nclang: error: linker command failed", 1,
     "libcrypto missing from the universal OpenSSL: link failed (converge the host: "
     "macos_openssl)"),
    ("build", "ld: warning: ignoring file '/opt/wheelfleet/openssl/current/lib/libcrypto.a[2]"
     "(a.o)': found architecture 'x86_64', required architecture 'arm64'", 1,
     "libcrypto.a has no slice for an arch being built: the OpenSSL is not universal"),
    ("build", "ERROR: Ignored the following versions that require a different python version: "
     "80.9.0 Requires-Python >=3.9", 1,
     "the wheelhouse's pinned build requirements do not support this Python (Requires-Python)"),
    # delocate 0.13's own messages (delocate/delocating.py).
    ("repair", "delocate.libsana.DelocationError: Some missing architectures in wheel\n"
     "Required arch arm64 missing from wheelfleet_canary.cpython-312-darwin.so", 1,
     "a binary in the wheel lacks an arch slice its tag claims (delocate --require-archs)"),
    ("repair", "delocate.libsana.DelocationError: Library dependencies do not satisfy target "
     "MacOS version 10.13:", 1,
     "a library in the wheel needs a newer macOS than the deployment target (delocate)"),
    ("repair", "[Errno 2] No such file or directory: '/opt/wheelfleet/tools/bin/delocate-wheel'",
     127, "delocate missing from the tools venv (converge the host: macos_health)"),
    ("install", "ERROR: wheelfleet_canary-1.0.0-cp312-cp312-macosx_10_13_x86_64.whl is not a "
     "supported wheel on this platform.", 1,
     "the installing interpreter does not accept the wheel's tag (arch or macOS version)"),
    ("import", "ImportError: dlopen(/w/venv/lib/python3.12/site-packages/wheelfleet_canary."
     "cpython-312-darwin.so, 0x0002): tried: '...' (mach-o file, but is an incompatible "
     "architecture (have 'x86_64', need 'arm64'))", 1,
     "the extension has no slice for the arch it was imported under"),
    ("import", "ImportError: dlopen(...): Symbol not found: _EVP_Digest", 1,
     "the extension needs a symbol this macOS does not provide (built for a newer macOS, or a "
     "library left out)"),
    ("build", "OSError: [Errno 28] No space left on device", 1, "disk full in the work directory"),
    ("build", "", 124, "build step timed out"),
])
def test_host_diagnoses(step, output, code, expected):
    """unit: macOS failure output in its tools' real message formats -> one-line diagnosis;
    the general diagnoses still apply after the macOS ones."""
    assert agent.diagnose(step, output, code, agent.HOST_DIAGNOSES) == expected


def test_the_container_diagnoses_are_unchanged_by_the_host_ones():
    """unit: Linux checks keep their own patterns (the default)."""
    assert agent.diagnose("build", "fatal error: openssl/evp.h: No such file or directory", 1) \
        == "OpenSSL headers missing in the image"


# --- the agent's host mode: running checks (stand-ins for the Mac-only tools) -----------------


def stand_in(path: Path, body: str) -> str:
    """A labelled test double for a Mac-only tool: a small shell script."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n# test stand-in for a macOS tool\n" + body)
    path.chmod(0o755)
    return str(path)


# /usr/bin/arch stand-in: logs the arch it was asked for, then runs the command as is.
ARCH = 'echo "$1" >> "$(dirname "$0")/arch.log"\nshift\nexec "$@"\n'


def test_an_arm64_check_on_an_intel_mac_is_not_run(tmp_path):
    """unit: nothing can execute an arm64 slice on an x86_64 Mac: not-run, saying so, before
    anything is built."""
    check = plan_check("3.12", "arm64")
    record = agent.check_one(host_plan(tmp_path), check, node={"arch": "x86_64"})
    assert record["status"] == "not-run"
    assert record["reason"] == "arm64 slice not executable on this node (an x86_64 Mac)"
    assert not (tmp_path / "work").exists()


def test_import_runs_under_each_arch_the_wheel_claims(tmp_path):
    """unit: the import step, for real through a stand-in `arch` and a stand-in installed
    Python that answers like the canary: each claimed arch in turn, the answer checked."""
    tools = {"arch": stand_in(tmp_path / "bin/arch", ARCH)}
    plan = host_plan(tmp_path, tools=tools)
    out_dir = tmp_path / "c"
    answer = f'echo {expected_digest()}\necho "OpenSSL 3.0.15 3 Sep 2024"\n'
    stand_in(out_dir / "venv/bin/python", answer)
    record = agent.new_record(plan_check())
    assert agent.import_each(plan, plan_check(), str(out_dir), ["x86_64", "arm64"], 30,
                             record) is None
    assert (tmp_path / "bin/arch.log").read_text().split() == ["-x86_64", "-arm64"]
    assert record["answer"] == expected_digest()
    assert record["versions"] == {"openssl_bundled": "OpenSSL 3.0.15 3 Sep 2024",
                                  "imported_under": "x86_64 arm64"}

    stand_in(out_dir / "venv/bin/python", "echo 0000\n")
    code, _, why = agent.import_each(plan, plan_check(), str(out_dir), ["x86_64"], 30,
                                     agent.new_record(plan_check()))
    assert (code, why) == (0, "wrong answer from the canary under x86_64: '0000'")


def test_an_x86_64_import_without_rosetta_is_named(tmp_path):
    """unit: `arch -x86_64` on an arm64 Mac without Rosetta 2 (stand-in printing arch's own
    error): the import fails under x86_64 with the cause."""
    no_rosetta = ('[ "$1" = -x86_64 ] && { echo "arch: posix_spawnp: $2: Bad CPU type in '
                  'executable" >&2; exit 1; }\nshift\nexec "$@"\n')
    plan = host_plan(tmp_path, tools={"arch": stand_in(tmp_path / "bin/arch", no_rosetta)})
    stand_in(tmp_path / "c/venv/bin/python", f"echo {expected_digest()}\n")
    failure = agent.import_each(plan, plan_check(), str(tmp_path / "c"), ["arm64", "x86_64"],
                                30, agent.new_record(plan_check()))
    assert failure is not None and failure[0] == 1
    assert failure[2] == ("under x86_64: cannot execute x86_64 code on this arm64 Mac: Rosetta 2 "
                          "is not installed (converge the host: macos_base)")


def test_the_node_probe(tmp_path):
    """unit: the node's arch from sysctl (an agent under Rosetta still sees arm64), compiler
    and delocate versions; stand-ins for sysctl and the tools venv, this machine's gcc as cc."""
    venv = tmp_path / "tools"
    stand_in(venv / "bin/python", "echo 0.13.0\n")
    tools = {"sysctl": stand_in(tmp_path / "bin/sysctl", "echo 1\n"), "cc": "gcc"}
    node = agent.host_node(host_plan(tmp_path, tools=tools, tools_venv=str(venv)))
    assert node["arch"] == "arm64" and node["delocate"] == "0.13.0"
    assert node["clang"] and node["clang"].startswith("gcc")
    tools = {"sysctl": stand_in(tmp_path / "bin/sysctl", "exit 1\n"), "cc": "/nonexistent/cc"}
    node = agent.host_node(host_plan(tmp_path, tools=tools, tools_venv="/nonexistent"))
    assert node["arch"] == "x86_64" and node["clang"] is None and node["delocate"] is None


@pytest.fixture(scope="module")
def canary_wheelhouse() -> Path:
    """The canary's pinned build requirements, downloaded once by pip into the user's cache
    (what roles/macos_health's wheelhouse operation does on a Mac)."""
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    reqs = build_requirements_for(load_matrix().canary_build_requirements, python)
    cache = Path.home() / ".cache/wheelfleet/canary-wheelhouse"
    cache.mkdir(parents=True, exist_ok=True)
    if len(list(cache.glob("*.whl"))) < len(reqs):
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                               "--only-binary=:all:", "--disable-pip-version-check", "-d",
                               str(cache), *reqs], capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            pytest.skip(f"pip could not download {' '.join(reqs)}: {proc.stdout[-200:]}")
    return cache


# delocate-wheel stand-in: logs its arguments and copies the wheel into -w.  It renames a
# universal2 wheel to this Linux machine's tag (so that pip here can install and import it);
# any other wheel keeps its macOS name.  No Mach-O is involved: the build here made an ELF.
DELOCATE = """\
echo "$@" >> "$(dirname "$0")/delocate.log"
while [ $# -gt 1 ]; do [ "$1" = -w ] && out=$2; shift; done
name=$(basename "$1" | sed 's/macosx_10_13_universal2/linux_x86_64/')
mkdir -p "$out" && cp "$1" "$out/$name"
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine != "x86_64",
                    reason="the stand-in retags to linux_x86_64")
def test_host_checks_end_to_end_with_stand_ins_for_the_mac_tools(tmp_path, canary_wheelhouse):
    """unit: the agent (as the fact runs it: `python3 agent.py plan.json`) runs host-mode checks
    with this machine's Python as the interpreter: a real probe, a real offline pip build of the
    real canary with gcc (the macOS build environment is set but gcc ignores ARCHFLAGS), a real
    venv and install, a real import and call of libcrypto.  Stand-ins: `arch` (runs the command
    as is), `lipo` (answers "x86_64 arm64"), `sysctl`, and delocate (copies; renames the
    universal2 wheel to linux_x86_64 so pip here accepts it).  Proves the step sequencing,
    records and kept wheels; says nothing about a Mac's compiler, delocate or dyld."""
    bin_dir = tmp_path / "bin"
    venv = tmp_path / "tools"
    stand_in(venv / "bin/python", "echo 0.13.0\n")
    stand_in(venv / "bin/delocate-wheel", DELOCATE)
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    cp = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    u2 = dict(plan_check("3.12", "universal2"), python=python, interpreter=sys.executable,
              wheel_tag=f"{cp}-{cp}-linux_x86_64")
    x86 = dict(plan_check("3.12", "x86_64"), python=python, interpreter=sys.executable,
               wheel_tag=f"{cp}-{cp}-macosx_10_13_x86_64")
    arm = dict(plan_check("3.12", "arm64"), python=python, interpreter=sys.executable)

    def run_agent(sysctl: str, checks: list[dict]) -> list[dict]:
        tools = {"arch": stand_in(bin_dir / "arch", ARCH), "cc": "gcc",
                 "lipo": stand_in(bin_dir / "lipo", "echo x86_64 arm64\n"),
                 "sysctl": stand_in(bin_dir / "sysctl", f"echo {sysctl}\n")}
        plan = host_plan(tmp_path, tools=tools, tools_venv=str(venv), openssl_prefix="/usr",
                         wheelhouse=str(canary_wheelhouse), timeout=300, checks=checks)
        (tmp_path / "plan.json").write_text(json.dumps(plan))
        proc = subprocess.run([sys.executable, str(AGENT), str(tmp_path / "plan.json")],
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    # An arm64 Mac: the universal2 check passes under both arches; the x86_64 wheel keeps its
    # macOS tag, so pip on this Linux machine refuses it: a real install failure, diagnosed.
    passed, refused = run_agent("1", [u2, x86])
    assert passed["status"] == "passed", passed
    assert passed["answer"] == expected_digest()
    assert passed["versions"]["imported_under"] == "x86_64 arm64"
    assert passed["versions"]["node_arch"] == "arm64"
    assert passed["versions"]["delocate"] == "0.13.0"
    assert passed["wheel"] == f"wheelfleet_canary-1.0.0-{cp}-{cp}-linux_x86_64.whl"
    assert passed["wheel_path"] == str(tmp_path / f"kept/macos/{python}-universal2-default.whl")
    assert Path(passed["wheel_path"]).is_file()
    assert refused["status"] == "failed" and refused["step"] == "install", refused
    assert refused["diagnosis"] == ("the installing interpreter does not accept the wheel's tag "
                                    "(arch or macOS version)")
    delocated = (venv / "bin/delocate.log").read_text().splitlines()
    assert sorted(line.split()[:2] for line in delocated) == [
        ["--require-archs", "x86_64"], ["--require-archs", "x86_64,arm64"]]

    # An Intel Mac: nothing of an arm64 check runs; a universal2 check runs all it can and is
    # not-run for its arm64 slice.
    skipped, partial = run_agent("0", [arm, u2])
    assert skipped["status"] == "not-run"
    assert skipped["reason"] == "arm64 slice not executable on this node (an x86_64 Mac)"
    assert partial["status"] == "not-run" and partial["answer"] == expected_digest()
    assert partial["reason"] == ("arm64 slice not executable on this node (an x86_64 Mac); "
                                 "built, repaired, installed and imported under x86_64 with "
                                 "the right answer")

    # The controller's shaping takes every record as a schema-valid check (or raises).
    for record in (passed, refused, skipped, partial):
        from_node(record, "mac-1")


# --- the controller: agent_checks for a macOS host --------------------------------------------


class FakeHost:
    """Stands in for pyinfra's host object: the agent's answer as the fact would return it, and
    get_file copying a local wheel as if fetched from the Mac."""

    name = "mac-1"

    def __init__(self, answer: dict, wheels: dict[str, Path]):
        self.answer, self.wheels, self.facts = answer, wheels, []

    def get_fact(self, fact, **kwargs):
        self.facts.append((fact.__name__, kwargs))
        return self.answer

    def get_file(self, remote: str, local: str) -> bool:
        shutil.copyfile(self.wheels[remote], local)
        return True


def test_agent_checks_for_a_mac_judges_its_wheels_with_wheelcheck(tmp_path):
    """unit: the controller side for a macOS host, with no container engine: the agent's
    records (as a Mac would print them) become schema-valid checks, each repaired wheel is
    judged by wheelcheck: a real universal2 Mach-O wheel passes, one missing its arm64 slice
    fails at validate; the tool versions are reported; the read's time budget is per batch."""
    chain = Toolchain(tmp_path / "chain")
    try:
        x86 = chain.macho_ext("x86_64", "10.13")
        fat = chain.lipo("fat", x86, chain.macho_ext("arm64", "11.0"))
    except ToolMissing as err:
        pytest.skip(f"{err} is not installed here")
    tag = "cp312-cp312-macosx_10_13_universal2"
    so = "wheelfleet_canary.cpython-312-darwin.so"
    (tmp_path / "good").mkdir()
    (tmp_path / "thin").mkdir()
    good = make_wheel(tmp_path / "good", tag, {so: fat.read_bytes()}, dist="wheelfleet_canary")
    thin = make_wheel(tmp_path / "thin", tag, {so: x86.read_bytes()}, dist="wheelfleet_canary")
    sel = mac({"pythons": ["3.12", "3.13"], "arches": ["universal2"], "health_timeout": 200})
    cells = planned_cells(sel)
    versions = {"python": "3.12.10", "delocate": "0.13.0", "macos": "14.5", "maxunicode": "1114111",
                "clang": "Apple clang version 15.0.0 (clang-1500.3.9.4)"}
    records = [dict(agent.new_record(dict(c, digest=None)), status="passed", versions=versions,
                    wheel=path.name, wheel_path=f"/kept/{c['python']}.whl",
                    answer=expected_digest())
               for c, path in zip(cells, (good, thin), strict=True)]
    host = FakeHost({"state": "ok", "records": records},
                    {"/kept/3.12.whl": good, "/kept/3.13.whl": thin})
    checks, tools = platform("macos").collect(host, sel)
    assert [c["status"] for c in checks] == ["passed", "failed"], checks
    assert checks[1]["step"] == "validate"
    assert checks[1]["diagnosis"].startswith("wheelcheck: missing-arch-slice"), checks[1]
    for check in checks:
        validate_check(check)
    assert tools == {"delocate (macos)": "0.13.0", "macos (macos)": "14.5",
                     "clang (macos)": "Apple clang version 15.0.0 (clang-1500.3.9.4)"}
    assert [name for name, _ in host.facts] == ["WheelHealthRecords"]  # no engine asked
    assert host.facts[0][1]["_timeout"] == 200 * 1 + 130  # two checks, two at a time


# --- the role ---------------------------------------------------------------------------------


class Recorder:
    """Stands in for pyinfra's operation modules: records each operation call."""

    def __init__(self, calls: list, prefix: str):
        self.calls, self.prefix = calls, prefix

    def __getattr__(self, name: str):
        return lambda **kwargs: self.calls.append((f"{self.prefix}{name}", kwargs))


def test_the_role_uploads_the_plan_and_pins_delocate_as_root(monkeypatch):
    """spec: the operations roles/macos_health calls, with their arguments (nothing runs;
    idempotency is the operations': pyinfra's files/pip and the wheelhouse spec cases)."""
    import importlib

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    role = importlib.import_module("roles.macos_health")
    calls: list = []
    monkeypatch.setattr(role, "files", Recorder(calls, "files."))
    monkeypatch.setattr(role, "wheelhouse", Recorder(calls, "").__getattr__("wheelhouse"))
    monkeypatch.setattr(role, "hashed_packages",
                        Recorder(calls, "").__getattr__("hashed_packages"))
    monkeypatch.setattr(role, "refuse", Recorder(calls, "").__getattr__("refuse"))
    sel = mac({"pythons": ["3.12", "3.13t"], "arches": ["universal2"]})
    role.macos_health.__wrapped__(selection=sel)

    ops = dict(calls)
    assert "refuse" not in ops, ops.get("refuse")  # the shipped matrix locks both sets
    assert all(kwargs.get("_sudo") for _, kwargs in calls)
    uploads = {kwargs["dest"]: kwargs["src"] for op, kwargs in calls if op == "files.put"}
    plan = json.loads(uploads["/opt/wheelfleet/health/plan.json"].getvalue())
    assert plan == json.loads(json.dumps(build_plan(sel)))
    assert uploads["/opt/wheelfleet/health/agent.py"] == str(AGENT)
    assert "/opt/wheelfleet/health/canary/src/canary.c" in uploads
    python = f"{FRAMEWORK}/3.12/bin/python3.12"
    assert {k: ops["wheelhouse"][k] for k in ("path", "python", "download_timeout")} == {
        "path": "/Library/Caches/wheelfleet/wheelhouse", "python": python,
        "download_timeout": None}
    assert "pip.venv" not in ops  # hashed_packages creates its venv with the same Python
    assert ops["hashed_packages"]["create_with"] == python
    assert "delocate==0.13.0" in ops["hashed_packages"]["packages"]
    assert all(len(sha) == 64 for shas in ops["hashed_packages"]["packages"].values()
               for sha in shas)
    assert ops["hashed_packages"]["venv"] == TOOLS_VENV
    assert all("_timeout" in ops[op] for op in ("wheelhouse", "hashed_packages"))


def oldest_local_python3() -> str | None:
    """A CPython 3.9 here, the version of a Mac's /usr/bin/python3 (Command Line Tools)."""
    found = sorted(Path.home().glob(".pyenv/versions/3.9*/bin/python3.9"))
    which = shutil.which("python3.9")
    return str(found[0]) if found else (which if which and "/shims/" not in which else None)


@pytest.mark.skipif(oldest_local_python3() is None, reason="no CPython 3.9 installed here")
def test_the_agent_runs_host_checks_under_python_3_9(tmp_path):
    """unit: the agent itself, started by a real CPython 3.9 (what `python3` is on a Mac with
    the Command Line Tools), over a host plan: an arm64 check on an Intel node is not-run, a
    universal2 check whose interpreter is missing fails at its interpreter step; every record
    is schema-valid.  Stand-in: sysctl (answers "not arm64")."""
    tools = {"sysctl": stand_in(tmp_path / "bin/sysctl", "exit 1\n"), "cc": "gcc"}
    checks = [plan_check("3.12", "arm64"),
              dict(plan_check("3.12", "universal2"), interpreter="/nonexistent/python3.12")]
    plan = host_plan(tmp_path, tools=tools, tools_venv="/nonexistent", checks=checks)
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    proc = subprocess.run([oldest_local_python3(), str(AGENT), str(tmp_path / "plan.json")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    not_run, missing = json.loads(proc.stdout)
    assert not_run["status"] == "not-run", not_run
    assert (missing["status"], missing["step"], missing["exit_code"]) == (
        "failed", "interpreter", 127), missing
    assert missing["diagnosis"] == "interpreter is broken or missing (exit 127)"
    for record in (not_run, missing):
        from_node(record, "mac-1")
