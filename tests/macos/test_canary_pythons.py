"""The canary builds on every Python the matrix lists, with that Python's own build requirements.

Levels, per test:
- **real artifact** (pins): each matrix Python's pinned setuptools and wheel are downloaded by
  pip for that Python (``--python-version``), and each wheel's own Requires-Python admits it.
- **real artifact** (C source): the canary's C compiles with gcc as C89 against the real
  CPython 2.7.18 headers (the matrix's source tarball, tests/macos/py27_builder.py) and
  against this machine's Python 3 headers, default and limited API.
- **real interpreter, Linux** (2.7): the health agent's host mode runs a 2.7 check end to end
  on a real wide CPython 2.7.18 built here: the matrix's 2.7 pins installed offline from a
  wheelhouse, a real ``pip wheel`` (pip 19.2.3) build of the canary with gcc, install into a
  fresh ``--target`` dir, import and call of libcrypto with the right answer, wheel tagged
  ``cp27mu``.  Stand-ins (labelled, as in tests/test_macos_health.py): ``arch`` (runs the
  command as is), ``lipo``, ``sysctl``, delocate (copies; gives the Linux wheel a Linux tag).
  Nothing here runs on a Mac: what clang, ld64, delocate and dyld do there is not proven.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from py27_builder import Py27Error, python27

from wheelfleet.canary import expected_digest, project_dir
from wheelfleet.errors import InputError
from wheelfleet.health.macos_plan import build_plan
from wheelfleet.lab.roots import cache_home
from wheelfleet.matrix import load_matrix
from wheelfleet.matrix.query import build_requirements_for, canary_build_requirements
from wheelfleet.selection import Selection, select_for_host

AGENT = Path(__file__).resolve().parents[2] / "src/wheelfleet/health/agent.py"
CANARY_C = project_dir() / "src/canary.c"


def mac_27(tmp_path: Path) -> Selection:
    """A Mac selecting the wide 2.7 (pyenv's tarball locked by an overlay, as a fleet must)."""
    overlay = tmp_path / "lock.yaml"
    overlay.write_text("macos:\n  pyenv: {sha256: " + "ab" * 32 + "}\n")
    return select_for_host("m1", ["macos"], {"pythons": ["2.7"], "arches": ["x86_64"]},
                           "inv.py", matrix=load_matrix(overlay))


matrix_once = functools.cache(load_matrix)


def pins_wheelhouse(version: str) -> Path:
    """One Python's pins, downloaded by pip for that Python into the user's cache."""
    matrix = matrix_once()
    pins = build_requirements_for(matrix.canary_build_requirements, version)
    cache = cache_home() / "canary-wheelhouse" / version
    cache.mkdir(parents=True, exist_ok=True)
    names = [pin.replace("==", "-") + "-" for pin in pins]
    if not all(any(w.name.startswith(n) for w in cache.glob("*.whl")) for n in names):
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                               "--only-binary=:all:", "--disable-pip-version-check",
                               "--python-version", version, "-d", str(cache), *pins],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-600:] + proc.stderr[-600:]
    return cache


def test_every_matrix_python_gets_one_setuptools_and_one_wheel_pin():
    """unit: the query answers every matrix Python with exactly one pin per project, and the
    Pythons the old pins are for get them (2.7 and 3.3-3.8 cannot run setuptools 80)."""
    matrix = load_matrix()
    for pid in matrix.pythons:
        pins = canary_build_requirements(matrix, pid)
        assert sorted(p.split("==")[0] for p in pins) == ["setuptools", "wheel"], (pid, pins)
    assert canary_build_requirements(matrix, "2.7") == ["setuptools==44.1.1", "wheel==0.37.1"]
    assert canary_build_requirements(matrix, "3.3") == ["setuptools==39.2.0", "wheel==0.30.0"]
    assert canary_build_requirements(matrix, "3.8") == ["setuptools==75.3.2", "wheel==0.45.1"]
    assert canary_build_requirements(matrix, "3.14t") == ["setuptools==80.9.0", "wheel==0.45.1"]


@pytest.mark.parametrize("entries,key,words", [
    (["setuptools>=80"], "[0]", "one exact pin"),
    (["setuptools==80.9.0; sys_platform == 'darwin'"], "[0]", "'sys_platform'"),
    (["setuptools==80.9.0", "setuptools==44.1.1; python_version < '3'"], "[1]", "unreachable"),
    (["setuptools==80.9.0; python_version <"], "[0]", "expected NAME==VERSION"),
])
def test_bad_build_requirement_entries_are_one_line(entries, key, words):
    """unit: an entry the query cannot use names its index and what is wrong."""
    with pytest.raises(InputError) as err:
        build_requirements_for(entries, "3.12.1", "m.yaml")
    line = str(err.value)
    assert "\n" not in line and f"canary.build_requirements{key}" in line and words in line


def test_the_plan_gives_each_check_its_own_python_s_pins(tmp_path):
    """unit: a Mac selecting 2.7 builds its 2.7 check with the 2.7 pins."""
    (check,) = build_plan(mac_27(tmp_path))["checks"]
    assert check["build_requirements"] == ["setuptools==44.1.1", "wheel==0.37.1"]
    assert check["deployment_target"] == "10.12"  # the universal OpenSSL's x86_64 floor


