"""Windows checks on PE DLLs built here with mingw-w64 gcc and clang-14 + lld-link-14."""

from __future__ import annotations

from pathlib import Path

import pytest
from wheelcheck_builders import (
    EXT_ABI3_SINCE_310_SOURCE,
    EXT_SOURCE,
    EXT_USES_HELPER_SOURCE,
    HELPER_SOURCE,
    limits,
    make_wheel,
)

from wheelfleet.wheelcheck import check_wheel
from wheelfleet.wheelcheck.pe_reader import read_pe
from wheelfleet.wheelcheck.report import (
    ABI3_VIOLATION,
    ARCH_MISMATCH,
    EXTERNAL_LIBRARY_NOT_BUNDLED,
    PYTHON_ABI_MISMATCH,
)


def _only(report, code):
    assert report.codes() == {code}, report.problems
    return [p for p in report.problems if p.code == code]


@pytest.fixture(scope="module")
def amd64_with_helper(toolchain, built) -> tuple[bytes, bytes]:
    """A win_amd64 .pyd importing wf_helper from helper.dll and PyLong_FromLong from python3.dll."""
    helper = built(
        lambda: toolchain.mingw_dll("pe-helper-x64", "x86_64", HELPER_SOURCE, filename="helper.dll")
    )
    python3 = built(lambda: toolchain.python3_dll("x86_64"))
    ext = built(
        lambda: toolchain.mingw_dll("pe-ext-x64", "x86_64", EXT_USES_HELPER_SOURCE, helper, python3)
    )
    return ext.read_bytes(), helper.read_bytes()


def test_fixture_imports_are_what_we_linked(amd64_with_helper) -> None:
    facts = read_pe(amd64_with_helper[0], limits("ext.pyd"))
    assert facts.arch == "x64"
    assert facts.is_dll
    assert {"helper.dll", "python3.dll", "KERNEL32.dll", "msvcrt.dll"} <= set(facts.imports)


def test_amd64_pyd_with_bundled_dll_passes(tmp_path: Path, amd64_with_helper) -> None:
    ext, helper = amd64_with_helper
    files = {"pkg/ext.cp312-win_amd64.pyd": ext, "pkg.libs/helper.dll": helper}
    report = check_wheel(make_wheel(tmp_path, "cp312-cp312-win_amd64", files))
    assert report.ok, report.problems


def test_amd64_pyd_without_its_dll_is_reported(tmp_path: Path, amd64_with_helper) -> None:
    ext, _helper = amd64_with_helper
    wheel = make_wheel(tmp_path, "cp312-cp312-win_amd64", {"pkg/ext.cp312-win_amd64.pyd": ext})
    (problem,) = _only(check_wheel(wheel), EXTERNAL_LIBRARY_NOT_BUNDLED)
    assert problem.message.startswith("imports helper.dll")


def test_i686_dll_in_win_amd64_wheel_is_arch_mismatch(tmp_path: Path, toolchain, built) -> None:
    ext = built(
        lambda: toolchain.mingw_dll(
            "pe-ext-x86", "i686", EXT_SOURCE + "void *PyLong_FromLong(long v) { return 0; }\n"
        )
    )
    wheel = make_wheel(tmp_path, "cp312-cp312-win_amd64", {"pkg/ext.pyd": ext.read_bytes()})
    (problem,) = _only(check_wheel(wheel), ARCH_MISMATCH)
    assert problem.message == "PE machine is x86 but the platform tag allows x64"
    assert check_wheel(
        make_wheel(tmp_path, "cp312-cp312-win32", {"pkg/ext.pyd": ext.read_bytes()})
    ).ok


def test_arm64_dll_matches_win_arm64_only(tmp_path: Path, toolchain, built) -> None:
    ext = built(toolchain.arm64_windows_dll).read_bytes()
    assert check_wheel(make_wheel(tmp_path, "cp312-cp312-win_arm64", {"pkg/ext.pyd": ext})).ok
    wrong = make_wheel(tmp_path, "cp312-cp312-win_amd64", {"pkg/ext.pyd": ext})
    (problem,) = _only(check_wheel(wrong), ARCH_MISMATCH)
    assert problem.message == "PE machine is arm64 but the platform tag allows x64"


def test_windows_dll_in_linux_wheel_is_arch_mismatch(tmp_path: Path, amd64_with_helper) -> None:
    ext, helper = amd64_with_helper
    files = {"pkg/ext.pyd": ext, "pkg.libs/helper.dll": helper}
    report = check_wheel(make_wheel(tmp_path, "cp312-cp312-manylinux_2_28_x86_64", files))
    problems = _only(report, ARCH_MISMATCH)
    assert {p.file for p in problems} == set(files)
    assert problems[0].message == ("PE (Windows) binary in a wheel tagged manylinux_2_28_x86_64")


def test_abi3_pyd_symbol_newer_than_claim(tmp_path: Path, toolchain, built) -> None:
    python3 = built(lambda: toolchain.python3_dll("x86_64"))
    ext = built(
        lambda: toolchain.mingw_dll("pe-abi3", "x86_64", EXT_ABI3_SINCE_310_SOURCE, python3)
    ).read_bytes()
    bad = make_wheel(tmp_path, "cp39-abi3-win_amd64", {"pkg/ext.pyd": ext})
    (problem,) = _only(check_wheel(bad), ABI3_VIOLATION)
    assert "PyUnicode_AsUTF8AndSize (limited API since 3.10)" in problem.message
    assert check_wheel(make_wheel(tmp_path, "cp310-abi3-win_amd64", {"pkg/ext.pyd": ext})).ok


def test_abi3_pyd_linking_versioned_python_dll(tmp_path: Path, toolchain, built) -> None:
    python311 = built(lambda: toolchain.python3_dll("x86_64", filename="python311.dll"))
    ext = built(lambda: toolchain.mingw_dll("pe-python311", "x86_64", EXT_SOURCE, python311))
    wheel = make_wheel(tmp_path, "cp311-abi3-win_amd64", {"pkg/ext.pyd": ext.read_bytes()})
    (problem,) = _only(check_wheel(wheel), PYTHON_ABI_MISMATCH)
    assert problem.message == (
        "links python311.dll (CPython 3.11); the wheel's tags claim cp311-abi3: an abi3 "
        "wheel's modules must load on every CPython from its version on"
    )
    # The same module is fine in a version-specific wheel: python311.dll ships with CPython.
    assert check_wheel(
        make_wheel(tmp_path, "cp311-cp311-win_amd64", {"pkg/ext.pyd": ext.read_bytes()})
    ).ok
