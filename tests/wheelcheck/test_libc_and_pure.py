"""``libc-family-mismatch`` (an extension built against musl with Debian's musl-gcc, one
built against glibc with gcc) and ``binary-in-pure-wheel`` (real ELF, Mach-O and PE files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from wheelcheck_builders import EXT_GETRANDOM_SOURCE, EXT_SOURCE, make_wheel

from wheelfleet.wheelcheck import check_wheel
from wheelfleet.wheelcheck.report import BINARY_IN_PURE_WHEEL, LIBC_FAMILY_MISMATCH

MODULE = "pkg/ext.so"


@pytest.fixture(scope="module")
def musl_ext(toolchain, built) -> bytes:
    return built(toolchain.musl_ext).read_bytes()


@pytest.fixture(scope="module")
def glibc_ext(toolchain, built) -> bytes:
    return built(lambda: toolchain.gcc_ext("elf-getrandom", EXT_GETRANDOM_SOURCE)).read_bytes()


def test_musl_extension_passes_musllinux(tmp_path: Path, musl_ext: bytes) -> None:
    wheel = make_wheel(tmp_path, "cp312-cp312-musllinux_1_2_x86_64", {MODULE: musl_ext})
    assert check_wheel(wheel).ok


def test_musl_extension_in_manylinux_wheel(tmp_path: Path, musl_ext: bytes) -> None:
    wheel = make_wheel(tmp_path, "cp312-cp312-manylinux_2_28_x86_64", {MODULE: musl_ext})
    report = check_wheel(wheel)
    assert report.codes() == {LIBC_FAMILY_MISMATCH}, report.problems
    (problem,) = report.problems
    assert problem.message == (
        "needs musl (libc.musl-x86_64.so.1) but manylinux_2_28_x86_64 promises a glibc system"
    )


def test_glibc_extension_in_musllinux_wheel(tmp_path: Path, glibc_ext: bytes) -> None:
    wheel = make_wheel(tmp_path, "cp312-cp312-musllinux_1_2_x86_64", {MODULE: glibc_ext})
    (problem,) = check_wheel(wheel).problems
    assert (problem.code, problem.file) == (LIBC_FAMILY_MISMATCH, MODULE)
    assert problem.message.startswith("needs glibc (libc.so.6; symbol versions GLIBC_2.2.5, ")


def test_glibc_extension_passes_manylinux(tmp_path: Path, glibc_ext: bytes) -> None:
    wheel = make_wheel(tmp_path, "cp312-cp312-manylinux_2_28_x86_64", {MODULE: glibc_ext})
    assert check_wheel(wheel).ok


def test_plain_linux_tag_promises_no_libc(tmp_path: Path, musl_ext: bytes) -> None:
    assert check_wheel(make_wheel(tmp_path, "cp312-cp312-linux_x86_64", {MODULE: musl_ext})).ok


# --- binary-in-pure-wheel ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def libraries(toolchain, built) -> dict[str, bytes]:
    """A shared library of each format, as the files would sit in a package."""
    pe = built(lambda: toolchain.mingw_dll(
        "pe-plain", "x86_64", EXT_SOURCE + "void *PyLong_FromLong(long v) { return 0; }\n"))
    return {
        "pkg/ext.cpython-312-x86_64-linux-gnu.so": built(
            lambda: toolchain.gcc_ext("elf-plain", EXT_SOURCE)).read_bytes(),
        "pkg/ext.cpython-312-darwin.so": built(
            lambda: toolchain.macho_ext("arm64", "11.0")).read_bytes(),
        "pkg/ext.cp312-win_amd64.pyd": pe.read_bytes(),
    }


@pytest.mark.parametrize("tag", ["py3-none-any", "py2.py3-none-any"])
def test_compiled_library_in_a_pure_wheel(tmp_path: Path, libraries, tag: str) -> None:
    report = check_wheel(make_wheel(tmp_path, tag, libraries))
    assert report.codes() == {BINARY_IN_PURE_WHEEL}, report.problems
    assert sorted(p.file for p in report.problems) == sorted(libraries)
    kinds = sorted(p.message.split(" in ")[0] for p in report.problems)
    assert kinds == ["ELF shared library", "Mach-O dylib/bundle", "Windows DLL"]
    assert report.problems[0].message.endswith(
        "in a pure wheel (platform tag 'any'), which installs on every platform; compiled code "
        "runs on one platform only"
    )


def test_platform_wheel_declaring_root_is_purelib(tmp_path: Path, libraries) -> None:
    name = "pkg/ext.cpython-312-x86_64-linux-gnu.so"
    files = {name: libraries[name]}
    tag = "cp312-cp312-manylinux_2_17_x86_64"
    assert check_wheel(make_wheel(tmp_path, tag, files)).ok
    (problem,) = check_wheel(make_wheel(tmp_path, tag, files, root_is_purelib=True)).problems
    assert (problem.code, problem.file) == (BINARY_IN_PURE_WHEEL, name)
    assert problem.message == (
        "ELF shared library in a wheel whose WHEEL says Root-Is-Purelib: true; compiled code "
        "runs on one platform only"
    )


def test_windows_launcher_executable_in_a_pure_wheel_is_fine(
    tmp_path: Path, toolchain, built
) -> None:
    """pip and setuptools ship launcher .exe files in pure wheels, on purpose."""
    exe = built(toolchain.mingw_exe).read_bytes()
    assert check_wheel(make_wheel(tmp_path, "py3-none-any", {"pkg/t64.exe": exe})).ok