@pytest.mark.slow
def test_each_python_s_pins_download_for_it_and_admit_it():
    """real artifact: pip downloads every Python's pins *for that Python* (it refuses a wheel
    whose tags or Requires-Python exclude it), and each wheel's METADATA admits the Python."""
    matrix = load_matrix()
    for version in sorted({".".join(py.version.split(".")[:2]) for py in matrix.pythons.values()}):
        cache = pins_wheelhouse(version)
        for pin in build_requirements_for(matrix.canary_build_requirements, version):
            (wheel,) = [w for w in cache.glob("*.whl")
                        if w.name.startswith(pin.replace("==", "-") + "-")]
            with zipfile.ZipFile(wheel) as archive:
                meta = next(n for n in archive.namelist()
                            if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
                text = archive.read(meta).decode()
            requires = [line.split(":", 1)[1].strip() for line in text.splitlines()
                        if line.startswith("Requires-Python:")]
            if requires:
                assert SpecifierSet(requires[0]).contains(version + ".0"), (pin, requires)


@pytest.fixture(scope="module")
def py27() -> Path:
    try:
        return python27()
    except Py27Error as err:
        pytest.fail(f"a real CPython 2.7 could not be built here: {err}")


def compile_canary(include: Path, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(["gcc", "-Wall", "-Werror", "-Wdeclaration-after-statement",
                           "-fPIC", "-c", f"-I{include}", *flags, str(CANARY_C),
                           "-o", str(tmp_path / "canary.o")],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_the_c_source_compiles_against_python_2_7_and_3_headers(py27, tmp_path):
    """real artifact: gcc compiles canary.c as strict C89 against the real 2.7.18 headers, and
    against this machine's Python 3 headers (default and limited API)."""
    include = py27.parent.parent / "include/python2.7"
    done = compile_canary(include, tmp_path, "-std=c89", "-pedantic", "-Wno-long-long")
    assert done.returncode == 0, done.stderr
    py3 = Path(subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig."
                               "get_paths()['include'])"], capture_output=True, text=True,
                              check=True).stdout.strip())
    if not (py3 / "Python.h").is_file():
        py3 = Path(f"/usr/include/python{sys.version_info[0]}.{sys.version_info[1]}")
    for flags in ([], ["-DPy_LIMITED_API=0x03080000"]):
        done = compile_canary(py3, tmp_path, *flags)
        assert done.returncode == 0, done.stderr


def stand_in(path: Path, body: str) -> str:
    """A labelled test double for a Mac-only tool: a small shell script."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n# test stand-in for a macOS tool\n" + body)
    path.chmod(0o755)
    return str(path)


# delocate-wheel stand-in: copies the wheel into -w, giving it this Linux machine's tag (the
# build here made an ELF; pip here would refuse a macOS tag).
DELOCATE = """\
while [ $# -gt 1 ]; do [ "$1" = -w ] && out=$2; shift; done
name=$(basename "$1" | sed 's/macosx_[0-9_]*_x86_64/linux_x86_64/')
mkdir -p "$out" && cp "$1" "$out/$name"
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine != "x86_64",
                    reason="the stand-in retags to linux_x86_64")
def test_a_2_7_check_passes_on_a_real_wide_python_2_7(py27, tmp_path):
    """real interpreter (Linux) with stand-ins for the Mac tools: the agent's 2.7 check from
    the real plan, on a real wide CPython 2.7.18 -- the matrix's 2.7 pins from a wheelhouse,
    pip 19's build of the canary, a --target install, the import's answer, a cp27mu wheel."""
    plan = build_plan(mac_27(tmp_path))
    (check,) = plan["checks"]
    check.update(interpreter=str(py27), wheel_tag="cp27-cp27mu-linux_x86_64")
    bin_dir, venv = tmp_path / "bin", tmp_path / "tools"
    stand_in(venv / "bin/python", f"echo {plan['delocate_version']}\n")
    stand_in(venv / "bin/delocate-wheel", DELOCATE)
    plan.update(work_dir=str(tmp_path / "work"), keep_dir=str(tmp_path / "kept"),
                canary_dir=str(project_dir()), wheelhouse=str(pins_wheelhouse("2.7")),
                openssl_prefix="/usr", tools_venv=str(venv), timeout=600,
                tools={"arch": stand_in(bin_dir / "arch", 'shift\nexec "$@"\n'), "cc": "gcc",
                       "lipo": stand_in(bin_dir / "lipo", "echo x86_64\n"),
                       "sysctl": stand_in(bin_dir / "sysctl", "echo 0\n")})
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    proc = subprocess.run([sys.executable, str(AGENT), str(tmp_path / "plan.json")],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    (record,) = json.loads(proc.stdout)
    assert record["status"] == "passed", record
    assert record["answer"] == expected_digest()
    assert record["versions"]["python"] == "2.7.18"
    assert record["versions"]["maxunicode"] == "1114111"
    assert record["wheel"] == "wheelfleet_canary-1.0.0-cp27-cp27mu-linux_x86_64.whl"
    with zipfile.ZipFile(record["wheel_path"]) as wheel:
        generator = wheel.read("wheelfleet_canary-1.0.0.dist-info/WHEEL").decode()
    # Built by the matrix's 2.7 pin of wheel, installed from the wheelhouse offline.
    assert "Generator: bdist_wheel (0.37.1)" in generator, generator
