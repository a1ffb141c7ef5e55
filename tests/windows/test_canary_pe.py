"""The canary as real Windows PE modules, repaired by the pinned delvewheel, judged by wheelcheck.

Proof level: **real artifact** (see ``pe_canary`` for exactly what is real and what stands in:
MSVC's CRT startup and libcrypto are labelled stand-ins; no Windows loads the modules).  Each
module is ``canary.c`` compiled for x86, x64 or arm64 and linked to import one compiler family's
C runtime (VC9 ``MSVCR90.dll``, VC10 ``MSVCR100.dll``, VC14 ``VCRUNTIME140.dll`` +
``api-ms-win-crt-*``), its Python's ``pythonXY.dll`` and libcrypto; delvewheel (the matrix's
pin, run here for real) bundles libcrypto; wheelcheck reads the PE imports from the zip.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pe_canary import ARCHES, LIBCRYPTO, pack_wheel

from wheelfleet.health.windows_plan import python_dll
from wheelfleet.matrix import load_matrix
from wheelfleet.wheelcheck import check_wheel
from wheelfleet.wheelcheck.report import (
    ARCH_MISMATCH,
    EXTERNAL_LIBRARY_NOT_BUNDLED,
    PYTHON_ABI_MISMATCH,
    WINDOWS_CRT_MISMATCH,
)

MATRIX = load_matrix()
# One Python per compiler family, from the matrix: (id, its family, cpXY-ABI tag part).
FAMILY_PYTHON = {"vc9": "2.7", "vc10": "3.4", "vc14": "3.12"}


def tag_of(python: str, arch: str) -> str:
    py = MATRIX.pythons[python]
    assert py.windows is not None
    return f"cp{py.minor.replace('.', '')}-{py.windows.abi_tag}-{ARCHES[arch].platform}"


def cells() -> list[tuple[str, str]]:
    """(arch, family) for every family with a Python on that arch in the matrix."""
    found = []
    for family, python in FAMILY_PYTHON.items():
        py = MATRIX.pythons[python]
        assert py.windows is not None and py.windows.compiler == family
        found += [(arch, family) for arch in ARCHES if arch in py.windows.arches]
    return sorted(set(found))


def repaired(delvewheel: list[str], wheel: Path, dlls: Path, out: Path) -> Path:
    done = subprocess.run([*delvewheel, "repair", "--add-path", str(dlls), "-w", str(out),
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (fixed,) = out.glob("*.whl")
    return fixed


@pytest.mark.parametrize(("arch", "family"), cells())
def test_the_repaired_canary_passes_for_its_own_python(arch, family, build, delvewheel,
                                                         tmp_path):
    """real artifact: the module for ``arch`` with ``family``'s runtime, in a wheel tagged for
    that family's Python, repaired by delvewheel: libcrypto bundled, wheelcheck finds nothing;
    before repair, the one problem is the unbundled libcrypto."""
    python = FAMILY_PYTHON[family]
    built = build(arch, family, python_dll(MATRIX.pythons[python]))
    wheel = pack_wheel(built.module, tag_of(python, arch), tmp_path / "dist")
    before = check_wheel(wheel)
    assert before.codes() == {EXTERNAL_LIBRARY_NOT_BUNDLED}, before.problems
    assert LIBCRYPTO[arch] in before.problems[0].message
    fixed = repaired(delvewheel, wheel, built.libcrypto.parent, tmp_path / "fixed")
    report = check_wheel(fixed)
    assert report.ok, report.problems


@pytest.mark.parametrize("arch", ["x86", "x64"])
def test_another_familys_runtime_fails_with_windows_crt_mismatch(arch, build, tmp_path):
    """real artifact: each family's module packed for every other family's Python: wheelcheck
    says windows-crt-mismatch (and only that: machine and pythonXY.dll are right)."""
    for family, python in FAMILY_PYTHON.items():
        for other in FAMILY_PYTHON:
            if other == family:
                continue
            # Built with the right pythonXY.dll for the tag, the wrong runtime.
            built = build(arch, other, python_dll(MATRIX.pythons[python]))
            directory = tmp_path / f"{family}-{other}"
            wheel = pack_wheel(built.module, tag_of(python, arch), directory)
            report = check_wheel(wheel)
            codes = report.codes() - {EXTERNAL_LIBRARY_NOT_BUNDLED}
            assert codes == {WINDOWS_CRT_MISMATCH}, (family, other, report.problems)


def test_another_arch_fails_with_arch_mismatch(build, tmp_path):
    """real artifact: the x64 module (repaired) in a win32 or win_arm64 wheel, and the arm64 one
    in a win_amd64 wheel: arch-mismatch."""
    py = MATRIX.pythons["3.12"]
    for module_arch, tag_arch in (("x64", "x86"), ("x64", "arm64"), ("arm64", "x64")):
        built = build(module_arch, "vc14", python_dll(py))
        wheel = pack_wheel(built.module, tag_of("3.12", tag_arch), tmp_path / tag_arch)
        report = check_wheel(wheel)
        assert ARCH_MISMATCH in report.codes(), (module_arch, tag_arch, report.problems)


def test_another_pythons_dll_fails_with_python_abi_mismatch(build, delvewheel, tmp_path):
    """real artifact: a module importing python311.dll, repaired, in a cp312 wheel:
    python-abi-mismatch; the same module in a cp311 wheel passes."""
    built = build("x64", "vc14", "python311.dll")
    wrong = repaired(delvewheel, pack_wheel(built.module, tag_of("3.12", "x64"),
                                            tmp_path / "d312"), built.libcrypto.parent,
                     tmp_path / "f312")
    assert check_wheel(wrong).codes() == {PYTHON_ABI_MISMATCH}, check_wheel(wrong).problems
    right = repaired(delvewheel, pack_wheel(built.module, tag_of("3.11", "x64"),
                                            tmp_path / "d311"), built.libcrypto.parent,
                     tmp_path / "f311")
    assert check_wheel(right).ok, check_wheel(right).problems
